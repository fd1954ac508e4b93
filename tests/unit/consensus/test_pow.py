"""Compact targets, proof-of-work checks, chain work and difficulty retargeting.

The SetCompact/GetCompact table follows the cases of Core's arith_uint256 tests;
the retarget cases are the same historical mainnet periods Core's pow_tests use.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import cache

import pytest

from pyrite.consensus.params import ChainParams, get_params
from pyrite.consensus.pow import (
    HeaderInfo,
    PowHeader,
    block_proof,
    block_proof_equivalent_time,
    calculate_next_work_required,
    check_proof_of_work,
    derive_target,
    get_compact,
    get_next_work_required,
    hash_to_int,
    permitted_difficulty_transition,
    set_compact,
)
from pyrite.primitives import Block, BlockHeader, OutPoint, Tx, TxIn, TxOut
from tests.conftest import vector_path

MAIN = get_params("main")
TEST = get_params("test")
TESTNET4 = get_params("testnet4")
SIGNET = get_params("signet")
REGTEST = get_params("regtest")

DIFF1_BITS = 0x1D00FFFF
MASK256 = (1 << 256) - 1


def h256(value: int) -> bytes:
    """A 256-bit integer as a hash in internal (little-endian) byte order."""
    return value.to_bytes(32, "little")


# --------------------------------------------------------------------------- SetCompact


@pytest.mark.parametrize(
    ("compact", "target", "negative", "overflow", "back"),
    [
        # A zero mantissa (after the size shift) is zero, never negative or overflowing.
        (0x00000000, 0, False, False, 0),
        (0x00123456, 0, False, False, 0),
        (0x01003456, 0, False, False, 0),
        (0x02000056, 0, False, False, 0),
        (0x03000000, 0, False, False, 0),
        (0x04000000, 0, False, False, 0),
        (0x00923456, 0, False, False, 0),
        (0x01803456, 0, False, False, 0),
        (0x02800056, 0, False, False, 0),
        (0x03800000, 0, False, False, 0),
        (0x04800000, 0, False, False, 0),
        # Small sizes shift the mantissa right.
        (0x01123456, 0x12, False, False, 0x01120000),
        (0x02123456, 0x1234, False, False, 0x02123400),
        (0x03123456, 0x123456, False, False, 0x03123456),
        (0x04123456, 0x12345600, False, False, 0x04123456),
        (0x05009234, 0x92340000, False, False, 0x05009234),
        (0x20123456, 0x123456 << 232, False, False, 0x20123456),
        # The sign bit.
        (0x01FEDCBA, 0x7E, True, False, 0x01FE0000),
        (0x04923456, 0x12345600, True, False, 0x04923456),
    ],
)
def test_set_compact_table(
    compact: int, target: int, negative: bool, overflow: bool, back: int
) -> None:
    assert set_compact(compact) == (target, negative, overflow)
    assert get_compact(target, negative) == back


def test_set_compact_overflow() -> None:
    target, negative, overflow = set_compact(0xFF123456)
    assert overflow
    assert not negative
    assert target == 0  # every bit was shifted past 2**256
    assert set_compact(~0x00800000 & 0xFFFFFFFF)[2]


def test_set_compact_rejects_non_u32() -> None:
    for bad in (-1, 1 << 32):
        with pytest.raises(ValueError):
            set_compact(bad)


@pytest.mark.parametrize(
    ("compact", "overflow"),
    [
        (0x227FFFFF, True),  # size 34 with a 3-byte mantissa
        (0x2200FFFF, True),  # size 34, 2-byte mantissa
        (0x220000FF, False),  # size 34, 1-byte mantissa: the top byte still fits
        (0x230000FF, True),  # size 35 always overflows
        (0x2100FFFF, False),  # size 33, 2-byte mantissa fits
        (0x21010000, True),  # size 33, 3-byte mantissa
        (0x207FFFFF, False),  # regtest limit
        (0x23000000, False),  # zero mantissa never overflows
    ],
)
def test_overflow_boundaries(compact: int, overflow: bool) -> None:
    assert set_compact(compact)[2] is overflow


def test_get_compact_avoids_sign_bit() -> None:
    assert get_compact(0x80) == 0x02008000
    assert get_compact(0x800000) == 0x04008000
    assert get_compact(0x7FFFFF) == 0x037FFFFF


def test_get_compact_negative_flag_needs_mantissa() -> None:
    assert get_compact(0, negative=True) == 0
    assert get_compact(0x12, negative=True) == 0x01920000


def test_get_compact_of_pow_limits() -> None:
    assert get_compact(MAIN.pow_limit) == 0x1D00FFFF
    assert get_compact(SIGNET.pow_limit) == 0x1E0377AE
    assert get_compact(REGTEST.pow_limit) == 0x207FFFFF
    assert get_compact(MASK256) == 0x2100FFFF
    with pytest.raises(ValueError):
        get_compact(1 << 256)
    with pytest.raises(ValueError):
        get_compact(-1)


@pytest.mark.parametrize(
    "compact", [0x1D00FFFF, 0x1B0404CB, 0x18058436, 0x1A0202F0, 0x207FFFFF, 0x1E0377AE, 0x03123456]
)
def test_normalized_compact_round_trips(compact: int) -> None:
    target, negative, overflow = set_compact(compact)
    assert not negative and not overflow
    assert get_compact(target) == compact


def test_non_normalized_compact_is_canonicalized() -> None:
    # A mantissa with leading zero bytes is valid input but never produced.
    assert set_compact(0x1E00003F)[0] == set_compact(0x1C3F0000)[0]
    assert get_compact(set_compact(0x1E00003F)[0]) == 0x1C3F0000
    assert get_compact(set_compact(0x1D00D86A)[0]) == 0x1D00D86A


# --------------------------------------------------------------------------- CheckProofOfWork


def test_check_pow_negative_target() -> None:
    bits = get_compact(MAIN.pow_limit, negative=True)
    assert bits & 0x00800000
    assert not check_proof_of_work(h256(1), bits, MAIN)


def test_check_pow_overflow_target() -> None:
    assert not check_proof_of_work(h256(1), ~0x00800000 & 0xFFFFFFFF, MAIN)


def test_check_pow_too_easy_target() -> None:
    bits = get_compact(MAIN.pow_limit * 2)
    assert not check_proof_of_work(h256(1), bits, MAIN)


def test_check_pow_hash_above_target() -> None:
    bits = get_compact(MAIN.pow_limit)
    assert not check_proof_of_work(h256(MAIN.pow_limit * 2), bits, MAIN)
    target = set_compact(bits)[0]
    assert check_proof_of_work(h256(target), bits, MAIN)  # equal is fine
    assert not check_proof_of_work(h256(target + 1), bits, MAIN)


def test_check_pow_zero_target() -> None:
    assert not check_proof_of_work(h256(0), get_compact(0), MAIN)


def test_derive_target() -> None:
    assert derive_target(0x1D00FFFF, MAIN.pow_limit) == 0xFFFF << 208
    assert derive_target(0x1D01FFFF, MAIN.pow_limit) is None  # above the limit
    assert derive_target(0x207FFFFF, MAIN.pow_limit) is None
    assert derive_target(0x207FFFFF, REGTEST.pow_limit) == 0x7FFFFF << 232


def test_hash_to_int() -> None:
    assert hash_to_int(bytes([1]) + bytes(31)) == 1
    with pytest.raises(ValueError):
        hash_to_int(bytes(31))


@cache
def load_block(*parts: str) -> Block:
    return Block.from_bytes(vector_path(*parts).read_bytes())


@pytest.mark.parametrize(
    ("parts", "params"),
    [
        (("bitcoin-core", "src", "bench", "data", "block413567.raw"), MAIN),
        (("bcoin", "test", "data", "block300025.raw"), MAIN),
        (("bcoin", "test", "data", "block482683.raw"), MAIN),
        (("bcoin", "test", "data", "block1.raw"), MAIN),
        (("bcoin", "test", "data", "block928927.raw"), TEST),
        (("bcoin", "test", "data", "block928828.raw"), TEST),  # a min-difficulty block
        (("bcoin", "test", "data", "block1087400.raw"), TEST),
    ],
)
def test_check_pow_real_blocks(parts: tuple[str, ...], params: ChainParams) -> None:
    header = load_block(*parts).header
    assert check_proof_of_work(header.hash, header.bits, params)
    tampered = BlockHeader(
        header.version,
        header.prev_hash,
        header.merkle_root,
        header.time,
        header.bits,
        header.nonce ^ 1,
    )
    assert not check_proof_of_work(tampered.hash, tampered.bits, params)


@pytest.mark.parametrize("name", ["main", "test", "testnet4", "signet", "regtest"])
def test_check_pow_genesis(name: str) -> None:
    params = get_params(name)
    header = params.genesis.header
    assert check_proof_of_work(header.hash, header.bits, params)


def test_regtest_genesis_out_of_range_on_mainnet() -> None:
    # Regtest's nBits is far easier than mainnet's limit, so the range check fails
    # on mainnet although the same header passes on regtest.
    header = REGTEST.genesis.header
    assert check_proof_of_work(header.hash, header.bits, REGTEST)
    assert not check_proof_of_work(header.hash, header.bits, MAIN)
    assert not check_proof_of_work(header.hash, header.bits, SIGNET)


# --------------------------------------------------------------------------- block proof


def test_block_proof_values() -> None:
    assert block_proof(0x1D00FFFF) == 0x100010001
    assert block_proof(0x207FFFFF) == 2
    assert block_proof(0x1E0377AE) == (1 << 256) // ((0x0377AE << 216) + 1)
    for bits in (0x18058436, 0x1A0202F0, 0x1900896C, 0x1C3FFFC0, 0x03123456):
        target = set_compact(bits)[0]
        assert block_proof(bits) == (1 << 256) // (target + 1)


def test_block_proof_invalid_is_zero() -> None:
    assert block_proof(0) == 0
    assert block_proof(0x04923456) == 0  # negative
    assert block_proof(0xFF123456) == 0  # overflow
    assert block_proof(0x01003456) == 0  # zero target


def test_block_proof_monotonic() -> None:
    assert block_proof(0x1C3FFFC0) == 0x400040004  # difficulty 4
    assert block_proof(0x18058436) > block_proof(0x1900896C) > block_proof(0x1D00FFFF)


def test_block_proof_equivalent_time() -> None:
    main = get_params("main")
    regtest = get_params("regtest")
    per_block = block_proof(0x1D00FFFF)
    # 2016 blocks at difficulty 1 are two weeks at ten minutes each; the sign follows order
    assert block_proof_equivalent_time(2016 * per_block, 0, 0x1D00FFFF, main) == 1_209_600
    assert block_proof_equivalent_time(0, 2016 * per_block, 0x1D00FFFF, main) == -1_209_600
    assert block_proof_equivalent_time(5, 5, 0x1D00FFFF, main) == 0
    # measured at the tip's difficulty: at difficulty 4 the same work is a quarter the time
    assert block_proof_equivalent_time(2016 * per_block, 0, 0x1C3FFFC0, main) == 302_400
    # regtest blocks are worth 2 each: 10 blocks are 6,000 s; the division truncates
    assert block_proof_equivalent_time(20, 0, 0x207FFFFF, regtest) == 6_000
    assert block_proof_equivalent_time(2 * per_block + 1, 0, 0x1D00FFFF, main) == 1_200
    # clamped to int64 as Core's is
    huge = 1 << 200
    assert block_proof_equivalent_time(huge, 0, 0x1D00FFFF, main) == (1 << 63) - 1
    assert block_proof_equivalent_time(0, huge, 0x1D00FFFF, main) == -((1 << 63) - 1)


# ------------------------------------------------------------- retarget (Core pow_tests)


def test_get_next_work() -> None:
    last = HeaderInfo(height=32255, time=1262152739, bits=0x1D00FFFF)
    expected = 0x1D00D86A
    assert calculate_next_work_required(last, 1261130161, MAIN) == expected
    assert permitted_difficulty_transition(MAIN, last.height + 1, last.bits, expected)


def test_get_next_work_pow_limit() -> None:
    last = HeaderInfo(height=2015, time=1233061996, bits=0x1D00FFFF)
    expected = 0x1D00FFFF
    assert calculate_next_work_required(last, 1231006505, MAIN) == expected
    assert permitted_difficulty_transition(MAIN, last.height + 1, last.bits, expected)


def test_get_next_work_lower_limit_actual() -> None:
    last = HeaderInfo(height=68543, time=1279297671, bits=0x1C05A3F4)
    expected = 0x1C0168FD
    assert calculate_next_work_required(last, 1279008237, MAIN) == expected
    assert permitted_difficulty_transition(MAIN, last.height + 1, last.bits, expected)
    assert not permitted_difficulty_transition(MAIN, last.height + 1, last.bits, expected - 1)


def test_get_next_work_upper_limit_actual() -> None:
    last = HeaderInfo(height=46367, time=1269211443, bits=0x1C387F6F)
    expected = 0x1D00E1FD
    assert calculate_next_work_required(last, 1263163443, MAIN) == expected
    assert permitted_difficulty_transition(MAIN, last.height + 1, last.bits, expected)
    assert not permitted_difficulty_transition(MAIN, last.height + 1, last.bits, expected + 1)


def test_timespan_clamps_are_exact() -> None:
    bits = 0x1B0404CB
    target = set_compact(bits)[0]
    span = MAIN.pow_target_timespan
    last = HeaderInfo(height=4031, time=10_000_000, bits=bits)
    for actual, factor in [
        (span // 4, span // 4),
        (1, span // 4),
        (span * 4, span * 4),
        (span * 10, span * 4),
        (span, span),
        (span + 12345, span + 12345),
    ]:
        got = calculate_next_work_required(last, last.time - actual, MAIN)
        assert got == get_compact(min(target * factor // span, MAIN.pow_limit))
    # A last block older than the first one still clamps to a quarter.
    assert calculate_next_work_required(last, last.time + 999, MAIN) == get_compact(target // 4)


def test_permitted_transition_off_retarget_heights() -> None:
    assert permitted_difficulty_transition(MAIN, 2017, 0x1B0404CB, 0x1B0404CB)
    assert not permitted_difficulty_transition(MAIN, 2017, 0x1B0404CB, 0x1B0404CC)
    # Networks with min-difficulty blocks allow anything.
    assert permitted_difficulty_transition(TEST, 2017, 0x1B0404CB, 0x1D00FFFF)
    assert permitted_difficulty_transition(TESTNET4, 4032, 0x1B0404CB, 0x1D00FFFF)


def test_permitted_transition_respects_pow_limit() -> None:
    # From difficulty 1 the target cannot get easier than the limit.
    assert permitted_difficulty_transition(MAIN, 2016, DIFF1_BITS, DIFF1_BITS)
    assert not permitted_difficulty_transition(MAIN, 2016, DIFF1_BITS, 0x1D010000)
    assert permitted_difficulty_transition(MAIN, 2016, DIFF1_BITS, 0x1C3FFFC0)
    assert not permitted_difficulty_transition(MAIN, 2016, DIFF1_BITS, 0x1C3FFFBF)


# --------------------------------------------------------------------------- chains


class Chain:
    """Ancestor lookup over a list of headers indexed by height."""

    def __init__(self, headers: Sequence[PowHeader]) -> None:
        self.headers = list(headers)
        self.calls: list[int] = []

    def __call__(self, height: int) -> PowHeader:
        assert 0 <= height < len(self.headers)
        self.calls.append(height)
        return self.headers[height]

    @property
    def tip(self) -> PowHeader:
        return self.headers[-1]


def build_chain(bits: Sequence[int], start_time: int = 1_600_000_000, spacing: int = 600) -> Chain:
    return Chain([HeaderInfo(h, start_time + h * spacing, b) for h, b in enumerate(bits)])


def test_mainnet_non_retarget_keeps_bits() -> None:
    chain = build_chain([DIFF1_BITS] * 2016 + [0x1C3FFFC0] * 5)
    tip = chain.tip
    # Whatever the timestamp, mainnet never drops to the minimum difficulty.
    assert get_next_work_required(tip, tip.time + 100_000, MAIN, chain) == 0x1C3FFFC0
    assert chain.calls == []


def test_regtest_never_retargets() -> None:
    assert REGTEST.difficulty_adjustment_interval == 144
    chain = build_chain([0x207FFFFF] * 144, spacing=1)  # blocks found far too fast
    tip = chain.tip
    assert (tip.height + 1) % 144 == 0
    assert get_next_work_required(tip, tip.time + 1, REGTEST, chain) == 0x207FFFFF
    custom = HeaderInfo(tip.height, tip.time, 0x1F00FFFF)
    assert calculate_next_work_required(custom, 0, REGTEST) == 0x1F00FFFF


# --------------------------------------------------------------------------- testnet3


REAL = 0x1B0404CB  # a "real" (non-minimum) difficulty for the synthetic chains
MIN = 0x1D00FFFF  # testnet's pow limit, i.e. a min-difficulty block


def test_testnet3_min_difficulty_after_twenty_minutes() -> None:
    chain = build_chain([MIN] + [REAL] * 2100)
    tip = chain.tip
    assert get_next_work_required(tip, tip.time + 1201, TEST, chain) == MIN
    # Exactly 2 * spacing is not enough: the rule is strictly greater.
    assert get_next_work_required(tip, tip.time + 1200, TEST, chain) == REAL
    assert get_next_work_required(tip, tip.time + 1, TEST, chain) == REAL


def test_testnet3_walks_back_over_min_difficulty_blocks() -> None:
    bits = [MIN] + [REAL] * 2015 + [0x1B0404CC] * 3 + [MIN] * 4
    chain = build_chain(bits)
    tip = chain.tip
    assert tip.height == 2022
    got = get_next_work_required(tip, tip.time + 60, TEST, chain)
    assert got == 0x1B0404CC
    assert chain.calls == [2021, 2020, 2019, 2018]


def test_testnet3_walk_stops_at_period_start() -> None:
    # The first block of a period is returned even if it has minimum difficulty.
    bits = [MIN] + [REAL] * 2015 + [MIN] * 10
    chain = build_chain(bits)
    tip = chain.tip
    assert get_next_work_required(tip, tip.time + 60, TEST, chain) == MIN
    assert chain.calls[-1] == 2016


def test_testnet3_walk_stops_at_genesis() -> None:
    chain = build_chain([MIN] * 50)
    tip = chain.tip
    assert get_next_work_required(tip, tip.time + 60, TEST, chain) == MIN
    assert chain.calls[-1] == 0


def test_testnet3_retarget_block_ignores_min_difficulty_rule() -> None:
    # On a retarget height the 20-minute rule does not apply, and testnet3 scales
    # the *last* block's bits: after a trailing min-difficulty block the new
    # target is derived from the pow limit (the well-known testnet3 reset).
    bits = [MIN] + [REAL] * 2015 + [REAL] * 2015 + [MIN]
    chain = build_chain(bits)
    tip = chain.tip
    assert (tip.height + 1) % 2016 == 0
    first_time = chain.headers[2016].time
    assert tip.time - first_time == 2015 * 600
    expected = get_compact(set_compact(MIN)[0] * (2015 * 600) // TEST.pow_target_timespan)
    assert get_next_work_required(tip, tip.time + 100_000, TEST, chain) == expected


# --------------------------------------------------------------------------- BIP94


def test_bip94_uses_first_block_of_period() -> None:
    bits = [MIN] + [REAL] * 2015 + [REAL] + [MIN] * 2015
    chain = build_chain(bits)
    tip = chain.tip
    assert tip.bits == MIN
    span = 2015 * 600
    expected = get_compact(set_compact(REAL)[0] * span // TESTNET4.pow_target_timespan)
    assert get_next_work_required(tip, tip.time + 600, TESTNET4, chain) == expected
    # Testnet3, on the very same chain, scales the min-difficulty bits instead.
    legacy = get_compact(set_compact(MIN)[0] * span // TEST.pow_target_timespan)
    assert get_next_work_required(tip, tip.time + 600, TEST, chain) == legacy
    assert expected != legacy


def test_bip94_matches_legacy_when_period_has_one_difficulty() -> None:
    bits = [MIN] + [REAL] * 4031
    chain = build_chain(bits)
    tip = chain.tip
    assert get_next_work_required(tip, tip.time + 1, TESTNET4, chain) == get_next_work_required(
        tip, tip.time + 1, TEST, chain
    )


def test_bip94_still_allows_min_difficulty_inside_period() -> None:
    chain = build_chain([MIN] + [REAL] * 2020)
    tip = chain.tip
    assert get_next_work_required(tip, tip.time + 1201, TESTNET4, chain) == MIN
    assert get_next_work_required(tip, tip.time + 1200, TESTNET4, chain) == REAL


def test_bip94_calculate_requires_lookup() -> None:
    with pytest.raises(ValueError):
        calculate_next_work_required(HeaderInfo(4031, 0, MIN), 0, TESTNET4)


def test_bip94_with_regtest_style_params() -> None:
    # Core's regtest can switch BIP94 on (-test=bip94); no retargeting still wins.
    from dataclasses import replace

    params = replace(REGTEST, enforce_bip94=True)
    chain = build_chain([0x207FFFFF] * 144)
    assert get_next_work_required(chain.tip, chain.tip.time, params, chain) == 0x207FFFFF


# --------------------------------------------------------------------------- mainnet_alt


MAINNET_ALT_SCRIPT = bytes.fromhex("76a914eadbac7f36c37e39361168b7aaee3cb24a25312d88ac")


def _coinbase_height_script(height: int) -> bytes:
    # The functional test framework's BIP34 height push: OP_n plus an OP_0 pad for
    # heights up to 16, otherwise a minimal CScriptNum push.
    if height <= 16:
        return bytes([0x50 + height, 0x00])
    n = height.to_bytes((height.bit_length() + 8) // 8, "little")
    return bytes([len(n)]) + n


def test_mainnet_alt_full_retarget() -> None:
    """Rebuild Core's 2016-block alternative mainnet and check every header.

    The chain was mined about two minutes per block, so the first retarget hits
    the 4x clamp: block 2016 must carry 0x1c3fffc0 (difficulty 4), as Core's
    mining_mainnet.py asserts. Each block is deterministic apart from nTime and
    nonce: version 0x20000000 and a lone coinbase (tx version 2, BIP34 height,
    final sequence, locktime 0, 50 BTC to a fixed P2PKH).
    """
    data = json.loads(
        vector_path("bitcoin-core", "test", "functional", "data", "mainnet_alt.json").read_text()
    )
    times: list[int] = data["timestamps"]
    nonces: list[int] = data["nonces"]
    assert len(times) == len(nonces) == 2016

    genesis = MAIN.genesis.header
    chain = Chain([HeaderInfo(0, genesis.time, genesis.bits)])
    prev_hash = genesis.hash
    work = block_proof(genesis.bits)
    for height in range(1, 2017):
        tip = chain.tip
        bits = get_next_work_required(tip, times[height - 1], MAIN, chain)
        assert permitted_difficulty_transition(MAIN, height, tip.bits, bits)
        coinbase = Tx(
            2,
            (TxIn(OutPoint(bytes(32), 0xFFFFFFFF), _coinbase_height_script(height), 0xFFFFFFFF),),
            (TxOut(50 * 100_000_000, MAINNET_ALT_SCRIPT),),
            0,
        )
        header = BlockHeader(
            0x20000000, prev_hash, coinbase.txid, times[height - 1], bits, nonces[height - 1]
        )
        assert check_proof_of_work(header.hash, header.bits, MAIN), height
        chain.headers.append(HeaderInfo(height, header.time, header.bits))
        prev_hash = header.hash
        work += block_proof(bits)

    bits_seen = [h.bits for h in chain.headers]
    assert set(bits_seen[:2016]) == {DIFF1_BITS}
    assert bits_seen[2016] == 0x1C3FFFC0
    assert set_compact(0x1C3FFFC0)[0] == set_compact(DIFF1_BITS)[0] // 4
    # Actual timespan of the period was below a quarter of two weeks.
    assert times[2014] - genesis.time < MAIN.pow_target_timespan // 4
    assert work == 2016 * 0x100010001 + block_proof(0x1C3FFFC0)
