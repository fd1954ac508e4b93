"""Script checks of blocks, serially or spread over worker processes (Core's -par).

A block's checks run in a *session*: ConnectBlock adds each transaction (with the outputs
it spends) as it reaches it, and the scripts run once the block is connected (in one go,
which keeps each phase's data in the caches). The session then either ``finish``es (wait
for the verdict, as Core's ConnectBlock does) or is ``defer``red: the verdict is collected
later by ``resolve``, which lets the chainstate go on to the next block while workers
still verify this one (see ``Chainstate.deferred_scripts``).

A verdict is the first failing input found, as ``(tx index in block, input index, Core
error name)``, or None when every input verifies; when several inputs fail it is the
lowest (tx, input), where Core's check queue reports one of them. A verdict from
``resolve`` may name the input only (``UNCONFIRMED`` for the error name): the chainstate
then reads the block and its undo data back and has ``confirm_failure`` find the name,
so that no transaction or coin need be kept for the rare failure while the workers
verify (``finish`` confirms its verdict itself, from the transactions it was given).

Both checkers run the scripts of each standard spend (P2PKH, P2WPKH bare or in P2SH, P2TR
key path) in the calling process up to the signature check, which leaves a *signature
check* (key, signature, signature hash). The serial checker verifies any other input there
and then, and the block's signature checks one after another. The parallel one cuts the
work into chunks of about ``CHUNK_INPUTS`` inputs: signature checks, and inputs of other
shapes (multisig, P2WSH, tapscript) whole, with their serialized transaction and spent
outputs for the interpreter in the worker. It keeps a few chunks in flight per worker
process and does the queued chunks itself meanwhile, so every core stays busy whatever
the split of work. A failed check or input is handed to the script interpreter here,
whose error is the verdict; should the interpreter accept it, every input of the block is
verified by the interpreter alone (see ``confirm_failure``).
"""

from __future__ import annotations

import contextlib
import logging
import marshal
import multiprocessing
import os
import select
import signal
import socket
import time
from collections import deque
from collections.abc import Callable, Hashable, Iterable, Sequence
from itertools import chain
from multiprocessing.connection import Connection
from typing import Protocol

from pyrite.crypto.secp import first_failing
from pyrite.primitives import Block, Tx, TxOut
from pyrite.script.errors import ScriptError
from pyrite.script.fastpath import SigCheck, check_options, try_multisig
from pyrite.script.sighash import PrecomputedTx
from pyrite.script.verify import verify_input_slow, verify_tx_inputs

log = logging.getLogger("pyrite.validation")

Failure = tuple[int, int, str]
Item = tuple[int, Tx, Sequence[TxOut]]

#: a ``Failure``'s error name while only a signature check (or a worker's interpreter)
#: has failed the input: ``confirm_failure`` finds the name
UNCONFIRMED = ""


class ScriptSession(Protocol):
    """The script checks of one block."""

    def add(self, tx_index: int, tx: Tx, spent: list[TxOut]) -> None: ...

    def finish(self) -> Failure | None:
        """Wait for this block's verdict."""
        ...

    def defer(self) -> None:
        """Leave the verdict to ``ScriptChecker.resolve`` (under the session's key); the
        work waits for ``ScriptChecker.share_work`` or ``resolve``."""
        ...

    def cancel(self) -> None:
        """The block failed otherwise: drop its checks and any verdict."""
        ...


class ScriptChecker(Protocol):
    #: processes that verify scripts, the calling one included
    processes: int

    def begin(self, flags: int, key: Hashable = None) -> ScriptSession: ...

    def resolve(self, idle: Callable[[], bool] | None = None) -> dict[Hashable, Failure]:
        """Wait for every deferred session; returns the verdicts that are failures (an
        ``UNCONFIRMED`` one for ``confirm_failure``). ``idle`` is other work to do while
        waiting, a piece per call (False: none left)."""
        ...

    def settled(self, key: Hashable) -> bool:
        """Whether the session deferred under ``key`` has every verdict in, and none a
        failure: its block may be taken as verified without waiting for the others."""
        ...

    def share_work(self) -> None:
        """Do this process's share of the deferred sessions' work now. The import calls
        it once it has let go of the block just connected, so that the block's objects
        are freed while still in the processor's caches, before the signature checks
        evict them (0.05-0.1 s of the benchmark chain's import)."""
        ...

    def wind_down(self) -> None:
        """The next block is the last before ``resolve``: keep little work in flight at
        the workers, so that ``resolve`` waits little for them (until then, as much as
        keeps them busy while this process parses and connects the next block)."""
        ...

    def check_block_scripts(
        self, block: Block, spent: Sequence[Sequence[TxOut]], flags: int
    ) -> Failure | None:
        """``spent[i]`` lists the outputs spent by ``block.txs[i + 1]``."""
        ...

    def close(self) -> None: ...


