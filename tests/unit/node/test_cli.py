"""pyrite-cli against an in-process RPC server running in a background thread."""

from __future__ import annotations

import io
import socket
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from pyrite.node import cli
from pyrite.rpc.errors import RPC_INVALID_PARAMETER, RPCError
from pyrite.rpc.jsonrpc import RequestContext
from pyrite.rpc.jsonutil import BTCAmount
from pyrite.rpc.server import RPCServer
from tests.unit.rpc.test_server import ServerThread


@dataclass
class Result:
    code: int
    out: str
    err: str


@dataclass
class Node:
    datadir: Path
    port: int
    thread: ServerThread
    received: list[tuple[str, list[Any]]]

    def cli(self, *args: str, stdin: str = "", base: bool = True) -> Result:
        out, err = io.StringIO(), io.StringIO()
        prefix = [f"-datadir={self.datadir}", f"-rpcport={self.port}"] if base else []
        code = cli.run([*prefix, *args], stdin=io.StringIO(stdin), stdout=out, stderr=err)
        return Result(code, out.getvalue(), err.getvalue())


def _install(server: RPCServer, received: list[tuple[str, list[Any]]]) -> None:
    def record(name: str) -> Any:
        def handler(params: list[Any], ctx: RequestContext) -> Any:
            received.append((name, params))
            return params

        return handler

    server.register("getblockhash", record("getblockhash"), ["height"], "blockchain", required=1)
    server.register(
        "getblock", record("getblock"), ["blockhash", "verbosity|verbose"], "blockchain"
    )
    server.register("echo", record("echo"), ["arg0", "arg1", "arg2"], "hidden")

    def text(params: list[Any], ctx: RequestContext) -> str:
        return "line one\nline two"

    def nothing(params: list[Any], ctx: RequestContext) -> None:
        return None

    def info(params: list[Any], ctx: RequestContext) -> dict[str, Any]:
        return {"amount": BTCAmount(30_000_000), "empty": [], "obj": {}, "nested": {"a": [1]}}

    def fail(params: list[Any], ctx: RequestContext) -> None:
        raise RPCError(RPC_INVALID_PARAMETER, "Invalid parameter, bad thing")

    def wallet(params: list[Any], ctx: RequestContext) -> Any:
        return ctx.wallet_name

    server.register("gettext", text, [], "control")
    server.register("getnothing", nothing, [], "control")
    server.register("getinfo", info, [], "control")
    server.register("fail", fail, [], "control")
    server.register("getwalletname", wallet, [], "wallet")


@pytest.fixture
def node(tmp_path: Path) -> Iterator[Node]:
    datadir = tmp_path / "data dir"
    (datadir / "regtest").mkdir(parents=True)
    (datadir / "bitcoin.conf").write_text("regtest=1\n[regtest]\nrpcport=1\n")
    server = RPCServer([("127.0.0.1", 0)], cookie_path=datadir / "regtest" / ".cookie")
    received: list[tuple[str, list[Any]]] = []
    _install(server, received)
    with ServerThread(server) as thread:
        yield Node(datadir, thread.port, thread, received)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


# -- calls and conversion -------------------------------------------------------------------


def test_cookie_auth_and_json_conversion(node: Node) -> None:
    result = node.cli("getblockhash", "5")
    assert result == Result(0, "[\n  5\n]\n", "")
    assert node.received == [("getblockhash", [5])]
    assert node.cli("getblock", "00ab", "2").out == '[\n  "00ab",\n  2\n]\n'
    assert node.cli("echo", "1", "true").out == '[\n  "1",\n  "true"\n]\n'  # not in the table


def test_named_arguments(node: Node) -> None:
    assert node.cli("-named", "getblock", "blockhash=00ab", "verbosity=0").out == (
        '[\n  "00ab",\n  0\n]\n'
    )
    assert node.cli("-named", "getblock", "verbose=1", "blockhash=x").out == '[\n  "x",\n  1\n]\n'
    assert node.cli("-named", "getblock", "00ab", "verbosity=2").out == '[\n  "00ab",\n  2\n]\n'
    result = node.cli("-named", "getblock", "bogus=1")
    assert result.code == 8
    assert result.err == "error code: -8\nerror message:\nUnknown named parameter bogus\n"


