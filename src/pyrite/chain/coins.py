"""The UTXO set: ``Coin``, its compact codec, ``CoinsDB`` on a KVStore and ``CoinsCache``.

Mirrors Bitcoin Core's coins.h/coins.cpp (Coin, CCoinsViewCache), txdb.cpp
(CCoinsViewDB) and compressor.cpp (CTxOutCompressor, ScriptCompression), and
the VARINT of serialize.h. The on-disk coin record is byte-for-byte Core's:
``VARINT(height*2 + coinbase) || VARINT(CompressAmount(value)) || script``
where the script is compressed to 21 or 33 bytes for P2PKH, P2SH and P2PK
(uncompressed keys only when they are on the curve) and otherwise stored as
``VARINT(len + 6) || script``. Keys are ``'C' || txid || VARINT(n)``.

Layers, as in Core's ConnectBlock::

    CoinsDB (LMDB)  <-  CoinsCache "tip" (dbcache)  <-  CoinsCache(tip) per block

* ``CoinsCache(parent)`` works over a ``CoinsDB`` or over another cache.
  Entries carry Core's flags: DIRTY (differs from the parent) and FRESH (the
  parent has no unspent version, so if it is spent here it is simply dropped:
  a coin created and spent between two flushes never reaches the parent).
* ``flush()`` pushes the DIRTY entries and the best block into the parent
  in one ``batch_write``; for a ``CoinsDB`` that is one atomic, fsynced store
  batch holding the coin changes and the best-block marker together, so after
  any crash the set on disk matches exactly the block named by ``best_block()``.

Using it to connect a block (the chainstate manager's job): make
``view = CoinsCache(tip)``; for every transaction spend its inputs with
``view.spend_coin`` (keeping the returned coins as undo data, see
``undo.update_coins``) and add its outputs with ``add_coins``; then
``view.set_best_block(block_hash)`` and ``view.flush()`` into the tip. On a
failure drop ``view``: the tip is untouched. The genesis block's outputs
are never added (as in Core). Disconnecting is the reverse
(``undo.apply_coin_undo``). Flush the tip to disk only after the block and
undo files were fsynced and the block index was written (see
``chain/blockstore.py``).

The compact encodings are in ``compressor``; ``utxostats`` scans the flushed set for
``gettxoutsetinfo``.

Performance: coins are immutable ``__slots__`` objects shared between layers,
and a cache is two plain dicts keyed by ``OutPoint``; no per-access objects
are created.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from itertools import chain, repeat
from operator import itemgetter
from typing import Final, NamedTuple, Protocol

from pyrite.chain.compressor import (
    _VARINT1,
    MAX_SCRIPT_SIZE,
    N_SPECIAL_SCRIPTS,
    U32_MAX,
    compress_txout,
    decompress_amount,
    read_compressed_script,
    varint,
    varint_at,
)
from pyrite.chain.kvstore import CHAINSTATE_BEST_BLOCK, CHAINSTATE_COIN, KVStore
from pyrite.errors import DecodeError, PyriteError, StorageError
from pyrite.primitives.tx import NULL_HASH, OutPoint, Tx, TxOut


class CoinsLogicError(PyriteError):
    """A caller broke a cache invariant (Core throws std::logic_error for these)."""


# ---------------------------------------------------------------------------
# Coin


class Coin(NamedTuple):
    """An unspent output with the height and coinbase flag of its transaction.

    A tuple (cheap to build, immutable, shared between cache layers) whose first two
    fields are those of the TxOut it holds, so it can stand for that output wherever an
    output's ``value`` and ``script_pubkey`` are read (script checks take the spent
    coins as they are).
    """

    value: int
    script_pubkey: bytes
    height: int
    is_coinbase: bool

    def __repr__(self) -> str:
        return (
            f"Coin(value={self.value}, script_pubkey={self.script_pubkey.hex()!r}, "
            f"height={self.height}, is_coinbase={self.is_coinbase})"
        )

    @property
    def txout(self) -> TxOut:
        return TxOut(self.value, self.script_pubkey)

    def serialize(self) -> bytes:
        """Core's Coin::Serialize (the chainstate record)."""
        value, script, height, coinbase = self
        code = (height << 1) | (1 if coinbase else 0)
        return (_VARINT1[code] if code < 0x80 else varint(code)) + compress_txout(value, script)

    @classmethod
    def deserialize(cls, data: bytes) -> Coin:
        """Parse a chainstate record; DecodeError on malformed or trailing bytes."""
        code, pos = varint_at(data, 0, U32_MAX)
        amount, pos = varint_at(data, pos)
        size, pos = varint_at(data, pos, U32_MAX)
        end = pos + size - N_SPECIAL_SCRIPTS
        if N_SPECIAL_SCRIPTS <= size <= MAX_SCRIPT_SIZE + N_SPECIAL_SCRIPTS and end == len(data):
            script = data[pos:end]  # the common case: a script stored as it is
        else:
            script, end = read_compressed_script(data, size, pos)
            if end != len(data):
                raise DecodeError(f"{len(data) - end} trailing bytes after coin")
        return _new(cls, (decompress_amount(amount), script, code >> 1, code & 1 == 1))


