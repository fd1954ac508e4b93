"""Header and block rules (mirrors the block checks of Core's ``validation.cpp``).

Covers CheckBlockHeader, CheckBlock, IsBlockMutated, ContextualCheckBlockHeader,
ContextualCheckBlock (with GetWitnessCommitmentIndex from
``consensus/validation.h``), GetBlockScriptFlags, the BIP30 helpers and the
coinbase-amount check of ConnectBlock. The per-transaction parts of ConnectBlock
are in :mod:`pyrite.consensus.tx_rules`.

Failures raise :class:`~pyrite.errors.BlockValidationError` with Core's exact
reject reason, a debug text like Core's, and ``kind`` set to the name of Core's
BlockValidationResult without the ``BLOCK_`` prefix (see the ``KIND_*``
constants): callers use it to tell a mutated block (do not mark its hash
invalid) from a bad header or a block from the future (retry later).

What the contextual checks need about the parent block comes in a
:class:`PrevBlockInfo`, plus an ``ancestor(height)`` callback for difficulty
retargeting (:data:`pyrite.consensus.pow.AncestorLookup`). The current time is
a parameter: consensus code never reads a clock.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from pyrite.consensus.merkle import block_merkle_root, block_witness_merkle_root
from pyrite.consensus.params import ChainParams
from pyrite.consensus.pow import AncestorLookup, check_proof_of_work, get_next_work_required
from pyrite.consensus.sigops import MAX_BLOCK_SIGOPS_COST, WITNESS_SCALE_FACTOR, legacy_sigop_count
from pyrite.consensus.subsidy import get_block_subsidy
from pyrite.consensus.tx_check import MAX_BLOCK_WEIGHT, check_transaction
from pyrite.consensus.tx_rules import LOCKTIME_VERIFY_SEQUENCE, is_final_tx
from pyrite.crypto.hashes import sha256d
from pyrite.errors import BlockValidationError, TxValidationError
from pyrite.primitives import Block, BlockHeader, OutPoint
from pyrite.script.flags import (
    CHECKLOCKTIMEVERIFY,
    CHECKSEQUENCEVERIFY,
    DERSIG,
    NULLDUMMY,
    P2SH,
    TAPROOT,
    WITNESS,
    ScriptFlags,
)
from pyrite.script.script import push_int

__all__ = [
    "BIP34_IMPLIES_BIP30_LIMIT",
    "KIND_CACHED_INVALID",
    "KIND_CONSENSUS",
    "KIND_HEADER_LOW_WORK",
    "KIND_INVALID_HEADER",
    "KIND_INVALID_PREV",
    "KIND_MISSING_PREV",
    "KIND_MUTATED",
    "KIND_TIME_FUTURE",
    "MAX_TIMEWARP",
    "MINIMUM_WITNESS_COMMITMENT",
    "NO_WITNESS_COMMITMENT",
    "REASON_BAD_PREVBLK",
    "REASON_BIP30",
    "REASON_CB_AMOUNT",
    "REASON_DUPLICATE_INVALID",
    "REASON_PREV_NOT_FOUND",
    "REASON_TOO_LITTLE_CHAINWORK",
    "WITNESS_COMMITMENT_HEADER",
    "PrevBlockInfo",
    "bip30_enforced",
    "block_script_flags",
    "check_bip30",
    "check_bip30_outputs",
    "check_block",
    "check_block_header",
    "check_coinbase_amount",
    "coinbase_height_script",
    "contextual_check_block",
    "contextual_check_block_header",
    "get_witness_commitment_index",
    "is_bip30_repeat",
    "is_bip30_unspendable",
    "is_block_mutated",
    "lock_time_flags",
    "witness_commitment_script",
]

# BlockValidationResult names (the ``kind`` of a BlockValidationError).
KIND_CONSENSUS: Final = "CONSENSUS"
KIND_CACHED_INVALID: Final = "CACHED_INVALID"
KIND_INVALID_HEADER: Final = "INVALID_HEADER"
KIND_MUTATED: Final = "MUTATED"
KIND_MISSING_PREV: Final = "MISSING_PREV"
KIND_INVALID_PREV: Final = "INVALID_PREV"
KIND_TIME_FUTURE: Final = "TIME_FUTURE"
KIND_HEADER_LOW_WORK: Final = "HEADER_LOW_WORK"

# Reasons the caller raises itself (block index and UTXO lookups), as Core spells them.
REASON_PREV_NOT_FOUND: Final = "prev-blk-not-found"  # KIND_MISSING_PREV
REASON_BAD_PREVBLK: Final = "bad-prevblk"  # KIND_INVALID_PREV
REASON_DUPLICATE_INVALID: Final = "duplicate-invalid"  # KIND_CACHED_INVALID
REASON_TOO_LITTLE_CHAINWORK: Final = "too-little-chainwork"  # KIND_HEADER_LOW_WORK
REASON_BIP30: Final = "bad-txns-BIP30"
REASON_CB_AMOUNT: Final = "bad-cb-amount"

#: BIP94 (testnet4): how far the first block of a period may go back in time (seconds).
MAX_TIMEWARP: Final = 600

#: consensus/validation.h: a commitment output is OP_RETURN, push 36, this tag, 32 bytes.
MINIMUM_WITNESS_COMMITMENT: Final = 38
NO_WITNESS_COMMITMENT: Final = -1
WITNESS_COMMITMENT_HEADER: Final = bytes.fromhex("6a24aa21a9ed")

#: From this height on, BIP30 is checked again whatever BIP34 says (see ConnectBlock).
BIP34_IMPLIES_BIP30_LIMIT: Final = 1_983_702


def _display_hash(hex_str: str) -> bytes:
    return bytes.fromhex(hex_str)[::-1]


# Core's IsBIP30Repeat / IsBIP30Unspendable blocks: (height, hash in internal order).
_BIP30_REPEATS: Final = (
    (91842, _display_hash("00000000000a4d0a398161ffc163c503763b1f4360639393e0e4c8e300e0caec")),
    (91880, _display_hash("00000000000743f190a18c5577a3c2d2a1f610ae9601ac046a38084ccb7cd721")),
)
_BIP30_UNSPENDABLE: Final = (
    (91722, _display_hash("00000000000271a2dc26e7667f8419f2e15416dc6955e5a6c6cdf3f2574dd08e")),
    (91812, _display_hash("00000000000af0aed4792b1acee3d966af36cf5def14935db8de83d6f9306f2f")),
)


@dataclass(frozen=True, slots=True)
class PrevBlockInfo:
    """What the contextual checks need about the parent of the block being checked.

    It also serves as the ``last`` block for difficulty retargeting (it has
    ``height``, ``time`` and ``bits``). ``hash`` is in internal byte order.
    """

    height: int
    hash: bytes
    time: int
    median_time_past: int
    bits: int


def _invalid(reason: str, debug: str, kind: str = KIND_CONSENSUS) -> BlockValidationError:
    return BlockValidationError(reason, debug, kind)


# --------------------------------------------------------------------------- context-free


def check_block_header(header: BlockHeader, params: ChainParams, check_pow: bool = True) -> None:
    """Core's CheckBlockHeader: the hash meets the target its nBits claims."""
    if check_pow and not check_proof_of_work(header.hash, header.bits, params):
        raise _invalid("high-hash", "proof of work failed", KIND_INVALID_HEADER)


