"""Undo data: the coins a block spent, so the block can be disconnected.

Mirrors Core's undo.h (TxInUndoFormatter, CTxUndo, CBlockUndo) byte for byte:

* a spent coin is ``VARINT(height*2 + coinbase)``, then, for height > 0, a
  dummy ``0`` byte (an old version field; read back as a VARINT), then the
  compressed txout (``compressor.compress_txout``);
* ``TxUndo`` is a CompactSize count of such coins, in input order;
* ``BlockUndo`` is a CompactSize count of ``TxUndo``, one per transaction
  except the coinbase, in block order.

The bytes go to ``revNNNNN.dat`` through ``BlockStore.write_undo``.

Helpers for the chainstate manager:

* ``update_coins(view, tx, height)`` spends the inputs and adds the outputs
  of one transaction, returning its ``TxUndo`` (Core's UpdateCoins);
* ``apply_coin_undo(view, outpoint, coin)`` puts a spent coin back while
  disconnecting (Core's ApplyTxInUndo). DisconnectBlock walks the block's
  transactions last to first: it spends every output (checking the spent
  coin matches the output, its height and coinbase flag), then restores the
  inputs of that transaction last to first from ``BlockUndo.txs[i - 1]``.
"""

from __future__ import annotations

from collections.abc import Sequence

from pyrite.chain.coins import Coin, CoinsCache, CoinsLogicError, add_coins
from pyrite.chain.compressor import (
    U32_MAX,
    compress_txout,
    read_compressed_txout,
    varint,
    varint_at,
)
from pyrite.encoding.bytes import compact_size
from pyrite.errors import DecodeError, StorageError
from pyrite.primitives.tx import OutPoint, Tx

_MIN_COIN_UNDO = 3  # code, amount and script-size VARINTs of one byte each
_SMALL = tuple(compact_size(i) for i in range(0xFD))


def _read_coin(data: bytes, pos: int) -> tuple[Coin, int]:
    code, pos = varint_at(data, pos, U32_MAX)
    height = code >> 1
    if height > 0:
        _, pos = varint_at(data, pos, U32_MAX)
    value, script, pos = read_compressed_txout(data, pos)
    return Coin(value, script, height, bool(code & 1)), pos


def _read_count(data: bytes, pos: int, min_item: int) -> tuple[int, int]:
    first = data[pos] if pos < len(data) else None
    if first is None:
        raise DecodeError("truncated count")
    if first < 0xFD:
        n, pos = first, pos + 1
    else:
        width = {0xFD: 2, 0xFE: 4, 0xFF: 8}[first]
        if pos + 1 + width > len(data):
            raise DecodeError("truncated count")
        n = int.from_bytes(data[pos + 1 : pos + 1 + width], "little")
        if compact_size(n) != data[pos : pos + 1 + width]:
            raise DecodeError("non-canonical compact size")
        pos += 1 + width
    if n * min_item > len(data) - pos:
        raise DecodeError(f"count {n} exceeds the data")
    return n, pos


def _write_spent(out: bytearray, spent: list[Coin], heads: dict[int, bytes]) -> None:
    """Append CTxUndo: the count, then per coin (TxInUndoFormatter) VARINT(height*2 +
    coinbase), a dummy version byte for height > 0, and the compressed txout
    (``compressor.compress_txout``).

    ``heads`` remembers the bytes before the txout by code (coins spent together
    tend to come from few heights).
    """
    n = len(spent)
    out += _SMALL[n] if n < 0xFD else compact_size(n)
    for value, script, height, coinbase in spent:
        code = (height << 1) | (1 if coinbase else 0)
        head = heads.get(code)
        if head is None:
            head = heads[code] = varint(code) + (b"\x00" if height > 0 else b"")
        out += head
        out += compress_txout(value, script)


