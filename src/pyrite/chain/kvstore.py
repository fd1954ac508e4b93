"""Ordered key-value stores: the ``KVStore`` protocol, ``MemoryStore`` and ``LmdbStore``.

The chain layer keeps two stores, each in its own LMDB environment (one
directory each), like bitcoind keeps two LevelDB databases::

    <netdir>/blocks/index/   block index      (BlockIndexDB in chain/indexdb.py)
    <netdir>/chainstate/     UTXO set         (CoinsDB in chain/coins.py)

A store offers point reads, ordered prefix scans and one write primitive,
``write_batch(puts, deletes)`` (or ``write_ops``, the same batch produced as it is
written, so that a flush of millions of coins never exists twice in memory), which
applies a whole batch atomically and durably: once it returns, the batch survives
SIGKILL and power loss, and a crash during the call leaves the store holding either all
of the batch or none of it. Every multi-key invariant (for example "the UTXO set matches
the best-block marker") is therefore kept by putting all of its keys into one batch.
Keys are compared as unsigned bytes (memcmp order, like LevelDB's default comparator),
so prefix scans come back in the same order as Core's.

Layout
------
Every key prefix of every store is listed here; modules define their
constants from this table and nothing else writes to a store.

========================  =================================  ===========================
store / key               value                              owner
========================  =================================  ===========================
chainstate ``C`` + txid(32) + VARINT(n)
                          Coin: VARINT(height*2+coinbase),   coins.CoinsDB
                          compressed amount, compressed
                          script (Core's txdb/compressor)
chainstate ``B``          best block hash (32 bytes)         coins.CoinsDB
index ``b`` + hash(32)    CDiskBlockIndex-like record        indexdb.BlockIndexDB
index ``f`` + u32le(n)    BlockFileInfo of blkNNNNN.dat      indexdb.BlockIndexDB
index ``l``               u32le number of the last blk file  indexdb.BlockIndexDB
index ``R``               b"1" while a reindex is under way  indexdb.BlockIndexDB
index ``F`` + name        b"1" / b"0" named flag (txindex..) indexdb.BlockIndexDB
========================  =================================  ===========================

Unlike Core, values are not XOR-obfuscated.

LMDB configuration
------------------
``LmdbStore`` opens the environment with ``sync=True, metasync=True`` (every commit is
fsynced), ``writemap=False`` (a stray pointer write can never reach the data file; pages
are written with ``pwrite``), ``map_async=False``, ``readahead=False`` (random access on
a large UTXO set) and a single unnamed database. A batch that may not fit the memory map
grows it first (by its size hint); one that still does not fit (``MapFullError``) is
aborted, the map is grown and the whole batch is retried, so a batch is still all-or-
nothing. Keys longer than ``env.max_key_size()`` (511 bytes in stock LMDB) are refused
with ``ValueError`` before anything is written. Every LMDB failure surfaces as
``StorageError``. All access goes through one lock, so a store may be shared between
threads (``asyncio.to_thread``) and the map can be resized while no transaction is open,
as LMDB requires.
"""

from __future__ import annotations

import bisect
import logging
import os
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Protocol

import lmdb

from pyrite.errors import StorageError

log = logging.getLogger(__name__)

# --- key prefixes (see the layout table above) ---
CHAINSTATE_COIN = b"C"
CHAINSTATE_BEST_BLOCK = b"B"
INDEX_BLOCK = b"b"
INDEX_FILE_INFO = b"f"
INDEX_LAST_FILE = b"l"
INDEX_REINDEXING = b"R"
INDEX_FLAG = b"F"

DEFAULT_MAX_KEY_SIZE = 511  # LMDB's compile-time default (MDB_MAXKEYSIZE)
DEFAULT_MAP_SIZE = 64 << 20
_SCAN_CHUNK = 1024  # items read per read transaction during a prefix scan
_MAX_GROW_ATTEMPTS = 24


#: a batch as a function producing it (see ``KVStore.write_ops``)
Ops = Callable[[], Iterable[tuple[bytes, bytes | None]]]


class KVStore(Protocol):
    """What the chain layer needs from a storage engine (see the module docstring)."""

    def get(self, key: bytes) -> bytes | None:
        """The value stored under ``key``, or None."""
        ...

    def any_prefixed(self, prefixes: Sequence[bytes]) -> bool:
        """Whether any stored key starts with one of ``prefixes``."""
        ...

    def iterate(self, prefix: bytes = b"") -> Iterator[tuple[bytes, bytes]]:
        """Every (key, value) whose key starts with ``prefix``, in ascending key order."""
        ...

    def write_batch(self, puts: Mapping[bytes, bytes], deletes: Iterable[bytes] = ()) -> None:
        """Apply ``deletes`` then ``puts`` atomically and durably (a put wins over a delete)."""
        ...

    def write_ops(self, ops: Ops, size_hint: int = 0) -> None:
        """Apply what ``ops()`` produces (``(key, value)`` puts, ``(key, None)`` deletes, each
        key at most once) as one batch, as ``write_batch`` does, handing each to the engine
        as it comes rather than holding the batch in memory. ``ops`` may be called again
        (a retried batch); ``size_hint`` is about how many bytes the batch adds."""
        ...

    def close(self) -> None:
        """Release the store; further use is an error."""
        ...


