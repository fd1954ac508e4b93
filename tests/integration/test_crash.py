"""Kill pyrited with SIGKILL at random moments while it imports and while it reorganises;
after every restart its UTXO set must match its best block exactly, and it carries on."""

from __future__ import annotations

import contextlib
import random
import threading
import time
from pathlib import Path

import pytest

from bench.chainfile import read_chain, write_blk_file
from pyrite.chain.chainstate import Chainstate
from pyrite.chain.utxostats import compute_utxo_stats
from pyrite.consensus.params import get_params
from pyrite.primitives import Block
from tests.conftest import BENCH_CHAIN
from tests.integration.daemon import Daemon, RPCFailure

TIP = "10c6542b173a81182cb3512e342c1ab53d9c3fb277c830a83510b4d828a36dd2"


@pytest.fixture(scope="module")
def chain_blocks() -> list[bytes]:
    if not BENCH_CHAIN.exists():
        pytest.fail(f"benchmark chain missing: {BENCH_CHAIN}")
    return read_chain(BENCH_CHAIN)


@pytest.fixture(scope="module")
def reference_hashes(chain_blocks: list[bytes], tmp_path_factory: pytest.TempPathFactory
                     ) -> dict[int, str]:  # fmt: skip
    """hash_serialized_3 of the UTXO set at every height, from a clean in-process import."""
    d = tmp_path_factory.mktemp("reference")
    cs = Chainstate(d, get_params("regtest"), clock=lambda: 2_000_000_000)
    cs.open()
    out = {}
    try:
        for raw in [b"", *chain_blocks]:
            if raw:
                assert cs.process_new_block(Block.from_bytes(raw), raw=raw).result is None
            cs.flush()
            out[cs.height()] = compute_utxo_stats(cs.coins_db).hash_serialized[::-1].hex()
    finally:
        cs.close()
    return out


def check_consistent(node: Daemon, ref: dict[int, str]) -> int:
    height = node.rpc("getblockcount")
    info = node.rpc("gettxoutsetinfo")
    assert info["height"] == height
    assert info["bestblock"] == node.rpc("getbestblockhash")
    assert info["hash_serialized_3"] == ref[height], f"UTXO set differs at height {height}"
    assert node.rpc("verifychain", 3, 6) is True
    return int(height)


@pytest.mark.slow
def test_sigkill_during_import_and_reorg(
    tmp_path: Path, chain_blocks: list[bytes], reference_hashes: dict[int, str]
) -> None:
    rng = random.Random(1122)
    blk = write_blk_file(chain_blocks, tmp_path / "chain.dat")
    node = Daemon(tmp_path / "node", ["-dbcache=4"])
    heights = []
    try:
        # --- kills while importing ---
        for _ in range(6):
            node.start(f"-loadblock={blk}", wait=False)
            time.sleep(rng.uniform(0.5, 5.0))
            node.kill()
            node.start()
            heights.append(check_consistent(node, reference_hashes))
            node.kill()  # not even a clean stop between rounds
        node.start(f"-loadblock={blk}")
        assert node.rpc("getbestblockhash") == TIP
        check_consistent(node, reference_hashes)
        # --- kills while reorganising (invalidateblock disconnects ~100 blocks) ---
        deep = node.rpc("getblockhash", 120)
        for _ in range(3):
            t = threading.Thread(target=_call_quietly, args=(node, "invalidateblock", deep))
            t.start()
            time.sleep(rng.uniform(0.2, 3.0))
            node.kill()
            t.join(30)
            node.start()
            heights.append(check_consistent(node, reference_hashes))
            node.rpc("reconsiderblock", deep)
            assert node.rpc("getbestblockhash") == TIP
            check_consistent(node, reference_hashes)
            node.kill()
        node.start()
        assert node.rpc("getbestblockhash") == TIP
        assert node.stop() == 0
    finally:
        node.kill()
    print(f"heights found after kills: {heights}")


def test_a_write_error_stops_the_node_and_the_restart_resumes(
    tmp_path: Path, chain_blocks: list[bytes], reference_hashes: dict[int, str]
) -> None:
    """Writing a file fails mid-import (here: past a file-size limit, as on a full
    disk): the node shuts down with an error and writes nothing more (its memory may be
    half-way through a block); restarted, it is consistent and finishes the import."""
    blk = write_blk_file(chain_blocks, tmp_path / "chain.dat")
    node = Daemon(tmp_path / "node")
    try:
        node.start(f"-loadblock={blk}", wait=False, max_file_size=3_000_000)
        assert node.wait(120) == 1
        log = node.debug_log()
        assert "Fatal error while changing the chain state" in log
        assert "A fatal internal error occurred" in log
        assert "Not writing the chain state to disk after the error" in log
        node.start()
        assert check_consistent(node, reference_hashes) < 232
        node.stop()
        node.start(f"-loadblock={blk}")
        assert node.rpc("getbestblockhash") == TIP
        check_consistent(node, reference_hashes)
        assert node.stop() == 0
    finally:
        node.kill()


def _call_quietly(node: Daemon, method: str, *args: object) -> None:
    with contextlib.suppress(RPCFailure, OSError, ValueError):
        node.rpc(method, *args)
