"""Block and transaction validation rules, checked against Core's reject reasons.

Most cases build small regtest blocks: correct merkle roots, BIP34 coinbases,
witness commitments where needed, and a nonce ground against regtest's easy
target (about one try in two succeeds). Each rule is then broken on purpose and
the test asserts Core's exact reason and BlockValidationResult kind. Three
real blocks (mainnet 300025 and 413567, testnet3 928927) must pass the
context-free and contextual block checks.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import pytest

from pyrite.consensus.merkle import block_witness_merkle_root, merkle_root
from pyrite.consensus.params import ChainParams, get_params
from pyrite.consensus.pow import HeaderInfo, PowHeader, check_proof_of_work
from pyrite.consensus.validation import (
    LOCKTIME_VERIFY_SEQUENCE,
    NO_SEQUENCE_LOCKS,
    NO_WITNESS_COMMITMENT,
    SEQUENCE_LOCKTIME_DISABLE_FLAG,
    SEQUENCE_LOCKTIME_TYPE_FLAG,
    PrevBlockInfo,
    accumulate_fees,
    accumulate_sigops_cost,
    bip30_enforced,
    block_script_flags,
    calculate_sequence_locks,
    check_bip30,
    check_bip30_outputs,
    check_block,
    check_block_header,
    check_coinbase_amount,
    check_sequence_locks,
    check_tx_inputs,
    coinbase_height_script,
    contextual_check_block,
    contextual_check_block_header,
    evaluate_sequence_locks,
    format_money,
    get_witness_commitment_index,
    is_bip30_repeat,
    is_bip30_unspendable,
    is_block_mutated,
    is_final_tx,
    lock_time_flags,
    script_failure_debug,
    script_failure_error,
    script_failure_reason,
    sequence_locks_disabled,
    sequence_locks_ok,
    tx_error_in_block,
    witness_commitment_script,
)
from pyrite.errors import BlockValidationError, TxValidationError
from pyrite.primitives import Block, BlockHeader, OutPoint, Tx, TxIn, TxOut
from pyrite.primitives.tx import COIN, MAX_MONEY, NULL_OUTPOINT
from pyrite.script.flags import (
    CHECKLOCKTIMEVERIFY,
    CHECKSEQUENCEVERIFY,
    DERSIG,
    NULLDUMMY,
    P2SH,
    TAPROOT,
    WITNESS,
)
from tests.conftest import vector_path

REGTEST = get_params("regtest")
MAIN = get_params("main")
TEST3 = get_params("test")
EASY_BITS = 0x207FFFFF
OP_TRUE = b"\x51"
T0 = 1_700_000_000  # time of the parent block in the synthetic chains
PREV_HASH = bytes(range(32))


# --------------------------------------------------------------------------- builders


def display(hex_str: str) -> bytes:
    return bytes.fromhex(hex_str)[::-1]


def coinbase(
    height: int,
    value: int = 50 * COIN,
    extra_outputs: Sequence[TxOut] = (),
    witness: tuple[bytes, ...] = (),
    script_sig: bytes | None = None,
) -> Tx:
    if script_sig is None:
        script_sig = coinbase_height_script(height) + b"\x00"  # pad to CheckTransaction's 2 bytes
    return Tx(
        version=2,
        vin=(TxIn(NULL_OUTPOINT, script_sig, 0xFFFFFFFF, witness),),
        vout=(TxOut(value, OP_TRUE), *extra_outputs),
    )


def spend(
    *prevouts: OutPoint,
    value: int = COIN,
    script_pubkey: bytes = OP_TRUE,
    witness: tuple[bytes, ...] = (),
    version: int = 2,
    locktime: int = 0,
    sequence: int = 0xFFFFFFFF,
) -> Tx:
    vin = tuple(TxIn(p, b"", sequence, witness) for p in prevouts)
    return Tx(version, vin, (TxOut(value, script_pubkey),), locktime)


def outpoint(tag: int, n: int = 0) -> OutPoint:
    return OutPoint(bytes([tag]) * 32, n)


def mine(header: BlockHeader, params: ChainParams = REGTEST, valid: bool = True) -> BlockHeader:
    """Grind the nonce until the PoW check gives ``valid``."""
    for nonce in range(10_000):
        h = dataclasses.replace(header, nonce=nonce, hash=b"")
        if check_proof_of_work(h.hash, h.bits, params) == valid:
            return h
    raise AssertionError("could not grind a nonce")


def make_block(
    txs: Sequence[Tx],
    *,
    time: int = T0 + 600,
    version: int = 0x20000000,
    bits: int = EASY_BITS,
    merkle: bytes | None = None,
    valid_pow: bool = True,
) -> Block:
    root = merkle if merkle is not None else merkle_root([t.txid for t in txs])[0]
    header = BlockHeader(version, PREV_HASH, root, time, bits, 0)
    return Block(mine(header, valid=valid_pow), tuple(txs))


def segwit_block(height: int, others: Sequence[Tx], nonce: bytes = bytes(32)) -> Block:
    """A block whose coinbase commits to the witness root of ``others``."""
    probe = Block(BlockHeader(1, PREV_HASH, bytes(32), 0, 0, 0), (coinbase(height), *others))
    commitment = witness_commitment_script(block_witness_merkle_root(probe), nonce)
    cb = coinbase(height, extra_outputs=[TxOut(0, commitment)], witness=(nonce,))
    return make_block([cb, *others])


def prev_info(height: int, *, time: int = T0, mtp: int = T0 - 3600) -> PrevBlockInfo:
    return PrevBlockInfo(height, PREV_HASH, time, mtp, EASY_BITS)


def flat_ancestors(height: int) -> PowHeader:
    return HeaderInfo(height, T0, EASY_BITS)


def expect_block_error(
    fn: Callable[[], object], reason: str, kind: str = "CONSENSUS"
) -> BlockValidationError:
    with pytest.raises(BlockValidationError) as info:
        fn()
    assert info.value.reason == reason
    assert info.value.kind == kind
    return info.value


def full_check(block: Block, prev: PrevBlockInfo, params: ChainParams = REGTEST) -> None:
    check_block(block, params)
    contextual_check_block(block, prev, params)


# --------------------------------------------------------------------------- valid blocks


def test_valid_regtest_blocks_pass_every_check() -> None:
    plain = make_block([coinbase(101), spend(outpoint(1))])
    full_check(plain, prev_info(100))
    contextual_check_block_header(plain.header, prev_info(100), REGTEST, T0, flat_ancestors)
    assert not is_block_mutated(plain, check_witness_root=True)

    wit = segwit_block(101, [spend(outpoint(2), witness=(b"\x01", b"\x02"))])
    assert get_witness_commitment_index(wit) == 1
    full_check(wit, prev_info(100))
    assert not is_block_mutated(wit, check_witness_root=True)


# --------------------------------------------------------------------------- CheckBlock


def test_high_hash_is_an_invalid_header() -> None:
    block = make_block([coinbase(1)], valid_pow=False)
    err = expect_block_error(
        lambda: check_block_header(block.header, REGTEST), "high-hash", "INVALID_HEADER"
    )
    assert err.debug == "proof of work failed"
    expect_block_error(lambda: check_block(block, REGTEST), "high-hash", "INVALID_HEADER")
    check_block(block, REGTEST, check_pow=False)


def test_bad_merkle_root_is_mutation() -> None:
    block = make_block([coinbase(1), spend(outpoint(1))], merkle=bytes(32))
    err = expect_block_error(lambda: check_block(block, REGTEST), "bad-txnmrklroot", "MUTATED")
    assert err.debug == "hashMerkleRoot mismatch"
    assert is_block_mutated(block, check_witness_root=False)
    check_block(block, REGTEST, check_merkle=False)


def test_duplicated_transactions_are_mutation() -> None:
    cb, a, b = coinbase(1), spend(outpoint(1)), spend(outpoint(2))
    honest = make_block([cb, a, b])
    # Repeating the last transaction keeps the merkle root (CVE-2012-2459).
    forged = Block(honest.header, (cb, a, b, b))
    err = expect_block_error(lambda: check_block(forged, REGTEST), "bad-txns-duplicate", "MUTATED")
    assert err.debug == "duplicate transaction"
    assert is_block_mutated(forged, check_witness_root=True)
    check_block(honest, REGTEST)


def test_missing_and_multiple_coinbase() -> None:
    err = expect_block_error(
        lambda: check_block(make_block([spend(outpoint(1))]), REGTEST), "bad-cb-missing"
    )
    assert err.debug == "first tx is not coinbase"
    two = make_block([coinbase(1), coinbase(2)])
    err = expect_block_error(lambda: check_block(two, REGTEST), "bad-cb-multiple")
    assert err.debug == "more than one coinbase"


def test_size_limits() -> None:
    empty = make_block([])
    expect_block_error(lambda: check_block(empty, REGTEST), "bad-blk-length")
    huge = spend(outpoint(1), script_pubkey=b"\x00" * 1_000_000)
    err = expect_block_error(
        lambda: check_block(make_block([coinbase(1), huge]), REGTEST), "bad-blk-length"
    )
    assert err.debug == "size limits failed"


BAD_TXS: list[tuple[str, Tx]] = [
    ("bad-txns-vin-empty", Tx(2, (), (TxOut(1, OP_TRUE),))),
    ("bad-txns-vout-empty", Tx(2, (TxIn(outpoint(1)),), ())),
    ("bad-txns-vout-negative", spend(outpoint(1), value=-1)),
    ("bad-txns-vout-toolarge", spend(outpoint(1), value=MAX_MONEY + 1)),
    (
        "bad-txns-txouttotal-toolarge",
        Tx(2, (TxIn(outpoint(1)),), (TxOut(MAX_MONEY, OP_TRUE), TxOut(1, OP_TRUE))),
    ),
    ("bad-txns-inputs-duplicate", spend(outpoint(1), outpoint(1))),
    ("bad-txns-prevout-null", spend(outpoint(1), NULL_OUTPOINT)),
]


@pytest.mark.parametrize(("reason", "bad"), BAD_TXS, ids=[r for r, _ in BAD_TXS])
def test_check_transaction_failures_surface_unchanged(reason: str, bad: Tx) -> None:
    block = make_block([coinbase(1), bad])
    err = expect_block_error(lambda: check_block(block, REGTEST), reason)
    assert err.debug == f"Transaction check failed (tx hash {bad.txid_hex()}) "


def test_coinbase_script_length_surfaces() -> None:
    cb = coinbase(1, script_sig=b"\x51")
    err = expect_block_error(lambda: check_block(make_block([cb]), REGTEST), "bad-cb-length")
    assert err.debug.startswith(f"Transaction check failed (tx hash {cb.txid_hex()})")


def test_legacy_sigops_limit() -> None:
    # 20,000 OP_CHECKSIGs cost exactly 80,000; one more is over.
    at_limit = spend(outpoint(1), script_pubkey=b"\xac" * 20_000)
    check_block(make_block([coinbase(1), at_limit]), REGTEST)
    over = spend(outpoint(1), script_pubkey=b"\xac" * 20_001)
    err = expect_block_error(
        lambda: check_block(make_block([coinbase(1), over]), REGTEST), "bad-blk-sigops"
    )
    assert err.debug == "out-of-bounds SigOpCount"


def test_signet_solution_hook() -> None:
    signet = get_params("signet")
    block = make_block([coinbase(1)])
    fake = dataclasses.replace(signet, pow_limit=REGTEST.pow_limit)
    err = expect_block_error(
        lambda: check_block(block, fake, signet_solution_ok=lambda b: False), "bad-signet-blksig"
    )
    assert err.debug == "signet block signature validation failure"
    check_block(block, fake, signet_solution_ok=lambda b: True)
    check_block(block, fake, check_pow=False, signet_solution_ok=lambda b: False)


# --------------------------------------------------------------------------- header context


def header_at(
    time: int = T0 + 600, version: int = 0x20000000, bits: int = EASY_BITS
) -> BlockHeader:
    return BlockHeader(version, PREV_HASH, bytes(32), time, bits, 0)


def test_bad_diffbits() -> None:
    err = expect_block_error(
        lambda: contextual_check_block_header(
            header_at(bits=0x1D00FFFF), prev_info(100), REGTEST, T0, flat_ancestors
        ),
        "bad-diffbits",
        "INVALID_HEADER",
    )
    assert err.debug == "incorrect proof of work"


def test_time_too_old_is_at_or_below_mtp() -> None:
    prev = prev_info(100, mtp=T0 - 100)
    contextual_check_block_header(header_at(time=T0 - 99), prev, REGTEST, T0, flat_ancestors)
    err = expect_block_error(
        lambda: contextual_check_block_header(
            header_at(time=T0 - 100), prev, REGTEST, T0, flat_ancestors
        ),
        "time-too-old",
        "INVALID_HEADER",
    )
    assert err.debug == "block's timestamp is too early"


def test_time_too_new_is_time_future() -> None:
    now = T0 + 1000
    ok = header_at(time=now + 2 * 3600)
    contextual_check_block_header(ok, prev_info(100), REGTEST, now, flat_ancestors)
    err = expect_block_error(
        lambda: contextual_check_block_header(
            header_at(time=now + 2 * 3600 + 1), prev_info(100), REGTEST, now, flat_ancestors
        ),
        "time-too-new",
        "TIME_FUTURE",
    )
    assert err.debug == "block timestamp too far in the future"


def test_timewarp_rule_on_first_block_of_a_period() -> None:
    bip94 = dataclasses.replace(REGTEST, enforce_bip94=True)
    interval = bip94.difficulty_adjustment_interval
    prev = prev_info(interval - 1, time=T0, mtp=T0 - 5000)
    contextual_check_block_header(header_at(time=T0 - 600), prev, bip94, T0, flat_ancestors)
    err = expect_block_error(
        lambda: contextual_check_block_header(
            header_at(time=T0 - 601), prev, bip94, T0, flat_ancestors
        ),
        "time-timewarp-attack",
        "INVALID_HEADER",
    )
    assert err.debug == "block's timestamp is too early on diff adjustment block"
    # Not a period boundary, or BIP94 off: going back in time is fine.
    mid = prev_info(interval, time=T0, mtp=T0 - 5000)
    contextual_check_block_header(header_at(time=T0 - 601), mid, bip94, T0, flat_ancestors)
    contextual_check_block_header(header_at(time=T0 - 601), prev, REGTEST, T0, flat_ancestors)


@pytest.mark.parametrize(
    ("version", "shown"), [(1, "0x00000001"), (2, "0x00000002"), (3, "0x00000003")]
)
def test_bad_version_after_buried_deployments(version: int, shown: str) -> None:
    err = expect_block_error(
        lambda: contextual_check_block_header(
            header_at(version=version), prev_info(100), REGTEST, T0, flat_ancestors
        ),
        f"bad-version({shown})",
        "INVALID_HEADER",
    )
    assert err.debug == f"rejected nVersion={shown} block"


def test_bad_version_thresholds_follow_each_deployment() -> None:
    params = dataclasses.replace(REGTEST, bip34_height=10, bip66_height=20, bip65_height=30)

    def check(version: int, height: int) -> None:
        contextual_check_block_header(
            header_at(version=version), prev_info(height - 1), params, T0, flat_ancestors
        )

    check(1, 9)
    expect_block_error(lambda: check(1, 10), "bad-version(0x00000001)", "INVALID_HEADER")
    check(2, 19)
    expect_block_error(lambda: check(2, 20), "bad-version(0x00000002)", "INVALID_HEADER")
    check(3, 29)
    expect_block_error(lambda: check(3, 30), "bad-version(0x00000003)", "INVALID_HEADER")
    expect_block_error(lambda: check(-1, 30), "bad-version(0xffffffff)", "INVALID_HEADER")
    check(4, 30)


# --------------------------------------------------------------------------- block context


def test_nonfinal_by_height_and_time() -> None:
    height = 101
    locked = spend(outpoint(1), locktime=height, sequence=0)
    block = make_block([coinbase(height), locked])
    err = expect_block_error(
        lambda: contextual_check_block(block, prev_info(height - 1), REGTEST), "bad-txns-nonfinal"
    )
    assert err.debug == "non-final transaction"
    # A final sequence number disables the lock-time.
    final = spend(outpoint(1), locktime=height)
    contextual_check_block(make_block([coinbase(height), final]), prev_info(height - 1), REGTEST)
    contextual_check_block(
        make_block([coinbase(height), spend(outpoint(1), locktime=height - 1, sequence=0)]),
        prev_info(height - 1),
        REGTEST,
    )

    # Time locks compare with the parent's MTP once CSV is active (BIP113) ...
    prev = prev_info(height - 1, mtp=T0 - 3600)
    by_time = spend(outpoint(1), locktime=T0 - 3600, sequence=0)
    timed = make_block([coinbase(height), by_time], time=T0 + 600)
    expect_block_error(lambda: contextual_check_block(timed, prev, REGTEST), "bad-txns-nonfinal")
    # ... and with the block's own time before.
    no_csv = dataclasses.replace(REGTEST, csv_height=1000)
    contextual_check_block(timed, prev, no_csv)
    late = make_block([coinbase(height), by_time], time=T0 - 3600)
    expect_block_error(lambda: contextual_check_block(late, prev, no_csv), "bad-txns-nonfinal")


def test_bip34_coinbase_height() -> None:
    wrong = make_block([coinbase(101, script_sig=coinbase_height_script(102) + b"\x00")])
    err = expect_block_error(
        lambda: contextual_check_block(wrong, prev_info(100), REGTEST), "bad-cb-height"
    )
    assert err.debug == "block height mismatch in coinbase"
    # Before BIP34 anything goes.
    contextual_check_block(wrong, prev_info(100), dataclasses.replace(REGTEST, bip34_height=500))
    # Small heights are OP_n, larger ones a minimal number push.
    contextual_check_block(make_block([coinbase(16)]), prev_info(15), REGTEST)
    assert coinbase_height_script(0) == b"\x00"
    assert coinbase_height_script(1) == b"\x51"
    assert coinbase_height_script(16) == b"\x60"
    assert coinbase_height_script(17) == b"\x01\x11"
    assert coinbase_height_script(128) == b"\x02\x80\x00"
    assert coinbase_height_script(928927) == bytes.fromhex("039f2c0e")
    pushed_as_data = make_block([coinbase(16, script_sig=b"\x01\x10\x00")])
    expect_block_error(
        lambda: contextual_check_block(pushed_as_data, prev_info(15), REGTEST), "bad-cb-height"
    )


def test_witness_nonce_size() -> None:
    good = segwit_block(101, [spend(outpoint(1), witness=(b"\x01",))])
    cb = good.txs[0]
    for stack in [(), (bytes(31),), (bytes(32), b"")]:
        vin0 = cb.vin[0]._replace(witness=stack)
        bad_cb = Tx(cb.version, (vin0,), cb.vout, cb.locktime)
        block = make_block([bad_cb, *good.txs[1:]])
        with pytest.raises(BlockValidationError) as info:
            contextual_check_block(block, prev_info(100), REGTEST)
        assert info.value.reason == "bad-witness-nonce-size"
        assert info.value.kind == "MUTATED"
        assert info.value.debug == "CheckWitnessMalleation : invalid witness reserved value size"


def test_witness_merkle_match() -> None:
    committed = spend(outpoint(1), witness=(b"\x01",))
    good = segwit_block(101, [committed])
    swapped = spend(outpoint(1), witness=(b"\x02",))  # same txid, other wtxid
    block = make_block([good.txs[0], swapped])
    err = expect_block_error(
        lambda: contextual_check_block(block, prev_info(100), REGTEST),
        "bad-witness-merkle-match",
        "MUTATED",
    )
    assert err.debug == "CheckWitnessMalleation : witness merkle commitment mismatch"
    assert is_block_mutated(block, check_witness_root=True)
    # A different reserved value must be the one in the coinbase witness.
    other_nonce = segwit_block(101, [committed], nonce=b"\x07" * 32)
    contextual_check_block(other_nonce, prev_info(100), REGTEST)


def test_unexpected_witness() -> None:
    block = make_block([coinbase(101), spend(outpoint(1), witness=(b"\x01",))])
    err = expect_block_error(
        lambda: contextual_check_block(block, prev_info(100), REGTEST),
        "unexpected-witness",
        "MUTATED",
    )
    assert err.debug == "CheckWitnessMalleation : unexpected witness data found"
    # Before segwit, witness data is unexpected even with a valid commitment.
    committed = segwit_block(101, [spend(outpoint(1), witness=(b"\x01",))])
    pre_segwit = dataclasses.replace(REGTEST, segwit_height=500)
    expect_block_error(
        lambda: contextual_check_block(committed, prev_info(100), pre_segwit),
        "unexpected-witness",
        "MUTATED",
    )
    assert is_block_mutated(committed, check_witness_root=False)


def test_witness_commitment_index_takes_the_last_match() -> None:
    short = TxOut(0, bytes.fromhex("6a24aa21a9ed") + bytes(31))  # 37 bytes: too short
    full = TxOut(0, bytes.fromhex("6a24aa21a9ed") + bytes(32))
    longer = TxOut(0, bytes.fromhex("6a24aa21a9ed") + bytes(40))
    idx = get_witness_commitment_index
    assert idx(make_block([coinbase(1)])) == NO_WITNESS_COMMITMENT
    assert idx(make_block([coinbase(1, extra_outputs=[short])])) == NO_WITNESS_COMMITMENT
    assert idx(make_block([coinbase(1, extra_outputs=[full, short])])) == 1
    assert idx(make_block([coinbase(1, extra_outputs=[full, longer, short])])) == 2
    assert witness_commitment_script(bytes(32))[:6].hex() == "6a24aa21a9ed"


def test_block_weight_limit() -> None:
    # ~990 kB of base data plus a 50 kB witness: within bad-blk-length, over 4M weight.
    big = spend(outpoint(1), script_pubkey=b"\x00" * 990_000, witness=(bytes(50_000),))
    block = segwit_block(101, [big])
    assert block.base_size * 4 <= 4_000_000 < block.weight
    check_block(block, REGTEST)
    err = expect_block_error(
        lambda: contextual_check_block(block, prev_info(100), REGTEST), "bad-blk-weight"
    )
    assert err.debug == "ContextualCheckBlock : weight limit failed"


def test_is_block_mutated_64_byte_transaction_without_coinbase() -> None:
    tx64 = Tx(1, (TxIn(outpoint(1), b"", 0),), (TxOut(0, b"\x00" * 4),))
    assert tx64.base_size == 64
    assert is_block_mutated(make_block([tx64]), check_witness_root=False)
    assert not is_block_mutated(make_block([spend(outpoint(1))]), check_witness_root=False)


# --------------------------------------------------------------------------- inputs


@dataclass(frozen=True)
class FakeCoin:
    value: int
    height: int
    is_coinbase: bool = False
    script_pubkey: bytes = OP_TRUE


def test_check_tx_inputs_fee_and_missing_inputs() -> None:
    tx = spend(outpoint(1), outpoint(2), value=3 * COIN)
    coins = [FakeCoin(2 * COIN, 5), FakeCoin(COIN + 500, 6)]
    assert check_tx_inputs(tx, coins, 200) == 500
    with pytest.raises(TxValidationError) as info:
        check_tx_inputs(tx, [coins[0], None], 200)
    assert info.value.reason == "bad-txns-inputs-missingorspent"
    assert info.value.kind == "MISSING_INPUTS"
    assert info.value.debug == "CheckTxInputs: inputs missing/spent"


def test_premature_coinbase_spend() -> None:
    tx = spend(outpoint(1))
    cb_coin = FakeCoin(50 * COIN, 10, is_coinbase=True)
    assert check_tx_inputs(tx, [cb_coin], 110) == 49 * COIN
    with pytest.raises(TxValidationError) as info:
        check_tx_inputs(tx, [cb_coin], 109)
    assert info.value.reason == "bad-txns-premature-spend-of-coinbase"
    assert info.value.kind == "PREMATURE_SPEND"
    assert info.value.debug == "tried to spend coinbase at depth 99"
    # Ordinary coins have no maturity.
    assert check_tx_inputs(tx, [FakeCoin(2 * COIN, 109)], 109) == COIN


def test_input_values_out_of_range() -> None:
    tx = spend(outpoint(1), outpoint(2), value=0)
    for coins in (
        [FakeCoin(-1, 1), FakeCoin(1, 1)],
        [FakeCoin(MAX_MONEY + 1, 1), FakeCoin(0, 1)],
        [FakeCoin(MAX_MONEY, 1), FakeCoin(1, 1)],  # each in range, the sum is not
    ):
        with pytest.raises(TxValidationError) as info:
            check_tx_inputs(tx, coins, 10)
        assert info.value.reason == "bad-txns-inputvalues-outofrange"
        assert info.value.kind == "CONSENSUS"


def test_inputs_below_outputs() -> None:
    tx = spend(outpoint(1), value=150_000_000)
    with pytest.raises(TxValidationError) as info:
        check_tx_inputs(tx, [FakeCoin(COIN, 1)], 10)
    assert info.value.reason == "bad-txns-in-belowout"
    assert info.value.debug == "value in (1.00) < value out (1.50)"
    block_err = tx_error_in_block(info.value, tx)
    assert block_err.reason == "bad-txns-in-belowout"
    assert block_err.kind == "CONSENSUS"
    assert block_err.debug == f"value in (1.00) < value out (1.50) in transaction {tx.txid_hex()}"


def test_fee_out_of_range() -> None:
    # Only reachable with a negative output, which CheckTransaction would have refused.
    tx = spend(outpoint(1), value=-1)
    with pytest.raises(TxValidationError) as info:
        check_tx_inputs(tx, [FakeCoin(MAX_MONEY, 1)], 10)
    assert info.value.reason == "bad-txns-fee-outofrange"


def test_format_money_matches_core() -> None:
    assert format_money(0) == "0.00"
    assert format_money(COIN) == "1.00"
    assert format_money(150_000_000) == "1.50"
    assert format_money(1) == "0.00000001"
    assert format_money(123_456_789) == "1.23456789"
    assert format_money(-5 * COIN // 10) == "-0.50"


# --------------------------------------------------------------------------- ConnectBlock totals


def test_coinbase_amount() -> None:
    subsidy = 50 * COIN >> (300 // REGTEST.subsidy_halving_interval)
    fees = 1234
    exact = make_block([coinbase(300, value=subsidy + fees)])
    check_coinbase_amount(exact, fees, 300, REGTEST)
    over = make_block([coinbase(300, value=subsidy + fees + 1)])
    err = expect_block_error(
        lambda: check_coinbase_amount(over, fees, 300, REGTEST), "bad-cb-amount"
    )
    assert (
        err.debug
        == f"coinbase pays too much (actual={subsidy + fees + 1} vs limit={subsidy + fees})"
    )


def test_running_totals() -> None:
    total = accumulate_sigops_cost(0, 79_996)
    assert accumulate_sigops_cost(total, 4) == 80_000
    err = expect_block_error(lambda: accumulate_sigops_cost(80_000, 1), "bad-blk-sigops")
    assert err.debug == "too many sigops"
    assert accumulate_fees(MAX_MONEY - 1, 1) == MAX_MONEY
    err = expect_block_error(
        lambda: accumulate_fees(MAX_MONEY, 1), "bad-txns-accumulated-fee-outofrange"
    )
    assert err.debug == "accumulated fee in the block out of range"


def test_bip30_helpers() -> None:
    h91842 = display("00000000000a4d0a398161ffc163c503763b1f4360639393e0e4c8e300e0caec")
    h91722 = display("00000000000271a2dc26e7667f8419f2e15416dc6955e5a6c6cdf3f2574dd08e")
    assert is_bip30_repeat(91842, h91842)
    assert not is_bip30_repeat(91843, h91842)
    assert is_bip30_unspendable(91722, h91722)
    assert not is_bip30_unspendable(91722, h91842)
    assert bip30_enforced(100, PREV_HASH, None, MAIN)
    assert not bip30_enforced(91842, h91842, None, MAIN)
    assert not bip30_enforced(300_000, PREV_HASH, MAIN.bip34_hash, MAIN)
    assert bip30_enforced(300_000, PREV_HASH, PREV_HASH, MAIN)
    assert bip30_enforced(1_983_702, PREV_HASH, MAIN.bip34_hash, MAIN)
    assert bip30_enforced(5, PREV_HASH, PREV_HASH, REGTEST)  # regtest has no BIP34 hash

    cb = coinbase(5)
    block = make_block([cb])
    check_bip30(block, lambda op: False)
    err = expect_block_error(
        lambda: check_bip30(block, lambda op: op == OutPoint(cb.txid, 0)), "bad-txns-BIP30"
    )
    assert err.debug == "tried to overwrite transaction"

    other = spend(outpoint(1), outpoint(2))
    block = make_block([cb, other])
    asked: list[list[tuple[bytes, int]]] = []
    check_bip30_outputs(block, lambda txs: asked.append(txs) is not None)
    assert asked == [[(t.txid, len(t.vout)) for t in block.txs]]
    err = expect_block_error(
        lambda: check_bip30_outputs(block, lambda txs: (other.txid, len(other.vout)) in txs),
        "bad-txns-BIP30",
    )
    assert err.debug == "tried to overwrite transaction"


def test_script_failure_reason_format() -> None:
    assert script_failure_reason("EVAL_FALSE") == (
        "block-script-verify-flag-failed (Script evaluated without error but finished with "
        "a false/empty top stack element)"
    )
    assert script_failure_reason("SCHNORR_SIG") == (
        "block-script-verify-flag-failed (Invalid Schnorr signature)"
    )
    assert script_failure_reason("NOT_A_CODE") == "block-script-verify-flag-failed (unknown error)"
    assert script_failure_reason("MINIMALDATA", mempool=True) == (
        "mempool-script-verify-flag-failed (Data push larger than necessary)"
    )
    tx = spend(outpoint(3, 7))
    assert script_failure_debug(tx, 0) == (
        f"input 0 of {tx.txid_hex()} (wtxid {tx.wtxid_hex()}), spending {'03' * 32}:7"
    )
    err = script_failure_error("VERIFY", tx, 0)
    assert err.reason == "block-script-verify-flag-failed (Script failed an OP_VERIFY operation)"
    assert err.kind == "CONSENSUS"


# --------------------------------------------------------------------------- finality, BIP68


def test_is_final_tx() -> None:
    assert is_final_tx(spend(outpoint(1), sequence=0), 10, T0)  # locktime 0
    assert is_final_tx(spend(outpoint(1), locktime=9, sequence=0), 10, T0)
    assert not is_final_tx(spend(outpoint(1), locktime=10, sequence=0), 10, T0)
    assert is_final_tx(spend(outpoint(1), locktime=10), 10, T0)  # all sequences final
    assert is_final_tx(spend(outpoint(1), locktime=500_000_000, sequence=0), 10, 500_000_001)
    assert not is_final_tx(spend(outpoint(1), locktime=500_000_000, sequence=0), 10, 500_000_000)
    # 499,999,999 is still a height.
    assert not is_final_tx(spend(outpoint(1), locktime=499_999_999, sequence=0), 10, T0)


def test_sequence_locks_by_height() -> None:
    tx = spend(outpoint(1), sequence=10)
    flags = LOCKTIME_VERIFY_SEQUENCE

    def no_mtp(h: int) -> int:
        raise AssertionError("height locks need no MTP")

    locks = calculate_sequence_locks(tx, flags, [100], no_mtp)
    assert locks == (109, -1)
    assert not evaluate_sequence_locks(109, T0, locks)
    assert evaluate_sequence_locks(110, T0, locks)
    err = expect_block_error(
        lambda: check_sequence_locks(tx, flags, [100], 109, T0, no_mtp), "bad-txns-nonfinal"
    )
    assert err.debug == f"contains a non-BIP68-final transaction {tx.txid_hex()}"
    check_sequence_locks(tx, flags, [100], 110, T0, no_mtp)
    # Not enforced: version 1, no CSV flag, or the disable bit.
    assert calculate_sequence_locks(
        spend(outpoint(1), sequence=10, version=1), flags, [100], no_mtp
    ) == (-1, -1)
    assert calculate_sequence_locks(tx, 0, [100], no_mtp) == (-1, -1)
    disabled = spend(outpoint(1), sequence=SEQUENCE_LOCKTIME_DISABLE_FLAG | 10)
    assert calculate_sequence_locks(disabled, flags, [100], no_mtp) == (-1, -1)
    # Core compares the version as unsigned: -1 is 0xffffffff >= 2.
    negative = spend(outpoint(1), sequence=10, version=-1)
    assert calculate_sequence_locks(negative, flags, [100], no_mtp) == (109, -1)


@pytest.mark.parametrize("version", [-1, 0, 1, 2, 3])
@pytest.mark.parametrize(
    "sequences",
    [
        (),
        (0,),
        (SEQUENCE_LOCKTIME_DISABLE_FLAG,),
        (0xFFFFFFFF, 0xFFFFFFFD),
        (0xFFFFFFFD, 10),
        (SEQUENCE_LOCKTIME_TYPE_FLAG | 3, SEQUENCE_LOCKTIME_DISABLE_FLAG),
    ],
)
@pytest.mark.parametrize("flags", [0, LOCKTIME_VERIFY_SEQUENCE])
def test_sequence_locks_disabled_means_no_locks(
    version: int, sequences: tuple[int, ...], flags: int
) -> None:
    tx = Tx(
        version,
        tuple(TxIn(outpoint(i + 1), b"", seq) for i, seq in enumerate(sequences)),
        (TxOut(1, b"\x51"),),
    )
    locks = calculate_sequence_locks(tx, flags, [50] * len(sequences), lambda h: 1_000_000 + h)
    if sequence_locks_disabled(tx, flags):
        assert locks == NO_SEQUENCE_LOCKS
    else:  # some input can be locked
        assert locks != NO_SEQUENCE_LOCKS


def test_sequence_locks_by_time() -> None:
    asked: list[int] = []

    def mtp(h: int) -> int:
        asked.append(h)
        return 1_000_000

    tx = spend(outpoint(1), outpoint(2), sequence=SEQUENCE_LOCKTIME_TYPE_FLAG | 2)
    locks = calculate_sequence_locks(tx, LOCKTIME_VERIFY_SEQUENCE, [10, 0], mtp)
    # Measured from the MTP of the block before the coin's block (height 0 stays 0).
    assert asked == [9, 0]
    assert locks == (-1, 1_000_000 + 2 * 512 - 1)
    assert not sequence_locks_ok(tx, LOCKTIME_VERIFY_SEQUENCE, [10, 0], 50, 1_001_023, mtp)
    assert sequence_locks_ok(tx, LOCKTIME_VERIFY_SEQUENCE, [10, 0], 50, 1_001_024, mtp)


def test_lock_time_flags() -> None:
    assert lock_time_flags(0, REGTEST) == 0
    assert lock_time_flags(1, REGTEST) == LOCKTIME_VERIFY_SEQUENCE
    assert lock_time_flags(419_327, MAIN) == 0
    assert lock_time_flags(419_328, MAIN) == LOCKTIME_VERIFY_SEQUENCE


# --------------------------------------------------------------------------- script flags

BASE = P2SH | WITNESS | TAPROOT
OTHER = display("00" * 32)


@pytest.mark.parametrize(
    ("height", "expected"),
    [
        (0, BASE),
        (363_724, BASE),
        (363_725, BASE | DERSIG),
        (388_381, BASE | DERSIG | CHECKLOCKTIMEVERIFY),
        (419_328, BASE | DERSIG | CHECKLOCKTIMEVERIFY | CHECKSEQUENCEVERIFY),
        (481_823, BASE | DERSIG | CHECKLOCKTIMEVERIFY | CHECKSEQUENCEVERIFY),
        (481_824, BASE | DERSIG | CHECKLOCKTIMEVERIFY | CHECKSEQUENCEVERIFY | NULLDUMMY),
    ],
)
def test_mainnet_script_flags(height: int, expected: int) -> None:
    assert block_script_flags(height, OTHER, MAIN) == expected


def test_script_flag_exception_blocks() -> None:
    bip16 = display("00000000000002dc756eebf4f49723ed8d30cc28a5f108eb94b1ba88ac4f9c22")
    assert block_script_flags(170_060, bip16, MAIN) == 0
    assert block_script_flags(170_060, OTHER, MAIN) == BASE
    taproot = display("0000000000000000000f14c35b2d841e986ab5441de8c585d5ffe55ea1e395ad")
    all_buried = DERSIG | CHECKLOCKTIMEVERIFY | CHECKSEQUENCEVERIFY | NULLDUMMY
    assert block_script_flags(692_261, taproot, MAIN) == P2SH | WITNESS | all_buried
    assert block_script_flags(692_261, OTHER, MAIN) == BASE | all_buried
    test3 = display("00000000dd30457c001f4095d208cc1296b0eed002427aa599874af7a432b105")
    assert block_script_flags(514, test3, TEST3) == 0


@pytest.mark.parametrize(
    ("height", "expected"),
    [
        (330_775, BASE),
        (330_776, BASE | DERSIG),
        (581_885, BASE | DERSIG | CHECKLOCKTIMEVERIFY),
        (770_112, BASE | DERSIG | CHECKLOCKTIMEVERIFY | CHECKSEQUENCEVERIFY),
        (834_624, BASE | DERSIG | CHECKLOCKTIMEVERIFY | CHECKSEQUENCEVERIFY | NULLDUMMY),
    ],
)
def test_testnet3_script_flags(height: int, expected: int) -> None:
    assert block_script_flags(height, OTHER, TEST3) == expected


def test_regtest_script_flags() -> None:
    assert block_script_flags(0, OTHER, REGTEST) == BASE | NULLDUMMY
    assert block_script_flags(1, OTHER, REGTEST) == (
        BASE | NULLDUMMY | DERSIG | CHECKLOCKTIMEVERIFY | CHECKSEQUENCEVERIFY
    )


# --------------------------------------------------------------------------- real blocks


def load(*parts: str) -> Block:
    return Block.from_bytes(vector_path(*parts).read_bytes())


def real_prev(block: Block, height: int, mtp: int) -> PrevBlockInfo:
    return PrevBlockInfo(height - 1, block.header.prev_hash, mtp, mtp, block.header.bits)


def test_mainnet_block_300025() -> None:
    block = load("bcoin", "test", "data", "block300025.raw")
    assert block.hash_hex() == "0000000000000000821c4e0acc40f88bedbce3b73ba2358b5ade58a9022cc78c"
    check_block(block, MAIN)
    # Before CSV the lock-time cutoff is the block's own time, so the MTP is unused.
    contextual_check_block(block, real_prev(block, 300025, block.header.time - 3600), MAIN)
    assert not is_block_mutated(block, check_witness_root=False)
    assert block.weight == 1_136_924


def test_mainnet_block_413567() -> None:
    block = load("bitcoin-core", "src", "bench", "data", "block413567.raw")
    assert block.hash_hex() == "0000000000000000025aff8be8a55df8f89c77296db6198f272d6577325d4069"
    assert len(block.txs) == 1557
    check_block(block, MAIN)
    contextual_check_block(block, real_prev(block, 413567, block.header.time - 3600), MAIN)
    assert not is_block_mutated(block, check_witness_root=False)


def test_testnet3_segwit_block_928927() -> None:
    block = load("bcoin", "test", "data", "block928927.raw")
    assert get_witness_commitment_index(block) != NO_WITNESS_COMMITMENT
    assert any(tx.has_witness() for tx in block.txs[1:])
    check_block(block, TEST3)
    # CSV is active here, so the cutoff is the parent's MTP, which the file does not
    # carry. No transaction has a lock-time, so its exact value cannot matter.
    assert all(tx.locktime == 0 for tx in block.txs)
    contextual_check_block(block, real_prev(block, 928927, block.header.time - 1), TEST3)
    assert block.weight == 3_992_391
    assert not is_block_mutated(block, check_witness_root=True)
    assert is_block_mutated(block, check_witness_root=False)  # witness data, not checked
    # The wrong height in the coinbase, or a changed witness, is caught.
    expect_block_error(
        lambda: contextual_check_block(block, real_prev(block, 928928, block.header.time), TEST3),
        "bad-cb-height",
    )
    i = next(k for k, tx in enumerate(block.txs) if k and tx.has_witness())
    tx = block.txs[i]
    vin0 = tx.vin[0]._replace(witness=(*tx.vin[0].witness, b"\x00"))
    tampered_tx = Tx(tx.version, (vin0, *tx.vin[1:]), tx.vout, tx.locktime)
    assert tampered_tx.txid == tx.txid and tampered_tx.wtxid != tx.wtxid
    tampered = Block(block.header, (*block.txs[:i], tampered_tx, *block.txs[i + 1 :]))
    check_block(tampered, TEST3)  # the header still matches: only the witness changed
    expect_block_error(
        lambda: contextual_check_block(
            tampered, real_prev(block, 928927, block.header.time), TEST3
        ),
        "bad-witness-merkle-match",
        "MUTATED",
    )
