"""Block import from blk-layout files: ``-loadblock`` and ``-reindex`` (Core's ImportBlocks /
LoadExternalBlockFile), with progress in the log."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

from pyrite.chain.blockstore import (
    STORAGE_HEADER_BYTES,
    FilePos,
    ScannedBlock,
    scan_blocks_in_file,
    scan_headers_in_file,
)
from pyrite.chain.chainstate import Chainstate
from pyrite.errors import BlockValidationError, StorageError
from pyrite.primitives.block import BlockHeader

log = logging.getLogger("pyrite.node.importer")

RunChain = Callable[[Callable[[], Any]], Awaitable[Any]]
#: one call into the chain thread handles blocks for about this long. With script-check
#: workers the verdicts are settled at the end of each call, and the workers idle from
#: their last answer until the next call's first block is connected (about 18 ms each
#: time on the benchmark chain): long calls then, cut short by other chain work (see
#: MIN_STEP_SECONDS) and by shutdown; checking in this thread settles each block as it
#: goes, so calls can be short.
STEP_SECONDS = 10.0
SERIAL_STEP_SECONDS = 0.25
#: but once other chain work waits (an RPC call), a call ends after the block in hand if it
#: has run this long: the RPC call waits about a block, as Core's waits for cs_main, not a
#: whole step, and frequent calls cannot make the import drain its pipeline at every block
MIN_STEP_SECONDS = 0.25
#: one call into the chain thread accepts headers for about this long
HEADER_STEP_SECONDS = 0.25
#: the smallest record a block file can hold: magic and size, then an 80-byte header
_MIN_RECORD = STORAGE_HEADER_BYTES + 80


class HeaderPass:
    """Accept the header of every block in a file (in the chain thread), a header whose
    parent comes later in the file once that parent is in, a step at a time.

    Core's import accepts every block of a file before it connects any, so that the best
    header is known when blocks are connected and -assumevalid can skip the scripts of all
    but the last two weeks of them. This import connects blocks as it reads them; reading
    the headers first gives it the same best header. A header that fails its checks is
    left out: its block fails the same way in its turn. A file of a whole chain holds
    close to a million headers, tens of seconds of work: done in steps, it leaves the
    chain thread to RPC calls in between."""

    def __init__(self, chainstate: Chainstate, path: Path) -> None:
        self._chainstate = chainstate
        self._headers = scan_headers_in_file(path, chainstate.params.message_start)
        self._waiting: dict[bytes, list[BlockHeader]] = {}
        #: headers accepted, and read, so far
        self.accepted = 0
        self.read = 0

    def step(self, seconds: float, others_waiting: Callable[[], bool] = lambda: False) -> bool:
        """Accept headers for about ``seconds`` (at least one), or until other chain work
        waits once ``MIN_STEP_SECONDS`` have passed; True when the file is done."""
        chainstate = self._chainstate
        waiting = self._waiting
        start = time.monotonic()
        deadline = start + seconds
        early = start + min(MIN_STEP_SECONDS, seconds)
        for first in self._headers:
            self.read += 1
            todo = [first]
            while todo:
                header = todo.pop()
                try:
                    chainstate.accept_block_header(header)
                except BlockValidationError as e:
                    if e.reason == "prev-blk-not-found":
                        waiting.setdefault(header.prev_hash, []).append(header)
                    continue
                self.accepted += 1
                todo.extend(waiting.pop(header.hash, ()))
            now = time.monotonic()
            if now >= deadline or (now >= early and others_waiting()):
                return False
        return True


async def _accept_headers(
    chainstate: Chainstate,
    run_chain: RunChain,
    path: Path,
    stop: asyncio.Event,
    others_waiting: Callable[[], bool],
) -> None:
    t0 = last_report = time.monotonic()
    headers = HeaderPass(chainstate, path)
    try:
        while not await run_chain(lambda: headers.step(HEADER_STEP_SECONDS, others_waiting)):
            if stop.is_set():
                log.info("Reading the headers of %s interrupted by shutdown", path)
                return
            now = time.monotonic()
            if now - last_report > 5:
                log.info("Reading the headers of %s: %d read", path.name, headers.read)
                last_report = now
    except (OSError, StorageError) as e:
        log.info("Error while reading the headers of %s: %s", path, e)
        return
    best = chainstate.tree.best_header
    log.info("Read %d block headers from %s in %dms (best header height=%d)", headers.accepted,
             path.name, int((time.monotonic() - t0) * 1000),
             best.height if best else -1)  # fmt: skip


async def load_external_file(
    path: Path,
    chainstate: Chainstate,
    run_chain: RunChain,
    stop: asyncio.Event,
    reindex_file: int | None = None,
    others_waiting: Callable[[], bool] = lambda: False,
    headers_read: bool = False,
) -> int:
    """Process every block found in ``path``; returns how many were new. With
    ``reindex_file`` the file is one of our own blk files and blocks stay where they are.
    ``others_waiting`` tells whether other chain work is queued behind the import: each
    call into the chain thread then ends early (see ``MIN_STEP_SECONDS``). The file's
    headers are accepted first (``HeaderPass``) unless ``headers_read``."""
    t0 = time.monotonic()
    magic = chainstate.params.message_start
    try:
        size = (await asyncio.to_thread(path.stat)).st_size
    except OSError as e:
        log.info("Unable to open file %s: %s", path, e)
        return 0
    log.info("Importing blocks file %s (%d bytes)...", path, size)
    if not headers_read:
        await _accept_headers(chainstate, run_chain, path, stop, others_waiting)
    loaded = 0
    seen = 0
    last_report = t0
    last_offset = 0

    serial = chainstate.script_checker.processes == 1
    step_seconds = SERIAL_STEP_SECONDS if serial else STEP_SECONDS

    def step(items: _ReadAhead) -> tuple[int, int, bool]:
        """Process blocks from the file for about ``step_seconds`` (in the chain thread)."""
        nonlocal last_offset
        new = count = 0
        start = time.monotonic()
        deadline = start + step_seconds
        early = start + min(MIN_STEP_SECONDS, step_seconds)
        with chainstate.deferred_scripts(items.read_one):
            for found in items:
                # the step's last block: the one begun once its time is up (or the file's,
                # when no other fits after it); script workers are then kept only a little
                # ahead, so that settling the verdicts at the end of the step waits little
                now = time.monotonic()
                last = now >= deadline or (now >= early and others_waiting())
                if last or found.offset + len(found.raw) + _MIN_RECORD > size:
                    chainstate.script_checker.wind_down()
                pos = FilePos(reindex_file, found.offset) if reindex_file is not None else None
                if chainstate.process_new_block(found.block, pos, found.raw).new_block:
                    new += 1
                offset = found.offset
                del found  # the block's objects go while still in the caches, then
                chainstate.share_script_work()  # its signatures are checked
                chainstate.publish_verified()
                count += 1
                last_offset = offset
                if last or stop.is_set() or chainstate.stop_height_reached():  # (-stopatheight)
                    return new, count, False
        return new, count, True

    try:
        items = _ReadAhead(scan_blocks_in_file(path, magic))
        done = False
        while not done:
            if stop.is_set():
                log.info("Import of %s interrupted by shutdown", path)
                break
            new, count, done = await run_chain(lambda: step(items))
            loaded += new
            seen += count
            now = time.monotonic()
            if now - last_report > 5:
                log.info("Importing %s: %d blocks read (%.0f%% of file), height=%d",
                         path.name, seen, 100.0 * last_offset / max(size, 1),
                         chainstate.height())  # fmt: skip
                last_report = now
    except (OSError, StorageError) as e:
        log.info("Error while importing %s: %s", path, e)
    log.info("Loaded %d blocks from external file in %dms", loaded,
             int((time.monotonic() - t0) * 1000))  # fmt: skip
    return loaded


class _ReadAhead:
    """The blocks of a file, in order, with ``read_one`` to parse the next ones early: the
    chain thread does that while it waits for script workers' verdicts at the end of an
    import step, instead of idling (about 50 ms per step)."""

    #: blocks parsed ahead at most: two cover most of the wait, and hold about 2 MB
    #: (eight measured no faster, with 10 MB more)
    LIMIT = 2

    def __init__(self, items: Iterator[ScannedBlock]) -> None:
        self._items = items
        self._ahead: deque[ScannedBlock] = deque()
        self._error: BaseException | None = None
        self._done = False

    def __iter__(self) -> _ReadAhead:
        return self

    def __next__(self) -> ScannedBlock:
        if self._ahead:
            return self._ahead.popleft()
        if self._error is not None:  # raised where the blocks are used, not while waiting
            error, self._error = self._error, None
            raise error
        return next(self._items)

    def read_one(self) -> bool:
        """Parse one more block ahead; False when there is no more to do now. Never
        raises: an error is kept for ``__next__`` to raise in its turn."""
        if self._done or len(self._ahead) >= self.LIMIT:
            return False
        try:
            self._ahead.append(next(self._items))
        except StopIteration:
            self._done = True
            return False
        except Exception as e:
            self._error = e
            self._done = True
            return False
        return True


async def reindex(
    chainstate: Chainstate,
    run_chain: RunChain,
    stop: asyncio.Event,
    others_waiting: Callable[[], bool] = lambda: False,
) -> None:
    """Rebuild the block index and chainstate from our own blk files (``-reindex``)."""
    store = chainstate.blockstore
    files = store.existing_block_files()
    log.info("Reindexing %d block files...", len(files))
    for n in files:  # every file's headers first, as Core accepts every block first
        if stop.is_set():
            return
        await _accept_headers(
            chainstate, run_chain, Path(store.block_path(n)), stop, others_waiting
        )
    for n in files:
        if stop.is_set():
            return
        path = Path(store.block_path(n))
        await load_external_file(path, chainstate, run_chain, stop, n, others_waiting, True)
    if not stop.is_set():
        await run_chain(chainstate.finish_reindex)
        log.info("Reindexing finished")