def _check_merkle_root(block: Block) -> None:
    root, mutated = block_merkle_root(block)
    if block.header.merkle_root != root:
        raise _invalid("bad-txnmrklroot", "hashMerkleRoot mismatch", KIND_MUTATED)
    # CVE-2012-2459: a repeated run of transactions that leaves the root unchanged.
    if mutated:
        raise _invalid("bad-txns-duplicate", "duplicate transaction", KIND_MUTATED)


def check_block(
    block: Block,
    params: ChainParams,
    check_pow: bool = True,
    check_merkle: bool = True,
    signet_solution_ok: Callable[[Block], bool] | None = None,
) -> None:
    """Core's CheckBlock: every check that needs no chain context.

    On signet Core also verifies the block solution here (``bad-signet-blksig``)
    when ``check_pow`` is set: with ``consensus.signet.check_signet_solution`` unless
    ``signet_solution_ok`` is given.
    """
    check_block_header(block.header, params, check_pow)
    if params.signet_blocks and check_pow:
        if signet_solution_ok is None:
            from pyrite.consensus.signet import check_signet_solution

            ok = check_signet_solution(block, params)
        else:
            ok = signet_solution_ok(block)
        if not ok:
            raise _invalid("bad-signet-blksig", "signet block signature validation failure")
    if check_merkle:
        _check_merkle_root(block)

    txs = block.txs
    if (
        not txs
        or len(txs) * WITNESS_SCALE_FACTOR > MAX_BLOCK_WEIGHT
        or block.base_size * WITNESS_SCALE_FACTOR > MAX_BLOCK_WEIGHT
    ):
        raise _invalid("bad-blk-length", "size limits failed")

    if not txs[0].is_coinbase():
        raise _invalid("bad-cb-missing", "first tx is not coinbase")
    for tx in txs[1:]:
        if tx.is_coinbase():
            raise _invalid("bad-cb-multiple", "more than one coinbase")

    for tx in txs:
        try:
            check_transaction(tx)
        except TxValidationError as err:
            raise _invalid(
                err.reason, f"Transaction check failed (tx hash {tx.txid_hex()}) {err.debug}"
            ) from err

    # Legacy counting only: p2sh and witness sigops are counted in ConnectBlock.
    sigops = sum(legacy_sigop_count(tx) for tx in txs)
    if sigops * WITNESS_SCALE_FACTOR > MAX_BLOCK_SIGOPS_COST:
        raise _invalid("bad-blk-sigops", "out-of-bounds SigOpCount")


