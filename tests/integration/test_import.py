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