def test_stdin_arguments(node: Node) -> None:
    assert node.cli("-stdin", "getblock", stdin="00ab\n1\n").out == '[\n  "00ab",\n  1\n]\n'
    result = node.cli("-stdin", "-named", "getblock", stdin="blockhash=cd\nverbosity=0")
    assert result.out == '[\n  "cd",\n  0\n]\n'


def test_stdinrpcpass_and_user_password(tmp_path: Path) -> None:
    server = RPCServer([("127.0.0.1", 0)], rpcuser="u", rpcpassword="secret pw")
    _install(server, [])
    with ServerThread(server) as st:
        node = Node(tmp_path, st.port, st, [])
        assert node.cli("-rpcuser=u", "-stdinrpcpass", "gettext", stdin="secret pw\n").code == 0
        result = node.cli("-rpcuser=u", "-stdin", "-stdinrpcpass", "getblock", stdin="secret pw\nx")
        assert result.out == '[\n  "x"\n]\n'
        assert node.cli("-rpcuser=u", "-rpcpassword=secret pw", "gettext").code == 0
        wrong = node.cli("-rpcuser=u", "-rpcpassword=nope", "gettext")
        assert wrong.code == 1
        assert wrong.err.startswith(
            "error: Authorization failed: Incorrect rpcuser or rpcpassword were specified."
        )
        empty = node.cli("-stdinrpcpass", "gettext")
        assert empty.err == (
            "error: -stdinrpcpass specified but failed to read from standard input\n"
        )


def test_output_formats(node: Node) -> None:
    assert node.cli("gettext") == Result(0, "line one\nline two\n", "")
    assert node.cli("getnothing") == Result(0, "", "")
    assert node.cli("getinfo").out == (
        "{\n"
        '  "amount": 0.30000000,\n'
        '  "empty": [\n  ],\n'
        '  "obj": {\n  },\n'
        '  "nested": {\n    "a": [\n      1\n    ]\n  }\n'
        "}\n"
    )


def test_wallet_endpoint(node: Node) -> None:
    assert node.cli("-rpcwallet=my wallet/1", "getwalletname").out == "my wallet/1\n"
    assert node.cli("getwalletname").out == ""


# -- errors and exit codes ------------------------------------------------------------------


def test_rpc_error_output_and_exit_code(node: Node) -> None:
    assert node.cli("fail") == Result(
        8, "", "error code: -8\nerror message:\nInvalid parameter, bad thing\n"
    )
    missing = node.cli("nosuchmethod")
    assert missing.err == "error code: -32601\nerror message:\nMethod not found\n"
    assert missing.code == 32601
    usage = node.cli("getblockhash")
    assert usage == Result(1, "", "error code: -1\nerror message:\ngetblockhash height\n")


def test_bad_json_argument(node: Node) -> None:
    assert node.cli("getblockhash", "abc") == Result(1, "", "error: Error parsing JSON: abc\n")
    assert node.received == []


def test_connection_failure(tmp_path: Path) -> None:
    port = free_port()
    node = Node(tmp_path, port, None, [])  # type: ignore[arg-type]
    result = node.cli("-regtest", "getblockcount")
    assert result.code == 1
    assert result.out == ""
    assert f"Could not connect to the server 127.0.0.1:{port}\n\n" in result.err
    assert "Make sure the bitcoind server is running and that you are connecting to the " in (
        result.err
    )


def test_cookie_problems(node: Node, tmp_path: Path) -> None:
    (node.datadir / "regtest" / ".cookie").write_text("__cookie__:wrong")
    bad = node.cli("gettext")
    assert bad.code == 1
    assert "Cookie file credentials were invalid" in bad.err
    (node.datadir / "regtest" / ".cookie").unlink()
    missing = node.cli("gettext")
    assert "Failed to read cookie file and no rpcpassword was specified." in missing.err
    disabled = node.cli("-norpccookiefile", "gettext")
    assert "Cookie file was disabled via -norpccookiefile" in disabled.err