# --------------------------------------------------------------------------- witness


def get_witness_commitment_index(block: Block) -> int:
    """Core's GetWitnessCommitmentIndex: the last coinbase output that carries a
    witness commitment, or NO_WITNESS_COMMITMENT (-1)."""
    pos = NO_WITNESS_COMMITMENT
    if block.txs:
        for i, out in enumerate(block.txs[0].vout):
            spk = out.script_pubkey
            if len(spk) >= MINIMUM_WITNESS_COMMITMENT and spk[:6] == WITNESS_COMMITMENT_HEADER:
                pos = i
    return pos


def witness_commitment_script(witness_root: bytes, nonce: bytes = bytes(32)) -> bytes:
    """The coinbase output script committing to ``witness_root`` (BIP141).

    ``witness_root`` is :func:`pyrite.consensus.merkle.block_witness_merkle_root`
    of the block; ``nonce`` is the witness reserved value that must then be the
    coinbase input's single witness item (Core's miner uses 32 zero bytes).
    """
    if len(witness_root) != 32 or len(nonce) != 32:
        raise ValueError("witness root and reserved value must be 32 bytes each")
    return WITNESS_COMMITMENT_HEADER + sha256d(witness_root + nonce)


def _check_witness_malleation(block: Block, expect_witness_commitment: bool) -> None:
    """Core's CheckWitnessMalleation."""
    if expect_witness_commitment:
        pos = get_witness_commitment_index(block)
        if pos != NO_WITNESS_COMMITMENT:
            coinbase = block.txs[0]
            stack = coinbase.vin[0].witness if coinbase.vin else ()
            if len(stack) != 1 or len(stack[0]) != 32:
                raise _invalid(
                    "bad-witness-nonce-size",
                    "CheckWitnessMalleation : invalid witness reserved value size",
                    KIND_MUTATED,
                )
            committed = sha256d(block_witness_merkle_root(block) + stack[0])
            if committed != coinbase.vout[pos].script_pubkey[6:38]:
                raise _invalid(
                    "bad-witness-merkle-match",
                    "CheckWitnessMalleation : witness merkle commitment mismatch",
                    KIND_MUTATED,
                )
            return
    # Without a commitment, witness data would be free room for spam.
    for tx in block.txs:
        if tx.has_witness():
            raise _invalid(
                "unexpected-witness",
                "CheckWitnessMalleation : unexpected witness data found",
                KIND_MUTATED,
            )


