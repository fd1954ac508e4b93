"""``gettxoutsetinfo``'s figures over the flushed UTXO set (Core's ComputeUTXOStats)."""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass

from pyrite.chain.coins import Coin, CoinsDB, outpoint_from_key
from pyrite.chain.compressor import U32_MAX
from pyrite.chain.kvstore import CHAINSTATE_COIN
from pyrite.encoding.bytes import compact_size
from pyrite.errors import DecodeError, StorageError

_U32 = struct.Struct("<I")
_I64 = struct.Struct("<q")


@dataclass(frozen=True, slots=True)
class UtxoStats:
    """Figures of ``gettxoutsetinfo`` (mirrors kernel::CCoinsStats, hash_type=hash_serialized_3)."""

    best_block: bytes
    transactions: int  # distinct txids with unspent outputs
    txouts: int
    total_amount: int
    bogosize: int  # Core's database-independent size figure
    disk_size: int  # bytes of our stored keys and values (not LMDB's page usage)
    hash_serialized: bytes  # internal byte order; RPC shows it reversed


def bogo_size(script_pubkey: bytes) -> int:
    """Mirrors GetBogoSize: txid, vout, height/coinbase, amount, 2-byte length, script."""
    return 32 + 4 + 4 + 8 + 2 + len(script_pubkey)


def compute_utxo_stats(db: CoinsDB) -> UtxoStats:
    """Scan the flushed set like Core's ComputeUTXOStats with HASH_SERIALIZED.

    The hash is SHA256d over, for each coin ordered by txid bytes and then
    numerically by output index, ``outpoint || u32(height*2+coinbase) ||
    CTxOut`` (Core's TxOutSer). Key order sorts the index by its VARINT bytes,
    which is not numeric order, so each txid's outputs are sorted before
    hashing, as Core does with its std::map. Flush the caches first. The scan
    is rejected (StorageError) if the best block changes while it runs.
    """
    best = db.best_block()
    h = hashlib.sha256()
    update = h.update
    transactions = txouts = total = bogo = disk = 0
    prev_txid = b""
    group: list[tuple[int, Coin]] = []

    def apply(txid: bytes) -> None:
        group.sort(key=lambda t: t[0])
        for n, c in group:
            spk = c.script_pubkey
            code = (c.height << 1) | (1 if c.is_coinbase else 0)
            update(
                txid
                + _U32.pack(n)
                + _U32.pack(code & U32_MAX)
                + _I64.pack(c.value)
                + compact_size(len(spk))
                + spk
            )

    for key, raw in db.store.iterate(CHAINSTATE_COIN):
        try:
            op = outpoint_from_key(key)
            coin = Coin.deserialize(raw)
        except DecodeError as e:
            raise StorageError(f"corrupt coin record {key.hex()}: {e}") from e
        if op.txid != prev_txid:
            if group:
                apply(prev_txid)
                group.clear()
            transactions += 1
            prev_txid = op.txid
        group.append((op.n, coin))
        txouts += 1
        total += coin.value
        bogo += bogo_size(coin.script_pubkey)
        disk += len(key) + len(raw)
    if group:
        apply(prev_txid)
    if db.best_block() != best:
        raise StorageError("the UTXO set changed during the scan")
    return UtxoStats(
        best_block=best,
        transactions=transactions,
        txouts=txouts,
        total_amount=total,
        bogosize=bogo,
        disk_size=disk,
        hash_serialized=hashlib.sha256(h.digest()).digest(),
    )
