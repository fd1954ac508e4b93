"""Chain parameters: genesis blocks, constants, deployments and the subsidy schedule."""

from __future__ import annotations

import dataclasses

import pytest

from pyrite.consensus.merkle import block_merkle_root
from pyrite.consensus.params import (
    CHAIN_NAMES,
    COINBASE_MATURITY,
    MAX_FUTURE_BLOCK_TIME,
    NO_TX_DATA,
    SIGNET_DEFAULT_CHALLENGE,
    ChainParams,
    ChainTxData,
    create_genesis_block,
    get_params,
    signet_message_start,
)
from pyrite.consensus.pow import check_proof_of_work, get_compact, set_compact
from pyrite.consensus.subsidy import get_block_subsidy
from pyrite.encoding.bytes import ByteReader
from pyrite.primitives import Block
from tests.conftest import vector_path

COIN = 100_000_000
SATOSHI_MERKLE = "4a5e1e4baab89f3a32518a88c31bc87f618f76673e2cc77ab2127b7afdeda33b"


def display(h: bytes) -> str:
    return h[::-1].hex()


# --------------------------------------------------------------------------- genesis


@pytest.mark.parametrize(
    ("name", "genesis_hash", "merkle", "time", "nonce", "bits"),
    [
        (
            "main",
            "000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f",
            SATOSHI_MERKLE,
            1231006505,
            2083236893,
            0x1D00FFFF,
        ),
        (
            "test",
            "000000000933ea01ad0ee984209779baaec3ced90fa3f408719526f8d77f4943",
            SATOSHI_MERKLE,
            1296688602,
            414098458,
            0x1D00FFFF,
        ),
        (
            "testnet4",
            "00000000da84f2bafbbc53dee25a72ae507ff4914b867c565be350b0da8bf043",
            "7aa0a7ae1e223414cb807e40cd57e667b718e42aaf9306db9102fe28912b7b4e",
            1714777860,
            393743547,
            0x1D00FFFF,
        ),
        (
            "signet",
            "00000008819873e925422c1ff0f99f7cc9bbb232af63a077a480a3633bee1ef6",
            SATOSHI_MERKLE,
            1598918400,
            52613770,
            0x1E0377AE,
        ),
        (
            "regtest",
            "0f9188f13cb7b2c71f2a335e3a4fc328bf5beb436012afca590b1a11466e2206",
            SATOSHI_MERKLE,
            1296688602,
            2,
            0x207FFFFF,
        ),
    ],
)
def test_genesis(
    name: str, genesis_hash: str, merkle: str, time: int, nonce: int, bits: int
) -> None:
    params = get_params(name)
    block = params.genesis
    header = block.header
    assert block.hash_hex() == genesis_hash
    assert display(params.genesis_hash) == genesis_hash
    assert display(header.merkle_root) == merkle
    assert block_merkle_root(block) == (header.merkle_root, False)
    assert (header.version, header.time, header.nonce, header.bits) == (1, time, nonce, bits)
    assert header.prev_hash == bytes(32)
    assert len(block.txs) == 1 and block.txs[0].is_coinbase()
    assert block.txs[0].vout[0].value == 50 * COIN
    assert check_proof_of_work(header.hash, header.bits, params)
    # Round trip through the wire format.
    assert Block.from_bytes(block.serialize()).hash == block.hash


def test_mainnet_genesis_coinbase_bytes() -> None:
    tx = get_params("main").genesis.txs[0]
    assert tx.vin[0].script_sig.hex() == (
        "04ffff001d0104455468652054696d65732030332f4a616e2f32303039204368616e63656c6c6f72"
        "206f6e206272696e6b206f66207365636f6e64206261696c6f757420666f722062616e6b73"
    )
    assert b"The Times 03/Jan/2009 Chancellor on brink of second bailout for banks" in (
        tx.vin[0].script_sig
    )
    spk = tx.vout[0].script_pubkey
    assert len(spk) == 67 and spk[0] == 0x41 and spk[-1] == 0xAC
    assert tx.txid_hex() == SATOSHI_MERKLE
    # The full serialized genesis block is 285 bytes.
    assert len(get_params("main").genesis.serialize()) == 285


def test_testnet4_genesis_uses_pushdata1() -> None:
    # Its 76-byte message needs OP_PUSHDATA1, unlike mainnet's 69-byte one.
    tx = get_params("testnet4").genesis.txs[0]
    script_sig = tx.vin[0].script_sig
    assert script_sig[:7].hex() == "04ffff001d0104"
    assert script_sig[7:9].hex() == "4c4c"
    assert tx.vout[0].script_pubkey == bytes([33]) + bytes(33) + b"\xac"


