"""Serial and parallel (-par) script checking agree, on a real block and on corruptions."""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections.abc import Iterator

import pytest

from pyrite.chain import scriptcheck
from pyrite.chain.scriptcheck import (
    SYNC_CHUNKS,
    UNCONFIRMED,
    Failure,
    ParallelScriptChecker,
    SerialScriptChecker,
    confirm_failure,
)
from pyrite.primitives import Block, Tx, TxOut
from pyrite.script.flags import CONSENSUS_FLAGS
from tests.vectors.test_bcoin_blocks import corrupt_signature, load_block

FLAGS = int(CONSENSUS_FLAGS)


@pytest.fixture(scope="module")
def parallel() -> Iterator[ParallelScriptChecker]:
    checker = ParallelScriptChecker(1)
    yield checker
    checker.close()


def _with_tx(block: Block, index: int, tx: Tx) -> Block:
    txs = list(block.txs)
    txs[index] = tx
    return Block(block.header, tuple(txs))


def _late_bad_signature() -> tuple[Block, list[list[TxOut]], int, Block]:
    """Block 928927 with the spent outputs, and a copy whose next-to-last transaction has
    a bad signature in its first input (with that transaction's index)."""
    block, spent = load_block(928927)
    index = len(block.txs) - 2
    bad = corrupt_signature(block.txs[index], 0)
    assert bad is not None
    return block, spent, index, _with_tx(block, index, bad)


def _run(checker: SerialScriptChecker | ParallelScriptChecker, block: Block,
         spent: list[list[TxOut]]) -> object:  # fmt: skip
    session = checker.begin(FLAGS)
    for i, outs in enumerate(spent):
        session.add(i + 1, block.txs[i + 1], outs)
    return session.finish()


def _confirmed(
    failures: dict[object, Failure], block: Block, spent: list[list[TxOut]]
) -> dict[object, Failure | None]:
    """``resolve``'s verdicts as the chainstate takes them: confirmed."""
    items = [(i + 1, block.txs[i + 1], outs) for i, outs in enumerate(spent)]
    return {k: confirm_failure(f, items, FLAGS) for k, f in failures.items()}


def test_parallel_matches_serial(parallel: ParallelScriptChecker) -> None:
    block, spent = load_block(928927)
    serial = SerialScriptChecker()
    assert _run(serial, block, spent) is None
    assert _run(parallel, block, spent) is None
    assert parallel.check_block_scripts(block, spent, FLAGS) is None
    # corrupt one signature early, one late: both checkers name the same input
    for index in (3, len(block.txs) - 2):
        tx = block.txs[index]
        bad = corrupt_signature(tx, 0)
        assert bad is not None
        broken = _with_tx(block, index, bad)
        want = _run(serial, broken, spent)
        assert want is not None and want[:2] == (index, 0)
        assert _run(parallel, broken, spent) == want
    # two bad signatures: both checkers name the lower one, whoever verifies which
    early, late = 3, len(block.txs) - 2
    bad_early = corrupt_signature(block.txs[early], 0)
    bad_late = corrupt_signature(block.txs[late], 0)
    assert bad_early is not None and bad_late is not None
    both = _with_tx(_with_tx(block, late, bad_late), early, bad_early)
    want = _run(serial, both, spent)
    assert want is not None and want[:2] == (early, 0)
    assert _run(parallel, both, spent) == want


def test_dead_worker_falls_back_to_this_process() -> None:
    """A worker killed (say, by the OOM killer) costs speed, never a verdict."""
    block, spent = load_block(928927)
    index = len(block.txs) // 2
    bad = corrupt_signature(block.txs[index], 0)
    assert bad is not None
    broken = _with_tx(block, index, bad)
    want = _run(SerialScriptChecker(), broken, spent)
    checker = ParallelScriptChecker(1, chunk_inputs=32)
    try:
        for w in checker._workers:
            assert w.proc.pid is not None
            os.kill(w.proc.pid, signal.SIGKILL)
        time.sleep(0.2)
        assert _run(checker, broken, spent) == want
        assert _run(checker, block, spent) is None
        assert checker.broken
    finally:
        checker.close()


