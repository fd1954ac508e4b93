"""Block templates and nonce grinding (mirrors the parts of Core's BlockAssembler and
GenerateBlock used by the regtest ``generate*`` RPCs)."""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass

from pyrite.consensus.merkle import block_merkle_root, block_witness_merkle_root
from pyrite.consensus.params import ChainParams
from pyrite.consensus.pow import derive_target, hash_to_int
from pyrite.consensus.subsidy import get_block_subsidy
from pyrite.consensus.validation import coinbase_height_script, witness_commitment_script
from pyrite.crypto.hashes import sha256d
from pyrite.primitives import Block, BlockHeader, OutPoint, Tx, TxIn, TxOut
from pyrite.primitives.tx import NULL_HASH

BLOCK_VERSION = 0x20000000
WITNESS_NONCE = bytes(32)
_HEADER = struct.Struct("<i32s32sIII")


@dataclass(frozen=True, slots=True)
class TemplateContext:
    """What a template needs from the chain: the tip and the next block's rules."""

    prev_hash: bytes
    height: int  # height of the block being built
    median_time_past: int  # of the tip
    bits: int  # required nBits of the block being built


def create_coinbase(
    height: int, script_pubkey: bytes, value: int, extra_nonce: int = 0, witness: bool = True
) -> Tx:
    """Coinbase paying ``value`` to ``script_pubkey``: BIP34 height push plus an extra nonce."""
    from pyrite.script.script import push_int

    script_sig = coinbase_height_script(height) + push_int(extra_nonce)
    txin = TxIn(OutPoint(NULL_HASH, 0xFFFFFFFF), script_sig, 0xFFFFFFFF,
                (WITNESS_NONCE,) if witness else ())  # fmt: skip
    return Tx(2, (txin,), (TxOut(value, script_pubkey),), 0)


def build_block(
    ctx: TemplateContext,
    params: ChainParams,
    coinbase_script: bytes,
    txs: Sequence[Tx] = (),
    fees: int = 0,
    time: int = 0,
    extra_nonce: int = 0,
) -> Block:
    """An unsolved block on ``ctx`` with a witness commitment (segwit active), nonce 0."""
    value = get_block_subsidy(ctx.height, params) + fees
    segwit = ctx.height >= params.segwit_height
    coinbase = create_coinbase(ctx.height, coinbase_script, value, extra_nonce, segwit)
    body = (coinbase, *txs)
    if segwit:
        witness_root = block_witness_merkle_root(Block(_dummy_header(), body))
        commitment = witness_commitment_script(witness_root, WITNESS_NONCE)
        coinbase = Tx(coinbase.version, coinbase.vin,
                      (*coinbase.vout, TxOut(0, commitment)), coinbase.locktime)  # fmt: skip
        body = (coinbase, *txs)
    block_time = max(ctx.median_time_past + 1, time)
    merkle, _ = block_merkle_root(Block(_dummy_header(), body))
    header = BlockHeader(BLOCK_VERSION, ctx.prev_hash, merkle, block_time, ctx.bits, 0)
    return Block(header, body)


def _dummy_header() -> BlockHeader:
    return BlockHeader(0, NULL_HASH, NULL_HASH, 0, 0, 0, NULL_HASH)


def solve(block: Block, params: ChainParams, max_tries: int = 1 << 32) -> Block | None:
    """Search nonces until the header meets its target (Core's GenerateBlock loop).

    Returns None when ``max_tries`` nonces fail (the caller bumps the extra nonce or
    time and tries again). Only practical for regtest-like targets.
    """
    target = derive_target(block.header.bits, params.pow_limit)
    if target is None:
        raise ValueError("block has invalid nBits")
    h = block.header
    prefix = _HEADER.pack(h.version, h.prev_hash, h.merkle_root, h.time, h.bits, 0)[:76]
    pack_nonce = struct.Struct("<I").pack
    for nonce in range(min(max_tries, 1 << 32)):
        digest = sha256d(prefix + pack_nonce(nonce))
        if hash_to_int(digest) <= target:
            header = BlockHeader(h.version, h.prev_hash, h.merkle_root, h.time, h.bits, nonce,
                                 digest)  # fmt: skip
            return Block(header, block.txs)
    return None