def _record(failures: dict[Hashable, Failure], key: Hashable, failure: Failure | None) -> None:
    if failure is not None:
        old = failures.get(key)
        if old is None or failure < old:
            failures[key] = failure


def _unconfirmed(failed: tuple[int, int] | None) -> Failure | None:
    return None if failed is None else (failed[0], failed[1], UNCONFIRMED)


def confirm_failure(failure: Failure, items: Sequence[Item], flags: int) -> Failure | None:
    """The verdict on ``failure`` (one of a block's, whose transactions with the outputs
    they spend ``items`` lists): as it is if it has its error name, else the interpreter's
    error for that input. Should the interpreter accept the input, the signature check
    and the interpreter disagree (a bug, logged), and the checks left after the failed
    one were never made: every input of ``items`` is then verified by the interpreter
    alone, and the first that fails is the verdict (None if none does)."""
    tx_index, n_in, code = failure
    if code != UNCONFIRMED:
        return failure
    for index, tx, spent in items:
        if index == tx_index:
            pre = PrecomputedTx(tx, spent)
            out = spent[n_in]
            try:
                verify_input_slow(pre, n_in, out.script_pubkey, out.value, flags)
            except ScriptError as e:
                return tx_index, n_in, e.code
            break
    log.warning("Signature check of input %d of transaction %d failed, but the script "
                "interpreter accepts the input: verifying every input of the block with "
                "the interpreter", n_in, tx_index)  # fmt: skip
    for index, tx, spent in items:
        pre = PrecomputedTx(tx, spent)
        for k, out in enumerate(spent):
            try:
                verify_input_slow(pre, k, out.script_pubkey, out.value, flags)
            except ScriptError as e:
                return index, k, e.code
    return None


def _run_checks(checks: list[tuple[int, list[SigCheck]]], flags: int) -> tuple[int, int] | None:
    """Perform signature checks left under ``flags`` (per transaction: its index in the
    block and the checks of its inputs, in order); returns (tx index, input index) of the
    first that fails."""
    # one pass over all of them (a call per transaction cost about 0.3 us each)
    k = first_failing(chain.from_iterable([c for _, c in checks]), *check_options(flags))
    if k < 0:
        return None
    for tx_index, tx_checks in checks:  # the failing check's transaction
        if k < len(tx_checks):
            return tx_index, tx_checks[k][0]
        k -= len(tx_checks)
    raise AssertionError("first_failing counted past the checks")


def _run_scripts(
    jobs: Iterable[tuple[int, PrecomputedTx, list[int]]], flags: int
) -> tuple[int, int] | None:
    """Run the interpreter on inputs that no fast path took (per transaction: its index in
    the block, its precomputed data and the inputs' indexes, in order); returns (tx index,
    input index) of the first that fails."""
    for tx_index, pre, inputs in jobs:
        spent = pre.spent_outputs
        assert spent is not None
        for k in inputs:
            out = spent[k]
            if try_multisig(pre, k, out.script_pubkey, out.value, flags):
                continue
            try:
                verify_input_slow(pre, k, out.script_pubkey, out.value, flags)
            except ScriptError:
                return tx_index, k
    return None


def _earlier(a: tuple[int, int] | None, b: tuple[int, int] | None) -> tuple[int, int] | None:
    if a is None:
        return b
    return a if b is None or a < b else b


#: inputs for a worker's interpreter, whole transactions at a time: (tx index, the
#: serialized transaction, the outputs it spends as (value, script) pairs, input indexes)
ScriptJob = tuple[int, bytes, list[tuple[int, bytes]], list[int]]


#: signature checks per chunk of work for a worker
CHUNK_INPUTS = 256