@pytest.mark.parametrize("height", [928927, 928828])
def test_worker_dying_with_chunks_sent_costs_no_verdict(height: int) -> None:
    """A worker that dies holding chunks already sent (whose checks, and transactions for
    the interpreter, this process dropped when it sent them): those chunks are verified
    here, from what was sent, and the bad signature in the first of them is still found.
    928828's inputs are nearly all P2SH multisig, which go to the worker whole."""
    block, spent = load_block(height)
    first = next(i for i in range(1, len(block.txs)) if corrupt_signature(block.txs[i], 0))
    bad = corrupt_signature(block.txs[first], 0)
    assert bad is not None
    broken = _with_tx(block, first, bad)
    want = _run(SerialScriptChecker(), broken, spent)
    assert want is not None and want[:2] == (first, 0)
    checker = ParallelScriptChecker(1, chunk_inputs=32)
    worker = checker._workers[0].proc
    assert worker.pid is not None
    os.kill(worker.pid, signal.SIGSTOP)  # it takes chunks but answers none
    killer = threading.Timer(0.5, os.kill, (worker.pid, signal.SIGKILL))
    killer.start()
    try:
        assert _run(checker, broken, spent) == want
        assert checker.broken and checker.inputs_sent == 0
        assert _run(checker, block, spent) is None
    finally:
        killer.cancel()
        checker.close()


def _interpreter_failure(tx: Tx) -> Tx:
    """Input 0 (a P2WPKH spend) with an extra witness item: no longer the fast path's
    shape, and the interpreter fails it."""
    txin = tx.vin[0]
    vin = (txin._replace(witness=(*txin.witness, b"\x01")), *tx.vin[1:])
    return Tx(tx.version, vin, tx.vout, tx.locktime)


def test_lowest_failure_wins_between_interpreter_and_signature_checks(
    parallel: ParallelScriptChecker,
) -> None:
    """An input the interpreter fails outright and a standard spend whose signature check
    fails: both checkers name the lower of the two, whichever comes first in the block."""
    block, spent = load_block(928927)
    p2wpkh = [i for i in range(1, len(block.txs))
              if all(len(o.script_pubkey) == 22 for o in spent[i - 1])
              and corrupt_signature(block.txs[i], 0) is not None]  # fmt: skip
    a, b = p2wpkh[1], p2wpkh[-2]
    for interp, sig in ((a, b), (b, a)):
        bad_sig = corrupt_signature(block.txs[sig], 0)
        assert bad_sig is not None
        both = _with_tx(_with_tx(block, interp, _interpreter_failure(block.txs[interp])),
                        sig, bad_sig)  # fmt: skip
        want = _run(SerialScriptChecker(), both, spent)
        assert want is not None and want[:2] == (a, 0)
        assert _run(parallel, both, spent) == want


def test_work_while_waiting_never_costs_a_verdict() -> None:
    """``resolve(idle)`` does other work while the workers finish; that work failing is
    logged and changes no verdict."""
    block, spent, _, broken = _late_bad_signature()
    want = _run(SerialScriptChecker(), broken, spent)
    checker = ParallelScriptChecker(1, chunk_inputs=16)
    calls = 0

    def idle() -> bool:
        nonlocal calls
        calls += 1
        if calls > 3:
            raise RuntimeError("idle work broke")
        return True

    try:
        for key in ("a", "b"):
            session = checker.begin(FLAGS, key)
            for i, outs in enumerate(spent):
                session.add(i + 1, broken.txs[i + 1] if key == "a" else block.txs[i + 1], outs)
            session.defer()
        assert _confirmed(checker.resolve(idle), broken, spent) == {"a": want}
    finally:
        checker.close()