def test_create_genesis_block_is_deterministic() -> None:
    main = get_params("main").genesis
    again = create_genesis_block(
        b"The Times 03/Jan/2009 Chancellor on brink of second bailout for banks",
        main.txs[0].vout[0].script_pubkey,
        1231006505,
        2083236893,
        0x1D00FFFF,
        1,
        50 * COIN,
    )
    assert again == main
    assert again.hash == main.hash


# --------------------------------------------------------------------------- constants


@pytest.mark.parametrize(
    ("name", "magic", "port", "rpc_port"),
    [
        ("main", "f9beb4d9", 8333, 8332),
        ("test", "0b110907", 18333, 18332),
        ("testnet4", "1c163f28", 48333, 48332),
        ("signet", "0a03cf40", 38333, 38332),
        ("regtest", "fabfb5da", 18444, 18443),
    ],
)
def test_network_constants(name: str, magic: str, port: int, rpc_port: int) -> None:
    params = get_params(name)
    assert params.name == name
    assert params.message_start.hex() == magic
    assert params.default_port == port
    assert params.rpc_port == rpc_port
    assert params.coinbase_maturity == COINBASE_MATURITY == 100
    assert params.max_future_block_time == MAX_FUTURE_BLOCK_TIME == 7200


def test_signet_magic_derivation() -> None:
    assert signet_message_start(SIGNET_DEFAULT_CHALLENGE).hex() == "0a03cf40"
    signet = get_params("signet")
    assert signet.signet_blocks and signet.signet_challenge == SIGNET_DEFAULT_CHALLENGE
    for name in ("main", "test", "testnet4", "regtest"):
        assert not get_params(name).signet_blocks
        assert get_params(name).signet_challenge is None


def test_get_params_names() -> None:
    assert CHAIN_NAMES == ("main", "test", "testnet4", "signet", "regtest")
    for name in CHAIN_NAMES:
        assert get_params(name) is get_params(name)
    for bad in ("mainnet", "testnet", "testnet3", "", "MAIN"):
        with pytest.raises(ValueError):
            get_params(bad)


def test_params_are_frozen() -> None:
    params = get_params("main")
    with pytest.raises(dataclasses.FrozenInstanceError):
        params.segwit_height = 0  # type: ignore[misc]
    with pytest.raises(TypeError):
        params.script_flag_exceptions[bytes(32)] = frozenset()  # type: ignore[index]
    assert hash(params) == hash(get_params("main"))


@pytest.mark.parametrize(
    ("name", "limit_bits", "timespan", "interval", "min_diff", "no_retarget", "bip94"),
    [
        ("main", 0x1D00FFFF, 1209600, 2016, False, False, False),
        ("test", 0x1D00FFFF, 1209600, 2016, True, False, False),
        ("testnet4", 0x1D00FFFF, 1209600, 2016, True, False, True),
        ("signet", 0x1E0377AE, 1209600, 2016, False, False, False),
        ("regtest", 0x207FFFFF, 86400, 144, True, True, False),
    ],
)
def test_pow_params(
    name: str,
    limit_bits: int,
    timespan: int,
    interval: int,
    min_diff: bool,
    no_retarget: bool,
    bip94: bool,
) -> None:
    params = get_params(name)
    assert get_compact(params.pow_limit) == limit_bits
    assert params.pow_target_timespan == timespan
    assert params.pow_target_spacing == 600
    assert params.difficulty_adjustment_interval == interval
    assert params.allow_min_difficulty_blocks is min_diff
    assert params.no_retargeting is no_retarget
    assert params.enforce_bip94 is bip94


def test_pow_limit_hex() -> None:
    assert f"{get_params('main').pow_limit:064x}" == "00000000" + "f" * 56
    assert f"{get_params('signet').pow_limit:064x}" == "00000377ae" + "0" * 54
    assert f"{get_params('regtest').pow_limit:064x}" == "7" + "f" * 63


@pytest.mark.parametrize("name", CHAIN_NAMES)
def test_chainparams_sanity(name: str) -> None:
    """The checks of Core's pow_tests sanity_check_chainparams."""
    params = get_params(name)
    assert params.pow_target_timespan % params.pow_target_spacing == 0
    target, negative, overflow = set_compact(params.genesis.header.bits)
    assert not negative and target != 0 and not overflow
    assert target <= params.pow_limit
    if not params.no_retargeting:
        # pow_limit * 4 * timespan must not wrap in 256-bit arithmetic.
        assert params.pow_limit < ((1 << 256) - 1) // (params.pow_target_timespan * 4)