class _Chunk:
    """Signature checks of one session, left by the fast paths (a block's worth for the
    serial checker, ``CHUNK_INPUTS`` or so for a worker), and for a worker the inputs of
    other shapes too. Nothing else of the transactions is kept (should a check fail, the
    verdict names the input only, see ``confirm_failure``): their objects and the coins
    they spend are freed with the block, while still in the processor's caches. (Kept
    until a worker's answer, tens of milliseconds later, freeing them took 0.06-0.2 s of
    the benchmark chain's import.)"""

    __slots__ = ("_data", "checks", "flags", "inputs", "key", "pres", "scripts")

    def __init__(self, key: Hashable, flags: int) -> None:
        self.key = key
        self.flags = flags
        self.checks: list[tuple[int, list[SigCheck]]] = []
        #: inputs left to the interpreter, per transaction: (tx index, input indexes)
        self.scripts: list[tuple[int, list[int]]] = []
        #: the precomputed data of the transactions with inputs in ``scripts``
        self.pres: dict[int, PrecomputedTx] = {}
        self.inputs = 0
        self._data: bytes | None = None

    def add(
        self, tx_index: int, pre: PrecomputedTx, checks: list[SigCheck], slow: list[int]
    ) -> None:
        """Take a transaction's signature checks and the indexes of its inputs left to
        the interpreter."""
        if checks:
            self.checks.append((tx_index, checks))
            self.inputs += len(checks)
        if slow:
            self.scripts.append((tx_index, slow))
            self.inputs += len(slow)
            self.pres[tx_index] = pre

    def packed(self) -> bytes:
        """The work as a worker gets it (serialized once, when first offered): the
        checks, the ``ScriptJob``s and the flags. marshal, not pickle: the worker is a
        fork of this interpreter, and for tuples of bytes and ints marshal writes in
        about half the time (no memo); 0.09 s of the benchmark chain's import."""
        if self._data is None:
            jobs: list[ScriptJob] = []
            for tx_index, inputs in self.scripts:
                pre = self.pres[tx_index]
                spent = pre.spent_outputs
                assert spent is not None
                pairs = [(o.value, o.script_pubkey) for o in spent]
                jobs.append((tx_index, pre.tx.raw, pairs, inputs))
            self._data = marshal.dumps((self.checks, jobs, self.flags))
        return self._data

    def sent(self) -> None:
        """The chunk went to a worker: its work is dropped now (the checks, and the
        transactions of any inputs for the interpreter) rather than freed with the chunk
        when the answer comes (``run`` takes it back from ``packed``)."""
        self.checks = []
        self.scripts = []
        self.pres = {}

    def run(self) -> tuple[int, int] | None:
        """Do the chunk's work here: (tx index, input index) of the first input that fails."""
        if not self.checks and not self.scripts and self._data is not None:
            # sent to a worker that has died: the work as the worker got it
            return _worker_check(marshal.loads(self._data))[0]
        failed = _run_checks(self.checks, self.flags)
        if self.scripts:
            pres = self.pres
            jobs = [(i, pres[i], inputs) for i, inputs in self.scripts]
            failed = _earlier(failed, _run_scripts(jobs, self.flags))
        return failed


def _check_items(items: Sequence[Item], flags: int) -> Failure | None:
    """The serial checker's work: every input's scripts up to the signature check, then
    the signature checks one after the other. Keeping libsecp256k1's tables apart from
    the interpreter's working set this way measured about 2% faster on a whole import
    than verifying each signature as its input is reached."""
    chunk = _Chunk(None, flags)
    first: Failure | None = None
    for index, tx, outs in items:
        pre = PrecomputedTx(tx, outs)
        checks: list[SigCheck] = []
        bad = verify_tx_inputs(pre, flags, checks)
        if checks:
            chunk.add(index, pre, checks, [])
        if bad is not None:  # every check left so far is for an earlier input
            first = (index, bad[0], bad[1])
            break
    failed = _unconfirmed(chunk.run())
    if failed is None or (first is not None and first < failed):
        return first
    return confirm_failure(failed, items, flags)


class _Session:
    """What both sessions keep: the block's transactions with the outputs they spend, as
    ConnectBlock adds them."""

    def __init__(self, flags: int, key: Hashable) -> None:
        self.flags = flags
        self.key = key
        self.items: list[Item] = []

    def add(self, tx_index: int, tx: Tx, spent: list[TxOut]) -> None:
        self.items.append((tx_index, tx, spent))


