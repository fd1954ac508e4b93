"""The block index: every known header as a ``BlockIndexEntry``, the tree, the active chain.

Mirrors Core's chain.h/chain.cpp (CBlockIndex, CChain, BlockStatus, the skip
list, LastCommonAncestor, LocatorEntries). Storing it is ``indexdb``'s part.

* ``BlockIndexEntry`` is mutable; whoever changes ``status``, ``n_tx`` or a
  file position calls ``BlockTree.mark_dirty(entry)`` so the next index flush
  persists it.
* ``BlockTree`` owns the entries: ``add_header`` (Core's AddToBlockIndex),
  ``received_block_data`` (ReceivedBlockTransactions: sets HAVE_DATA and
  ``chain_tx`` and returns the entries that just became connectable),
  best-header tracking, failure marking, and ``BlockTree.load`` which rebuilds
  the tree from a ``BlockIndexDB`` in height order (chain work, ``chain_tx``,
  ``time_max`` and FAILED_CHILD are recomputed, not stored).
* ``indexdb.BlockIndexDB`` persists entries and the flat-file metadata of
  ``blockstore.BlockStore`` in one atomic ``write_batch``.
* ``ActiveChain`` is the selected chain as a list indexed by height.

Chain work comes from a ``work_fn(bits) -> int`` callable supplied by the
caller (consensus' block proof), so this module needs no consensus import.
Header validity (PoW, timestamps) is checked by the caller before
``add_header``.

Startup (Core's LoadBlockIndex + LoadChainTip)::

    db = BlockIndexDB(LmdbStore(netdir / "blocks" / "index"))
    tree = BlockTree.load(db, work_fn)
    store = BlockStore(netdir / "blocks", magic,
                       file_infos=db.read_file_infos(), last_file=db.read_last_file() or 0)
    chain = ActiveChain()
    chain.set_tip(tree.get(coins_db.best_block()))   # None: nothing connected yet

then re-connect towards the most-work entry whose data is stored (``chain_tx
> 0``): blocks accepted before a crash are indexed with HAVE_DATA even when
the coin changes of their connection never reached the chainstate. Entries
loaded from disk get ``sequence_id`` 1 (the chainstate then gives the loaded tip's
chain 0, so equal-work branches never displace it on restart, as in Core); blocks
received later count up from 2.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING

from pyrite.chain.blockstore import FilePos
from pyrite.errors import StorageError
from pyrite.primitives.block import BlockHeader
from pyrite.primitives.tx import NULL_HASH

if TYPE_CHECKING:  # BlockTree.load reads records through it; it imports this module
    from pyrite.chain.indexdb import BlockIndexDB

WorkFn = Callable[[int], int]

# BlockStatus (chain.h)
BLOCK_VALID_UNKNOWN = 0
BLOCK_VALID_RESERVED = 1
BLOCK_VALID_TREE = 2
BLOCK_VALID_TRANSACTIONS = 3
BLOCK_VALID_CHAIN = 4
BLOCK_VALID_SCRIPTS = 5
BLOCK_VALID_MASK = 7
BLOCK_HAVE_DATA = 8
BLOCK_HAVE_UNDO = 16
BLOCK_HAVE_MASK = BLOCK_HAVE_DATA | BLOCK_HAVE_UNDO
BLOCK_FAILED_VALID = 32
BLOCK_FAILED_CHILD = 64
BLOCK_FAILED_MASK = BLOCK_FAILED_VALID | BLOCK_FAILED_CHILD
BLOCK_OPT_WITNESS = 128

MEDIAN_TIME_SPAN = 11


def _skip_height(height: int) -> int:
    """Height the skip pointer of a block at ``height`` points to (Core's GetSkipHeight)."""
    if height < 2:
        return 0
    if height & 1:
        h = height - 1
        h &= h - 1
        h &= h - 1
        return h + 1
    return height & (height - 1)


class BlockIndexEntry:
    """One header in the block tree (mirrors CBlockIndex)."""

    __slots__ = (
        "bits",
        "chain_tx",
        "chain_work",
        "data_pos",
        "file",
        "hash",
        "height",
        "merkle_root",
        "n_tx",
        "nonce",
        "prev",
        "sequence_id",
        "skip",
        "status",
        "time",
        "time_max",
        "undo_pos",
        "version",
    )

    hash: bytes
    prev: BlockIndexEntry | None
    height: int
    version: int
    merkle_root: bytes
    time: int
    bits: int
    nonce: int
    chain_work: int
    status: int
    n_tx: int
    chain_tx: int
    file: int
    data_pos: int
    undo_pos: int
    sequence_id: int
    time_max: int
    skip: BlockIndexEntry | None

    def __init__(
        self,
        hash: bytes,
        prev: BlockIndexEntry | None,
        version: int,
        merkle_root: bytes,
        time: int,
        bits: int,
        nonce: int,
    ) -> None:
        self.hash = hash
        self.prev = prev
        self.height = 0 if prev is None else prev.height + 1
        self.version = version
        self.merkle_root = merkle_root
        self.time = time
        self.bits = bits
        self.nonce = nonce
        self.chain_work = 0
        self.status = BLOCK_VALID_UNKNOWN
        self.n_tx = 0
        self.chain_tx = 0
        self.file = -1
        self.data_pos = 0
        self.undo_pos = 0
        self.sequence_id = 0
        self.time_max = time if prev is None else max(prev.time_max, time)
        self.skip = None if prev is None else prev.get_ancestor(_skip_height(self.height))

    def __repr__(self) -> str:
        return f"BlockIndexEntry(height={self.height}, hash={self.hash[::-1].hex()})"

    # --- header and positions ---
    @property
    def prev_hash(self) -> bytes:
        return NULL_HASH if self.prev is None else self.prev.hash

    def header(self) -> BlockHeader:
        return BlockHeader(
            self.version,
            self.prev_hash,
            self.merkle_root,
            self.time,
            self.bits,
            self.nonce,
            self.hash,
        )

    def data_file_pos(self) -> FilePos | None:
        return FilePos(self.file, self.data_pos) if self.status & BLOCK_HAVE_DATA else None

    def undo_file_pos(self) -> FilePos | None:
        return FilePos(self.file, self.undo_pos) if self.status & BLOCK_HAVE_UNDO else None

    # --- validity (CBlockIndex::IsValid / RaiseValidity) ---
    def is_valid(self, up_to: int = BLOCK_VALID_TRANSACTIONS) -> bool:
        if self.status & BLOCK_FAILED_MASK:
            return False
        return (self.status & BLOCK_VALID_MASK) >= up_to

    def raise_validity(self, up_to: int) -> bool:
        """Raise the validity level to ``up_to``; True if it changed."""
        if self.status & BLOCK_FAILED_MASK:
            return False
        if (self.status & BLOCK_VALID_MASK) < up_to:
            self.status = (self.status & ~BLOCK_VALID_MASK) | up_to
            return True
        return False

    def have_data(self) -> bool:
        return bool(self.status & BLOCK_HAVE_DATA)

    def have_undo(self) -> bool:
        return bool(self.status & BLOCK_HAVE_UNDO)

    def failed(self) -> bool:
        return bool(self.status & BLOCK_FAILED_MASK)

    # --- walking ---
    def get_ancestor(self, height: int) -> BlockIndexEntry | None:
        """The ancestor at ``height`` (self at its own height) in O(log n) via the skip list."""
        if height > self.height or height < 0:
            return None
        walk: BlockIndexEntry = self
        h = self.height
        while h > height:
            hs = _skip_height(h)
            hsp = _skip_height(h - 1)
            skip = walk.skip
            if skip is not None and (
                hs == height or (hs > height and not (hsp < hs - 2 and hsp >= height))
            ):
                walk = skip
                h = hs
            else:
                assert walk.prev is not None
                walk = walk.prev
                h -= 1
        return walk

    def median_time_past(self) -> int:
        """Median of the times of this block and its ten predecessors."""
        times = []
        e: BlockIndexEntry | None = self
        for _ in range(MEDIAN_TIME_SPAN):
            if e is None:
                break
            times.append(e.time)
            e = e.prev
        times.sort()
        return times[len(times) // 2]


def ancestor_lookup(tip: BlockIndexEntry) -> Callable[[int], BlockIndexEntry]:
    """``tip.get_ancestor`` for heights up to ``tip``'s, starting from the last answer when
    it is above the height asked for, and one step back in one step: the testnet and
    regtest difficulty rule walks back a block at a time, up to a whole difficulty period
    for each header (20,000 regtest headers took 38 us each with ``get_ancestor`` alone,
    17 us so)."""
    last = tip

    def lookup(height: int) -> BlockIndexEntry:
        nonlocal last
        prev = last.prev
        if height == last.height - 1 and prev is not None:
            last = prev
            return prev
        e = (last if last.height >= height else tip).get_ancestor(height)
        assert e is not None
        last = e
        return e

    return lookup


def find_fork(a: BlockIndexEntry | None, b: BlockIndexEntry | None) -> BlockIndexEntry | None:
    """Last common ancestor of two entries (Core's LastCommonAncestor); None if unrelated."""
    if a is None or b is None:
        return None
    if a.height > b.height:
        a = a.get_ancestor(b.height)
    elif b.height > a.height:
        b = b.get_ancestor(a.height)
    while a is not b and a is not None and b is not None:
        a = a.prev
        b = b.prev
    return a if a is b else None


def locator_hashes(entry: BlockIndexEntry | None) -> list[bytes]:
    """Block locator from ``entry`` back to genesis (Core's LocatorEntries)."""
    have: list[bytes] = []
    step = 1
    while entry is not None:
        have.append(entry.hash)
        if entry.height == 0:
            break
        entry = entry.get_ancestor(max(entry.height - step, 0))
        if len(have) > 10:
            step *= 2
    return have


def more_work(a: BlockIndexEntry, b: BlockIndexEntry) -> bool:
    """True if ``a`` sorts before ``b`` as a tip candidate (CBlockIndexWorkComparator, inverted).

    More chain work wins, then the block whose data arrived first (lower
    ``sequence_id``).
    """
    if a.chain_work != b.chain_work:
        return a.chain_work > b.chain_work
    return a.sequence_id < b.sequence_id


class BlockTree:
    """Every known header by hash, plus best-header and dirty-entry bookkeeping."""

    def __init__(self) -> None:
        self.entries: dict[bytes, BlockIndexEntry] = {}
        self.best_header: BlockIndexEntry | None = None
        self.unlinked: dict[BlockIndexEntry, list[BlockIndexEntry]] = {}
        self._dirty: set[BlockIndexEntry] = set()
        self._next_sequence = 1

    def __len__(self) -> int:
        return len(self.entries)

    def __contains__(self, block_hash: object) -> bool:
        return block_hash in self.entries

    def __iter__(self) -> Iterator[BlockIndexEntry]:
        return iter(self.entries.values())

    def get(self, block_hash: bytes) -> BlockIndexEntry | None:
        return self.entries.get(block_hash)

    # --- growth ---
    def add_header(self, header: BlockHeader, work_fn: WorkFn) -> BlockIndexEntry:
        """Insert a header whose parent is known (or a genesis header); mirrors AddToBlockIndex.

        Returns the existing entry when the header is already known. Raises
        KeyError when the parent is unknown.
        """
        old = self.entries.get(header.hash)
        if old is not None:
            return old
        prev = None
        if header.prev_hash != NULL_HASH or self.entries:
            prev = self.entries.get(header.prev_hash)
            if prev is None:
                raise KeyError(f"parent {header.prev_hash[::-1].hex()} not in the block tree")
        e = BlockIndexEntry(
            header.hash,
            prev,
            header.version,
            header.merkle_root,
            header.time,
            header.bits,
            header.nonce,
        )
        e.chain_work = (0 if prev is None else prev.chain_work) + work_fn(header.bits)
        e.raise_validity(BLOCK_VALID_TREE)
        self.entries[e.hash] = e
        if self.best_header is None or self.best_header.chain_work < e.chain_work:
            self.best_header = e
        self._dirty.add(e)
        return e

    def next_sequence_id(self) -> int:
        n = self._next_sequence
        self._next_sequence += 1
        return n

    def received_block_data(
        self, entry: BlockIndexEntry, n_tx: int, pos: FilePos, witness: bool = True
    ) -> list[BlockIndexEntry]:
        """Record that a block's data is stored (mirrors ReceivedBlockTransactions).

        Sets ``n_tx``, the position, HAVE_DATA and VALID_TRANSACTIONS. When the
        parent's ``chain_tx`` is known, it and every waiting descendant get
        their ``chain_tx`` and a sequence id; those entries (now candidates
        for the tip) are returned. Otherwise the entry waits in ``unlinked``.
        """
        entry.n_tx = n_tx
        entry.chain_tx = 0
        entry.file = pos.file
        entry.data_pos = pos.offset
        entry.status |= BLOCK_HAVE_DATA
        if witness:
            entry.status |= BLOCK_OPT_WITNESS
        entry.raise_validity(BLOCK_VALID_TRANSACTIONS)
        self._dirty.add(entry)
        prev = entry.prev
        if prev is not None and prev.chain_tx == 0:
            self.unlinked.setdefault(prev, []).append(entry)
            return []
        linked = []
        queue = [entry]
        while queue:
            e = queue.pop()
            e.chain_tx = (0 if e.prev is None else e.prev.chain_tx) + e.n_tx
            e.sequence_id = self.next_sequence_id()
            linked.append(e)
            queue.extend(self.unlinked.pop(e, ()))
        return linked

    # --- failure flags ---
    def mark_failed(self, entry: BlockIndexEntry) -> list[BlockIndexEntry]:
        """Set FAILED_VALID on ``entry`` and FAILED_CHILD on its known descendants.

        Returns the descendants marked. Best header is recomputed.
        """
        entry.status |= BLOCK_FAILED_VALID
        self._dirty.add(entry)
        marked = []
        for e in self.entries.values():
            if e.height > entry.height and e.get_ancestor(entry.height) is entry:
                if not e.status & BLOCK_FAILED_CHILD:
                    e.status |= BLOCK_FAILED_CHILD
                    self._dirty.add(e)
                    marked.append(e)
        self.recompute_best_header()
        return marked

    def clear_failure(self, entry: BlockIndexEntry) -> None:
        """Clear failure flags of ``entry``, its descendants and ancestors (reconsiderblock)."""
        for e in self.entries.values():
            if e.status & BLOCK_FAILED_MASK and e.get_ancestor(entry.height) is entry:
                e.status &= ~BLOCK_FAILED_MASK
                self._dirty.add(e)
        walk: BlockIndexEntry | None = entry
        while walk is not None:
            if walk.status & BLOCK_FAILED_MASK:
                walk.status &= ~BLOCK_FAILED_MASK
                self._dirty.add(walk)
            walk = walk.prev
        self.recompute_best_header()

    def recompute_best_header(self) -> None:
        best = None
        for e in self.entries.values():
            if e.is_valid(BLOCK_VALID_TREE) and (best is None or more_work(e, best)):
                best = e
        self.best_header = best

    # --- persistence bookkeeping ---
    def mark_dirty(self, entry: BlockIndexEntry) -> None:
        self._dirty.add(entry)

    def dirty_entries(self) -> list[BlockIndexEntry]:
        return list(self._dirty)

    def clear_dirty(self, entries: Iterable[BlockIndexEntry]) -> None:
        self._dirty.difference_update(entries)

    @classmethod
    def load(cls, db: BlockIndexDB, work_fn: WorkFn) -> BlockTree:
        """Rebuild the tree from stored records, in height order (mirrors LoadBlockIndex)."""
        tree = cls()
        records = sorted(db.iter_records(), key=lambda r: r.height)
        entries = tree.entries
        for r in records:
            prev = None
            if r.height > 0:
                prev = entries.get(r.header.prev_hash)
                if prev is None or prev.height != r.height - 1:
                    raise StorageError(f"block index entry {r.hash[::-1].hex()} has no parent")
            elif r.header.prev_hash != NULL_HASH:
                raise StorageError("block index entry at height 0 has a parent")
            h = r.header
            e = BlockIndexEntry(r.hash, prev, h.version, h.merkle_root, h.time, h.bits, h.nonce)
            e.status = r.status
            e.n_tx = r.n_tx
            e.file = r.file
            e.data_pos = r.data_pos
            e.undo_pos = r.undo_pos
            e.chain_work = (0 if prev is None else prev.chain_work) + work_fn(h.bits)
            e.sequence_id = 1  # after the loaded tip's chain (set to 0 by the chainstate)
            if prev is not None and prev.status & BLOCK_FAILED_MASK:
                e.status |= BLOCK_FAILED_CHILD
            if e.n_tx > 0:
                if prev is None:
                    e.chain_tx = e.n_tx
                elif prev.chain_tx:
                    e.chain_tx = prev.chain_tx + e.n_tx
                else:
                    tree.unlinked.setdefault(prev, []).append(e)
            entries[e.hash] = e
            if e.is_valid(BLOCK_VALID_TREE) and (
                tree.best_header is None or more_work(e, tree.best_header)
            ):
                tree.best_header = e
        tree._next_sequence = 2
        return tree


class ActiveChain:
    """The selected chain, indexed by height (mirrors CChain)."""

    __slots__ = ("_chain",)

    def __init__(self) -> None:
        self._chain: list[BlockIndexEntry] = []

    def __len__(self) -> int:
        return len(self._chain)

    def __getitem__(self, height: int) -> BlockIndexEntry | None:
        if 0 <= height < len(self._chain):
            return self._chain[height]
        return None

    def height(self) -> int:
        """Height of the tip, -1 when empty."""
        return len(self._chain) - 1

    def tip(self) -> BlockIndexEntry | None:
        return self._chain[-1] if self._chain else None

    def genesis(self) -> BlockIndexEntry | None:
        return self._chain[0] if self._chain else None

    def contains(self, entry: BlockIndexEntry) -> bool:
        h = entry.height
        return h < len(self._chain) and self._chain[h] is entry

    def next(self, entry: BlockIndexEntry) -> BlockIndexEntry | None:
        """The successor of ``entry`` in this chain, if ``entry`` is in it."""
        if self.contains(entry) and entry.height + 1 < len(self._chain):
            return self._chain[entry.height + 1]
        return None

    def set_tip(self, entry: BlockIndexEntry | None) -> None:
        """Make ``entry`` the tip, rewriting only the heights that differ."""
        if entry is None:
            self._chain.clear()
            return
        chain = self._chain
        del chain[entry.height + 1 :]
        missing = []
        walk: BlockIndexEntry | None = entry
        while walk is not None and (walk.height >= len(chain) or chain[walk.height] is not walk):
            missing.append(walk)
            walk = walk.prev
        for e in reversed(missing):
            if e.height < len(chain):
                chain[e.height] = e
            else:
                chain.append(e)

    def find_fork(self, entry: BlockIndexEntry | None) -> BlockIndexEntry | None:
        """The last entry of this chain that is an ancestor of (or is) ``entry``."""
        if entry is None:
            return None
        if entry.height > self.height():
            entry = entry.get_ancestor(self.height())
        while entry is not None and not self.contains(entry):
            entry = entry.prev
        return entry

    def locator(self, entry: BlockIndexEntry | None = None) -> list[bytes]:
        return locator_hashes(entry if entry is not None else self.tip())

    def find_earliest_at_least(self, time: int, height: int = 0) -> BlockIndexEntry | None:
        """First entry with time_max >= ``time`` and height >= ``height`` (FindEarliestAtLeast)."""
        i = bisect_left(self._chain, time, lo=max(height, 0), key=lambda e: e.time_max)
        return self._chain[i] if i < len(self._chain) else None

    def __iter__(self) -> Iterator[BlockIndexEntry]:
        return iter(self._chain)