def is_block_mutated(block: Block, check_witness_root: bool) -> bool:
    """Core's IsBlockMutated: could this block's body differ from what its header commits to?

    Used before storing a block received from a peer (``check_witness_root`` is
    whether segwit is active for it). A mutated block must not get its hash
    marked invalid.
    """
    try:
        _check_merkle_root(block)
    except BlockValidationError:
        return True
    if not block.txs or not block.txs[0].is_coinbase():
        # A 64-byte transaction could pass for an inner merkle node. Only blocks
        # without a coinbase are considered, so this is not a consensus change.
        return any(tx.base_size == 64 for tx in block.txs)
    try:
        _check_witness_malleation(block, check_witness_root)
    except BlockValidationError:
        return True
    return False


# --------------------------------------------------------------------------- contextual


def contextual_check_block_header(
    header: BlockHeader,
    prev: PrevBlockInfo,
    params: ChainParams,
    now: int,
    ancestor_lookup: AncestorLookup,
) -> None:
    """Core's ContextualCheckBlockHeader for a header whose parent is ``prev``.

    ``now`` is the node's current (adjusted/mock) time in seconds and
    ``ancestor_lookup(h)`` returns the block at height ``h`` on ``prev``'s chain,
    as :func:`pyrite.consensus.pow.get_next_work_required` needs. Checkpoints
    are not checked.
    """
    height = prev.height + 1
    if header.bits != get_next_work_required(prev, header.time, params, ancestor_lookup):
        raise _invalid("bad-diffbits", "incorrect proof of work", KIND_INVALID_HEADER)

    if header.time <= prev.median_time_past:
        raise _invalid("time-too-old", "block's timestamp is too early", KIND_INVALID_HEADER)

    if (
        params.enforce_bip94
        and height % params.difficulty_adjustment_interval == 0
        and header.time < prev.time - MAX_TIMEWARP
    ):
        raise _invalid(
            "time-timewarp-attack",
            "block's timestamp is too early on diff adjustment block",
            KIND_INVALID_HEADER,
        )

    if header.time > now + params.max_future_block_time:
        raise _invalid("time-too-new", "block timestamp too far in the future", KIND_TIME_FUTURE)

    version = header.version
    if (
        (version < 2 and height >= params.bip34_height)
        or (version < 3 and height >= params.bip66_height)
        or (version < 4 and height >= params.bip65_height)
    ):
        shown = f"0x{version & 0xFFFFFFFF:08x}"
        raise _invalid(
            f"bad-version({shown})", f"rejected nVersion={shown} block", KIND_INVALID_HEADER
        )


def coinbase_height_script(height: int) -> bytes:
    """The BIP34 prefix of a coinbase scriptSig at ``height``: Core's ``CScript() << height``.

    Heights 1..16 are a single OP_1..OP_16 byte, 0 is OP_0; anything else is a
    minimal CScriptNum push. CheckTransaction wants 2..100 bytes of scriptSig,
    so a miner appends something (Core's miner adds OP_0) when this is 1 byte.
    """
    if height < 0:
        raise ValueError("block height must not be negative")
    return push_int(height)


def contextual_check_block(block: Block, prev: PrevBlockInfo | None, params: ChainParams) -> None:
    """Core's ContextualCheckBlock: finality, BIP34 height, witness commitment, weight.

    ``prev`` is the parent block (None only for a genesis block). Run it after
    :func:`check_block`, which guarantees a coinbase.
    """
    height = 0 if prev is None else prev.height + 1

    # BIP113: once CSV is active, lock-times are compared with the parent's MTP.
    if height >= params.csv_height and prev is not None:
        lock_time_cutoff = prev.median_time_past
    else:
        lock_time_cutoff = block.header.time
    for tx in block.txs:
        if not is_final_tx(tx, height, lock_time_cutoff):
            raise _invalid("bad-txns-nonfinal", "non-final transaction")

    if height >= params.bip34_height:
        expect = coinbase_height_script(height)
        coinbase = block.txs[0] if block.txs else None
        script_sig = coinbase.vin[0].script_sig if coinbase is not None and coinbase.vin else b""
        if not script_sig.startswith(expect):
            raise _invalid("bad-cb-height", "block height mismatch in coinbase")

    _check_witness_malleation(block, height >= params.segwit_height)

    # Only now is the weight meaningful: before the coinbase witness was checked,
    # padding it would change the weight without changing the block hash.
    if block.weight > MAX_BLOCK_WEIGHT:
        raise _invalid("bad-blk-weight", "ContextualCheckBlock : weight limit failed")