# --------------------------------------------------------------------------- deployments


@pytest.mark.parametrize(
    ("name", "bip34", "bip65", "bip66", "csv", "segwit", "taproot"),
    [
        ("main", 227931, 388381, 363725, 419328, 481824, 709632),
        ("test", 21111, 581885, 330776, 770112, 834624, 2011968),
        ("testnet4", 1, 1, 1, 1, 1, 0),
        ("signet", 1, 1, 1, 1, 1, 0),
        ("regtest", 1, 1, 1, 1, 0, 0),
    ],
)
def test_deployment_heights(
    name: str, bip34: int, bip65: int, bip66: int, csv: int, segwit: int, taproot: int
) -> None:
    params = get_params(name)
    assert params.bip34_height == bip34
    assert params.bip65_height == bip65
    assert params.bip66_height == bip66
    assert params.csv_height == csv
    assert params.segwit_height == segwit
    assert params.taproot_height == taproot


def test_bip34_hashes() -> None:
    assert display(get_params("main").bip34_hash or b"") == (
        "000000000000024b89b42a942fe0d9fea3bb44ab7bd1b19115dd6a759c0808b8"
    )
    assert display(get_params("test").bip34_hash or b"") == (
        "0000000023b3a96d3484e5abb3755c413e7d41500f8e2a5c3f0dd01299cd8ef8"
    )
    for name in ("testnet4", "signet", "regtest"):
        assert get_params(name).bip34_hash is None


def test_script_flag_exceptions() -> None:
    main = get_params("main")
    bip16 = "00000000000002dc756eebf4f49723ed8d30cc28a5f108eb94b1ba88ac4f9c22"
    taproot = "0000000000000000000f14c35b2d841e986ab5441de8c585d5ffe55ea1e395ad"
    assert {display(k): v for k, v in main.script_flag_exceptions.items()} == {
        bip16: frozenset(),
        taproot: frozenset({"P2SH", "WITNESS"}),
    }
    assert display(main.bip16_exception or b"") == bip16

    test = get_params("test")
    bip16_test = "00000000dd30457c001f4095d208cc1296b0eed002427aa599874af7a432b105"
    assert {display(k): v for k, v in test.script_flag_exceptions.items()} == {
        bip16_test: frozenset()
    }
    assert display(test.bip16_exception or b"") == bip16_test

    for name in ("testnet4", "signet", "regtest"):
        assert dict(get_params(name).script_flag_exceptions) == {}
        assert get_params(name).bip16_exception is None


def test_min_chain_work_and_assume_valid() -> None:
    expected = {
        "main": (
            "000000000000000000000000000000000000000145ec036acc5ba740052af1a0",
            "00000000000000000000748969ec33043c0e52a763c6dd5193861f559f2c72e3",
        ),
        "test": (
            "0000000000000000000000000000000000000000000017f49f702147f10c0eb6",
            "00000000b318a3703d14a844c55ef507f4c2fc8f8766e24271fd43c180c51637",
        ),
        "testnet4": (
            "000000000000000000000000000000000000000000000e346a558455ade8eca9",
            "0000000021df65b91665a342e26ceb05e54826ad7d8fcd40316230058fa3b865",
        ),
        "signet": (
            "00000000000000000000000000000000000000000000000000001090e9dc1520",
            "00000002a5e0ba0498f1e9f4591af0b66b63c654665efe65206fd0ae7bbaf923",
        ),
    }
    for name, (work, assume_valid) in expected.items():
        params = get_params(name)
        assert f"{params.min_chain_work:064x}" == work
        assert params.default_assume_valid is not None
        assert display(params.default_assume_valid) == assume_valid
        # An assumed-valid block is a real block: its hash meets the pow limit.
        assert int.from_bytes(params.default_assume_valid, "little") <= params.pow_limit
    regtest = get_params("regtest")
    assert regtest.min_chain_work == 0
    assert regtest.default_assume_valid is None


# --------------------------------------------------------------------------- subsidy


def subsidy_halvings_check(params: ChainParams) -> None:
    """Core's TestBlockSubsidyHalvings."""
    previous = 100 * COIN
    for halvings in range(64):
        subsidy = get_block_subsidy(halvings * params.subsidy_halving_interval, params)
        assert subsidy <= 50 * COIN
        assert subsidy == previous // 2
        previous = subsidy
    assert get_block_subsidy(64 * params.subsidy_halving_interval, params) == 0


@pytest.mark.parametrize("interval", [210_000, 150, 1000])
def test_subsidy_halvings(interval: int) -> None:
    params = dataclasses.replace(get_params("main"), subsidy_halving_interval=interval)
    subsidy_halvings_check(params)


