"""pyrited as a real process: datadir layout, readiness, RPC, stop/SIGTERM, bad options."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.daemon import Daemon, RPCFailure

REGTEST_GENESIS = "0f9188f13cb7b2c71f2a335e3a4fc328bf5beb436012afca590b1a11466e2206"
ADDR = "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080"


@pytest.fixture
def node(tmp_path: Path) -> Daemon:
    d = Daemon(tmp_path / "node0", ["-uacomment=testnode0", "-debug", "-logtimemicros",
                                    "-debugexclude=libevent", "-disablewallet",
                                    "-v2transport=0", "-loglevel=trace", "-nologratelimit",
                                    "-logthreadnames", "-logsourcelocations"])  # fmt: skip
    yield d
    d.kill()


def test_start_layout_mine_and_stop(node: Daemon) -> None:
    node.start()
    assert node.rpc("getblockcount") == 0
    assert node.rpc("getbestblockhash") == REGTEST_GENESIS
    info = node.rpc("getnetworkinfo")
    assert isinstance(info["version"], int)
    assert "testnode0" in info["subversion"]
    hashes = node.rpc("generatetoaddress", 5, ADDR)
    assert len(hashes) == 5 and node.rpc("getblockcount") == 5
    assert node.rpc("getbestblockhash") == hashes[-1]
    net = node.netdir
    assert (net / "blocks").is_dir() and (net / "chainstate").is_dir()
    assert (net / "wallets").is_dir() and (net / ".cookie").is_file()
    assert (net / "debug.log").is_file()
    for entry in net.iterdir():
        if entry.name not in ("blocks", "chainstate", "wallets", "indexes"):
            assert entry.is_file(), f"unexpected directory {entry}"
    assert isinstance(node.rpc("stop"), str)
    assert node.wait() == 0
    assert not (net / ".cookie").exists()
    assert node.stderr() == ""
    log = node.debug_log()
    assert "UpdateTip: new best=" + hashes[-1] in log


def test_restart_keeps_chain_and_utxo_set(node: Daemon) -> None:
    node.start()
    node.rpc("generatetoaddress", 20, ADDR)
    tip = node.rpc("getbestblockhash")
    before = node.rpc("gettxoutsetinfo")
    assert node.stop() == 0
    node.start()
    assert node.rpc("getbestblockhash") == tip
    after = node.rpc("gettxoutsetinfo")
    assert after["hash_serialized_3"] == before["hash_serialized_3"]
    assert after["txouts"] == before["txouts"] == 20
    assert node.terminate() == 0  # SIGTERM stops cleanly too
    assert node.stderr() == ""


def test_bad_option_prints_error_and_exits_nonzero(tmp_path: Path) -> None:
    res = subprocess.run(
        [sys.executable, "-m", "pyrite.node.main", f"-datadir={tmp_path}", "-regtest",
         "-testnet"], capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert res.returncode != 0
    assert res.stderr.startswith("Error: ")
    res = subprocess.run(
        [sys.executable, "-m", "pyrite.node.main", f"-datadir={tmp_path / 'missing'}"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert res.returncode != 0
    assert "does not exist" in res.stderr
    res = subprocess.run(
        [sys.executable, "-m", "pyrite.node.main", f"-datadir={tmp_path}", "-regtest",
         "-assumevalid=0xnothex"], capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert res.returncode == 1
    assert res.stderr == (
        "Error: Invalid assumevalid block hash specified (0xnothex), must be up to 64 hex "
        "digits (or 0 to disable)\n"
    )


def test_unsupported_options_are_accepted_and_logged(node: Daemon) -> None:
    node.start("-blocksonly=1", "-someunknownoption=3", "-maxconnections=4")
    assert node.rpc("getblockcount") == 0
    node.stop()
    log = node.debug_log()
    assert "blocksonly" in log and "someunknownoption" in log
    assert node.stderr() == ""


def test_auth_required_and_rpc_errors(node: Daemon) -> None:
    node.start()
    status, _ = node.request({"method": "getblockcount", "id": 1}, auth="Basic Zm9vOmJhcg==")
    assert status == 401
    status, reply = node.request({"jsonrpc": "2.0", "method": "getblockhash", "params": [99],
                                  "id": 7})  # fmt: skip
    assert status == 200 and reply["error"]["code"] == -8 and "result" not in reply
    status, reply = node.request({"method": "nosuchmethod", "id": 1})
    assert status == 404 and reply["error"]["code"] == -32601 and reply["result"] is None
    status, reply = node.request([{"jsonrpc": "2.0", "method": "getblockcount", "id": 1},
                                  {"jsonrpc": "2.0", "method": "getblockhash",
                                   "params": {"height": 0}, "id": 2}])  # fmt: skip
    assert status == 200
    assert [r["result"] for r in reply] == [0, REGTEST_GENESIS]
    with pytest.raises(RPCFailure) as e:
        node.rpc("getblock", "00" * 32)
    assert e.value.code == -5
