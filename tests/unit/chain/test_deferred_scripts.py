"""Deferred script verdicts (block import with -par > 1): the chainstate connects blocks
ahead of their script checks and rolls back when a verdict comes back negative.

Uses the first 120 blocks of the shared benchmark chain (real blocks of ~2,000 inputs from
height 113 on), with one block made invalid and its descendants re-linked on top of it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.chainfile import read_chain
from pyrite.chain.chainstate import Chainstate
from pyrite.chain.index import BLOCK_FAILED_CHILD, BLOCK_FAILED_VALID
from pyrite.chain.scriptcheck import ParallelScriptChecker, ScriptChecker, SerialScriptChecker
from pyrite.chain.utxostats import UtxoStats, compute_utxo_stats
from pyrite.consensus.params import get_params
from pyrite.mining.assembler import solve
from pyrite.primitives import Block, Tx, TxOut
from tests.integration.chainutil import corrupt_signature, finalize, replace_tx, with_header

REGTEST = get_params("regtest")
N = 120
BAD = 116  # height of the block made invalid


@pytest.fixture(scope="module")
def blocks() -> list[Block]:
    return [Block.from_bytes(raw) for raw in read_chain()[:N]]


@pytest.fixture(scope="module")
def checker() -> Iterator[ParallelScriptChecker]:
    c = ParallelScriptChecker(
        1,
        chunk_inputs=64,
    )
    yield c
    c.close()


def _solved(block: Block) -> Block:
    out = solve(block, REGTEST)
    assert out is not None
    return out


def _relink(blocks: list[Block], bad_height: int, bad: Block) -> list[Block]:
    """``blocks`` with the one at ``bad_height`` replaced and its descendants re-mined."""
    out = [*blocks[: bad_height - 1], bad]
    for b in blocks[bad_height:]:
        out.append(_solved(with_header(b, prev_hash=out[-1].hash, nonce=0)))
    return out


def _with_bad_signature(blocks: list[Block]) -> list[Block]:
    block = blocks[BAD - 1]
    # a transaction whose first input is a witness spend: its txid does not change, so
    # later blocks spending its outputs still find them
    index = next(i for i, tx in enumerate(block.txs) if i > 20 and tx.vin[0].witness)
    bad_tx = corrupt_signature(block.txs[index], 0)
    return _relink(blocks, BAD, _solved(finalize(replace_tx(block, index, bad_tx))))


def _with_bad_coinbase_amount(blocks: list[Block]) -> list[Block]:
    block = blocks[BAD - 1]
    cb = block.txs[0]
    outs = (TxOut(cb.vout[0].value + 1, cb.vout[0].script_pubkey), *cb.vout[1:])
    fat = Tx(cb.version, cb.vin, outs, cb.locktime)
    return _relink(blocks, BAD, _solved(finalize(replace_tx(block, 0, fat))))


def _import(path: Path, blocks: list[Block], checker: ScriptChecker) -> Chainstate:
    cs = Chainstate(path, REGTEST, script_checker=checker)
    cs.open()
    with cs.deferred_scripts():
        for b in blocks:
            cs.process_new_block(b)
    return cs


def _reference(path: Path, blocks: list[Block]) -> UtxoStats:
    cs = Chainstate(path, REGTEST)
    cs.open()
    for b in blocks:
        cs.process_new_block(b)
    cs.flush()
    stats = compute_utxo_stats(cs.coins_db)
    cs.close()
    return stats


def test_all_valid_matches_serial(tmp_path: Path, blocks: list[Block],
                                  checker: ParallelScriptChecker) -> None:  # fmt: skip
    cs = _import(tmp_path / "deferred", blocks, checker)
    assert cs.tip().hash == blocks[-1].hash
    cs.flush()
    assert compute_utxo_stats(cs.coins_db) == _reference(tmp_path / "ref", blocks)
    cs.close()


@pytest.mark.parametrize("kind", ["signature", "coinbase-amount"])
@pytest.mark.parametrize("parallel", [True, False])
def test_failed_block_rolls_back(
    tmp_path: Path,
    blocks: list[Block],
    checker: ParallelScriptChecker,
    kind: str,
    parallel: bool,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="pyrite.validation")
    bad_chain = _with_bad_signature(blocks) if kind == "signature" else (
        _with_bad_coinbase_amount(blocks))  # fmt: skip
    used: ScriptChecker = checker if parallel else SerialScriptChecker()
    cs = _import(tmp_path / "deferred", bad_chain, used)
    # the tip is the bad block's parent; the bad block and everything on it are invalid
    assert cs.tip().hash == bad_chain[BAD - 2].hash
    bad_entry = cs.lookup(bad_chain[BAD - 1].hash)
    assert bad_entry is not None and bad_entry.status & BLOCK_FAILED_VALID
    for b in bad_chain[BAD:]:
        # connected ahead of the verdict (deferred) or refused as "bad-prevblk" (not indexed)
        e = cs.lookup(b.hash)
        assert e is None or e.status & BLOCK_FAILED_CHILD
    bad_block = bad_chain[BAD - 1]
    if kind == "signature":  # the interpreter's error, for the input named
        pairs = zip(bad_block.txs[1:], blocks[BAD - 1].txs[1:], strict=True)
        bad_tx = next(tx for tx, old in pairs if tx != old)
        detail = "Script evaluated without error but finished with a false/empty top stack element"
        want = f"block-script-verify-flag-failed ({detail}), input 0 of {bad_tx.txid_hex()}"
    else:
        want = "bad-cb-amount"
    line = f"ConnectBlock {bad_block.hash_hex()} failed, {want}"
    assert any(r.getMessage().startswith("ERROR: ConnectTip: " + line) for r in caplog.records)
    # the UTXO set is exactly that of the valid prefix, in memory and after a restart
    cs.flush()
    ref = _reference(tmp_path / "ref", blocks[: BAD - 1])
    assert compute_utxo_stats(cs.coins_db) == ref
    cs.close()
    again = Chainstate(tmp_path / "deferred", REGTEST)
    again.open()
    assert again.tip().hash == bad_chain[BAD - 2].hash
    assert compute_utxo_stats(again.coins_db) == ref
    again.close()


@pytest.mark.parametrize("workers", [0, 1])
def test_stop_at_height_holds_later_blocks_back(
    tmp_path: Path, blocks: list[Block], checker: ParallelScriptChecker, workers: int
) -> None:
    """Core's -stopatheight: no block above the tip at that height is connected, whether
    scripts are checked at once or deferred; the later blocks are stored, and connect once
    the limit is lifted."""
    cs = Chainstate(tmp_path / "node", REGTEST,
                    script_checker=checker if workers else SerialScriptChecker())  # fmt: skip
    cs.open()
    cs.stop_at_height = 114
    try:
        with cs.deferred_scripts():
            for block in blocks:
                cs.process_new_block(block)
        assert cs.height() == 114 and cs.stop_height_reached()
        assert all(cs.tree.get(b.hash).have_data() for b in blocks)  # type: ignore[union-attr]
        cs.stop_at_height = 0
        cs.activate_best_chain()
        assert cs.height() == N and not cs.stop_height_reached()
    finally:
        cs.close()


def test_a_wind_down_ends_with_the_deferred_context_even_with_nothing_pending(
    tmp_path: Path, blocks: list[Block], checker: ParallelScriptChecker
) -> None:
    """The import winds the workers down before the last block of a step; should that
    block leave no verdict pending (say, a block already known), leaving the context
    still ends the wind-down, so the next import keeps its workers busy."""
    cs = _import(tmp_path / "deferred", blocks[:3], checker)
    with cs.deferred_scripts():
        checker.wind_down()
        cs.process_new_block(blocks[2])  # a duplicate: nothing to check
    assert checker.chunk_cap == 0
    cs.close()


@pytest.mark.parametrize("workers", [0, 1])
def test_an_internal_error_mid_block_writes_nothing_more(
    tmp_path: Path, blocks: list[Block], monkeypatch: pytest.MonkeyPatch, workers: int
) -> None:
    """An error that is no block's invalidity (a bug, memory running out) in the middle
    of connecting a block, its verdicts pending or not: the chainstate refuses every later
    change, closing it writes nothing, and the next start resumes from the last flush,
    consistent, and takes the blocks again."""
    from pyrite.chain import connect
    from pyrite.errors import ChainstateFailure

    update = connect.update_coins
    calls = 0

    def failing(*args: object, **kwargs: object) -> object:
        nonlocal calls
        calls += 1
        if calls == 3000:  # a transaction of a block past the flush below
            raise MemoryError("deliberate")
        return update(*args, **kwargs)  # type: ignore[arg-type]

    checker: ScriptChecker = ParallelScriptChecker(1, chunk_inputs=64) if workers else (
        SerialScriptChecker())  # fmt: skip
    path = tmp_path / "node"
    cs = Chainstate(path, REGTEST, script_checker=checker)
    told: list[BaseException] = []
    cs.failure_listeners.append(told.append)  # (the daemon shuts down)
    cs.open()
    try:
        with cs.deferred_scripts():
            for b in blocks[:113]:
                cs.process_new_block(b)
        cs.flush()
        flushed = cs.tip().hash
        monkeypatch.setattr(connect, "update_coins", failing)
        with pytest.raises(MemoryError), cs.deferred_scripts():
            for b in blocks[113:]:
                cs.process_new_block(b)
        assert isinstance(cs.failure, MemoryError) and cs.height() > 113
        assert told == [cs.failure]
        monkeypatch.setattr(connect, "update_coins", update)
        with pytest.raises(ChainstateFailure):
            cs.process_new_block(blocks[-1])
        with pytest.raises(ChainstateFailure):
            cs.flush()
    finally:
        cs.close()  # writes nothing
        checker.close()
    again = Chainstate(path, REGTEST)
    again.open()
    assert again.tip().hash == flushed
    for b in blocks:
        again.process_new_block(b)
    assert again.tip().hash == blocks[-1].hash
    again.flush()
    assert compute_utxo_stats(again.coins_db) == _reference(tmp_path / "ref", blocks)
    again.close()


@pytest.mark.parametrize("kind", ["valid", "signature"])
def test_the_verified_prefix_is_published_between_blocks(
    tmp_path: Path, blocks: list[Block], checker: ParallelScriptChecker, kind: str
) -> None:
    """During a deferred import the tip listeners hear of the blocks whose verdicts are
    in, in order, while the import goes on; never of a block whose scripts fail or of
    one above it."""
    chain = blocks if kind == "valid" else _with_bad_signature(blocks)
    cs = Chainstate(tmp_path / "node", REGTEST, script_checker=checker)
    heard: list[int] = []
    cs.tip_listeners.append(lambda e: heard.append(e.height))
    cs.open()
    try:
        inside = 0
        with cs.deferred_scripts():
            for b in chain:
                cs.process_new_block(b)
                cs.share_script_work()
                cs.publish_verified()
            inside = len(heard)
        assert inside > 3  # heard of blocks before the verdicts were all collected
        assert heard[1:inside] == sorted(set(heard[1:inside]))
        if kind == "valid":
            assert heard[-1] == N and cs.height() == N
        else:
            assert max(heard) < BAD and heard[-1] == BAD - 1 == cs.height()
    finally:
        cs.close()
