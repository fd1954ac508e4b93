"""Per-network consensus parameters (Bitcoin Core's CChainParams / Consensus::Params).

Values come from Core's ``src/kernel/chainparams.cpp`` and ``chainparamsbase.cpp``.
Hashes are stored in internal byte order (as ``BlockHeader.hash`` holds them); the
hex strings in the source below are the usual display (byte-reversed) form.

Address prefixes and bech32 HRPs are deliberately absent: they live in
``pyrite.encoding.address`` keyed by :attr:`ChainParams.name`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from pyrite.consensus.merkle import merkle_root
from pyrite.crypto.hashes import sha256d
from pyrite.encoding.bytes import compact_size
from pyrite.primitives import Block, BlockHeader, OutPoint, Tx, TxIn, TxOut
from pyrite.primitives.tx import COIN
from pyrite.script.num import encode_num
from pyrite.script.script import push_data

__all__ = [
    "CHAIN_NAMES",
    "COIN",
    "COINBASE_MATURITY",
    "MAX_FUTURE_BLOCK_TIME",
    "SIGNET_DEFAULT_CHALLENGE",
    "ChainParams",
    "create_genesis_block",
    "get_params",
    "signet_message_start",
]

COINBASE_MATURITY = 100
MAX_FUTURE_BLOCK_TIME = 2 * 60 * 60

_OP_CHECKSIG = 0xAC

GENESIS_MESSAGE = b"The Times 03/Jan/2009 Chancellor on brink of second bailout for banks"
GENESIS_PUBKEY = bytes.fromhex(
    "04678afdb0fe5548271967f1a67130b7105cd6a828e03909a67962e0ea1f61de"
    "b649f6bc3f4cef38c4f35504e51ec112de5c384df7ba0b8d578a4c702b6bf11d5f"
)
TESTNET4_GENESIS_MESSAGE = (
    b"03/May/2024 000000000000000000001ebd58c244970b3aa9d783bb001011fbe8ea8e98e00e"
)
TESTNET4_GENESIS_PUBKEY = bytes(33)

SIGNET_DEFAULT_CHALLENGE = bytes.fromhex(
    "512103ad5e0edad18cb1f0fc0d28a3d4f1f3e445640337489abb10404f2d1e086be430"
    "210359ef5021964fe22d6f8e05b2463c9540ce96883fe3b278760f048f5189f2e6c452ae"
)

CHAIN_NAMES = ("main", "test", "testnet4", "signet", "regtest")


def _h(display_hex: str) -> bytes:
    """Display hex (as Core writes uint256 literals) to internal byte order."""
    raw = bytes.fromhex(display_hex)
    if len(raw) != 32:
        raise ValueError("expected a 32-byte hash")
    return raw[::-1]


def create_genesis_block(
    message: bytes,
    output_script: bytes,
    time: int,
    nonce: int,
    bits: int,
    version: int,
    reward: int,
) -> Block:
    """Build a genesis block the way Core's CreateGenesisBlock does.

    The coinbase scriptSig is ``<486604799> <CScriptNum(4)> <message>``: the first
    number goes through ``CScript << int64`` (a plain CScriptNum push, since it is
    not in -1..16) and the second is pushed as the one-byte vector ``04``.
    """
    script_sig = push_data(encode_num(486604799)) + push_data(encode_num(4)) + push_data(message)
    coinbase = Tx(
        version=1,
        vin=(TxIn(OutPoint(bytes(32), 0xFFFFFFFF), script_sig, 0xFFFFFFFF),),
        vout=(TxOut(reward, output_script),),
        locktime=0,
    )
    root, _ = merkle_root([coinbase.txid])
    header = BlockHeader(version, bytes(32), root, time, bits, nonce)
    return Block(header, (coinbase,))


def _satoshi_genesis(time: int, nonce: int, bits: int) -> Block:
    script = push_data(GENESIS_PUBKEY) + bytes([_OP_CHECKSIG])
    return create_genesis_block(GENESIS_MESSAGE, script, time, nonce, bits, 1, 50 * COIN)


def signet_message_start(challenge: bytes) -> bytes:
    """Signet network magic: first four bytes of sha256d(serialized challenge script)."""
    return sha256d(compact_size(len(challenge)) + challenge)[:4]


# Names of Core's SCRIPT_VERIFY_* flags (without the prefix); an empty set is NONE.
_P2SH_WITNESS = frozenset({"P2SH", "WITNESS"})
_NONE: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class ChainTxData:
    """How many transactions the network had at a moment, and how many a second it adds
    (Core's ChainTxData): the basis of the verification progress estimate."""

    time: int
    tx_count: int
    tx_rate: float

    def progress(self, chain_tx: int, block_time: int, now: int) -> float:
        """Core's GuessVerificationProgress for a block that ends a chain of ``chain_tx``
        transactions and is taken to be from ``block_time``: that count over the
        estimated count at ``now``, at most 1.0."""
        if chain_tx <= 0:
            return 0.0
        if chain_tx <= self.tx_count:
            total = self.tx_count + (now - self.time) * self.tx_rate
        else:
            total = chain_tx + (now - block_time) * self.tx_rate
        return min(chain_tx / total, 1.0) if total > 0 else 1.0


#: no data: every chain counts as complete (regtest, as in Core before it set a rate there)
NO_TX_DATA = ChainTxData(0, 0, 0.0)


@dataclass(frozen=True, slots=True)
class ChainParams:
    """Everything consensus (and a few node defaults) need to know about one network."""

    name: str
    genesis: Block
    message_start: bytes
    default_port: int
    rpc_port: int
    # Proof of work
    pow_limit: int
    pow_target_timespan: int
    pow_target_spacing: int
    allow_min_difficulty_blocks: bool
    no_retargeting: bool
    enforce_bip94: bool
    # Subsidy
    subsidy_halving_interval: int
    # Buried deployments (first height at which each rule is enforced)
    bip34_height: int
    bip34_hash: bytes | None
    bip65_height: int
    bip66_height: int
    csv_height: int
    segwit_height: int
    # Height taproot became active on this chain. Informational only (deployment
    # reporting): Core applies the TAPROOT script flag to every block except the
    # entries of ``script_flag_exceptions``.
    taproot_height: int
    # Block hash (internal order) -> the only script flags applied to that block.
    script_flag_exceptions: Mapping[bytes, frozenset[str]] = field(hash=False)
    # Anti-DoS / IBD hints
    min_chain_work: int
    default_assume_valid: bytes | None
    # Signet (BIP325)
    signet_blocks: bool = False
    signet_challenge: bytes | None = None
    coinbase_maturity: int = COINBASE_MATURITY
    max_future_block_time: int = MAX_FUTURE_BLOCK_TIME
    #: for the verification progress estimate (Core's chainTxData)
    chain_tx_data: ChainTxData = NO_TX_DATA

    @property
    def genesis_hash(self) -> bytes:
        return self.genesis.header.hash

    @property
    def difficulty_adjustment_interval(self) -> int:
        return self.pow_target_timespan // self.pow_target_spacing

    @property
    def bip16_exception(self) -> bytes | None:
        """The block whose scripts are checked with no flags at all (BIP16 exception)."""
        for block_hash, flags in self.script_flag_exceptions.items():
            if not flags:
                return block_hash
        return None


def _exceptions(entries: dict[str, frozenset[str]]) -> Mapping[bytes, frozenset[str]]:
    return MappingProxyType({_h(k): v for k, v in entries.items()})


def _check_genesis(block: Block, hash_hex: str, merkle_hex: str) -> Block:
    # Same as the asserts in Core's chainparams; a failure here means a typo above.
    if block.header.hash != _h(hash_hex) or block.header.merkle_root != _h(merkle_hex):
        raise AssertionError(f"genesis block mismatch: got {block.hash_hex()}, want {hash_hex}")
    return block


_SATOSHI_MERKLE = "4a5e1e4baab89f3a32518a88c31bc87f618f76673e2cc77ab2127b7afdeda33b"
_TWO_WEEKS = 14 * 24 * 60 * 60
_TEN_MINUTES = 10 * 60
_LIMIT_32_ZERO_BITS = (1 << 224) - 1  # 00000000ffff...ff

MAIN = ChainParams(
    name="main",
    genesis=_check_genesis(
        _satoshi_genesis(1231006505, 2083236893, 0x1D00FFFF),
        "000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f",
        _SATOSHI_MERKLE,
    ),
    message_start=bytes.fromhex("f9beb4d9"),
    default_port=8333,
    rpc_port=8332,
    pow_limit=_LIMIT_32_ZERO_BITS,
    pow_target_timespan=_TWO_WEEKS,
    pow_target_spacing=_TEN_MINUTES,
    allow_min_difficulty_blocks=False,
    no_retargeting=False,
    enforce_bip94=False,
    subsidy_halving_interval=210_000,
    bip34_height=227931,
    bip34_hash=_h("000000000000024b89b42a942fe0d9fea3bb44ab7bd1b19115dd6a759c0808b8"),
    bip65_height=388381,
    bip66_height=363725,
    csv_height=419328,
    segwit_height=481824,
    taproot_height=709632,
    script_flag_exceptions=_exceptions(
        {
            "00000000000002dc756eebf4f49723ed8d30cc28a5f108eb94b1ba88ac4f9c22": _NONE,
            "0000000000000000000f14c35b2d841e986ab5441de8c585d5ffe55ea1e395ad": _P2SH_WITNESS,
        }
    ),
    min_chain_work=0x000000000000000000000000000000000000000145EC036ACC5BA740052AF1A0,
    default_assume_valid=_h("00000000000000000000748969ec33043c0e52a763c6dd5193861f559f2c72e3"),
    # Core's chainTxData of 2026-02-25 (getchaintxstats 4096 at block
    # 00000000000000000000ccebd6d74d9194d8dcdc1d177c478e094bfad51ba5ac)
    chain_tx_data=ChainTxData(1772055173, 1315805869, 5.40111006496122),
)

TESTNET3 = ChainParams(
    name="test",
    genesis=_check_genesis(
        _satoshi_genesis(1296688602, 414098458, 0x1D00FFFF),
        "000000000933ea01ad0ee984209779baaec3ced90fa3f408719526f8d77f4943",
        _SATOSHI_MERKLE,
    ),
    message_start=bytes.fromhex("0b110907"),
    default_port=18333,
    rpc_port=18332,
    pow_limit=_LIMIT_32_ZERO_BITS,
    pow_target_timespan=_TWO_WEEKS,
    pow_target_spacing=_TEN_MINUTES,
    allow_min_difficulty_blocks=True,
    no_retargeting=False,
    enforce_bip94=False,
    subsidy_halving_interval=210_000,
    bip34_height=21111,
    bip34_hash=_h("0000000023b3a96d3484e5abb3755c413e7d41500f8e2a5c3f0dd01299cd8ef8"),
    bip65_height=581885,
    bip66_height=330776,
    csv_height=770112,
    segwit_height=834624,
    # Core: MinBIP9WarningHeight 2013984 = taproot activation height + 2016.
    taproot_height=2011968,
    script_flag_exceptions=_exceptions(
        {"00000000dd30457c001f4095d208cc1296b0eed002427aa599874af7a432b105": _NONE}
    ),
    min_chain_work=0x0000000000000000000000000000000000000000000017F49F702147F10C0EB6,
    default_assume_valid=_h("00000000b318a3703d14a844c55ef507f4c2fc8f8766e24271fd43c180c51637"),
    # Core's chainTxData of 2026-02-25 (block
    # 000000007a61e4230b28ac5cb6b5e5a0130de37ac1faf2f8987d2fa6505b67f4)
    chain_tx_data=ChainTxData(1772051651, 536108416, 0.02691479016257117),
)

TESTNET4 = ChainParams(
    name="testnet4",
    genesis=_check_genesis(
        create_genesis_block(
            TESTNET4_GENESIS_MESSAGE,
            push_data(TESTNET4_GENESIS_PUBKEY) + bytes([_OP_CHECKSIG]),
            1714777860,
            393743547,
            0x1D00FFFF,
            1,
            50 * COIN,
        ),
        "00000000da84f2bafbbc53dee25a72ae507ff4914b867c565be350b0da8bf043",
        "7aa0a7ae1e223414cb807e40cd57e667b718e42aaf9306db9102fe28912b7b4e",
    ),
    message_start=bytes.fromhex("1c163f28"),
    default_port=48333,
    rpc_port=48332,
    pow_limit=_LIMIT_32_ZERO_BITS,
    pow_target_timespan=_TWO_WEEKS,
    pow_target_spacing=_TEN_MINUTES,
    allow_min_difficulty_blocks=True,
    no_retargeting=False,
    enforce_bip94=True,
    subsidy_halving_interval=210_000,
    bip34_height=1,
    bip34_hash=None,
    bip65_height=1,
    bip66_height=1,
    csv_height=1,
    segwit_height=1,
    taproot_height=0,
    script_flag_exceptions=_exceptions({}),
    min_chain_work=0x000000000000000000000000000000000000000000000E346A558455ADE8ECA9,
    default_assume_valid=_h("0000000021df65b91665a342e26ceb05e54826ad7d8fcd40316230058fa3b865"),
    # Core's chainTxData of 2026-02-25 (block
    # 0000000002368b1e4ee27e2e85676ae6f9f9e69579b29093e9a82c170bf7cf8a)
    chain_tx_data=ChainTxData(1772013387, 14191421, 0.01848579579528412),
)

SIGNET = ChainParams(
    name="signet",
    genesis=_check_genesis(
        _satoshi_genesis(1598918400, 52613770, 0x1E0377AE),
        "00000008819873e925422c1ff0f99f7cc9bbb232af63a077a480a3633bee1ef6",
        _SATOSHI_MERKLE,
    ),
    message_start=signet_message_start(SIGNET_DEFAULT_CHALLENGE),
    default_port=38333,
    rpc_port=38332,
    pow_limit=0x00000377AE << 216,
    pow_target_timespan=_TWO_WEEKS,
    pow_target_spacing=_TEN_MINUTES,
    allow_min_difficulty_blocks=False,
    no_retargeting=False,
    enforce_bip94=False,
    subsidy_halving_interval=210_000,
    bip34_height=1,
    bip34_hash=None,
    bip65_height=1,
    bip66_height=1,
    csv_height=1,
    segwit_height=1,
    taproot_height=0,
    script_flag_exceptions=_exceptions({}),
    min_chain_work=0x00000000000000000000000000000000000000000000000000001090E9DC1520,
    default_assume_valid=_h("00000002a5e0ba0498f1e9f4591af0b66b63c654665efe65206fd0ae7bbaf923"),
    # Core's chainTxData of 2026-02-25 (block
    # 00000008414aab61092ef93f1aacc54cf9e9f16af29ddad493b908a01ff5c329)
    chain_tx_data=ChainTxData(1772055248, 28676833, 0.06736623436338929),
    signet_blocks=True,
    signet_challenge=SIGNET_DEFAULT_CHALLENGE,
)

REGTEST = ChainParams(
    name="regtest",
    genesis=_check_genesis(
        _satoshi_genesis(1296688602, 2, 0x207FFFFF),
        "0f9188f13cb7b2c71f2a335e3a4fc328bf5beb436012afca590b1a11466e2206",
        _SATOSHI_MERKLE,
    ),
    message_start=bytes.fromhex("fabfb5da"),
    default_port=18444,
    rpc_port=18443,
    pow_limit=(1 << 255) - 1,  # 7fff...ff
    pow_target_timespan=24 * 60 * 60,  # one day
    pow_target_spacing=_TEN_MINUTES,
    allow_min_difficulty_blocks=True,
    no_retargeting=True,
    enforce_bip94=False,  # Core: -test=bip94 turns it on; off by default
    subsidy_halving_interval=150,
    bip34_height=1,
    bip34_hash=None,
    bip65_height=1,
    bip66_height=1,
    csv_height=1,
    segwit_height=0,
    taproot_height=0,
    script_flag_exceptions=_exceptions({}),
    min_chain_work=0,
    default_assume_valid=None,
)

_BY_NAME: Mapping[str, ChainParams] = MappingProxyType(
    {p.name: p for p in (MAIN, TESTNET3, TESTNET4, SIGNET, REGTEST)}
)


def get_params(name: str) -> ChainParams:
    """Parameters for ``"main"``, ``"test"`` (testnet3), ``"testnet4"``, ``"signet"``
    or ``"regtest"``."""
    try:
        return _BY_NAME[name]
    except KeyError:
        raise ValueError(
            f"unknown chain {name!r}; expected one of {', '.join(CHAIN_NAMES)}"
        ) from None