# --------------------------------------------------------------------------- flags


def block_script_flags(height: int, block_hash: bytes, params: ChainParams) -> int:
    """Core's GetBlockScriptFlags: script verification flags for the block at ``height``.

    P2SH, WITNESS and TAPROOT apply to every block except the ones listed in
    the chain's exception map (whose flags replace them); DERSIG, CLTV, CSV and
    NULLDUMMY (with segwit) are added from their buried deployment heights.
    """
    exception = params.script_flag_exceptions.get(block_hash)
    if exception is None:
        flags = P2SH | WITNESS | TAPROOT
    else:
        flags = 0
        for name in exception:
            flags |= int(ScriptFlags[name])
    if height >= params.bip66_height:
        flags |= DERSIG
    if height >= params.bip65_height:
        flags |= CHECKLOCKTIMEVERIFY
    if height >= params.csv_height:
        flags |= CHECKSEQUENCEVERIFY
    if height >= params.segwit_height:
        flags |= NULLDUMMY
    return flags


def lock_time_flags(height: int, params: ChainParams) -> int:
    """The lock-time flags ConnectBlock uses: LOCKTIME_VERIFY_SEQUENCE (BIP68) once CSV is
    active."""
    return LOCKTIME_VERIFY_SEQUENCE if height >= params.csv_height else 0


# --------------------------------------------------------------------------- connect


def is_bip30_repeat(height: int, block_hash: bytes) -> bool:
    """Core's IsBIP30Repeat: the two mainnet blocks whose coinbase overwrote an older one."""
    return (height, block_hash) in _BIP30_REPEATS


def is_bip30_unspendable(height: int, block_hash: bytes) -> bool:
    """Core's IsBIP30Unspendable: the two mainnet blocks whose coinbase was later overwritten."""
    return (height, block_hash) in _BIP30_UNSPENDABLE


def bip30_enforced(
    height: int,
    block_hash: bytes,
    bip34_ancestor_hash: bytes | None,
    params: ChainParams,
) -> bool:
    """Must ConnectBlock look for outputs that would overwrite unspent ones (BIP30)?

    ``bip34_ancestor_hash`` is the hash of the block at ``params.bip34_height``
    on this block's chain, or None if the chain is not that long yet. Once the
    chain contains the known BIP34 activation block, BIP34 makes duplicates
    impossible, until BIP34_IMPLIES_BIP30_LIMIT where old coinbases could repeat.
    """
    enforce = not is_bip30_repeat(height, block_hash)
    if bip34_ancestor_hash is not None and bip34_ancestor_hash == params.bip34_hash:
        enforce = False
    return enforce or height >= BIP34_IMPLIES_BIP30_LIMIT


def check_bip30(block: Block, have_coin: Callable[[OutPoint], bool]) -> None:
    """BIP30: no output of the block may already exist unspent (``bad-txns-BIP30``).

    ``have_coin`` asks the UTXO view; call this only when :func:`bip30_enforced`.
    """
    check_bip30_outputs(
        block, lambda txs: any(have_coin(OutPoint(t, n)) for t, count in txs for n in range(count))
    )


def check_bip30_outputs(
    block: Block, any_unspent: Callable[[list[tuple[bytes, int]]], bool]
) -> None:
    """:func:`check_bip30` with one question to the UTXO view: ``any_unspent(txs)`` gets
    ``(txid, number of outputs)`` per transaction and must tell whether any of those
    outputs is unspent (the view may answer a whole transaction at once)."""
    if any_unspent([(tx.txid, len(tx.vout)) for tx in block.txs]):
        raise _invalid(REASON_BIP30, "tried to overwrite transaction")


def check_coinbase_amount(block: Block, fees: int, height: int, params: ChainParams) -> None:
    """ConnectBlock's last value check: the coinbase may claim at most subsidy + fees."""
    limit = fees + get_block_subsidy(height, params)
    actual = sum(out.value for out in block.txs[0].vout)
    if actual > limit:
        raise _invalid(
            REASON_CB_AMOUNT, f"coinbase pays too much (actual={actual} vs limit={limit})"
        )
