"""-assumevalid as Core has it (the scenario of Core's feature_assumevalid.py).

A chain of 2,202 blocks whose block 102 holds a transaction with a bad signature. A node
skips the scripts of a block only when the block is an ancestor of the assumed-valid block
and of the best header, the best header has the minimum chain work, and the block lies more
than two weeks' worth of work below the best header: on regtest (600 s per block of equal
work) more than 2,016 blocks. Otherwise the bad block is rejected as without -assumevalid.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from bench.chainfile import write_blk_file
from pyrite.chain.chainstate import Chainstate
from pyrite.consensus.params import ChainParams
from pyrite.node import importer
from pyrite.primitives import Block
from tests.integration.chainutil import ChainBuilder, corrupt_signature

BAD_HEIGHT = 102
LENGTH = 2202


class Chains:
    """The chain with the bad block, and a longer branch forking below it."""

    def __init__(self, builder_dir: Path) -> None:
        cb = ChainBuilder(builder_dir)
        cb.mine(BAD_HEIGHT - 1)
        tx = corrupt_signature(cb.spend(cb.coinbase_outpoint(1), to_script=cb.key.p2pkh))
        bad = cb.next_block(txs=[tx])
        rest = cb.build_chain(LENGTH - BAD_HEIGHT, parent=bad)
        self.params = cb.params
        self.main: list[Block] = [cb.active_block(h) for h in range(1, BAD_HEIGHT)]
        self.main += [bad, *rest]
        # a branch from block 101 with one block more than the main chain
        self.branch = cb.build_chain(LENGTH - BAD_HEIGHT + 2, parent=self.main[BAD_HEIGHT - 2])
        cb.close()

    def hash_at(self, height: int) -> bytes:
        return self.main[height - 1].hash


@pytest.fixture(scope="module")
def chains(tmp_path_factory: pytest.TempPathFactory) -> Chains:
    return Chains(tmp_path_factory.mktemp("builder"))


def _node(
    tmp_path: Path, params: ChainParams, assumevalid: bytes | None, headers: Sequence[Block]
) -> Chainstate:
    cs = Chainstate(tmp_path / "node", params, assumevalid=assumevalid)
    cs.open()
    for block in headers:
        cs.accept_block_header(block.header)
    return cs


def _connect(cs: Chainstate, blocks: Sequence[Block]) -> str | None:
    """Submit ``blocks`` in order; the first rejection's reason, None if all connect."""
    for block in blocks:
        result = cs.process_new_block(block).result
        if result is not None:
            return result
    return None


def test_scripts_of_deep_ancestors_are_skipped(
    chains: Chains, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    cs = _node(tmp_path, chains.params, chains.hash_at(LENGTH), chains.main)
    try:
        with caplog.at_level(logging.INFO, logger="pyrite.validation"):
            assert _connect(cs, chains.main[:200]) is None
        assert cs.height() == 200  # the bad block was connected without its scripts
        # blocks below height 2202 - 2016 are skipped, from there on verified again
        messages = [r.getMessage() for r in caplog.records if "script verification" in r.message]
        assert messages == [
            f"Disabling script verification at block #1 ({chains.hash_at(1)[::-1].hex()}).",
            f"Enabling script verification at block #186 ({chains.hash_at(186)[::-1].hex()}): "
            "block too recent relative to best header.",
        ]
    finally:
        cs.close()


def _rejected(cs: Chainstate, chains: Chains) -> None:
    try:
        result = _connect(cs, chains.main[:BAD_HEIGHT])
        assert result is not None and result.startswith("block-script-verify-flag-failed")
        assert cs.height() == BAD_HEIGHT - 1
    finally:
        cs.close()


def test_a_block_within_two_weeks_of_the_best_header_is_verified(
    chains: Chains, tmp_path: Path
) -> None:
    # the assumed-valid block is known and descends from the bad block, but the best
    # header is only 98 blocks above it (Core's node2 in feature_assumevalid.py)
    headers = chains.main[:200]
    _rejected(_node(tmp_path, chains.params, chains.hash_at(200), headers), chains)


def test_an_unknown_assumevalid_block_skips_nothing(chains: Chains, tmp_path: Path) -> None:
    _rejected(_node(tmp_path, chains.params, chains.hash_at(LENGTH), chains.main[:-1]), chains)


def test_a_block_not_below_the_assumevalid_block_is_verified(
    chains: Chains, tmp_path: Path
) -> None:
    # assumed valid: a block of the branch, which does not contain the bad block
    assumed = chains.branch[-1].hash
    headers = [*chains.main, *chains.branch]
    _rejected(_node(tmp_path, chains.params, assumed, headers), chains)


def test_a_block_off_the_best_header_chain_is_verified(chains: Chains, tmp_path: Path) -> None:
    # the bad block is below the assumed-valid block, but the branch has more work
    headers = [*chains.main, *chains.branch]
    _rejected(_node(tmp_path, chains.params, chains.hash_at(LENGTH), headers), chains)


def test_below_the_minimum_chain_work_nothing_is_skipped(chains: Chains, tmp_path: Path) -> None:
    params = dataclasses.replace(chains.params, min_chain_work=1 << 40)
    _rejected(_node(tmp_path, params, chains.hash_at(LENGTH), chains.main), chains)


def test_an_imported_file_skips_scripts_as_cores_import_does(
    chains: Chains, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """-loadblock reads every header of the file before it connects a block (Core accepts
    every block first), so -assumevalid applies to an import as to a synced header chain;
    headers that come before their parent in the file wait for it."""
    blocks = list(chains.main)
    blocks[49], blocks[50] = blocks[50], blocks[49]  # block 51 before its parent
    blk = write_blk_file([b.serialize() for b in blocks], tmp_path / "blk.dat")
    cs = Chainstate(tmp_path / "node", chains.params, assumevalid=chains.hash_at(LENGTH))
    cs.open()

    async def run_chain(fn: Callable[[], Any]) -> Any:
        return fn()

    try:
        with caplog.at_level(logging.INFO):
            loaded = asyncio.run(importer.load_external_file(blk, cs, run_chain, asyncio.Event()))
        assert loaded == LENGTH
        assert cs.height() == LENGTH  # the bad block's scripts were not run
        assert f"Read {LENGTH} block headers from blk.dat" in caplog.text
        assert "Disabling script verification at block #1 " in caplog.text
        assert "Enabling script verification at block #186 " in caplog.text
    finally:
        cs.close()
    # without -assumevalid the same file stops at the bad block
    cs = Chainstate(tmp_path / "verifying", chains.params)
    cs.open()
    try:
        asyncio.run(importer.load_external_file(blk, cs, run_chain, asyncio.Event()))
        assert cs.height() == BAD_HEIGHT - 1
    finally:
        cs.close()
