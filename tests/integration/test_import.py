"""-loadblock imports the shared benchmark chain (real blocks, 233,895 inputs) to its
known tip; -reindex and -reindex-chainstate rebuild the same state from our own files."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.chainfile import read_chain, write_blk_file
from tests.conftest import BENCH_CHAIN
from tests.integration.daemon import Daemon

TIP = "10c6542b173a81182cb3512e342c1ab53d9c3fb277c830a83510b4d828a36dd2"


@pytest.mark.slow
def test_loadblock_then_reindex(tmp_path: Path) -> None:
    if not BENCH_CHAIN.exists():
        pytest.fail(f"benchmark chain missing: {BENCH_CHAIN}")
    blk = write_blk_file(read_chain(BENCH_CHAIN), tmp_path / "bench-blk.dat")
    node = Daemon(tmp_path / "node")
    try:
        node.start(f"-loadblock={blk}", timeout=600)
        assert node.rpc("getblockcount") == 232
        assert node.rpc("getbestblockhash") == TIP
        info = node.rpc("gettxoutsetinfo")
        log = node.debug_log()
        assert "Loaded 232 blocks from external file" in log
        assert "bad-" not in log
        assert node.stop() == 0
        for option in ("-reindex-chainstate", "-reindex"):
            node.start(option, timeout=600)
            assert node.rpc("getbestblockhash") == TIP
            again = node.rpc("gettxoutsetinfo")
            assert again["hash_serialized_3"] == info["hash_serialized_3"]
            assert again["txouts"] == info["txouts"]
            assert node.stop() == 0
        blk_files = sorted(p.name for p in (node.netdir / "blocks").glob("blk*.dat"))
        assert blk_files == ["blk00000.dat"], "reindex must not copy blocks again"
        assert node.stderr() == ""
    finally:
        node.kill()


def test_loadblock_with_a_bad_signature_parallel(tmp_path: Path) -> None:
    """-par=2 imports connect blocks ahead of their script verdicts: a bad signature found
    late still leaves the node on the bad block's parent, with the block and its
    descendants marked invalid, before and after a restart."""
    from pyrite.primitives import Block
    from tests.unit.chain.test_deferred_scripts import BAD, N, _with_bad_signature

    if not BENCH_CHAIN.exists():
        pytest.fail(f"benchmark chain missing: {BENCH_CHAIN}")
    blocks = _with_bad_signature([Block.from_bytes(r) for r in read_chain(BENCH_CHAIN)[:N]])
    blk = write_blk_file([b.serialize() for b in blocks], tmp_path / "bad-blk.dat")
    node = Daemon(tmp_path / "node")
    try:
        node.start(f"-loadblock={blk}", "-par=2", timeout=300)
        parent = blocks[BAD - 2].hash_hex()
        assert node.rpc("getbestblockhash") == parent
        tips = {t["hash"]: t["status"] for t in node.rpc("getchaintips")}
        assert tips[blocks[-1].hash_hex()] == "invalid"
        assert node.rpc("getblockheader", blocks[BAD - 1].hash_hex())["confirmations"] == -1
        log = node.debug_log()
        assert (
            f"ConnectBlock {blocks[BAD - 1].hash_hex()} failed, block-script-verify-flag-failed"
            in log
        )
        info = node.rpc("gettxoutsetinfo")
        assert node.stop() == 0
        node.start(timeout=120)
        assert node.rpc("getbestblockhash") == parent
        assert node.rpc("gettxoutsetinfo")["hash_serialized_3"] == info["hash_serialized_3"]
        assert node.stop() == 0
        assert node.stderr() == ""
    finally:
        node.kill()


def test_stopatheight_stops_the_node_at_that_height(tmp_path: Path) -> None:
    """-stopatheight: the node connects up to that height during a -loadblock import, then
    shuts down by itself; on restart the chain ends there. Started again with the tip
    already at that height, it connects one more block first, as Core's does."""
    blk = write_blk_file(read_chain(BENCH_CHAIN)[:130], tmp_path / "blk.dat")
    node = Daemon(tmp_path / "node")
    try:
        node.start(f"-loadblock={blk}", "-stopatheight=120", "-par=2", wait=False)
        assert node.wait(timeout=120) == 0
        assert "Reached height 120, -stopatheight=120: shutting down" in node.debug_log()
        node.start(timeout=60)
        assert node.rpc("getblockcount") == 120
        assert node.rpc("getblockchaininfo")["headers"] == 130
        assert node.stop() == 0
        node.start(f"-loadblock={blk}", "-stopatheight=120", wait=False)
        assert node.wait(timeout=120) == 0
        assert "Reached height 121, -stopatheight=120: shutting down" in node.debug_log()
        node.start(f"-loadblock={blk}", timeout=120)
        assert node.rpc("getblockcount") == 130  # nothing holds the chain back any more
        assert node.stop() == 0
        assert node.stderr() == ""
    finally:
        node.kill()