class _SerialSession(_Session):
    def __init__(self, checker: SerialScriptChecker, flags: int, key: Hashable) -> None:
        super().__init__(flags, key)
        self.checker = checker

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

    def resolve(self, idle: Callable[[], bool] | None = None) -> dict[Hashable, Failure]:
        out, self.deferred = self.deferred, {}
        return out

    def settled(self, key: Hashable) -> bool:
        return key not in self.deferred  # (verified when deferred)

    def share_work(self) -> None:
        pass

    def wind_down(self) -> None:
        pass

    def check_block_scripts(
        self, block: Block, spent: Sequence[Sequence[TxOut]], flags: int
    ) -> Failure | None:
        return _check_items([(i + 1, block.txs[i + 1], outs) for i, outs in enumerate(spent)],
                            flags)  # fmt: skip

    def close(self) -> None:
        pass


def _worker_check(
    work: tuple[list[tuple[int, list[SigCheck]]], list[ScriptJob], int],
) -> tuple[tuple[int, int] | None, float]:
    """Runs in a worker process: a chunk's work (``_Chunk.packed``), returning (tx index,
    input index) of the first input that fails and the seconds it took."""
    t0 = time.perf_counter()
    checks, jobs, flags = work
    failed = _run_checks(checks, flags)
    if jobs:
        pres = [(i, PrecomputedTx(Tx.from_bytes(raw), [TxOut(v, s) for v, s in spent]), inputs)
                for i, raw, spent, inputs in jobs]  # fmt: skip
        failed = _earlier(failed, _run_scripts(pres, flags))
    return failed, time.perf_counter() - t0


class _ParallelSession(_Session):
    """Once the block is connected, the main process computes each standard spend's
    signature hash (the fast paths, which need the parsed transaction and its precomputed
    data); the signature checks, and the inputs of other shapes, go out in chunks.
    (Running the scripts after the block's other checks rather than transaction by
    transaction among them measured faster, as for the serial checker; the workers are
    still busy with earlier blocks meanwhile.)"""

    def __init__(self, checker: ParallelScriptChecker, flags: int, key: Hashable) -> None:
        super().__init__(flags, key)
        self.checker = checker

    def _send_checks(self, offer_last: bool = True) -> None:
        """Run the scripts of the transactions added, queueing their signature checks;
        without ``offer_last`` the last chunk is queued without offering it to a worker
        (so that when it is the only one, this process verifies it rather than wait)."""
        checker = self.checker
        flags = self.flags
        key = self.key
        size = checker.chunk_inputs
        chunk = _Chunk(key, flags)
        slow: list[int] = []
        for tx_index, tx, spent in self.items:
            pre = PrecomputedTx(tx, spent)
            checks: list[SigCheck] = []
            bad = verify_tx_inputs(pre, flags, checks, slow)
            if bad is not None:
                _record(checker.failures, key, (tx_index, bad[0], bad[1]))
            if checks or slow:
                chunk.add(tx_index, pre, checks, slow)
                if slow:
                    slow = []
                if chunk.inputs >= size:
                    checker.enqueue(chunk)
                    chunk = _Chunk(key, flags)
        self.items = []
        if chunk.checks or chunk.scripts:
            checker.enqueue(chunk, offer=offer_last)

    def finish(self) -> Failure | None:
        checker = self.checker
        items = self.items
        checker.chunk_cap = SYNC_CHUNKS  # leave this process its share of the block
        try:
            self._send_checks(offer_last=False)
            checker.wait_all()
        finally:
            checker.chunk_cap = 0
        failure = checker.failures.pop(self.key, None)
        return None if failure is None else confirm_failure(failure, items, self.flags)

    def defer(self) -> None:
        self._send_checks()

    def cancel(self) -> None:
        self.items = []
        self.checker.wait_all()  # only on a failing block: simplest to let the rest finish
        self.checker.failures.pop(self.key, None)


class _Worker:
    """A forked script-check process, its end of a socket pair, and the chunks sent to it
    (oldest first; it answers them in order)."""

    __slots__ = ("conn", "max_sent", "poller", "proc", "sent", "sent_bytes")

    def __init__(self, ctx: multiprocessing.context.ForkContext) -> None:
        here, there = ctx.Pipe(duplex=True)
        self.proc = ctx.Process(target=_worker_main, args=(there, here), daemon=True,
                                name="pyrite-scriptcheck")  # fmt: skip
        self.proc.start()
        there.close()
        self.conn = here
        self.max_sent = _grow_send_buffer(here)
        self.sent: deque[tuple[_Chunk, int]] = deque()
        self.sent_bytes = 0
        #: whether an answer (or EOF) waits, in one system call (``conn.poll()`` builds a
        #: selector each time); the connection buffers nothing beyond the socket
        self.poller = select.poll()
        self.poller.register(here.fileno(), select.POLLIN)

    def answer_waiting(self) -> bool:
        return bool(self.poller.poll(0))