def _check_keys(
    puts: Mapping[bytes, bytes], deletes: Iterable[bytes], max_key: int
) -> tuple[bytes, ...]:
    dels = tuple(deletes)
    for k in puts:
        if not k or len(k) > max_key:
            raise ValueError(f"key of {len(k)} bytes not storable (1..{max_key})")
    for k in dels:
        if not k or len(k) > max_key:
            raise ValueError(f"key of {len(k)} bytes not storable (1..{max_key})")
    return dels


class MemoryStore:
    """A dict behind the ``KVStore`` protocol, for tests and throw-away nodes."""

    __slots__ = ("_closed", "_data", "max_key_size")

    def __init__(self, max_key_size: int = DEFAULT_MAX_KEY_SIZE) -> None:
        self._data: dict[bytes, bytes] = {}
        self._closed = False
        self.max_key_size = max_key_size

    def _check_open(self) -> None:
        if self._closed:
            raise StorageError("store is closed")

    def get(self, key: bytes) -> bytes | None:
        self._check_open()
        return self._data.get(key)

    def any_prefixed(self, prefixes: Sequence[bytes]) -> bool:
        self._check_open()
        keys = sorted(self._data)
        for prefix in prefixes:
            i = bisect.bisect_left(keys, prefix)
            if i < len(keys) and keys[i].startswith(prefix):
                return True
        return False

    def iterate(self, prefix: bytes = b"") -> Iterator[tuple[bytes, bytes]]:
        self._check_open()
        keys = sorted(k for k in self._data if k.startswith(prefix))
        data = self._data
        for k in keys:
            v = data.get(k)
            if v is not None:
                yield k, v

    def write_batch(self, puts: Mapping[bytes, bytes], deletes: Iterable[bytes] = ()) -> None:
        self._check_open()
        dels = _check_keys(puts, deletes, self.max_key_size)
        data = self._data
        for k in dels:
            data.pop(k, None)
        for k, v in puts.items():
            data[bytes(k)] = bytes(v)

    def write_ops(self, ops: Ops, size_hint: int = 0) -> None:
        puts: dict[bytes, bytes] = {}
        deletes: list[bytes] = []
        for k, v in ops():
            if v is None:
                deletes.append(k)
            else:
                puts[k] = v
        self.write_batch(puts, deletes)

    def close(self) -> None:
        self._closed = True

    def __len__(self) -> int:
        return len(self._data)


#: puts handed to LMDB in one call by ``LmdbStore.write_ops``
_PUTS_AT_ONCE = 4096