# ---------------------------------------------------------------------------
# CoinsDB


#: about the bytes one coin record adds to the store (key and value): a size hint
_RECORD_BYTES = 80
_TXID = itemgetter(0)


def coin_key(outpoint: OutPoint) -> bytes:
    """The chainstate key of an outpoint: 'C' || txid || VARINT(n)."""
    txid, n = outpoint
    return CHAINSTATE_COIN + txid + (_VARINT1[n] if n < 0x80 else varint(n))


def outpoint_from_key(key: bytes) -> OutPoint:
    if len(key) < 34:
        raise DecodeError("short coin key")
    n, pos = varint_at(key, 33, U32_MAX)
    if pos != len(key):
        raise DecodeError("trailing bytes in coin key")
    return OutPoint(key[1:33], n)


class CoinsView(Protocol):
    """What a CoinsCache needs from its parent (a CoinsDB or another CoinsCache)."""

    def get_coin(self, outpoint: OutPoint) -> Coin | None: ...

    def best_block(self) -> bytes: ...

    def batch_write(
        self,
        changes: Mapping[OutPoint, Coin | None],
        best_block: bytes,
        fresh: Collection[OutPoint] = (),
    ) -> None: ...


class CoinsDB:
    """The flushed UTXO set in a KVStore (mirrors CCoinsViewDB)."""

    __slots__ = ("store",)

    def __init__(self, store: KVStore) -> None:
        self.store = store

    def get_coin(self, outpoint: OutPoint) -> Coin | None:
        raw = self.store.get(coin_key(outpoint))
        if raw is None:
            return None
        try:
            return Coin.deserialize(raw)
        except DecodeError as e:
            raise StorageError(f"corrupt coin record for {outpoint}: {e}") from e

    def have_coin(self, outpoint: OutPoint) -> bool:
        return self.store.get(coin_key(outpoint)) is not None

    def have_any_output(self, txs: Sequence[tuple[bytes, int]]) -> bool:
        """Whether any output of the given transactions (``(txid, number of outputs)``
        each) is unspent: one seek per transaction, as every coin stored under a txid is
        an output of that very transaction."""
        return self.store.any_prefixed([CHAINSTATE_COIN + txid for txid, _ in txs])

    def best_block(self) -> bytes:
        """Hash of the block the stored set corresponds to; 32 zero bytes for an empty store."""
        raw = self.store.get(CHAINSTATE_BEST_BLOCK)
        if raw is None:
            return NULL_HASH
        if len(raw) != 32:
            raise StorageError("corrupt best-block marker in the chainstate")
        return raw

    def batch_write(
        self,
        changes: Mapping[OutPoint, Coin | None],
        best_block: bytes,
        fresh: Collection[OutPoint] = (),
    ) -> None:
        """Write coins (None = delete) together with the best-block marker, atomically.

        ``fresh`` names coins the database is known not to hold; a fresh coin
        that is None needs no delete.
        """
        self.write_changes(changes, {op: op in fresh for op in changes}, best_block)

    def write_changes(
        self,
        coins: Mapping[OutPoint, Coin | None],
        flags: Mapping[OutPoint, bool],
        best_block: bytes,
    ) -> None:
        """``batch_write`` straight from a cache's maps: the entries named by ``flags``
        (the value is the FRESH flag) with their coins from ``coins``. Each record is
        serialized as the store takes it, so a flush needs no copy of the changes. The
        records go in txid order, close to the store's key order: LMDB then writes a large
        batch in about a third of the time it takes in the cache's order (measured: 1.2M
        changes, 1.1 s against 3.3 s), and sorting costs 0.6-0.8 s."""
        if len(best_block) != 32:
            raise ValueError("best block must be a 32-byte hash")

        def ops() -> Iterator[tuple[bytes, bytes | None]]:
            for op in sorted(flags, key=_TXID):
                coin = coins[op]
                if coin is not None:
                    yield coin_key(op), coin.serialize()
                elif not flags[op]:  # a FRESH coin the database never held needs no delete
                    yield coin_key(op), None
            yield CHAINSTATE_BEST_BLOCK, best_block

        self.store.write_ops(ops, len(flags) * _RECORD_BYTES)

    def iter_coins(self) -> Iterator[tuple[OutPoint, Coin]]:
        """Every stored coin in key order (txid bytes, then VARINT(n) bytes)."""
        for key, raw in self.store.iterate(CHAINSTATE_COIN):
            try:
                yield outpoint_from_key(key), Coin.deserialize(raw)
            except DecodeError as e:
                raise StorageError(f"corrupt coin record {key.hex()}: {e}") from e