def test_option_errors_and_usage(tmp_path: Path) -> None:
    out, err = io.StringIO(), io.StringIO()
    assert cli.run([], stdout=out, stderr=err, home=str(tmp_path)) == 1
    assert "Usage:" in out.getvalue()
    assert err.getvalue() == "Error: too few parameters\n"
    assert Node(tmp_path, 1, None, []).cli("-help", base=False).code == 0  # type: ignore[arg-type]
    result = Node(tmp_path, 1, None, []).cli("-nosuchoption", "x", base=False)  # type: ignore[arg-type]
    assert result == Result(
        1, "", "Error parsing command line arguments: Invalid parameter -nosuchoption\n"
    )
    missing = tmp_path / "missing"
    result = Node(missing, 1, None, []).cli("x")  # type: ignore[arg-type]
    assert result.err == f'Error: Specified data directory "{missing}" does not exist.\n'
    both = Node(tmp_path, 1, None, []).cli("-regtest", "-testnet", "x")  # type: ignore[arg-type]
    assert both.err.startswith("Error: Invalid combination of -regtest, -signet")
    nothing = Node(tmp_path, 1, None, []).cli()  # type: ignore[arg-type]
    assert nothing == Result(1, "", "error: too few parameters (need at least command)\n")


def test_rpcwait_rides_out_warmup(node: Node, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli, "RETRY_INTERVAL", 0.05)
    node.thread.server.set_warmup("Loading block index…")
    assert node.cli("gettext").err == "error code: -28\nerror message:\nLoading block index…\n"
    timer = threading.Timer(0.3, node.thread.server.set_warmup, args=(None,))
    timer.start()
    try:
        assert node.cli("-rpcwait", "-rpcwaittimeout=10", "gettext").out == "line one\nline two\n"
    finally:
        timer.cancel()


def test_rpcwait_times_out(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli, "RETRY_INTERVAL", 0.05)
    node = Node(tmp_path, free_port(), None, [])  # type: ignore[arg-type]
    result = node.cli("-rpcwait", "-rpcwaittimeout=1", "gettext")
    assert result.code == 1
    assert result.err.startswith("error: timeout on transient error: Could not connect")


def test_main_exits_with_the_code(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    monkeypatch.setattr(sys, "argv", ["pyrite-cli", f"-datadir={missing}", "getblockcount"])
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    with pytest.raises(SystemExit) as info:
        cli.main()
    assert info.value.code == 1


# -- pure helpers ---------------------------------------------------------------------------


def test_convert_params_tables() -> None:
    def pos(method: str, *args: str) -> str:
        return cli.write_json(cli.convert_params(method, args))

    def named(method: str, *args: str) -> str:
        return cli.write_json(cli.convert_named_params(method, args))

    assert pos("getblock", "h", "1") == '["h",1]'
    assert pos("generatetoaddress", "1", "bcrt1q", "5") == '[1,"bcrt1q",5]'
    assert pos("waitfornewblock", "100") == "[100]"
    assert pos("submitblock", "00") == '["00"]'
    assert pos("invalidateblock", "00") == '["00"]'
    assert pos("getblockstats", "00ff") == '["00ff"]'  # JSON, else a string
    assert pos("getblockstats", "7") == "[7]"
    assert pos("logging", '["net"]', "[]") == '[["net"],[]]'
    assert pos("sendtoaddress", "a", "0.1") == '["a",0.1]'  # numbers keep their exact text
    assert named("stop", "wait=0") == '{"wait":0}'
    assert named("getblock", "x", "verbosity=1") == '{"verbosity":1,"args":["x"]}'
    assert named("getblock", "verbose=true") == '{"verbose":true}'


def test_write_json_layout() -> None:
    value = cli.parse_json('{"a":[],"b":{},"c":[1,{"d":null}],"e":0.30000000,"f":"é"}')
    assert cli.write_json(value) == '{"a":[],"b":{},"c":[1,{"d":null}],"e":0.30000000,"f":"é"}'
    assert cli.write_json([], indent=2) == "[\n]"
    assert cli.write_json({"c": [1, {"d": None}]}, indent=2) == (
        '{\n  "c": [\n    1,\n    {\n      "d": null\n    }\n  ]\n}'
    )