def test_inputs_of_other_shapes_go_to_the_workers_whole() -> None:
    """Inputs no fast path takes (here P2SH multisig, 1,897 of block 928828's 1,972) are
    sent to the workers with their serialized transaction and spent outputs, for the
    interpreter there; a bad signature among them gets the serial checker's verdict."""
    block, spent = load_block(928828)
    multisig = [i for i in range(1, len(block.txs))
                if spent[i - 1][0].script_pubkey[0] == 0xA9
                and corrupt_signature(block.txs[i], 0) is not None]  # fmt: skip
    assert len(multisig) > 100
    serial = SerialScriptChecker()
    checker = ParallelScriptChecker(1, chunk_inputs=64)
    try:
        assert _run(checker, block, spent) is None
        assert checker.inputs_sent > 500  # the worker ran a good share of them
        for index in (multisig[0], multisig[len(multisig) // 2], multisig[-1]):
            bad = corrupt_signature(block.txs[index], 0)
            assert bad is not None
            broken = _with_tx(block, index, bad)
            want = _run(serial, broken, spent)
            assert want is not None and want[:2] == (index, 0)
            assert _run(checker, broken, spent) == want
        # two bad inputs, one of each kind of work: the lower one is named
        p2pkh = [i for i in range(1, len(block.txs))
                 if len(spent[i - 1][0].script_pubkey) == 25
                 and corrupt_signature(block.txs[i], 0) is not None]  # fmt: skip
        a, b = sorted((multisig[len(multisig) // 3], p2pkh[-1]))
        bad_a, bad_b = corrupt_signature(block.txs[a], 0), corrupt_signature(block.txs[b], 0)
        assert bad_a is not None and bad_b is not None
        both = _with_tx(_with_tx(block, a, bad_a), b, bad_b)
        want = _run(serial, both, spent)
        assert want is not None and want[:2] == (a, 0)
        assert _run(checker, both, spent) == want
    finally:
        checker.close()


@pytest.mark.parametrize("chunk_inputs", [1, 3, 64])
def test_a_last_chunk_of_interpreter_inputs_only_is_verified(chunk_inputs: int) -> None:
    """Whatever the chunking, a chunk holding only inputs for the interpreter (no
    signature checks) is verified: a bad signature in the block's last multisig
    transaction, or in one alone at the end of a session, is found."""
    block, spent = load_block(928828)
    multisig = [i for i in range(1, len(block.txs))
                if spent[i - 1][0].script_pubkey[0] == 0xA9
                and corrupt_signature(block.txs[i], 0) is not None]  # fmt: skip
    last = multisig[-1]
    bad = corrupt_signature(block.txs[last], 0)
    assert bad is not None
    broken = _with_tx(block, last, bad)
    want = _run(SerialScriptChecker(), broken, spent)
    assert want is not None and want[:2] == (last, 0)
    checker = ParallelScriptChecker(1, chunk_inputs=chunk_inputs)
    try:
        assert _run(checker, broken, spent) == want
        # the multisig transaction alone in a session, finished and deferred
        session = checker.begin(FLAGS)
        session.add(last, bad, spent[last - 1])
        assert session.finish() == want
        session = checker.begin(FLAGS, "k")
        session.add(last, bad, spent[last - 1])
        session.defer()
        resolved = checker.resolve()
        assert resolved["k"][:2] == want[:2]
        items = [(last, bad, spent[last - 1])]
        assert {k: confirm_failure(f, items, FLAGS) for k, f in resolved.items()} == {"k": want}
    finally:
        checker.close()


def test_wind_down_keeps_few_chunks_at_the_workers_until_resolved() -> None:
    """Before the import settles its verdicts (``wind_down``) a worker holds at most
    ``SYNC_CHUNKS`` chunks, so that ``resolve`` waits for little; otherwise as many as fit
    its socket, so that it never waits for work. ``resolve`` ends the wind-down."""
    block, spent = load_block(928927)
    checker = ParallelScriptChecker(1, chunk_inputs=16)
    most = 0
    pump = checker._pump

    def watched_pump() -> None:
        nonlocal most
        pump()
        most = max(most, *(len(w.sent) for w in checker._workers))

    checker._pump = watched_pump  # type: ignore[method-assign]
    try:
        for winding_down in (False, True, False):
            most = 0
            if winding_down:
                checker.wind_down()
            session = checker.begin(FLAGS, "k")
            for i, outs in enumerate(spent):
                session.add(i + 1, block.txs[i + 1], outs)
            session.defer()
            checker.share_work()
            assert checker.resolve() == {}
            if winding_down:
                assert 0 < most <= SYNC_CHUNKS
            else:
                assert most > SYNC_CHUNKS
    finally:
        checker.close()


def test_a_worker_error_gives_no_verdict_and_no_hang(monkeypatch: pytest.MonkeyPatch) -> None:
    """A worker that fails (a bug: it reports the error) loses the verdicts of the chunks
    it held: the checker raises, then and at every later wait, rather than give a verdict
    without them or wait for answers that will not come."""
    from pyrite.chain import scriptcheck

    def failing(work: object) -> object:
        raise TypeError("deliberate")

    monkeypatch.setattr(scriptcheck, "_worker_check", failing)  # the fork inherits it
    block, spent = load_block(928927)
    checker = ParallelScriptChecker(1, chunk_inputs=16)
    errors: list[str] = []

    def run() -> None:
        session = checker.begin(FLAGS, "k")
        for i, outs in enumerate(spent):
            session.add(i + 1, block.txs[i + 1], outs)
        for _ in range(3):  # the failure itself, then each later wait
            try:
                session.defer()
                checker.resolve()
            except RuntimeError as e:
                errors.append(str(e))

    thread = threading.Thread(target=run, daemon=True)
    try:
        thread.start()
        thread.join(60)
        assert not thread.is_alive(), "the checker hangs after a worker's error"
        assert len(errors) == 3 and "TypeError: deliberate" in errors[0]
        assert all("verdicts lost" in e for e in errors[1:])
        assert all(not w.sent for w in checker._workers)
    finally:
        checker.close()


def test_a_session_is_settled_once_every_chunk_has_a_good_verdict() -> None:
    """``settled(key)``: every chunk of the deferred session has come back (from a worker
    or from this process) and none failed; a failure keeps it unsettled until resolved."""
    block, spent = load_block(928927)
    bad = corrupt_signature(block.txs[2], 0)
    assert bad is not None
    checker = ParallelScriptChecker(1, chunk_inputs=16)
    try:
        for key, blk in (("good", block), ("bad", _with_tx(block, 2, bad))):
            session = checker.begin(FLAGS, key)
            for i, outs in enumerate(spent):
                session.add(i + 1, blk.txs[i + 1], outs)
            session.defer()
        assert not checker.settled("good")  # its chunks are still out
        checker.share_work()
        for w in checker._workers:  # every answer in
            while w.sent:
                checker._answer(w, block=True)
        assert checker.settled("good") and not checker.settled("bad")
        assert set(checker.resolve()) == {"bad"}
    finally:
        checker.close()
    serial = SerialScriptChecker()
    session = serial.begin(FLAGS, "bad")
    for i, outs in enumerate(spent):
        session.add(i + 1, _with_tx(block, 2, bad).txs[i + 1], outs)
    session.defer()
    assert not serial.settled("bad") and serial.settled("other")


def test_a_failure_is_confirmed_by_the_interpreter() -> None:
    """A failed signature check names the input only; the interpreter gives the error."""
    _, spent, index, broken = _late_bad_signature()
    items = [(i + 1, broken.txs[i + 1], outs) for i, outs in enumerate(spent)]
    confirmed = confirm_failure((index, 0, UNCONFIRMED), items, FLAGS)
    assert confirmed is not None and confirmed[:2] == (index, 0) and confirmed[2]
    assert confirmed == _run(SerialScriptChecker(), broken, spent)
    # a failure with its error name is the verdict as it is
    assert confirm_failure((index, 0, "EVAL_FALSE"), items, FLAGS) == (index, 0, "EVAL_FALSE")


def test_a_check_the_interpreter_disagrees_with_costs_no_verdict(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Should a signature check fail an input that the interpreter accepts (a bug), the
    checks after it were never made: the block's every input goes to the interpreter, so
    a valid block stays valid and a bad signature later in the block is still found."""
    block, spent, index, broken = _late_bad_signature()
    want = _run(SerialScriptChecker(), broken, spent)
    assert want is not None and want[:2] == (index, 0)
    # "the first check fails"
    monkeypatch.setattr(scriptcheck, "first_failing", lambda checks, *options: 0)
    with caplog.at_level(logging.WARNING, logger="pyrite.validation"):
        assert _run(SerialScriptChecker(), block, spent) is None
    assert "interpreter accepts the input" in caplog.text
    assert _run(SerialScriptChecker(), broken, spent) == want
