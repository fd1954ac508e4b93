"""The chainstate manager: accepts headers and blocks, connects the most-work valid chain.

Mirrors Core's ChainstateManager / Chainstate (validation.cpp): AcceptBlockHeader,
AcceptBlock, ProcessNewBlock, ActivateBestChain (with reorganisations), InvalidateBlock,
ReconsiderBlock, PreciousBlock and FlushStateToDisk; ConnectBlock and DisconnectBlock are
in ``connect`` (the base class ``BlockConnector``). The bodies of InvalidateBlock,
ReconsiderBlock, PreciousBlock and VerifyDB are in ``chaincontrol``, and opening and
closing the stores in ``lifecycle``; the methods here delegate to them.

Storage (see ``blockstore``, ``index``, ``indexdb``, ``coins``): ``<netdir>/blocks/``
holds the flat block and undo files and ``blocks/index/`` the block index (LMDB);
``<netdir>/chainstate/`` holds the UTXO set (LMDB). A flush writes, in this order:
block/undo files (fsync), the block index, then the coins together with their best block
in one atomic batch. After a crash at any instant the UTXO set therefore matches a block
whose data and undo data are indexed, and ``open()`` reconnects whatever stored blocks
have more work.

Thread safety: every public method takes ``self.lock`` (Core's cs_main); callers in an
event loop run them in a worker thread. Those that change the chain state take it through
``changing``: should one fail for any reason but a block's invalidity, the chainstate
refuses further changes and closing it writes nothing (the next start resumes from the
last flush, as after a kill).

Deferred script checks (``deferred_scripts``, used by block import): within the context a
block is connected without waiting for its script verdict, so the next block is parsed
and connected while worker processes still verify this one. Nothing leaves memory before
the verdicts are in: every flush, reorganisation and the end of the context first
``_resolve_scripts``; if a block failed, the chain is rolled back to its parent with the
undo data and the block is marked invalid, exactly as if ConnectBlock had failed (a
verdict that names only the failed input gets its error from the script interpreter run
on the block and undo data read back, see ``scriptcheck.confirm_failure``). Between
blocks, ``publish_verified`` tells the tip listeners of the blocks whose verdicts are all
in and good.
"""

from __future__ import annotations

import logging
import math
import os
import threading
import time
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from pyrite.chain import chaincontrol, lifecycle
from pyrite.chain.blockstore import BlockStore, FilePos
from pyrite.chain.coins import Coin, CoinsCache, CoinsDB
from pyrite.chain.connect import BlockConnector
from pyrite.chain.index import (
    BLOCK_FAILED_MASK,
    BLOCK_HAVE_UNDO,
    BLOCK_VALID_SCRIPTS,
    BLOCK_VALID_TRANSACTIONS,
    ActiveChain,
    BlockIndexEntry,
    BlockTree,
    ancestor_lookup,
)
from pyrite.chain.indexdb import BlockIndexDB
from pyrite.chain.kvstore import LmdbStore
from pyrite.chain.scriptcheck import (
    Failure,
    Item,
    ScriptChecker,
    SerialScriptChecker,
    confirm_failure,
)
from pyrite.chain.undo import BlockUndo
from pyrite.consensus import validation as rules
from pyrite.consensus.params import ChainParams
from pyrite.consensus.pow import block_proof
from pyrite.errors import BlockValidationError, ChainstateFailure, StorageError
from pyrite.primitives import Block, BlockHeader, OutPoint

log = logging.getLogger("pyrite.validation")
#: Core's -debug=bench timings
bench_log = logging.getLogger("pyrite.bench")

DEFAULT_DBCACHE = 450 << 20
FLUSH_INTERVAL = 60.0  # seconds between periodic flushes of the state to disk
#: packing the coins cache is paused (for ``PACK_PAUSE`` flushes) when fewer than this
#: share of the coins packed before a flush were spent or read by then
PACK_PAYS = 0.25
PACK_PAUSE = 4
MAX_ORPHAN_BLOCKS = 100