# ---------------------------------------------------------------------------
# CoinsCache

# Rough CPython footprint of one cached coin (dict slot, OutPoint, Coin, the
# ints and the script's bytes header) and of one DIRTY/FRESH flag entry,
# measured with tracemalloc; scripts' own lengths are added on top.
ENTRY_BYTES = 330
FLAG_BYTES = 60

_MISSING: Final = Coin(-1, b"", -1, False)  # sentinel: not cached
_new = tuple.__new__  # builds an OutPoint without its Python-level __new__


class CoinsCache:
    """An in-memory layer over a parent view (mirrors CCoinsViewCache).

    ``_coins`` maps cached outpoints to a Coin, or to None for a spent coin
    whose spending the parent has not seen yet. ``_flags`` holds the DIRTY
    entries; its value is True when the entry is also FRESH.
    """

    __slots__ = ("_best", "_coins", "_flags", "_parent", "_script_bytes")

    def __init__(self, parent: CoinsView) -> None:
        self._parent = parent
        self._coins: dict[OutPoint, Coin | None] = {}
        self._flags: dict[OutPoint, bool] = {}
        self._script_bytes = 0
        self._best: bytes | None = None

    @property
    def parent(self) -> CoinsView:
        return self._parent

    # --- reads ---
    def get_coin(self, outpoint: OutPoint) -> Coin | None:
        """The unspent coin at ``outpoint`` (fetched from the parent and cached), or None."""
        coin = self._coins.get(outpoint, _MISSING)
        if coin is _MISSING:
            coin = self._parent.get_coin(outpoint)
            if coin is None:
                return None
            self._coins[outpoint] = coin
            self._script_bytes += len(coin.script_pubkey)
        return coin

    def fetch_coins(self, outpoints: Sequence[OutPoint]) -> list[Coin | None]:
        """``[self.get_coin(op) for op in outpoints]``; one pass in C when all are cached."""
        coins = list(map(self._coins.get, outpoints))
        if all(coins):  # a Coin is always true: every one is cached and unspent
            return coins
        get = self.get_coin
        return [get(op) for op in outpoints]

    def have_coin(self, outpoint: OutPoint) -> bool:
        coin = self._coins.get(outpoint, _MISSING)
        if coin is _MISSING:  # get_coin(outpoint) is not None
            return self.get_coin(outpoint) is not None
        return coin is not None

    def have_any_output(self, txs: Sequence[tuple[bytes, int]]) -> bool:
        """Whether any output of the given transactions (``(txid, number of outputs)``
        each) is unspent: ``any(map(self.have_coin, outpoints))`` over all their
        outpoints, with the parent asked a transaction at a time when none of them is
        cached here (the loop runs only if the parent has one, so what gets cached is
        exactly what the loop caches)."""
        if not any(map(self._coins.__contains__, _output_keys(txs))):
            parent = self._parent
            if type(parent) is CoinsCache or type(parent) is CoinsDB:
                if not parent.have_any_output(txs):
                    return False
        new = tuple.__new__
        return any(self.have_coin(new(OutPoint, key)) for key in _output_keys(txs))

    def have_coin_in_cache(self, outpoint: OutPoint) -> bool:
        """True if an unspent coin is cached here (no parent lookup)."""
        c = self._coins.get(outpoint)
        return c is not None

    def best_block(self) -> bytes:
        if self._best is None:
            self._best = self._parent.best_block()
        return self._best

    def set_best_block(self, block_hash: bytes) -> None:
        if len(block_hash) != 32:
            raise ValueError("best block must be a 32-byte hash")
        self._best = block_hash

    # --- writes ---
    def add_coin(self, outpoint: OutPoint, coin: Coin, overwrite: bool = False) -> None:
        """Add an unspent coin (mirrors AddCoin).

        Unspendable scripts are not stored. Without ``overwrite`` it is an
        error (CoinsLogicError) to replace an unspent coin cached here; note
        that, like Core, the parent is not consulted: callers that may
        re-create an existing coin (BIP30 duplicates) pass ``overwrite=True``.
        """
        self.add_outputs(
            outpoint.txid, outpoint.n, (coin[:2],), coin.height, coin.is_coinbase, overwrite
        )

    def add_outputs(
        self,
        txid: bytes,
        first: int,
        outputs: Iterable[tuple[int, bytes]],
        height: int,
        coinbase: bool,
        overwrite: bool,
    ) -> None:
        """``add_coin`` of each of ``outputs`` (value and script) as the coin at
        ``(txid, first)``, ``(txid, first + 1)``, ...: a transaction's outputs in one call."""
        coins = self._coins
        flags = self._flags
        put = coins.setdefault  # the usual case, a new coin, in one lookup
        sb = self._script_bytes
        n = first - 1
        for value, spk in outputs:
            n += 1
            if (spk and spk[0] == 0x6A) or len(spk) > MAX_SCRIPT_SIZE:
                continue
            outpoint = _new(OutPoint, (txid, n))
            coin = _new(Coin, (value, spk, height, coinbase))
            sb += len(spk)
            old = put(outpoint, coin)
            if old is coin:  # was not cached
                if overwrite:
                    flags.setdefault(outpoint, False)
                else:
                    flags[outpoint] = True
                continue
            fresh = False
            if old is not None:
                if not overwrite:
                    self._script_bytes = sb - len(spk)
                    raise CoinsLogicError(
                        "Attempted to overwrite an unspent coin (when possible_overwrite is false)"
                    )
                sb -= len(old.script_pubkey)
            elif not overwrite:
                # A spent entry that is DIRTY must stay non-FRESH so its
                # spentness still reaches the parent (a reorg re-adding it).
                fresh = outpoint not in flags
            coins[outpoint] = coin
            if fresh:
                flags[outpoint] = True
            else:
                flags.setdefault(outpoint, False)
        self._script_bytes = sb

    def spend_coin(self, outpoint: OutPoint) -> Coin | None:
        """Spend the coin at ``outpoint`` and return it (for undo data); None if there is none.

        Mirrors SpendCoin: a FRESH coin is simply forgotten, any other becomes
        a DIRTY spent entry that the next flush deletes from the parent.
        """
        coins = self._coins
        coin = coins.get(outpoint, _MISSING)
        if coin is _MISSING:
            coin = self._parent.get_coin(outpoint)
            if coin is None:
                return None
            coins[outpoint] = None
            self._flags[outpoint] = False
            return coin
        if coin is None:
            return None
        self._script_bytes -= len(coin.script_pubkey)
        flags = self._flags
        if flags.get(outpoint):
            del coins[outpoint]
            del flags[outpoint]
        else:
            coins[outpoint] = None
            flags[outpoint] = False
        return coin

    def spend_fetched(self, outpoints: Sequence[OutPoint], spent: Sequence[Coin]) -> None:
        """``spend_coin`` of each outpoint, whose coin ``get_coin`` (or ``fetch_coins``)
        has just returned (so it is cached here, unspent): ``spent[i]`` is that coin."""
        coins = self._coins
        flags = self._flags
        sb = self._script_bytes
        pop = flags.pop
        for op, coin in zip(outpoints, spent, strict=True):
            sb -= len(coin[1])  # the script (a tuple's item: cheaper than its name)
            if pop(op, False):  # FRESH: the parent never saw it (popped with its flag)
                del coins[op]
            else:
                coins[op] = None
                flags[op] = False
        self._script_bytes = sb

    def uncache(self, outpoint: OutPoint) -> None:
        """Drop a clean (non-DIRTY) entry to save memory (mirrors Uncache)."""
        if outpoint not in self._flags:
            coin = self._coins.pop(outpoint, None)
            if coin is not None:
                self._script_bytes -= len(coin.script_pubkey)

    # --- child flush target ---
    def batch_write(
        self,
        changes: Mapping[OutPoint, Coin | None],
        best_block: bytes,
        fresh: Collection[OutPoint] = (),
    ) -> None:
        """Take a child cache's DIRTY entries (mirrors CCoinsViewCache::BatchWrite)."""
        self._take(changes, {op: op in fresh for op in changes}, best_block)

    def _take(
        self,
        child_coins: Mapping[OutPoint, Coin | None],
        child_flags: Mapping[OutPoint, bool],
        best_block: bytes,
    ) -> None:
        """``batch_write`` straight from a child's maps: the entries named by
        ``child_flags`` (in its order; the value is the FRESH flag) and their coins."""
        coins = self._coins
        flags = self._flags
        sb = self._script_bytes
        for op, child_fresh in child_flags.items():
            coin = child_coins[op]
            old = coins.get(op, _MISSING)
            if old is _MISSING:
                if coin is None and child_fresh:
                    continue
                coins[op] = coin
                if coin is not None:
                    sb += len(coin.script_pubkey)
                flags[op] = child_fresh
                continue
            if child_fresh and old is not None:
                self._script_bytes = sb
                raise CoinsLogicError("FRESH flag misapplied to coin that exists in parent cache")
            if old is not None:
                sb -= len(old.script_pubkey)
            if coin is None and flags.get(op):
                del coins[op]
                del flags[op]
            else:
                coins[op] = coin
                if coin is not None:
                    sb += len(coin.script_pubkey)
                flags.setdefault(op, False)
        self._script_bytes = sb
        self._best = best_block

    # --- flushing ---
    def _push(self) -> None:
        flags = self._flags
        coins = self._coins
        parent = self._parent
        if type(parent) is CoinsCache:  # hand over the entries without building the maps
            parent._take(coins, flags, self.best_block())
            return
        if type(parent) is CoinsDB:
            parent.write_changes(coins, flags, self.best_block())
            return
        changes = {op: coins[op] for op in flags}
        fresh = {op for op, f in flags.items() if f}
        parent.batch_write(changes, self.best_block(), fresh)

    def flush(self) -> None:
        """Write every change and the best block to the parent in one batch, then empty."""
        self._push()
        self._coins.clear()
        self._flags.clear()
        self._script_bytes = 0

    def sync(self) -> None:
        """Like flush, but keep unspent entries cached as clean (mirrors Sync)."""
        self._push()
        coins = self._coins
        for op in self._flags:
            if coins[op] is None:
                del coins[op]
        self._flags.clear()

    # --- accounting ---
    def memory_usage(self) -> int:
        """Estimated bytes held by this cache (entries, flags and scripts)."""
        return len(self._coins) * ENTRY_BYTES + len(self._flags) * FLAG_BYTES + self._script_bytes

    def needs_flush(self, dbcache_bytes: int) -> bool:
        return self.memory_usage() > dbcache_bytes

    def __len__(self) -> int:
        """Number of cached entries (unspent, spent-but-unflushed)."""
        return len(self._coins)

    def dirty_count(self) -> int:
        return len(self._flags)


def _output_keys(txs: Iterable[tuple[bytes, int]]) -> Iterator[tuple[bytes, int]]:
    """``(txid, n)`` for every output of the given ``(txid, number of outputs)``: plain
    tuples, equal to the outpoints (and built in C)."""
    return chain.from_iterable(zip(repeat(txid), range(count)) for txid, count in txs)


def add_coins(cache: CoinsCache, tx: Tx, height: int, check_for_overwrite: bool = False) -> None:
    """Add every output of ``tx`` (mirrors AddCoins).

    Coinbase outputs may overwrite (pre-BIP34 duplicate coinbases); with
    ``check_for_overwrite`` an output overwrites only when it already exists.
    """
    txid = tx.txid
    coinbase = tx.is_coinbase()
    if not check_for_overwrite:
        cache.add_outputs(txid, 0, tx.vout, height, coinbase, coinbase)
        return
    for i, out in enumerate(tx.vout):
        overwrite = cache.have_coin(_new(OutPoint, (txid, i)))
        cache.add_outputs(txid, i, (out,), height, coinbase, overwrite)