class TxUndo:
    """The coins spent by one transaction's inputs, in input order (mirrors CTxUndo)."""

    __slots__ = ("spent",)

    def __init__(self, spent: list[Coin] | None = None) -> None:
        self.spent: list[Coin] = [] if spent is None else spent

    def __eq__(self, other: object) -> bool:
        return isinstance(other, TxUndo) and self.spent == other.spent

    def __repr__(self) -> str:
        return f"TxUndo({self.spent!r})"

    def write(self, out: bytearray) -> None:
        _write_spent(out, self.spent, {})

    def serialize(self) -> bytes:
        out = bytearray()
        self.write(out)
        return bytes(out)

    @classmethod
    def read(cls, data: bytes, pos: int) -> tuple[TxUndo, int]:
        n, pos = _read_count(data, pos, _MIN_COIN_UNDO)
        spent = []
        for _ in range(n):
            coin, pos = _read_coin(data, pos)
            spent.append(coin)
        return cls(spent), pos

    @classmethod
    def from_bytes(cls, data: bytes) -> TxUndo:
        undo, pos = cls.read(data, 0)
        if pos != len(data):
            raise DecodeError(f"{len(data) - pos} trailing bytes after tx undo")
        return undo


class BlockUndo:
    """Undo data of a block: one TxUndo per non-coinbase transaction (mirrors CBlockUndo)."""

    __slots__ = ("txs",)

    def __init__(self, txs: list[TxUndo] | None = None) -> None:
        self.txs: list[TxUndo] = [] if txs is None else txs

    def __eq__(self, other: object) -> bool:
        return isinstance(other, BlockUndo) and self.txs == other.txs

    def __repr__(self) -> str:
        return f"BlockUndo({self.txs!r})"

    def serialize(self) -> bytes:
        out = bytearray(compact_size(len(self.txs)))
        write = _write_spent
        heads: dict[int, bytes] = {}
        for t in self.txs:
            write(out, t.spent, heads)
        return bytes(out)

    @classmethod
    def from_bytes(cls, data: bytes) -> BlockUndo:
        """Parse undo bytes; DecodeError on any malformation, including trailing bytes."""
        data = bytes(data)
        n, pos = _read_count(data, 0, 1)
        txs = []
        for _ in range(n):
            t, pos = TxUndo.read(data, pos)
            txs.append(t)
        if pos != len(data):
            raise DecodeError(f"{len(data) - pos} trailing bytes after block undo")
        return cls(txs)


def update_coins(
    view: CoinsCache,
    tx: Tx,
    height: int,
    spent: Sequence[Coin] | None = None,
    prevouts: Sequence[OutPoint] | None = None,
) -> TxUndo | None:
    """Spend ``tx``'s inputs and add its outputs (mirrors UpdateCoins).

    Returns the TxUndo of a non-coinbase transaction, None for a coinbase.
    ``spent``, when given, lists the coins the inputs spend as ``view`` just returned
    them (ConnectBlock fetched them to check the inputs, so ``tx`` is no coinbase);
    else they are looked up. ``prevouts`` may give the inputs' outpoints (ConnectBlock
    listed them to fetch the coins).
    The inputs must exist (the caller checked them, as CheckTxInputs does);
    a missing one raises CoinsLogicError, and the view is then unusable.
    """
    undo: TxUndo | None = None
    if spent is not None:
        if prevouts is None:
            prevouts = [txin.prevout for txin in tx.vin]
        view.spend_fetched(prevouts, spent)
        undo = TxUndo(spent if type(spent) is list else list(spent))
        # a transaction that spends coins is no coinbase: its outputs never overwrite
        view.add_outputs(tx.txid, 0, tx.vout, height, False, False)
        return undo
    if not tx.is_coinbase():
        coins: list[Coin] = []
        for txin in tx.vin:
            coin = view.spend_coin(txin.prevout)
            if coin is None:
                raise CoinsLogicError(f"input {txin.prevout} is missing or spent")
            coins.append(coin)
        undo = TxUndo(coins)
    add_coins(view, tx, height)
    return undo


def apply_coin_undo(view: CoinsCache, outpoint: OutPoint, coin: Coin) -> bool:
    """Restore a spent coin while disconnecting (mirrors ApplyTxInUndo).

    Returns False when the disconnect is unclean (an unspent coin was already
    at ``outpoint`` and got overwritten). Undo data without a height (Core's
    pre-0.15 per-transaction format) is not supported and raises StorageError.
    """
    if coin.height == 0:
        raise StorageError(f"undo data for {outpoint} has no height (legacy format)")
    clean = not view.have_coin(outpoint)
    view.add_coin(outpoint, coin, overwrite=not clean)
    return clean