@dataclass
class SubmitResult:
    """Outcome of ``process_new_block`` in submitblock's terms.

    ``result`` is None (accepted and connected), "duplicate", "duplicate-invalid",
    "inconclusive", or a reject reason.
    """

    result: str | None
    new_block: bool = False


class Chainstate(BlockConnector):
    """The node's view of the block chain and the UTXO set (one per network)."""

    def __init__(
        self,
        netdir: str | os.PathLike[str],
        params: ChainParams,
        *,
        dbcache_bytes: int = DEFAULT_DBCACHE,
        clock: Callable[[], int] | None = None,
        assumevalid: bytes | None = None,
        script_checker: ScriptChecker | None = None,
        flush_interval: float = FLUSH_INTERVAL,
    ) -> None:
        self.netdir = Path(netdir)
        self.params = params
        self.dbcache_bytes = dbcache_bytes
        self.clock = clock or (lambda: int(time.time()))
        self.assumevalid = assumevalid
        self.script_checker: ScriptChecker = script_checker or SerialScriptChecker()
        self.flush_interval = flush_interval
        self.lock = threading.RLock()
        #: what made the chain state unusable (see ``changing``), None while it is sound;
        #: the listeners are called (in the thread that failed) when that happens
        self.failure: BaseException | None = None
        self.failure_listeners: list[Callable[[BaseException], None]] = []
        self.tree = BlockTree()
        self.chain = ActiveChain()
        self.candidates: set[BlockIndexEntry] = set()
        self.orphans: dict[bytes, list[tuple[Block, FilePos | None]]] = {}
        self.tip_listeners: list[Callable[[BlockIndexEntry], None]] = []
        #: Core's -stopatheight (0: off): once a block at this height or above has been
        #: connected, no further block is (the node shuts down when that block's scripts
        #: are verified: see ``tip_listeners``). As in Core, a node whose tip is already
        #: there connects one more block first.
        self.stop_at_height = 0
        self._stop_height_passed = False
        self._checked: dict[bytes, str | None] = {}
        #: hashes of recent blocks that passed check_block (Core's CBlock::fChecked)
        self._block_checked: dict[bytes, None] = {}
        self._block_cache: dict[bytes, Block] = {}
        #: inside ``deferred_scripts``: connected blocks whose script verdict is pending
        self._defer = False
        self._pending: list[BlockIndexEntry] = []
        self._reverse_sequence = -1
        self._last_precious_work = 0
        self._last_flush = time.monotonic()
        #: coins packed since the last flush, and how many flushes to come without packing
        #: (see ``_pack_coins``)
        self._packed_in_cycle = 0
        self._pack_pause = 0
        self._index_store: LmdbStore | None = None
        self.reindexing = False
        self._coins_store: LmdbStore | None = None
        self.index_db: BlockIndexDB
        self.coins_db: CoinsDB
        self.coins: CoinsCache
        self.blockstore: BlockStore

    # ------------------------------------------------------------------ lifecycle
    def open(self, reindex: bool = False, reindex_chainstate: bool = False) -> None:
        """Open (or create) the stores, load the block index and reconnect to the best chain."""
        lifecycle.open_chainstate(self, reindex, reindex_chainstate)

    def finish_reindex(self) -> None:
        """The blk files have all been read again: clear the persistent reindex flag."""
        lifecycle.finish_reindex(self)

    def close(self) -> None:
        lifecycle.close_chainstate(self)

    def _init_genesis(self, stored_at: FilePos | None = None) -> None:
        genesis = self.params.genesis
        entry = self.tree.add_header(genesis.header, block_proof)
        if stored_at is None:
            pos = self.blockstore.write_block(genesis.serialize(), 0)
        else:
            pos = stored_at
            self.blockstore.record_existing_block(pos, genesis.size, 0, genesis.header.time)
        for e in self.tree.received_block_data(entry, len(genesis.txs), pos):
            self.candidates.add(e)

    # ------------------------------------------------------------------ queries
    def tip(self) -> BlockIndexEntry:
        t = self.chain.tip()
        assert t is not None, "chainstate not opened"
        return t

    def height(self) -> int:
        return self.chain.height()

    def lookup(self, block_hash: bytes) -> BlockIndexEntry | None:
        return self.tree.get(block_hash)

    def read_block(self, entry: BlockIndexEntry) -> Block:
        cached = self._block_cache.get(entry.hash)
        if cached is not None:
            return cached
        pos = entry.data_file_pos()
        if pos is None:
            raise StorageError(f"block {entry.hash[::-1].hex()} not available")
        return self.blockstore.read_block(pos)

    def read_block_bytes(self, entry: BlockIndexEntry) -> bytes:
        pos = entry.data_file_pos()
        if pos is None:
            raise StorageError(f"block {entry.hash[::-1].hex()} not available")
        return self.blockstore.read_block_bytes(pos)

    def read_undo(self, entry: BlockIndexEntry) -> BlockUndo:
        pos = entry.undo_file_pos()
        if pos is None or entry.prev is None:
            raise StorageError(f"undo data of {entry.hash[::-1].hex()} not available")
        return BlockUndo.from_bytes(self.blockstore.read_undo(pos, entry.prev.hash))

    def get_coin(self, outpoint: OutPoint) -> Coin | None:
        with self.lock:
            return self.coins.get_coin(outpoint)

    def is_initial_block_download(self, tip: BlockIndexEntry | None = None) -> bool:
        """Core's IsInitialBlockDownload, for the active tip or the given one."""
        if tip is None:
            tip = self.chain.tip()
        if tip is None or tip.chain_work < self.params.min_chain_work:
            return True
        return tip.time < self.clock() - 24 * 3600

    # ------------------------------------------------------------------ headers
    def _prev_info(self, prev: BlockIndexEntry) -> rules.PrevBlockInfo:
        return rules.PrevBlockInfo(
            height=prev.height,
            hash=prev.hash,
            time=prev.time,
            median_time_past=prev.median_time_past(),
            bits=prev.bits,
        )

    def changing(self) -> _Changing:
        """The lock, held around a change to the chain state. Should anything but a
        block's invalidity escape (a bug, a failing disk, memory running out), the coins
        cache, the block index and the pending script verdicts may no longer agree: the
        chainstate then refuses every further change (ChainstateFailure), and closing it
        writes nothing, so that the next start resumes from the last flush, as after a
        kill."""
        return _Changing(self)

    def _failed(self, e: BaseException) -> None:
        if self.failure is None:
            self.failure = e
            log.error("Fatal error while changing the chain state: %r; nothing more is "
                      "written to disk before a restart", e)  # fmt: skip
            for listener in self.failure_listeners:
                listener(e)

    def accept_block_header(self, header: BlockHeader) -> BlockIndexEntry:
        """Core's AcceptBlockHeader: PoW, parent, contextual checks, then into the tree."""
        with self.changing():
            existing = self.tree.get(header.hash)
            if existing is not None:
                if existing.status & BLOCK_FAILED_MASK:
                    raise BlockValidationError(
                        "duplicate-invalid", "block is marked invalid", "CACHED_INVALID"
                    )
                return existing
            rules.check_block_header(header, self.params)
            prev = self.tree.get(header.prev_hash)
            if prev is None:
                raise BlockValidationError("prev-blk-not-found", "", "MISSING_PREV")
            if prev.status & BLOCK_FAILED_MASK:
                raise BlockValidationError("bad-prevblk", "", "INVALID_PREV")
            rules.contextual_check_block_header(
                header, self._prev_info(prev), self.params, self.clock(),
                ancestor_lookup(prev),
            )  # fmt: skip
            entry = self.tree.add_header(header, block_proof)
            log.debug("Saw new header hash=%s height=%d", header.hash_hex(), entry.height)
            return entry

    # ------------------------------------------------------------------ blocks
    def process_new_block(
        self, block: Block, stored_at: FilePos | None = None, raw: bytes | None = None
    ) -> SubmitResult:
        """Core's ProcessNewBlock with submitblock's result semantics.

        A block whose parent is unknown is kept (up to MAX_ORPHAN_BLOCKS) and connected
        when the parent arrives; the result is then "prev-blk-not-found", as in Core.
        ``raw`` (the block's serialization, when the caller has it) saves re-serializing.
        """
        with self.changing():
            h = block.hash
            existing = self.tree.get(h)
            if existing is not None:
                if existing.is_valid(BLOCK_VALID_SCRIPTS):
                    return SubmitResult("duplicate")
                if existing.status & BLOCK_FAILED_MASK:
                    return SubmitResult("duplicate-invalid")
                if existing.have_data():
                    return SubmitResult("duplicate")
            if block.header.prev_hash not in self.tree and not self._is_genesis(block):
                self._add_orphan(block, stored_at)
                log.info("ProcessNewBlock: block %s has no known parent; keeping it for later",
                         block.hash_hex())  # fmt: skip
                return SubmitResult("prev-blk-not-found", new_block=True)
            self._checked.pop(h, None)
            try:
                if self._is_genesis(block):
                    self._init_genesis(stored_at)
                else:
                    self._accept_block(block, stored_at, raw)
            except BlockValidationError as e:
                log.info("ERROR: ProcessNewBlock: AcceptBlock FAILED (%s)", _state_text(e))
                return SubmitResult(e.reason, new_block=True)
            self.activate_best_chain()
            self._connect_orphans(h)
            if h in self._checked:
                return SubmitResult(self._checked.pop(h), new_block=True)
            return SubmitResult("inconclusive", new_block=True)

    def _is_genesis(self, block: Block) -> bool:
        return block.hash == self.params.genesis.hash

    def _add_orphan(self, block: Block, stored_at: FilePos | None) -> None:
        total = sum(len(v) for v in self.orphans.values())
        if total >= MAX_ORPHAN_BLOCKS:
            oldest = next(iter(self.orphans))
            self.orphans[oldest].pop(0)
            if not self.orphans[oldest]:
                del self.orphans[oldest]
        waiting = self.orphans.setdefault(block.header.prev_hash, [])
        if all(b.hash != block.hash for b, _ in waiting):
            waiting.append((block, stored_at))

    def _connect_orphans(self, parent_hash: bytes) -> None:
        queue = [parent_hash]
        while queue:
            for block, stored_at in self.orphans.pop(queue.pop(), []):
                known = self.tree.get(block.hash)
                if known is not None and known.have_data():
                    continue
                log.info("Connecting previously orphaned block %s", block.hash_hex())
                try:
                    self._accept_block(block, stored_at)
                except BlockValidationError as e:
                    log.info("ERROR: AcceptBlock FAILED (%s)", _state_text(e))
                    continue
                self.activate_best_chain()
                self._checked.pop(block.hash, None)
                queue.append(block.hash)

    def _accept_block(
        self, block: Block, stored_at: FilePos | None = None, raw: bytes | None = None
    ) -> BlockIndexEntry:
        """Core's AcceptBlock: header, context-free and contextual checks, then to disk.

        ``stored_at`` names where the block already lies in a blk file (reindex), so it
        is recorded there instead of being written again.
        """
        entry: BlockIndexEntry | None = None
        try:
            rules.check_block(block, self.params)
            self._block_checked[block.hash] = None
            if len(self._block_checked) > 64:
                self._block_checked.pop(next(iter(self._block_checked)))
            entry = self.accept_block_header(block.header)
            if entry.have_data():
                return entry
            assert entry.prev is not None
            rules.contextual_check_block(block, self._prev_info(entry.prev), self.params)
        except BlockValidationError as e:
            if entry is None:
                entry = self.tree.get(block.hash)
            if entry is not None and e.kind not in ("MUTATED", "CACHED_INVALID"):
                self._mark_invalid(entry)
            raise
        if stored_at is None:
            data = raw if raw is not None else block.serialize()
            pos = self.blockstore.write_block(data, entry.height)
        else:
            pos = stored_at
            self.blockstore.record_existing_block(pos, block.size, entry.height, block.header.time)
        self._block_cache[entry.hash] = block
        if len(self._block_cache) > 8:
            self._block_cache.pop(next(iter(self._block_cache)))
        for linked in self.tree.received_block_data(entry, len(block.txs), pos):
            self.candidates.add(linked)
        return entry

    # ------------------------------------------------------------------ best chain
    def _rebuild_candidates(self) -> None:
        tip = self.chain.tip()
        self.candidates = {
            e
            for e in self.tree
            if e.is_valid(BLOCK_VALID_TRANSACTIONS)
            and e.chain_tx
            and (tip is None or e.chain_work >= tip.chain_work)
        }
        if tip is not None:
            self.candidates.add(tip)

    def _find_most_work_chain(self) -> BlockIndexEntry | None:
        while self.candidates:
            best = min(self.candidates, key=lambda e: (-e.chain_work, e.sequence_id))
            walk: BlockIndexEntry | None = best
            usable = True
            while walk is not None and not self.chain.contains(walk):
                if walk.status & BLOCK_FAILED_MASK or not walk.have_data():
                    usable = False
                    break
                walk = walk.prev
            if usable:
                return best
            self.candidates.discard(best)
        return self.chain.tip()

    def activate_best_chain(self) -> None:
        """Core's ActivateBestChain: reorganise to the most-work valid chain."""
        with self.changing():
            while True:
                best = self._find_most_work_chain()
                tip = self.chain.tip()
                if best is None or best is tip:
                    break
                if tip is not None and best.chain_work < tip.chain_work:
                    break
                fork = self.chain.find_fork(best)
                if self._pending and self.chain.tip() is not fork:
                    self._resolve_scripts()  # settle the pending verdicts before a reorg
                    continue
                disconnected = 0
                while self.chain.tip() is not fork:
                    self._disconnect_tip()
                    disconnected += 1
                if disconnected:
                    log.info("Reorganize: disconnected %d blocks back to %s", disconnected,
                             fork.hash[::-1].hex() if fork else "none")  # fmt: skip
                path = []
                walk: BlockIndexEntry | None = best
                while walk is not None and walk is not fork:
                    path.append(walk)
                    walk = walk.prev
                stopped = False
                for entry in reversed(path):
                    if self.stop_height_reached():
                        stopped = True
                        break
                    if not self._connect_tip(entry):
                        break
                self._prune_candidates()
                if stopped:
                    break
            self._flush_if_needed()

    def stop_height_reached(self) -> bool:
        """Whether -stopatheight holds further blocks back: a block at or above it was
        connected, and the tip is still there (a failed script verdict may have taken it
        back below)."""
        tip = self.chain.tip()
        limit = self.stop_at_height
        return limit > 0 and self._stop_height_passed and tip is not None and tip.height >= limit

    def _prune_candidates(self) -> None:
        tip = self.chain.tip()
        if tip is None:
            return
        self.candidates = {
            e for e in self.candidates
            if e is tip or (e.chain_work >= tip.chain_work and not e.status & BLOCK_FAILED_MASK)
        }  # fmt: skip

    def _notify_tip(self, entry: BlockIndexEntry) -> None:
        for fn in list(self.tip_listeners):
            try:
                fn(entry)
            except Exception:  # a listener must never break validation
                log.exception("tip listener failed")

    def _connect_tip(self, entry: BlockIndexEntry) -> bool:
        block = self.read_block(entry)
        view = self.coins  # connect_block leaves it untouched if the block fails
        t0 = time.perf_counter()
        try:
            undo = self.connect_block(block, entry, view)
        except BlockValidationError as e:
            log.info("ERROR: ConnectTip: ConnectBlock %s failed, %s", entry.hash[::-1].hex(),
                     _state_text(e))  # fmt: skip
            self._checked[entry.hash] = e.reason
            self._invalid_block_found(entry)
            return False
        if entry.prev is not None and not entry.status & BLOCK_HAVE_UNDO:
            pos = self.blockstore.write_undo(undo.serialize(), entry.prev.hash, entry.file)
            entry.undo_pos = pos.offset
            entry.status |= BLOCK_HAVE_UNDO
        entry.raise_validity(BLOCK_VALID_SCRIPTS)
        self.tree.mark_dirty(entry)
        self.chain.set_tip(entry)
        if 0 < self.stop_at_height <= entry.height:
            self._stop_height_passed = True
        self._block_cache.pop(entry.hash, None)
        self._checked[entry.hash] = None
        if len(self._checked) > 64:
            self._checked.pop(next(iter(self._checked)))
        self._log_update_tip(entry, time.perf_counter() - t0)
        if not self._pending:  # else notified once the verdicts are in
            self._notify_tip(entry)
        self._flush_if_needed()
        return self.chain.tip() is entry  # a flush may have rolled back a failed block

    def _log_update_tip(self, entry: BlockIndexEntry, seconds: float) -> None:
        log.info(
            "UpdateTip: new best=%s height=%d version=0x%08x log2_work=%.6f tx=%d "
            "date='%s' progress=%f cache=%.1fMiB(%utxo) connect=%.3fs",
            entry.hash[::-1].hex(), entry.height, entry.version & 0xFFFFFFFF,
            math.log2(entry.chain_work) if entry.chain_work else 0.0, entry.chain_tx,
            time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(entry.time)),
            self.verification_progress(entry),
            self.coins.memory_usage() / (1 << 20), len(self.coins), seconds,
        )  # fmt: skip

    def verification_progress(self, entry: BlockIndexEntry) -> float:
        """Core's GuessVerificationProgress for the chain ending at ``entry``: its share of
        the network's transactions up to now, estimated from ``params.chain_tx_data``
        (always 1.0 on regtest). A block within two hours of now counts as being as many
        block intervals old as the best header is ahead of it, so a synced node reads
        exactly 1.0 (as in Core)."""
        now = self.clock()
        block_time = entry.time
        best = self.tree.best_header
        if best is not None and abs(now - block_time) <= 7200 and best.height >= entry.height:
            block_time = now - (best.height - entry.height) * self.params.pow_target_spacing
        return self.params.chain_tx_data.progress(entry.chain_tx, block_time, now)

    def _disconnect_tip(self, notify: bool = True) -> None:
        """DisconnectTip; the tip listeners hear of the new tip unless not ``notify``."""
        entry = self.tip()
        assert entry.prev is not None, "cannot disconnect the genesis block"
        block = self.read_block(entry)
        undo = self.read_undo(entry)
        view = CoinsCache(self.coins)
        clean = self.disconnect_block(block, entry, undo, view)
        if not clean:
            log.info("DisconnectBlock %s: unclean disconnect", entry.hash[::-1].hex())
        view.flush()
        self.chain.set_tip(entry.prev)
        self.candidates.add(entry)
        self._flush_if_needed()  # as Core's DisconnectTip: FlushStateToDisk(IF_NEEDED)
        log.info("DisconnectTip: disconnected block %s height=%d", entry.hash[::-1].hex(),
                 entry.height)  # fmt: skip
        if notify:
            self._notify_tip(entry.prev)

    def _invalid_block_found(self, entry: BlockIndexEntry) -> None:
        self._mark_invalid(entry)
        log.info(
            "InvalidChainFound: invalid block=%s  height=%d  log2_work=%f  date=%s",
            entry.hash[::-1].hex(), entry.height, math.log2(entry.chain_work or 1),
            time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(entry.time)),
        )  # fmt: skip

    def _mark_invalid(self, entry: BlockIndexEntry) -> None:
        for e in [entry, *self.tree.mark_failed(entry)]:
            self.candidates.discard(e)

    # ------------------------------------------------------------------ RPC-driven changes
    def invalidate_block(self, entry: BlockIndexEntry) -> None:
        """Core's InvalidateBlock (the caller then runs activate_best_chain)."""
        chaincontrol.invalidate_block(self, entry)

    def reconsider_block(self, entry: BlockIndexEntry) -> None:
        """Core's ReconsiderBlock: clear failure flags here, below and above; reactivate."""
        chaincontrol.reconsider_block(self, entry)

    def precious_block(self, entry: BlockIndexEntry) -> None:
        """Core's PreciousBlock: treat ``entry`` as if it had been received first."""
        chaincontrol.precious_block(self, entry)

    # ------------------------------------------------------------------ deferred scripts
    @contextmanager
    def deferred_scripts(self, idle: Callable[[], bool] | None = None) -> Iterator[None]:
        """Connect blocks without waiting for their script verdicts (see the module
        docstring); holds the lock throughout, and on leaving every verdict is in.
        ``idle``: work that touches no chain state, done while waiting for the verdicts
        (see ``ScriptChecker.resolve``), such as reading the next blocks. After a
        failure (see ``changing``) the verdicts are not waited for."""
        with self.changing():
            self._defer = self.script_checker.processes > 1
            try:
                yield
            finally:
                self._defer = False
                if self.failure is None and self._resolve_scripts(idle):
                    self.activate_best_chain()

    def share_script_work(self) -> None:
        """Inside ``deferred_scripts``: this process's share of the pending script checks
        (``ScriptChecker.share_work``), to be called between blocks."""
        with self.changing():
            if self._pending:
                self.script_checker.share_work()

    def publish_verified(self) -> None:
        """Inside ``deferred_scripts``, between blocks: the pending blocks at the front
        whose verdicts are all in, and good, count as verified from now on, and the tip
        listeners hear of the last of them (tip queries and ``waitfor*`` calls follow the
        verified chain block by block, not at the end of each import step). Nothing else
        changes: the later blocks stay pending, and a failure among them still rolls the
        chain back only to the failed block's parent."""
        with self.changing():
            pending = self._pending
            settled = self.script_checker.settled
            n = 0
            while n < len(pending) and settled(pending[n].hash):
                n += 1
            if n:
                last = pending[n - 1]
                del pending[:n]
                self._notify_tip(last)

    def _resolve_scripts(self, idle: Callable[[], bool] | None = None) -> bool:
        """Collect pending script verdicts; on a failure roll back to the failed block's
        parent and mark it invalid. Returns True if the chain was rolled back."""
        if not self._pending:
            self.script_checker.resolve()  # nothing to wait for; ends any wind-down
            return False
        pending = self._pending
        failures = self.script_checker.resolve(idle)  # (should it raise: still pending)
        self._pending = []
        found = self._first_script_failure(pending, failures)
        if found is None:
            self._notify_tip(self.tip())
            return False
        failed, block, (tx_index, input_index, code) = found
        while self.chain.contains(failed):  # (blocks never verified: no one hears of them)
            self._disconnect_tip(notify=False)
        self._notify_tip(self.tip())
        err = rules.script_failure_error(code, block.txs[tx_index], input_index)
        log.info("ERROR: ConnectTip: ConnectBlock %s failed, %s", failed.hash[::-1].hex(),
                 _state_text(err))  # fmt: skip
        self._checked[failed.hash] = err.reason
        self._invalid_block_found(failed)
        return True

    def _first_script_failure(
        self, pending: list[BlockIndexEntry], failures: dict[Hashable, Failure]
    ) -> tuple[BlockIndexEntry, Block, Failure] | None:
        """The first of the ``pending`` blocks that ``failures`` fails, once confirmed
        (``confirm_failure``), with the block and its failure."""
        for entry in pending:
            failure = failures.get(entry.hash)
            if failure is None:
                continue
            block = self.read_block(entry)
            flags = rules.block_script_flags(entry.height, entry.hash, self.params)
            confirmed = confirm_failure(failure, self._script_items(entry, block), flags)
            if confirmed is not None:
                return entry, block, confirmed
        return None

    def _script_items(self, entry: BlockIndexEntry, block: Block) -> list[Item]:
        """A connected block's transactions with the coins they spent (from its undo
        data), as its script checks took them."""
        undo = self.read_undo(entry)
        if len(undo.txs) + 1 != len(block.txs):
            raise StorageError("block and undo data are inconsistent")
        # (a Coin starts with the fields of its TxOut: the coins serve as they are)
        return [(i, block.txs[i], u.spent) for i, u in enumerate(undo.txs, 1)]  # type: ignore[misc]

    # ------------------------------------------------------------------ flushing
    def _flush_if_needed(self) -> None:
        if (
            self.coins.memory_usage() > self.dbcache_bytes
            and not self._pack_pause
            and self.coins.packed_usage() <= self.dbcache_bytes
        ):
            self._pack_coins()
        if (
            self.coins.memory_usage() > self.dbcache_bytes
            or time.monotonic() - self._last_flush > self.flush_interval
        ):
            self.flush(force=True)

    def _pack_coins(self) -> None:
        """Pack the cache's coins (``CoinsCache.pack``), which have outgrown
        ``-dbcache``, when that brings them back within it (else they are flushed).

        Packing pays when the packed coins are spent before the next flush (each is then
        decoded once instead of written to the database and read back) and costs about 1
        us a coin when they are flushed all the same. So when a flush finds that fewer than
        ``PACK_PAYS`` of the coins packed since the previous one were spent or read, the
        next ``PACK_PAUSE`` flushes come without packing (the cache then works as Core's
        does), and packing is tried again after them."""
        before = self.coins.memory_usage()
        t0 = time.perf_counter()
        count = self.coins.pack()
        self._packed_in_cycle += count
        if count:
            bench_log.debug("Packed %d coins of the coins cache: %.2fMiB -> %.2fMiB (%.2fms)",
                            count, before / (1 << 20), self.coins.memory_usage() / (1 << 20),
                            (time.perf_counter() - t0) * 1000)  # fmt: skip

    def _review_packing(self) -> None:
        """At a flush that empties the cache: pause packing if it did not pay (see
        ``_pack_coins``)."""
        packed = self._packed_in_cycle
        self._packed_in_cycle = 0
        if self._pack_pause:
            self._pack_pause -= 1
        elif packed and packed - self.coins.packed_count() < packed * PACK_PAYS:
            self._pack_pause = PACK_PAUSE
            bench_log.debug("Packing paused for %d flushes: %d of the %d coins packed were "
                            "still packed", PACK_PAUSE, self.coins.packed_count(),
                            packed)  # fmt: skip

    def flush(self, force: bool = True) -> None:
        """FlushStateToDisk: block files, then block index, then coins + best block."""
        with self.changing():
            if not force:
                self._flush_if_needed()
                return
            self._resolve_scripts()
            self.blockstore.flush()
            infos = self.blockstore.dirty_file_infos()
            self.index_db.flush_tree(self.tree, infos, self.blockstore.last_file)
            self.blockstore.mark_file_infos_written(infos)
            usage = self.coins.memory_usage()
            what = f"write coins cache to disk ({len(self.coins)} coins, {usage / 1000:.2f}kB)"
            bench_log.debug("FlushStateToDisk: %s started", what)
            t0 = time.perf_counter()
            if usage > self.dbcache_bytes:
                self._review_packing()
                self.coins.flush()
            else:
                self.coins.sync()
            bench_log.debug("FlushStateToDisk: %s completed (%.2fms)", what,
                            (time.perf_counter() - t0) * 1000)  # fmt: skip
            self._last_flush = time.monotonic()

    # ------------------------------------------------------------------ verification
    def verify_chain(self, depth: int = 6, level: int = 3) -> bool:
        """Core's VerifyDB (levels 0-3): re-check recent blocks and their undo data."""
        return chaincontrol.verify_chain(self, depth, level)


class _Changing:
    """``Chainstate.changing`` (a class: a third of a generator-based context manager's
    cost, paid for every header of an import)."""

    __slots__ = ("cs",)

    def __init__(self, cs: Chainstate) -> None:
        self.cs = cs

    def __enter__(self) -> None:
        cs = self.cs
        cs.lock.acquire()
        if cs.failure is not None:
            cs.lock.release()
            raise ChainstateFailure(
                f"the chain state is unusable after an earlier error: {cs.failure!r}"
            ) from cs.failure

    def __exit__(
        self, kind: type[BaseException] | None, e: BaseException | None, _: object
    ) -> None:
        try:
            if e is not None and not isinstance(e, BlockValidationError):
                self.cs._failed(e)
        finally:
            self.cs.lock.release()


def _state_text(e: BlockValidationError) -> str:
    return f"{e.reason}, {e.debug}" if e.debug else e.reason