def _grow_send_buffer(conn: Connection) -> int:
    """Ask for SOCKET_BUFFER bytes of send buffer; returns how much may be left unread."""
    with socket.socket(fileno=os.dup(conn.fileno())) as sock:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SOCKET_BUFFER)
        # Linux reports twice the usable size
        usable = sock.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF) // 2
    return max(min(MAX_SENT_BYTES, usable - 64_000), 64_000)


def _worker_main(conn: Connection, parent_end: Connection) -> None:
    """A worker process: answer each chunk with its verdict until told to stop (an empty
    message) or the node goes away."""
    parent_end.close()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the node's to handle
    while True:
        try:
            data = conn.recv_bytes()
        except (EOFError, OSError):
            return
        if not data:
            return
        try:
            failed, seconds = _worker_check(marshal.loads(data))
            answer: tuple[tuple[int, int] | None, float, str | None] = (failed, seconds, None)
        except Exception as e:  # a bug: report it to the node rather than die silently
            answer = (None, 0.0, f"{type(e).__name__}: {e}")
        try:
            conn.send_bytes(marshal.dumps(answer))
        except OSError:  # the node has gone (or closed us down mid-chunk)
            return


#: bytes of chunks a worker may have waiting unanswered: enough work to last it while this
#: process goes from one block's checks to the next (about 2,000 inputs), and less than
#: the socket buffers (SOCKET_BUFFER, or Linux's default of about 200 KB if the system
#: caps it lower), so sending never blocks the node
MAX_SENT_BYTES = 360_000
SOCKET_BUFFER = 1 << 20
#: chunks a worker may have unanswered while this process waits for a single block's
#: verdict (``finish``, outside the import pipeline) or goes through the last block
#: before the import settles its verdicts (``wind_down``): few, so that most of the
#: block's chunks stay queued for this process to share; with MAX_SENT_BYTES of them in
#: flight a worker took every chunk of a block of up to about 2,000 inputs and this
#: process idled
SYNC_CHUNKS = 2