def test_mainnet_subsidy_schedule() -> None:
    main = get_params("main")
    table = [
        (0, 50 * COIN),
        (1, 50 * COIN),
        (209_999, 50 * COIN),
        (210_000, 25 * COIN),
        (419_999, 25 * COIN),
        (420_000, 1_250_000_000),
        (630_000, 625_000_000),
        (840_000, 312_500_000),
        (1_050_000, 156_250_000),
        (32 * 210_000, 1),  # 5e9 >> 32 = 1 satoshi
        (33 * 210_000, 0),
        (63 * 210_000, 0),
        (64 * 210_000, 0),
        (64 * 210_000 - 1, 0),
        (10**9, 0),
    ]
    for height, subsidy in table:
        assert get_block_subsidy(height, main) == subsidy, height
    assert get_block_subsidy(33 * 210_000 - 1, main) == 1


def test_subsidy_limit() -> None:
    """Core's subsidy_limit_test: total issuance is 20999999.9769 BTC."""
    main = get_params("main")
    total = 0
    for height in range(0, 14_000_000, 1000):
        subsidy = get_block_subsidy(height, main)
        assert subsidy <= 50 * COIN
        total += subsidy * 1000
        assert 0 <= total <= 21_000_000 * COIN
    assert total == 2_099_999_997_690_000


def test_regtest_halving() -> None:
    regtest = get_params("regtest")
    assert regtest.subsidy_halving_interval == 150
    assert get_block_subsidy(149, regtest) == 50 * COIN
    assert get_block_subsidy(150, regtest) == 25 * COIN
    assert get_block_subsidy(300, regtest) == 1_250_000_000
    assert get_block_subsidy(64 * 150, regtest) == 0
    for name in ("main", "test", "testnet4", "signet"):
        assert get_params(name).subsidy_halving_interval == 210_000


def test_negative_height_rejected() -> None:
    with pytest.raises(ValueError):
        get_block_subsidy(-1, get_params("main"))


def _spent_values(undo: bytes, block: Block) -> int:
    """Sum of the bcoin undo records (value, script) for every non-coinbase input."""
    reader = ByteReader(undo)
    total = 0
    for tx in block.txs[1:]:
        for _ in tx.vin:
            total += reader.i64()
            reader.var_bytes()
    reader.done()
    return total


@pytest.mark.parametrize(
    ("name", "height", "chain"),
    [("300025", 300025, "main"), ("928927", 928927, "test"), ("1087400", 1087400, "test")],
)
def test_real_coinbase_claims_subsidy_plus_fees(name: str, height: int, chain: str) -> None:
    data = vector_path("bcoin", "test", "data")
    block = Block.from_bytes((data / f"block{name}.raw").read_bytes())
    spent = _spent_values((data / f"block{name}-undo.raw").read_bytes(), block)
    created = sum(out.value for tx in block.txs[1:] for out in tx.vout)
    fees = spent - created
    claimed = sum(out.value for out in block.txs[0].vout)
    assert claimed == get_block_subsidy(height, get_params(chain)) + fees
    if name == "300025":
        assert fees == 7_773_345


def test_verification_progress_estimate() -> None:
    """ChainTxData.progress is Core's GuessVerificationProgress formula."""
    # regtest (no data): any chain counts as complete; an entry without a count as nothing
    assert get_params("regtest").chain_tx_data == NO_TX_DATA
    assert NO_TX_DATA.progress(5, 1_296_688_602, 2_000_000_000) == 1.0
    assert NO_TX_DATA.progress(0, 1_296_688_602, 2_000_000_000) == 0.0
    data = ChainTxData(time=1_000_000, tx_count=1_000, tx_rate=2.0)
    # below the data's count: share of the count extrapolated to now
    assert data.progress(500, 900_000, 1_000_000) == 0.5
    assert data.progress(500, 900_000, 1_000_250) == 500 / 1_500
    # beyond it: the chain's own count extrapolated from the block's time
    assert data.progress(2_000, 1_000_500, 1_001_000) == 2_000 / 3_000
    assert data.progress(2_000, 1_001_000, 1_001_000) == 1.0
    # mainnet's genesis block is a vanishing share, the data's own block all of it
    main = get_params("main").chain_tx_data
    assert 0 < main.progress(1, 1_231_006_505, main.time) < 1e-9
    assert main.progress(main.tx_count, main.time, main.time) == 1.0
    for name in ("test", "testnet4", "signet"):
        d = get_params(name).chain_tx_data
        assert d.tx_count > 0 and d.tx_rate > 0 and d.time > 1_700_000_000