class LmdbStore:
    """One LMDB environment (a directory holding data.mdb and lock.mdb) as a ``KVStore``.

    ``map_size`` is the initial size of the memory map; it grows on demand
    (doubling, at least by the size of the failing batch). Opening the same
    directory twice in one process fails, as LMDB's locks require.
    """

    __slots__ = ("_env", "_lock", "_path", "_rtxn", "max_key_size")

    def __init__(self, path: str | os.PathLike[str], map_size: int = DEFAULT_MAP_SIZE) -> None:
        self._path = os.fspath(path)
        self._lock = threading.Lock()
        #: a read transaction kept between gets (opening one per get costs more than the
        #: lookup); dropped before every write, so reads always see the latest batch
        self._rtxn: lmdb.Transaction | None = None
        try:
            os.makedirs(self._path, exist_ok=True)
            self._env = lmdb.open(
                self._path,
                map_size=max(map_size, 1 << 16),
                subdir=True,
                readonly=False,
                metasync=True,
                sync=True,
                map_async=False,
                writemap=False,
                readahead=False,
                meminit=True,
                max_dbs=0,
                lock=True,
            )
            self.max_key_size = self._env.max_key_size()
        except (lmdb.Error, OSError) as e:
            raise StorageError(f"cannot open LMDB store at {self._path}: {e}") from e

    @property
    def path(self) -> str:
        return self._path

    def map_size(self) -> int:
        with self._lock:
            self._drop_read_txn()
            try:
                return self._env.info()["map_size"]
            except lmdb.Error as e:
                raise StorageError(f"{self._path}: {e}") from e

    def get(self, key: bytes) -> bytes | None:
        if not key or len(key) > self.max_key_size:
            return None  # such a key can never have been stored
        with self._lock:
            try:
                txn = self._rtxn
                if txn is None:
                    txn = self._rtxn = self._env.begin()
                value = txn.get(key)
                return None if value is None else bytes(value)
            except lmdb.Error as e:
                self._drop_read_txn()
                raise StorageError(f"{self._path}: read failed: {e}") from e

    def _drop_read_txn(self) -> None:
        """The caller holds the lock."""
        if self._rtxn is not None:
            txn, self._rtxn = self._rtxn, None
            txn.abort()

    def any_prefixed(self, prefixes: Sequence[bytes]) -> bool:
        """Whether any key starts with one of ``prefixes`` (one seek each, in one read)."""
        if not prefixes:
            return False
        with self._lock:
            try:
                txn = self._rtxn
                if txn is None:
                    txn = self._rtxn = self._env.begin()
                cur = txn.cursor()
                set_range = cur.set_range
                key = cur.key
                for prefix in prefixes:
                    if set_range(prefix) and key()[: len(prefix)] == prefix:
                        return True
                return False
            except lmdb.Error as e:
                self._drop_read_txn()
                raise StorageError(f"{self._path}: read failed: {e}") from e

    def iterate(self, prefix: bytes = b"") -> Iterator[tuple[bytes, bytes]]:
        """Ordered prefix scan in chunks of short read transactions.

        No read transaction stays open between chunks (so writes and map growth
        may happen while a caller is iterating); the scan is therefore not one
        snapshot. Callers that need a consistent view check a marker key before
        and after (see ``coins.compute_utxo_stats``).
        """
        last: bytes | None = None
        while True:
            chunk: list[tuple[bytes, bytes]] = []
            done = False
            with self._lock:
                self._drop_read_txn()
                try:
                    with self._env.begin() as txn:
                        cur = txn.cursor()
                        ok = cur.set_range(prefix if last is None else last)
                        if ok and last is not None and cur.key() == last:
                            ok = cur.next()
                        while ok:
                            k = cur.key()
                            if not k.startswith(prefix):
                                done = True
                                break
                            chunk.append((k, cur.value()))
                            if len(chunk) >= _SCAN_CHUNK:
                                break
                            ok = cur.next()
                        else:
                            done = True
                except lmdb.Error as e:
                    raise StorageError(f"{self._path}: scan failed: {e}") from e
            yield from chunk
            if done or not chunk:
                return
            last = chunk[-1][0]

    def write_batch(self, puts: Mapping[bytes, bytes], deletes: Iterable[bytes] = ()) -> None:
        dels = _check_keys(puts, deletes, self.max_key_size)
        if not puts and not dels:
            return

        def ops() -> Iterator[tuple[bytes, bytes | None]]:
            for k in dels:
                yield k, None
            yield from puts.items()

        self.write_ops(ops, sum(len(k) + len(v) for k, v in puts.items()))

    def write_ops(self, ops: Ops, size_hint: int = 0) -> None:
        max_key = self.max_key_size
        for _ in range(_MAX_GROW_ATTEMPTS):
            with self._lock:
                self._drop_read_txn()
                try:
                    self._reserve_locked(size_hint)
                    with self._env.begin(write=True) as txn:  # aborted if anything raises
                        # puts go to LMDB a few thousand at a time, in its own loop
                        # (a third of the time of a put call each); deletes as they come
                        putmulti = txn.cursor().putmulti
                        delete = txn.delete
                        puts: list[tuple[bytes, bytes]] = []
                        add = puts.append
                        for k, v in ops():
                            if not k or len(k) > max_key:
                                raise ValueError(
                                    f"key of {len(k)} bytes not storable (1..{max_key})"
                                )
                            if v is None:
                                delete(k)
                            else:
                                add((k, v))
                                if len(puts) >= _PUTS_AT_ONCE:
                                    putmulti(puts)
                                    puts.clear()
                        putmulti(puts)
                    return
                except lmdb.MapFullError:
                    self._grow_locked(size_hint)
                except lmdb.Error as e:
                    raise StorageError(f"{self._path}: write failed: {e}") from e
        raise StorageError(f"{self._path}: batch does not fit even after growing the map")

    def _reserve_locked(self, size_hint: int) -> None:
        """Grow the map beforehand if a batch of about ``size_hint`` bytes (twice that, for
        the B-tree's pages) may not fit: cheaper than a full batch that fails and is
        retried. The caller holds the lock and no transaction is open."""
        if size_hint <= 0:
            return
        info = self._env.info()
        psize = self._env.stat()["psize"]
        need = (info["last_pgno"] + 1) * psize + 2 * size_hint
        if need > info["map_size"]:
            self._set_map_size(max(info["map_size"] * 2, need), psize)

    def _grow_locked(self, size_hint: int) -> None:
        """Enlarge the map after a batch did not fit; the caller holds the lock and no
        transaction is open."""
        try:
            old = self._env.info()["map_size"]
            self._set_map_size(max(old * 2, old + 4 * size_hint), self._env.stat()["psize"])
        except lmdb.Error as e:
            raise StorageError(f"{self._path}: cannot grow the map: {e}") from e

    def _set_map_size(self, size: int, psize: int) -> None:
        size = (size + psize - 1) // psize * psize
        log.debug("growing LMDB map of %s to %d bytes", self._path, size)
        self._env.set_mapsize(size)

    def close(self) -> None:
        with self._lock:
            self._drop_read_txn()
            self._env.close()

    def __enter__(self) -> LmdbStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
