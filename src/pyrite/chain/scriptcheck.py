"""Script checks of blocks, serially or spread over worker processes (Core's -par).

A block's checks run in a *session*: ConnectBlock adds each transaction (with the outputs
it spends) as it reaches it, so workers start before the block is fully connected. The
session then either ``finish``es (wait for the verdict, as Core's ConnectBlock does) or
is ``defer``red: the verdict is collected later by ``resolve``, which lets the chainstate
go on to the next block while workers still verify this one (see
``Chainstate.deferred_scripts``).

A verdict is the first failing input found, as ``(tx index in block, input index, Core
error name)``, or None when every input verifies; when several inputs fail it is the
lowest (tx, input), where Core's check queue reports one of them.

The parallel checker cuts sessions into chunks of about ``CHUNK_INPUTS`` inputs. It keeps
a few chunks in flight per worker process (raw transaction bytes and the spent outputs
are sent; the worker parses and verifies) and the calling process verifies the queued
chunks itself meanwhile, so every core stays busy whatever the split of work.
"""

from __future__ import annotations

import logging
import multiprocessing
import signal
import struct
import time
from collections import deque
from collections.abc import Hashable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Protocol

from pyrite.encoding.bytes import ByteReader, compact_size
from pyrite.primitives import Block, Tx, TxOut
from pyrite.script.sighash import PrecomputedTx
from pyrite.script.verify import verify_tx_inputs

log = logging.getLogger("pyrite.validation")

Failure = tuple[int, int, str]
Item = tuple[int, Tx, Sequence[TxOut]]


class ScriptSession(Protocol):
    """The script checks of one block."""

    def add(self, tx_index: int, tx: Tx, spent: list[TxOut]) -> None: ...

    def finish(self) -> Failure | None:
        """Wait for this block's verdict."""
        ...

    def defer(self) -> None:
        """Leave the verdict to ``ScriptChecker.resolve`` (under the session's key)."""
        ...

    def cancel(self) -> None:
        """The block failed otherwise: drop its checks and any verdict."""
        ...


class ScriptChecker(Protocol):
    #: processes that verify scripts, the calling one included
    processes: int

    def begin(self, flags: int, key: Hashable = None) -> ScriptSession: ...

    def resolve(self) -> dict[Hashable, Failure]:
        """Wait for every deferred session; returns the verdicts that are failures."""
        ...

    def check_block_scripts(
        self, block: Block, spent: Sequence[Sequence[TxOut]], flags: int
    ) -> Failure | None:
        """``spent[i]`` lists the outputs spent by ``block.txs[i + 1]``."""
        ...

    def close(self) -> None: ...


def _check_items(items: Sequence[Item], flags: int) -> Failure | None:
    for index, tx, outs in items:
        bad = verify_tx_inputs(PrecomputedTx(tx, outs), flags)
        if bad is not None:
            return index, bad[0], bad[1]
    return None


def _record(failures: dict[Hashable, Failure], key: Hashable, failure: Failure | None) -> None:
    if failure is not None:
        old = failures.get(key)
        if old is None or failure < old:
            failures[key] = failure


class _SerialSession:
    def __init__(self, checker: SerialScriptChecker, flags: int, key: Hashable) -> None:
        self.checker = checker
        self.flags = flags
        self.key = key
        self.items: list[Item] = []

    def add(self, tx_index: int, tx: Tx, spent: list[TxOut]) -> None:
        self.items.append((tx_index, tx, spent))

    def finish(self) -> Failure | None:
        return _check_items(self.items, self.flags)

    def defer(self) -> None:
        _record(self.checker.deferred, self.key, self.finish())

    def cancel(self) -> None:
        self.items = []


class SerialScriptChecker:
    """Everything in the calling thread (``-par=1``)."""

    processes = 1

    def __init__(self) -> None:
        self.deferred: dict[Hashable, Failure] = {}

    def begin(self, flags: int, key: Hashable = None) -> ScriptSession:
        return _SerialSession(self, flags, key)

    def resolve(self) -> dict[Hashable, Failure]:
        out, self.deferred = self.deferred, {}
        return out

    def check_block_scripts(
        self, block: Block, spent: Sequence[Sequence[TxOut]], flags: int
    ) -> Failure | None:
        return _check_items([(i + 1, block.txs[i + 1], outs) for i, outs in enumerate(spent)],
                            flags)  # fmt: skip

    def close(self) -> None:
        pass


