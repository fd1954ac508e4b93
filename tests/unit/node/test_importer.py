"""-loadblock's import steps: how much work one call into the chain thread does (RPC
waits for the chain thread meanwhile, as Core's RPC waits for cs_main, and a step yields
early to RPC calls that wait)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bench.chainfile import read_chain, write_blk_file
from pyrite.chain.chainstate import Chainstate
from pyrite.chain.scriptcheck import ParallelScriptChecker, ScriptChecker, SerialScriptChecker
from pyrite.consensus.params import get_params
from pyrite.node import importer

REGTEST = get_params("regtest")
N = 30


def _import_counting(
    tmp_path: Path, checker: ScriptChecker, others_waiting: Callable[[], bool] = lambda: False
) -> tuple[int, int, int]:
    """Import the first N blocks of the benchmark chain; returns (blocks loaded, calls
    into the chain thread for blocks, calls for the headers, which are all read before
    any block is connected)."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    blk = write_blk_file(read_chain()[:N], tmp_path / "blk.dat")
    cs = Chainstate(tmp_path / "node", REGTEST, script_checker=checker)
    cs.open()
    calls = {"headers": 0, "blocks": 0}

    async def run_chain(fn: Callable[[], Any]) -> Any:
        if fn.__code__.co_qualname.startswith("_accept_headers."):
            assert calls["blocks"] == 0
            calls["headers"] += 1
        else:
            if calls["blocks"] == 0:  # every header in, no block connected yet
                best = cs.tree.best_header
                assert (best.height if best else -1, cs.height()) == (N, 0)
            calls["blocks"] += 1
        return fn()

    try:
        loaded = asyncio.run(
            importer.load_external_file(
                blk, cs, run_chain, asyncio.Event(), others_waiting=others_waiting
            )
        )
        assert cs.height() == N
    finally:
        cs.close()
    return loaded, calls["blocks"], calls["headers"]


def _import(
    tmp_path: Path, checker: ScriptChecker, others_waiting: Callable[[], bool] = lambda: False
) -> tuple[int, int]:
    """(blocks loaded, calls into the chain thread for blocks) of ``_import_counting``."""
    loaded, calls, _ = _import_counting(tmp_path, checker, others_waiting)
    return loaded, calls