class ParallelScriptChecker:
    """The calling process plus ``workers`` processes (``-par=N`` gives N-1 workers).

    Chunks wait in a queue here. Each worker is kept a few chunks ahead (as many as fit in
    its socket's buffer, about three): whenever this process adds a chunk or finishes one,
    it collects the workers' answers and tops them up from the oldest chunks. When a block
    has been connected this process verifies the queued chunks itself, newest first,
    topping the workers up between chunks. So the workers never wait for work, this
    process never waits for them except at the very end of a batch, and the share of each
    follows from their speeds.
    """

    def __init__(self, workers: int, chunk_inputs: int = CHUNK_INPUTS) -> None:
        if workers < 1:
            raise ValueError("at least one worker process")
        self.workers = workers
        self.processes = workers + 1
        self.chunk_inputs = chunk_inputs
        self.failures: dict[Hashable, Failure] = {}
        self._queue: deque[_Chunk] = deque()
        #: statistics for the log: inputs verified here and by workers, seconds spent waiting
        self.inputs_here = 0
        self.inputs_sent = 0
        self.waited = 0.0
        self.worker_seconds = 0.0
        #: a worker died (killed, out of memory): everything is verified here from then on
        self.broken = False
        #: a worker reported an error (a bug): the verdicts of what it held are lost, so
        #: this checker gives no more verdicts (``wait_all`` raises from then on)
        self._error: str | None = None
        #: chunks queued or at a worker, by session key (see ``settled``)
        self._open: dict[Hashable, int] = {}
        #: at most this many chunks in flight per worker (0: only MAX_SENT_BYTES bounds it)
        self.chunk_cap = 0
        # fork: workers share the parent's pages copy-on-write. Create the checker before
        # any thread exists, as the daemon does.
        ctx = multiprocessing.get_context("fork")
        self._workers = [_Worker(ctx) for _ in range(workers)]
        plural = "" if workers == 1 else "es"
        log.info("Script verification uses %d worker process%s", workers, plural)

    def begin(self, flags: int, key: Hashable = None) -> ScriptSession:
        return _ParallelSession(self, flags, key)

    # --- scheduling ---
    def _here(self, chunk: _Chunk) -> None:
        self.inputs_here += chunk.inputs
        _record(self.failures, chunk.key, _unconfirmed(chunk.run()))
        self._closed(chunk.key)

    def _closed(self, key: Hashable) -> None:
        """A chunk of ``key`` has its verdict."""
        left = self._open[key] - 1
        if left:
            self._open[key] = left
        else:
            del self._open[key]

    def _pool_broken(self) -> None:
        """Take back what the workers had; from now on everything is verified here."""
        if not self.broken:
            self.broken = True
            log.info("Warning: a script-check worker process died; checking scripts in this "
                     "process from now on")  # fmt: skip
        for w in self._workers:
            while w.sent:
                self._here(w.sent.popleft()[0])
            w.sent_bytes = 0

    def _answer(self, worker: _Worker, block: bool) -> bool:
        """Read one answer from ``worker`` (waiting for it if ``block``); False if none."""
        try:
            if not block and not worker.answer_waiting():
                return False
            failed, seconds, error = marshal.loads(worker.conn.recv_bytes())
        except (EOFError, OSError):
            self._pool_broken()
            return False
        if error is not None:
            # what the workers hold is forgotten (nothing waits for it), and no verdict
            # is given from now on: the chunks' verdicts are lost
            self._error = error
            self.broken = True
            self._open.clear()
            for w in self._workers:
                w.sent.clear()
                w.sent_bytes = 0
            raise RuntimeError(f"script-check worker failed: {error}")
        chunk, size = worker.sent.popleft()
        worker.sent_bytes -= size
        _record(self.failures, chunk.key, _unconfirmed(failed))
        self._closed(chunk.key)
        self.inputs_sent += chunk.inputs
        self.worker_seconds += seconds
        return True

    def _pump(self) -> None:
        """Collect the workers' answers and top them up from the oldest queued chunks."""
        queue = self._queue
        cap = self.chunk_cap
        for w in self._workers:
            if self.broken:
                return
            while w.sent and self._answer(w, block=False):
                pass
            while queue and not self.broken:
                chunk = queue[0]
                data = chunk.packed()
                if w.sent and (w.sent_bytes + len(data) > w.max_sent or len(w.sent) >= cap > 0):
                    break
                queue.popleft()
                w.sent.append((chunk, len(data)))
                w.sent_bytes += len(data)
                try:
                    w.conn.send_bytes(data)
                except OSError:
                    self._pool_broken()
                else:
                    chunk.sent()

    def enqueue(self, chunk: _Chunk, offer: bool = True) -> None:
        key = chunk.key
        self._open[key] = self._open.get(key, 0) + 1
        self._queue.append(chunk)
        if offer:
            self._pump()

    def settled(self, key: Hashable) -> bool:
        return self._error is None and key not in self._open and key not in self.failures

    def share_work(self) -> None:
        """Verify the queued chunks here, newest first, keeping the workers topped up."""
        queue = self._queue
        while queue:
            self._here(queue.pop())
            self._pump()

    def wait_all(self, idle: Callable[[], bool] | None = None) -> None:
        """Verify the queued chunks here, then wait for the workers' answers, doing
        ``idle`` work meanwhile (see ``ScriptChecker.resolve``)."""
        if self._error is not None:
            raise RuntimeError(f"script-check verdicts lost to a worker's error: {self._error}")
        self.share_work()
        t0 = time.perf_counter()
        busy = 0.0
        for w in self._workers:
            while w.sent:
                if idle is not None and not w.answer_waiting():
                    t1 = time.perf_counter()
                    try:
                        more = idle()
                    except Exception:  # optional work: it must not cost a verdict
                        log.exception("Work done while waiting for script checks failed")
                        more = False
                    busy += time.perf_counter() - t1
                    if more:
                        continue
                    idle = None
                if not self._answer(w, block=True):
                    break
        self.waited += time.perf_counter() - t0 - busy

    def resolve(self, idle: Callable[[], bool] | None = None) -> dict[Hashable, Failure]:
        self.wait_all(idle)
        self.chunk_cap = 0
        out, self.failures = self.failures, {}
        return out

    def wind_down(self) -> None:
        self.chunk_cap = SYNC_CHUNKS

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
        self._queue.clear()
        for w in self._workers:
            with contextlib.suppress(OSError):
                w.conn.send_bytes(b"")
            w.conn.close()
        for w in self._workers:
            w.proc.join(10)
            if w.proc.is_alive():
                w.proc.kill()
                w.proc.join()