_Q = struct.Struct("<q")


def _worker_check(
    indexes: list[int], txs: bytes, outputs: bytes, flags: int
) -> tuple[Failure | None, float]:
    """Runs in a worker process: parse the transactions (serialized back to back) and the
    outputs they spend (serialized as in a transaction, one per input), verify every
    input. Returns the verdict and the seconds it took."""
    t0 = time.perf_counter()
    tr = ByteReader(txs)
    orr = ByteReader(outputs)
    items: list[Item] = []
    for index in indexes:
        tx = Tx.read(tr)
        items.append((index, tx, [TxOut(orr.i64(), orr.var_bytes()) for _ in tx.vin]))
    return _check_items(items, flags), time.perf_counter() - t0


def _warm_up() -> int:
    return 0


def _init_worker() -> None:
    """Workers leave Ctrl-C (SIGINT to the whole process group) to the node, which shuts
    them down in order; otherwise each would print a KeyboardInterrupt traceback."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


#: inputs per chunk of work
CHUNK_INPUTS = 256
#: first guess of a worker's seconds per input, until measured
WORKER_SECONDS_PER_INPUT = 40e-6


class _Chunk:
    __slots__ = ("flags", "inputs", "items", "key")

    def __init__(self, key: Hashable, flags: int) -> None:
        self.key = key
        self.flags = flags
        self.items: list[Item] = []
        self.inputs = 0

    def packed(self) -> tuple[list[int], bytes, bytes]:
        """What a worker gets (see ``_worker_check``): bytes pickle at memcpy speed."""
        pack = _Q.pack
        return (
            [index for index, _, _ in self.items],
            b"".join(tx.raw or tx.serialize() for _, tx, _ in self.items),
            b"".join(
                pack(o.value) + compact_size(len(o.script_pubkey)) + o.script_pubkey
                for _, _, outs in self.items
                for o in outs
            ),
        )


class _ParallelSession:
    def __init__(self, checker: ParallelScriptChecker, flags: int, key: Hashable) -> None:
        self.checker = checker
        self.flags = flags
        self.key = key
        self.chunk = _Chunk(key, flags)

    def add(self, tx_index: int, tx: Tx, spent: list[TxOut]) -> None:
        chunk = self.chunk
        chunk.items.append((tx_index, tx, spent))
        chunk.inputs += len(spent)
        if chunk.inputs >= self.checker.chunk_inputs:
            self.checker.enqueue(chunk)
            self.chunk = _Chunk(self.key, self.flags)

    def _close_chunk(self) -> None:
        if self.chunk.items:
            self.checker.enqueue(self.chunk)
            self.chunk = _Chunk(self.key, self.flags)

    def finish(self) -> Failure | None:
        self._close_chunk()
        self.checker.wait_all()
        return self.checker.failures.pop(self.key, None)

    def defer(self) -> None:
        self._close_chunk()
        self.checker.share_work()

    def cancel(self) -> None:
        self.chunk = _Chunk(self.key, self.flags)
        self.checker.wait_all()  # only on a failing block: simplest to let the rest finish
        self.checker.failures.pop(self.key, None)


class ParallelScriptChecker:
    """The calling process plus ``workers`` processes (``-par=N`` gives N-1 workers).

    Every chunk is submitted to the pool as soon as it is full. When a block's checks
    are all submitted the calling process takes back, newest first, the chunks no worker
    has started, and verifies them itself, except for as much work as the workers need
    to stay busy while this process connects the next block (measured: the time between
    blocks and the workers' seconds per input). So neither side idles, whatever the mix.
    """

    def __init__(self, workers: int, chunk_inputs: int = CHUNK_INPUTS) -> None:
        if workers < 1:
            raise ValueError("at least one worker process")
        self.workers = workers
        self.processes = workers + 1
        self.chunk_inputs = chunk_inputs
        self.failures: dict[Hashable, Failure] = {}
        self._inflight: deque[tuple[_Chunk, Future[tuple[Failure | None, float]]]] = deque()
        self._worker_spi = WORKER_SECONDS_PER_INPUT
        self._gap = 0.0  # seconds this process spends between two blocks' checks
        self._gap_start: float | None = None
        #: statistics for the log: inputs verified here and by workers, seconds spent waiting
        self.inputs_here = 0
        self.inputs_sent = 0
        self.waited = 0.0
        self.worker_seconds = 0.0
        #: a worker died (killed, out of memory): everything is verified here from then on
        self.broken = False
        # fork: workers share the parent's pages copy-on-write (about 30 MiB less than
        # forkserver/spawn, which also start a resource tracker). Create the checker
        # before any thread exists, as the daemon does.
        ctx = multiprocessing.get_context("fork")
        self._pool = ProcessPoolExecutor(workers, mp_context=ctx, initializer=_init_worker)
        for f in [self._pool.submit(_warm_up) for _ in range(workers)]:
            f.result()
        log.info("Script verification uses %d worker processes", workers)

    def begin(self, flags: int, key: Hashable = None) -> ScriptSession:
        return _ParallelSession(self, flags, key)

    # --- scheduling ---
    def _done(self, chunk: _Chunk, fut: Future[tuple[Failure | None, float]]) -> None:
        try:
            failure, seconds = fut.result()
        except BrokenProcessPool:
            self._pool_broken()
            self.inputs_here += chunk.inputs
            _record(self.failures, chunk.key, _check_items(chunk.items, chunk.flags))
            return
        _record(self.failures, chunk.key, failure)
        self.inputs_sent += chunk.inputs
        self.worker_seconds += seconds
        if chunk.inputs:
            self._worker_spi = 0.8 * self._worker_spi + 0.2 * seconds / chunk.inputs

    def _collect(self) -> None:
        inflight = self._inflight
        while inflight and inflight[0][1].done():
            self._done(*inflight.popleft())

    def _pool_broken(self) -> None:
        if not self.broken:
            self.broken = True
            log.info("Warning: a script-check worker process died; checking scripts in this "
                     "process from now on")  # fmt: skip

    def enqueue(self, chunk: _Chunk) -> None:
        if not self.broken:
            try:
                fut = self._pool.submit(_worker_check, *chunk.packed(), chunk.flags)
            except BrokenProcessPool:
                self._pool_broken()
            else:
                self._inflight.append((chunk, fut))
                self._collect()
                return
        self.inputs_here += chunk.inputs
        _record(self.failures, chunk.key, _check_items(chunk.items, chunk.flags))

    def share_work(self, reserve_seconds: float | None = None) -> None:
        """Verify here the chunks no worker has started, newest first, leaving the workers
        ``reserve_seconds`` of work (default: what they need to stay busy until the next
        block's checks arrive)."""
        now = time.perf_counter()
        if reserve_seconds is None:
            if self._gap_start is not None:
                self._gap = 0.7 * self._gap + 0.3 * (now - self._gap_start)
            reserve_seconds = self._gap * self.workers
        inflight = self._inflight
        while inflight:
            self._collect()
            waiting = sum(c.inputs for c, f in inflight if not f.done())
            if not inflight:
                break
            chunk, fut = inflight[-1]
            if (waiting - chunk.inputs) * self._worker_spi < reserve_seconds:
                break
            if not fut.cancel():  # already running or handed to a worker
                break
            inflight.pop()
            self.inputs_here += chunk.inputs
            _record(self.failures, chunk.key, _check_items(chunk.items, chunk.flags))
        self._gap_start = time.perf_counter()

    def wait_all(self) -> None:
        self.share_work(0.0)
        t0 = time.perf_counter()
        while self._inflight:
            self._done(*self._inflight.popleft())
        self.waited += time.perf_counter() - t0

    def resolve(self) -> dict[Hashable, Failure]:
        self.wait_all()
        self._gap_start = None
        out, self.failures = self.failures, {}
        return out

    def check_block_scripts(
        self, block: Block, spent: Sequence[Sequence[TxOut]], flags: int
    ) -> Failure | None:
        session = self.begin(flags, object())
        for i, outs in enumerate(spent):
            session.add(i + 1, block.txs[i + 1], list(outs))
        return session.finish()

    def close(self) -> None:
        log.info("Script checks: %d inputs verified by this process, %d by workers (busy "
                 "%.2f s); %.2f s spent waiting for workers", self.inputs_here,
                 self.inputs_sent, self.worker_seconds, self.waited)  # fmt: skip
        self._pool.shutdown(wait=True, cancel_futures=True)
