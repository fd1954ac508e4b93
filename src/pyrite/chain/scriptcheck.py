"""Script checks of a block, serially or spread over worker processes (Core's -par).

``check_block_scripts`` answers with the first failing input it finds, as
``(tx index in block, input index, Core error name)``, or None when every input verifies.
The parallel checker sends each worker the raw bytes of a share of the transactions with
the outputs they spend; the calling process verifies its own share meanwhile. Which
failure is reported when several inputs fail is the lowest (tx, input) found, as Core's
check queue reports one of them.
"""

from __future__ import annotations

import logging
import multiprocessing
import signal
from collections.abc import Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Protocol

from pyrite.primitives import Block, Tx, TxOut
from pyrite.script.sighash import PrecomputedTx
from pyrite.script.verify import verify_tx_inputs

log = logging.getLogger("pyrite.validation")

Failure = tuple[int, int, str]


class ScriptSession(Protocol):
    """The script checks of one block: transactions are added as ConnectBlock reaches them
    (so workers can start early) and ``finish`` waits for the verdict."""

    def add(self, tx_index: int, tx: Tx, spent: list[TxOut]) -> None: ...

    def finish(self) -> Failure | None: ...


class ScriptChecker(Protocol):
    #: processes that verify scripts, the calling one included
    processes: int

    def begin(self, flags: int) -> ScriptSession: ...

    def check_block_scripts(
        self, block: Block, spent: Sequence[Sequence[TxOut]], flags: int
    ) -> Failure | None:
        """``spent[i]`` lists the outputs spent by ``block.txs[i + 1]``."""
        ...

    def close(self) -> None: ...


def _check_txs(
    txs: Sequence[Tx], first_index: int, spent: Sequence[Sequence[TxOut]], flags: int
) -> Failure | None:
    for offset, (tx, outs) in enumerate(zip(txs, spent, strict=True)):
        bad = verify_tx_inputs(PrecomputedTx(tx, outs), flags)
        if bad is not None:
            return first_index + offset, bad[0], bad[1]
    return None


def _check_indexed(items: Sequence[tuple[int, Tx, Sequence[TxOut]]], flags: int) -> Failure | None:
    for index, tx, outs in items:
        bad = verify_tx_inputs(PrecomputedTx(tx, outs), flags)
        if bad is not None:
            return index, bad[0], bad[1]
    return None


class _SerialSession:
    def __init__(self, flags: int) -> None:
        self.flags = flags
        self.items: list[tuple[int, Tx, Sequence[TxOut]]] = []

    def add(self, tx_index: int, tx: Tx, spent: list[TxOut]) -> None:
        self.items.append((tx_index, tx, spent))

    def finish(self) -> Failure | None:
        return _check_indexed(self.items, self.flags)


class SerialScriptChecker:
    """Everything in the calling thread (``-par=1``)."""

    processes = 1

    def begin(self, flags: int) -> ScriptSession:
        return _SerialSession(flags)

    def check_block_scripts(
        self, block: Block, spent: Sequence[Sequence[TxOut]], flags: int
    ) -> Failure | None:
        return _check_txs(block.txs[1:], 1, spent, flags)

    def close(self) -> None:
        pass


def _worker_check(
    items: list[tuple[int, bytes, list[tuple[int, bytes]]]], flags: int
) -> Failure | None:
    """Runs in a worker process: parse the transactions and verify every input."""
    parsed = [
        (index, Tx.from_bytes(raw), [TxOut(v, s) for v, s in outs]) for index, raw, outs in items
    ]
    return _check_indexed(parsed, flags)


def _warm_up() -> int:
    return 0


def _init_worker() -> None:
    """Workers leave Ctrl-C (SIGINT to the whole process group) to the node, which shuts
    them down in order; otherwise each would print a KeyboardInterrupt traceback."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


#: inputs per chunk handed to a worker while a block is being connected
CHUNK_INPUTS = 512
#: fraction of a block's inputs the connecting process verifies itself (it also connects)
MAIN_FRACTION = 0.5


class _ParallelSession:
    def __init__(self, pool: ProcessPoolExecutor, workers: int, flags: int) -> None:
        self.pool = pool
        self.flags = flags
        self.main_fraction = MAIN_FRACTION if workers == 1 else 1.0 / (workers + 1)
        self.mine: list[tuple[int, Tx, Sequence[TxOut]]] = []
        self.mine_inputs = 0
        self.sent_inputs = 0
        self.chunk: list[tuple[int, bytes, list[tuple[int, bytes]]]] = []
        self.chunk_inputs = 0
        self.futures: list[Future[Failure | None]] = []

    def add(self, tx_index: int, tx: Tx, spent: list[TxOut]) -> None:
        n = len(spent)
        total = self.mine_inputs + self.sent_inputs + self.chunk_inputs + n
        if self.mine_inputs + n <= self.main_fraction * total:
            self.mine.append((tx_index, tx, spent))
            self.mine_inputs += n
            return
        self.chunk.append(
            (tx_index, tx.raw or tx.serialize(), [(o.value, o.script_pubkey) for o in spent])
        )
        self.chunk_inputs += n
        if self.chunk_inputs >= CHUNK_INPUTS:
            self._send()

    def _send(self) -> None:
        if self.chunk:
            self.futures.append(self.pool.submit(_worker_check, self.chunk, self.flags))
            self.sent_inputs += self.chunk_inputs
            self.chunk = []
            self.chunk_inputs = 0

    def finish(self) -> Failure | None:
        self._send()
        failures = []
        mine = _check_indexed(self.mine, self.flags)
        if mine is not None:
            failures.append(mine)
        for f in self.futures:
            res = f.result()
            if res is not None:
                failures.append(res)
        return min(failures) if failures else None


class ParallelScriptChecker:
    """The calling process plus ``workers`` processes (``-par=N`` gives N-1 workers)."""

    def __init__(self, workers: int) -> None:
        if workers < 1:
            raise ValueError("at least one worker process")
        self.workers = workers
        self.processes = workers + 1
        # fork: workers share the parent's pages copy-on-write (about 30 MiB less than
        # forkserver/spawn, which also start a resource tracker). Create the checker
        # before any thread exists, as the daemon does.
        ctx = multiprocessing.get_context("fork")
        self._pool = ProcessPoolExecutor(workers, mp_context=ctx, initializer=_init_worker)
        for f in [self._pool.submit(_warm_up) for _ in range(workers)]:
            f.result()
        log.info("Script verification uses %d worker processes", workers)

    def begin(self, flags: int) -> ScriptSession:
        return _ParallelSession(self._pool, self.workers, flags)

    def check_block_scripts(
        self, block: Block, spent: Sequence[Sequence[TxOut]], flags: int
    ) -> Failure | None:
        session = self.begin(flags)
        for i, outs in enumerate(spent):
            session.add(i + 1, block.txs[i + 1], list(outs))
        return session.finish()

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
