"""Existing bitcoind clients work against pyrited unchanged: python-bitcoinrpc's
AuthServiceProxy and our own pyrite-cli (as a separate process)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import pytest
from bitcoinrpc.authproxy import AuthServiceProxy, JSONRPCException

from tests.integration.daemon import Daemon

ADDR = "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080"


@pytest.fixture
def node(tmp_path: Path) -> Daemon:
    d = Daemon(tmp_path / "node", conf="rpcuser=alice\nrpcpassword=s3cret\n")
    d.start(wait=False)
    yield d
    d.kill()


def _wait(url: str) -> None:
    for _ in range(600):
        try:
            AuthServiceProxy(url, timeout=10).getblockcount()
            return
        except (ConnectionError, OSError, JSONRPCException):
            time.sleep(0.05)
    raise TimeoutError


def test_python_bitcoinrpc(node: Daemon) -> None:
    url = f"http://alice:s3cret@127.0.0.1:{node.rpcport}"
    _wait(url)
    rpc = AuthServiceProxy(url, timeout=60)
    assert rpc.getblockcount() == 0
    hashes = rpc.generatetoaddress(3, ADDR)
    assert rpc.getbestblockhash() == hashes[-1]
    block = rpc.getblock(hashes[0], 2)
    assert block["height"] == 1
    assert block["tx"][0]["vout"][0]["value"] == Decimal("50.00000000")
    info = rpc.getblockchaininfo()
    assert info["chain"] == "regtest" and info["blocks"] == 3
    out = rpc.gettxout(block["tx"][0]["txid"], 0)
    assert out["value"] == Decimal("50") and out["coinbase"] is True
    # (its batch_() expects an "error" key in JSON-RPC 2.0 replies, which Core omits since
    # v28 too, so batches are tested with raw requests in test_daemon.py instead)
    with pytest.raises(JSONRPCException) as e:
        rpc.getblockhash(100)
    assert e.value.error["code"] == -8
    bad = AuthServiceProxy(f"http://alice:wrong@127.0.0.1:{node.rpcport}", timeout=10)
    with pytest.raises(Exception):  # noqa: B017 - the library raises a generic error on 401
        bad.getblockcount()
    rpc.stop()
    assert node.wait() == 0


def test_pyrite_cli(node: Daemon, tmp_path: Path) -> None:
    def cli(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "pyrite.node.cli", f"-datadir={node.datadir}",
             "-rpcwait", "-rpcwaittimeout=30", *args],
            capture_output=True, text=True, timeout=90, input=stdin,
        )  # fmt: skip

    r = cli("getblockcount")
    assert r.returncode == 0 and r.stdout.strip() == "0", r.stderr
    r = cli("generatetoaddress", "2", ADDR)
    assert r.returncode == 0 and len(json.loads(r.stdout)) == 2
    r = cli("-named", "getblockhash", "height=1")
    assert r.returncode == 0 and len(r.stdout.strip()) == 64
    r = cli("-stdin", "getblockhash", stdin="2\n")
    assert r.returncode == 0 and len(r.stdout.strip()) == 64
    r = cli("getblockhash", "99")
    assert r.returncode != 0 and "error code: -8" in r.stderr
    r = cli("stop")
    assert r.returncode == 0
    assert node.wait() == 0


def test_core_functional_test_framework_proxy(tmp_path: Path) -> None:
    """Bitcoin Core's own test-framework RPC proxy (packaged as verystable) drives pyrited
    the way Core's functional tests drive bitcoind: cookie auth, JSON-RPC 2.0, named and
    mixed parameters, batches, stop(wait=0)."""
    from verystable.core.authproxy import AuthServiceProxy as CoreProxy
    from verystable.core.authproxy import JSONRPCException as CoreRPCError

    node = Daemon(tmp_path / "core-proxy", ["-uacomment=testnode0", "-debug"])
    try:
        node.start()
        cookie = (node.netdir / ".cookie").read_text().strip()
        rpc = CoreProxy(f"http://{cookie}@127.0.0.1:{node.rpcport}", timeout=60)
        assert rpc.getblockcount() == 0
        hashes = rpc.generatetoaddress(nblocks=2, address=ADDR)
        block = rpc.getblock(blockhash=hashes[1], verbosity=2)
        assert block["height"] == 2 and block["tx"][0]["vout"][0]["value"] == Decimal("50")
        assert rpc.getblockhash(2) == hashes[1]
        # positional and named together arrive as {"args": [...], name: value}
        header = rpc.getblockheader(hashes[0], verbose=False)
        assert isinstance(header, str) and len(header) == 160
        replies = rpc.batch([rpc.getblockcount.get_request(), rpc.getbestblockhash.get_request()])
        assert [r["result"] for r in replies] == [2, hashes[1]]
        with pytest.raises(CoreRPCError) as e:
            rpc.getblockhash(height=5)
        assert e.value.error["code"] == -8
        assert "testnode0" in rpc.getnetworkinfo()["subversion"]
        assert rpc.getmempoolinfo()["loaded"] is True
        rpc.stop(wait=0)
        assert node.wait() == 0
        assert node.stderr() == ""
    finally:
        node.kill()
