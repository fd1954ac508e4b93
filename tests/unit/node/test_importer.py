"""-loadblock's import steps: how much work one call into the chain thread does (RPC
waits for the chain thread meanwhile, as Core's RPC waits for cs_main)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
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


def _import(tmp_path: Path, checker: ScriptChecker) -> tuple[int, int]:
    """Import the first N blocks of the benchmark chain; returns (blocks loaded, calls
    into the chain thread)."""
    blk = write_blk_file(read_chain()[:N], tmp_path / "blk.dat")
    cs = Chainstate(tmp_path / "node", REGTEST, script_checker=checker)
    cs.open()
    calls = 0

    async def run_chain(fn: Callable[[], Any]) -> Any:
        nonlocal calls
        calls += 1
        return fn()

    try:
        loaded = asyncio.run(importer.load_external_file(blk, cs, run_chain, asyncio.Event()))
        assert cs.height() == N
    finally:
        cs.close()
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