def test_serial_checks_give_short_steps(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Checking scripts in the chain thread settles each block as it goes: steps are short
    (here: one block each, and one that finds the end of the file), so RPC never waits
    long."""
    monkeypatch.setattr(importer, "SERIAL_STEP_SECONDS", 0.0)
    monkeypatch.setattr(importer, "STEP_SECONDS", 1e9)
    assert _import(tmp_path, SerialScriptChecker()) == (N, N + 1)


def test_worker_checks_give_long_steps(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With script-check workers each step ends by waiting for the workers' verdicts, so
    steps are long (here: the whole file in one)."""
    monkeypatch.setattr(importer, "SERIAL_STEP_SECONDS", 0.0)
    monkeypatch.setattr(importer, "STEP_SECONDS", 1e9)
    checker = ParallelScriptChecker(1)
    try:
        assert _import(tmp_path, checker) == (N, 1)
    finally:
        checker.close()


def test_short_steps_with_workers_read_ahead_in_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every step ends by waiting for the workers' verdicts, and the blocks read ahead
    meanwhile are connected in their turn: none lost, none twice."""
    monkeypatch.setattr(importer, "STEP_SECONDS", 0.0)
    checker = ParallelScriptChecker(1)
    try:
        loaded, calls = _import(tmp_path, checker)
    finally:
        checker.close()
    assert loaded == N
    assert 1 < calls <= N + 1


@pytest.mark.parametrize("workers", [0, 1])
def test_a_step_yields_to_waiting_chain_work_once_it_has_run_a_while(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, workers: int
) -> None:
    """With other chain work waiting (an RPC call), a step ends after the block in hand
    once it has run MIN_STEP_SECONDS, long as its own step may be: here one block each;
    with nothing waiting, the same settings give one step for the whole file."""
    monkeypatch.setattr(importer, "SERIAL_STEP_SECONDS", 1e9)
    monkeypatch.setattr(importer, "STEP_SECONDS", 1e9)
    monkeypatch.setattr(importer, "MIN_STEP_SECONDS", 0.0)
    checker = ParallelScriptChecker(workers) if workers else SerialScriptChecker()
    try:
        assert _import(tmp_path / "waiting", checker, lambda: True) == (N, N + 1)
        assert _import(tmp_path / "alone", checker, lambda: False) == (N, 1)
        monkeypatch.setattr(importer, "MIN_STEP_SECONDS", 1e9)  # not yet long enough
        assert _import(tmp_path / "young", checker, lambda: True) == (N, 1)
    finally:
        checker.close()


def test_a_shutdown_request_ends_a_long_step_after_the_block_in_hand(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Steps with workers are long (STEP_SECONDS): a shutdown asked for during one (here
    while its third block is processed) ends it after that block, and the import stops
    there with every verdict in."""
    monkeypatch.setattr(importer, "STEP_SECONDS", 1e9)
    blk = write_blk_file(read_chain()[:N], tmp_path / "blk.dat")
    checker = ParallelScriptChecker(1)
    cs = Chainstate(tmp_path / "node", REGTEST, script_checker=checker)
    cs.open()
    stop = asyncio.Event()
    process = cs.process_new_block
    seen = []

    def counting(*args: Any, **kwargs: Any) -> Any:
        seen.append(1)
        if len(seen) == 3:
            stop.set()
        return process(*args, **kwargs)

    monkeypatch.setattr(cs, "process_new_block", counting)

    async def run_chain(fn: Callable[[], Any]) -> Any:
        return fn()

    try:
        loaded = asyncio.run(importer.load_external_file(blk, cs, run_chain, stop))
        assert loaded == 3 and cs.height() == 3 and len(seen) == 3
    finally:
        cs.close()
        checker.close()


def test_headers_are_read_in_steps(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The headers pass is cut into steps too (a file of a whole chain holds about a
    million headers): here one header each, and one that finds the end of the file; or,
    with long steps, one for the file, ended early only once other chain work waits."""
    monkeypatch.setattr(importer, "HEADER_STEP_SECONDS", 0.0)
    checker = SerialScriptChecker()
    assert _import_counting(tmp_path / "short", checker)[::2] == (N, N + 1)
    monkeypatch.setattr(importer, "HEADER_STEP_SECONDS", 1e9)
    assert _import_counting(tmp_path / "long", checker)[::2] == (N, 1)
    monkeypatch.setattr(importer, "MIN_STEP_SECONDS", 0.0)
    assert _import_counting(tmp_path / "waiting", checker, lambda: True)[::2] == (N, N + 1)


def test_header_pass_takes_orphans_once_their_parent_is_in(tmp_path: Path) -> None:
    """Headers whose parent comes later in the file wait for it, across steps."""
    raws = read_chain()[:6]
    order = [raws[0], raws[3], raws[2], raws[1], raws[5], raws[4]]
    blk = write_blk_file(order, tmp_path / "blk.dat")
    cs = Chainstate(tmp_path / "node", REGTEST)
    cs.open()
    try:
        headers = importer.HeaderPass(cs, blk)
        heights = []
        while not headers.step(0.0):
            best = cs.tree.best_header
            heights.append(best.height if best else -1)
        assert heights == [1, 1, 1, 4, 4, 6]
        assert (headers.read, headers.accepted) == (6, 6)
    finally:
        cs.close()


def test_stop_during_the_header_pass_ends_the_import(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(importer, "HEADER_STEP_SECONDS", 0.0)
    blk = write_blk_file(read_chain()[:N], tmp_path / "blk.dat")
    cs = Chainstate(tmp_path / "node", REGTEST)
    cs.open()
    stop = asyncio.Event()
    steps = 0

    async def run_chain(fn: Callable[[], Any]) -> Any:
        nonlocal steps
        steps += 1
        if steps == 5:
            stop.set()
        return fn()

    try:
        assert asyncio.run(importer.load_external_file(blk, cs, run_chain, stop)) == 0
        best = cs.tree.best_header
        assert steps == 5 and best is not None and best.height == 5 and cs.height() == 0
    finally:
        cs.close()


def test_read_ahead_keeps_order_and_defers_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(importer._ReadAhead, "LIMIT", 10)

    def blocks() -> Iterator[Any]:
        yield from range(5)
        raise OSError("disk gone")

    ra = importer._ReadAhead(blocks())
    assert next(ra) == 0
    assert ra.read_one() and ra.read_one()  # 1 and 2 read ahead
    assert next(ra) == 1
    # 3 and 4, then the error: kept, not raised while reading ahead
    assert [ra.read_one() for _ in range(4)] == [True, True, False, False]
    assert [next(ra), next(ra), next(ra)] == [2, 3, 4]
    with pytest.raises(OSError, match="disk gone"):
        next(ra)  # raised where the blocks are used
    with pytest.raises(StopIteration):
        next(ra)


def test_read_ahead_stops_at_its_limit() -> None:
    ra = importer._ReadAhead(iter(range(100)))
    while ra.read_one():
        pass
    assert len(ra._ahead) == ra.LIMIT
    assert list(ra) == list(range(100))
