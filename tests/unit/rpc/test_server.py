"""The RPC server over real HTTP on 127.0.0.1 (ephemeral ports), driven with http.client."""

from __future__ import annotations

import asyncio
import base64
import http.client
import json
import re
import socket
import threading
import time
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import pytest

from pyrite.rpc.errors import RPC_INVALID_PARAMETER, RPCError
from pyrite.rpc.http import parse_allow_ip, rpc_bind_endpoints, rpcauth_hmac, split_host_port
from pyrite.rpc.jsonrpc import RequestContext
from pyrite.rpc.jsonutil import BTCAmount, amount_from_value, json_dumps
from pyrite.rpc.server import RPCServer

T = TypeVar("T")
TIMEOUT = 10.0


class ServerThread:
    """Runs an RPCServer on its own event loop in a background thread."""

    def __init__(self, server: RPCServer) -> None:
        self.server = server
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._main, daemon=True)

    def _main(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(TIMEOUT)

    def __enter__(self) -> ServerThread:
        self._thread.start()
        self.run(self.server.start())
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self.run(self.server.stop(grace=2.0))
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(TIMEOUT)
            self.loop.close()

    @property
    def port(self) -> int:
        return self.server.addresses[0][1]


class Handlers:
    """Dummy methods registered on the test servers; ``calls`` records every execution."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, list[Any]]] = []
        self.release = asyncio.Event()

    def install(self, server: RPCServer) -> None:
        server.register("getblockhash", self.getblockhash, ["height"], "blockchain", required=1)
        server.register("echo", self.echo, ["a", "b", "c"], "control")
        server.register("amounts", self.amounts, [], "wallet")
        server.register("fail", self.fail, [], "control")
        server.register("crash", self.crash, [], "control")
        server.register("where", self.where, [], "wallet")
        server.register("waitforit", self.waitforit, [], "blockchain")
        server.register("releaseit", self.releaseit, [], "blockchain")

    def getblockhash(self, params: list[Any], ctx: RequestContext) -> str:
        self.calls.append(("getblockhash", params))
        return f"{type(params[0]).__name__}:{params[0]}"

    def echo(self, params: list[Any], ctx: RequestContext) -> list[Any]:
        self.calls.append(("echo", params))
        return params

    def amounts(self, params: list[Any], ctx: RequestContext) -> dict[str, Any]:
        return {
            "amount": BTCAmount(50 * 100_000_000),
            "fee": BTCAmount(0),
            "change": BTCAmount(30_000_000),
            "negative": BTCAmount(-1),
            "exact": Decimal("0.30000000"),
        }

    async def fail(self, params: list[Any], ctx: RequestContext) -> None:
        raise RPCError(RPC_INVALID_PARAMETER, "bad thing")

    def crash(self, params: list[Any], ctx: RequestContext) -> None:
        raise ZeroDivisionError("kaboom")

    def where(self, params: list[Any], ctx: RequestContext) -> Any:
        return ctx.wallet_name

    async def waitforit(self, params: list[Any], ctx: RequestContext) -> str:
        async with asyncio.timeout(TIMEOUT):
            await self.release.wait()
        return "released"

    def releaseit(self, params: list[Any], ctx: RequestContext) -> None:
        self.release.set()


@contextmanager
def running(tmp_path: Path, **kwargs: Any) -> Iterator[tuple[ServerThread, Handlers, str]]:
    """A started server with the dummy handlers; yields (thread, handlers, cookie auth)."""
    kwargs.setdefault("cookie_path", tmp_path / ".cookie")
    server = RPCServer([("127.0.0.1", 0)], **kwargs)
    handlers = Handlers()
    handlers.install(server)
    with ServerThread(server) as st:
        cookie = (tmp_path / ".cookie").read_text() if kwargs["cookie_path"] else ""
        yield st, handlers, cookie


def basic(userpass: str) -> str:
    return "Basic " + base64.b64encode(userpass.encode()).decode()


def post(
    port: int,
    body: str | bytes,
    auth: str | None,
    path: str = "/",
    conn: http.client.HTTPConnection | None = None,
) -> tuple[int, http.client.HTTPResponse, bytes]:
    own = conn is None
    conn = conn or http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
    headers = {"Content-Type": "application/json"}
    if auth is not None:
        headers["Authorization"] = basic(auth)
    try:
        conn.request("POST", path, body=body, headers=headers)
        response = conn.getresponse()
        data = response.read()
    finally:
        if own:
            conn.close()
    return response.status, response, data


def rpc(port: int, auth: str, payload: Any, path: str = "/") -> tuple[int, Any]:
    status, _, data = post(port, json.dumps(payload), auth, path)
    return status, json.loads(data, parse_float=Decimal) if data else None


def raw_exchange(port: int, data: bytes) -> bytes:
    """Send bytes on a fresh socket and read until the server closes it."""
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as sock:
        sock.sendall(data)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


# -- authentication -------------------------------------------------------------------------


def test_cookie_file_written_and_accepted_then_removed(tmp_path: Path) -> None:
    with running(tmp_path) as (st, _, cookie):
        assert re.fullmatch(r"__cookie__:[0-9a-f]{64}", cookie)
        assert (tmp_path / ".cookie").stat().st_mode & 0o777 == 0o600
        status, reply = rpc(st.port, cookie, {"method": "getblockhash", "params": [3], "id": 1})
        assert status == 200
        assert reply == {"result": "int:3", "error": None, "id": 1}
    assert not (tmp_path / ".cookie").exists()


def test_rpcuser_rpcpassword(tmp_path: Path) -> None:
    with running(tmp_path, rpcuser="alice", rpcpassword="s3cret") as (st, _, cookie):
        assert rpc(st.port, "alice:s3cret", {"method": "echo", "id": 1})[0] == 200
        assert rpc(st.port, cookie, {"method": "echo", "id": 1})[0] == 200
        assert rpc(st.port, "alice:wrong", {"method": "echo", "id": 1})[0] == 401


def test_rpcauth_entry(tmp_path: Path) -> None:
    entry = "bob:abcd$" + rpcauth_hmac("abcd", "hunter2")
    with running(tmp_path, rpcauth=[entry, "carol:00$ff"], cookie_path=None) as (st, _, _c):
        assert rpc(st.port, "bob:hunter2", {"method": "echo", "id": 1})[0] == 200
        assert rpc(st.port, "bob:hunter3", {"method": "echo", "id": 1})[0] == 401
        assert rpc(st.port, "carol:hunter2", {"method": "echo", "id": 1})[0] == 401


def test_invalid_rpcauth_is_rejected() -> None:
    with pytest.raises(ValueError, match="Invalid -rpcauth argument"):
        RPCServer(rpcauth=["no-salt-here"])


def test_missing_and_wrong_credentials_give_401_and_run_nothing(tmp_path: Path) -> None:
    with running(tmp_path) as (st, handlers, cookie):
        body = json.dumps({"method": "echo", "params": [1], "id": 1})
        status, response, data = post(st.port, body, None)
        assert status == 401
        assert response.getheader("WWW-Authenticate") == 'Basic realm="jsonrpc"'
        assert data == b""
        started = time.monotonic()
        status, response, _ = post(st.port, body, "__cookie__:" + "0" * 64)
        assert status == 401
        assert time.monotonic() - started >= 0.2  # brute-force deterrent
        assert response.getheader("WWW-Authenticate") == 'Basic realm="jsonrpc"'
        assert post(st.port, body, "garbage-without-colon")[0] == 401
        assert handlers.calls == []
        assert post(st.port, body, cookie)[0] == 200
        assert handlers.calls == [("echo", [1])]


# -- reply shapes ---------------------------------------------------------------------------


def test_legacy_and_v2_success_shapes(tmp_path: Path) -> None:
    with running(tmp_path) as (st, _, cookie):
        status, response, data = post(
            st.port, json.dumps({"method": "getblockhash", "params": [7], "id": "a"}), cookie
        )
        assert status == 200
        assert response.getheader("Content-Type") == "application/json"
        assert data == b'{"result":"int:7","error":null,"id":"a"}\n'
        v1 = {"jsonrpc": "1.0", "method": "echo", "id": 2}
        assert rpc(st.port, cookie, v1) == (200, {"result": [], "error": None, "id": 2})
        v2 = {"jsonrpc": "2.0", "method": "getblockhash", "params": [7], "id": 3}
        assert rpc(st.port, cookie, v2) == (200, {"jsonrpc": "2.0", "result": "int:7", "id": 3})
        no_id = {"method": "echo"}
        assert rpc(st.port, cookie, no_id) == (200, {"result": [], "error": None})


def test_error_shapes_and_statuses(tmp_path: Path) -> None:
    with running(tmp_path) as (st, _, cookie):
        error = {"code": -8, "message": "bad thing"}
        assert rpc(st.port, cookie, {"method": "fail", "id": 1}) == (
            500,
            {"result": None, "error": error, "id": 1},
        )
        assert rpc(st.port, cookie, {"jsonrpc": "2.0", "method": "fail", "id": 1}) == (
            200,
            {"jsonrpc": "2.0", "error": error, "id": 1},
        )
        not_found = {"code": -32601, "message": "Method not found"}
        assert rpc(st.port, cookie, {"method": "nope", "id": 1}) == (
            404,
            {"result": None, "error": not_found, "id": 1},
        )
        assert rpc(st.port, cookie, {"jsonrpc": "2.0", "method": "nope", "id": 1}) == (
            200,
            {"jsonrpc": "2.0", "error": not_found, "id": 1},
        )
        status, reply = rpc(st.port, cookie, {"id": 5})
        assert status == 400
        assert reply["error"] == {"code": -32600, "message": "Missing method"}
        status, reply = rpc(st.port, cookie, {"jsonrpc": "3.0", "method": "echo", "id": 5})
        assert status == 400
        assert reply["error"]["message"] == "JSON-RPC version not supported"
        status, reply = rpc(st.port, cookie, {"method": "echo", "params": 5, "id": 5})
        assert (status, reply["error"]["code"]) == (400, -32600)


def test_handler_exception_becomes_misc_error(tmp_path: Path) -> None:
    with running(tmp_path) as (st, _, cookie):
        status, reply = rpc(st.port, cookie, {"method": "crash", "id": 1})
        assert (status, reply["error"]) == (500, {"code": -1, "message": "kaboom"})
        assert rpc(st.port, cookie, {"method": "echo", "id": 2})[0] == 200


def test_parse_errors(tmp_path: Path) -> None:
    with running(tmp_path) as (st, _, cookie):
        status, _, data = post(st.port, b"{not json", cookie)
        assert status == 500
        assert json.loads(data) == {
            "result": None,
            "error": {"code": -32700, "message": "Parse error"},
        }
        status, _, data = post(st.port, b"42", cookie)
        assert status == 500
        assert json.loads(data)["error"] == {
            "code": -32700,
            "message": "Top-level object parse error",
        }
        assert post(st.port, b"[NaN]", cookie)[0] == 500


def test_batch_mixed_results(tmp_path: Path) -> None:
    with running(tmp_path) as (st, handlers, cookie):
        batch = [
            {"jsonrpc": "2.0", "method": "getblockhash", "params": [1], "id": 1},
            {"jsonrpc": "2.0", "method": "fail", "id": 2},
            {"jsonrpc": "2.0", "method": "echo", "params": ["note"]},  # notification
            {"method": "nope", "id": 3},
            "not an object",
        ]
        status, reply = rpc(st.port, cookie, batch)
        assert status == 200
        assert reply == [
            {"jsonrpc": "2.0", "result": "int:1", "id": 1},
            {"jsonrpc": "2.0", "error": {"code": -8, "message": "bad thing"}, "id": 2},
            {"result": None, "error": {"code": -32601, "message": "Method not found"}, "id": 3},
            {"result": None, "error": {"code": -32600, "message": "Invalid Request object"}},
        ]
        assert ("echo", ["note"]) in handlers.calls
        assert rpc(st.port, cookie, []) == (200, [])
        only_notes = [{"jsonrpc": "2.0", "method": "echo"}] * 2
        assert post(st.port, json.dumps(only_notes), cookie)[:1] == (204,)


def test_v2_notification_gets_no_reply_but_runs(tmp_path: Path) -> None:
    with running(tmp_path) as (st, handlers, cookie):
        status, _, data = post(
            st.port, json.dumps({"jsonrpc": "2.0", "method": "echo", "params": [9]}), cookie
        )
        assert (status, data) == (204, b"")
        assert handlers.calls == [("echo", [9])]
        # An explicit null id is not a notification.
        null_id = {"jsonrpc": "2.0", "method": "echo", "id": None}
        assert rpc(st.port, cookie, null_id) == (200, {"jsonrpc": "2.0", "result": [], "id": None})


# -- parameters -----------------------------------------------------------------------------


def test_named_parameters(tmp_path: Path) -> None:
    with running(tmp_path) as (st, _, cookie):

        def call(params: Any) -> Any:
            return rpc(st.port, cookie, {"method": "echo", "params": params, "id": 1})[1]

        assert call({"a": 1, "b": 2})["result"] == [1, 2]
        assert call({"c": 3})["result"] == [None, None, 3]
        assert call({"a": 1, "c": 3})["result"] == [1, None, 3]
        assert call({})["result"] == []
        assert call({"args": [1, 2], "c": 3})["result"] == [1, 2, 3]
        assert call({"args": [1]})["result"] == [1]
        assert call({"zz": 1})["error"] == {"code": -8, "message": "Unknown named parameter zz"}
        assert call({"args": [1], "a": 2})["error"] == {
            "code": -8,
            "message": "Parameter a specified twice both as positional and named argument",
        }
        _, _, data = post(st.port, b'{"method":"echo","params":{"a":1,"a":2},"id":1}', cookie)
        assert json.loads(data)["error"] == {
            "code": -8,
            "message": "Parameter a specified multiple times",
        }
        named = {"method": "getblockhash", "params": {"height": 5}, "id": 1}
        assert rpc(st.port, cookie, named)[1]["result"] == "int:5"


def test_wrong_parameter_count_gives_usage(tmp_path: Path) -> None:
    with running(tmp_path) as (st, _, cookie):
        status, reply = rpc(st.port, cookie, {"method": "getblockhash", "params": [], "id": 1})
        assert (status, reply["error"]) == (500, {"code": -1, "message": "getblockhash height"})
        status, reply = rpc(st.port, cookie, {"method": "echo", "params": [1, 2, 3, 4], "id": 1})
        assert reply["error"] == {"code": -1, "message": "echo ( a b c )"}


def test_fractional_params_arrive_as_decimal(tmp_path: Path) -> None:
    with running(tmp_path) as (st, _, cookie):
        _, _, data = post(st.port, b'{"method":"echo","params":[0.1,1e-8],"id":1}', cookie)
        assert data == b'{"result":[0.1,0.00000001],"error":null,"id":1}\n'


# -- HTTP -----------------------------------------------------------------------------------


def test_keep_alive_reuses_one_connection(tmp_path: Path) -> None:
    with running(tmp_path) as (st, _, cookie):
        conn = http.client.HTTPConnection("127.0.0.1", st.port, timeout=TIMEOUT)
        try:
            body = json.dumps({"method": "getblockhash", "params": [1], "id": 1})
            assert post(st.port, body, cookie, conn=conn)[0] == 200
            first = conn.sock
            assert first is not None
            status, response, _ = post(st.port, body, cookie, conn=conn)
            assert status == 200
            assert conn.sock is first
            assert response.getheader("Connection") is None
        finally:
            conn.close()


def test_http10_closes_unless_keep_alive(tmp_path: Path) -> None:
    with running(tmp_path) as (st, _, cookie):
        body = b'{"method":"echo","id":1}'
        request = (
            b"POST / HTTP/1.0\r\nAuthorization: " + basic(cookie).encode() + b"\r\n"
            b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
        )
        reply = raw_exchange(st.port, request)
        assert reply.startswith(b"HTTP/1.0 200 OK\r\n")
        assert b"Connection: close\r\n" in reply
        assert reply.endswith(b'{"result":[],"error":null,"id":1}\n')


def test_malformed_request_gets_400_and_close(tmp_path: Path) -> None:
    with running(tmp_path) as (st, _, _c):
        reply = raw_exchange(st.port, b"THIS IS NOT HTTP\r\n\r\n")
        assert reply.startswith(b"HTTP/1.1 400 Bad Request\r\n")
        assert b"Connection: close" in reply
        reply = raw_exchange(st.port, b"POST / HTTP/1.1\r\nContent-Length: nope\r\n\r\n")
        assert reply.startswith(b"HTTP/1.1 400 ")


def test_body_size_limit(tmp_path: Path) -> None:
    with running(tmp_path, max_body=1000) as (st, _, cookie):
        reply = raw_exchange(st.port, b"POST / HTTP/1.1\r\nContent-Length: 5000\r\n\r\n")
        assert reply.startswith(b"HTTP/1.1 413 ")
        body = json.dumps({"method": "echo", "params": ["x" * 900], "id": 1})
        assert post(st.port, body, cookie)[0] == 200


def test_expect_continue_and_chunked_body(tmp_path: Path) -> None:
    with running(tmp_path) as (st, _, cookie):
        body = b'{"method":"getblockhash","params":[4],"id":1}'
        head = (
            b"POST / HTTP/1.1\r\nConnection: close\r\nAuthorization: "
            + basic(cookie).encode()
            + b"\r\nExpect: 100-continue\r\nContent-Length: "
            + str(len(body)).encode()
            + b"\r\n\r\n"
        )
        with socket.create_connection(("127.0.0.1", st.port), timeout=TIMEOUT) as sock:
            sock.sendall(head)
            assert sock.recv(1024) == b"HTTP/1.1 100 Continue\r\n\r\n"
            sock.sendall(body)
            reply = b""
            while chunk := sock.recv(65536):
                reply += chunk
        assert reply.endswith(b'{"result":"int:4","error":null,"id":1}\n')
        chunked = (
            b"POST / HTTP/1.1\r\nConnection: close\r\nAuthorization: "
            + basic(cookie).encode()
            + b"\r\nTransfer-Encoding: chunked\r\n\r\n"
            + b"%x\r\n%s\r\n" % (10, body[:10])
            + b"%x\r\n%s\r\n" % (len(body) - 10, body[10:])
            + b"0\r\n\r\n"
        )
        assert raw_exchange(st.port, chunked).endswith(b'"int:4","error":null,"id":1}\n')


def test_routes_and_methods(tmp_path: Path) -> None:
    with running(tmp_path) as (st, _, cookie):
        assert post(st.port, "{}", cookie, path="/other")[0] == 404
        conn = http.client.HTTPConnection("127.0.0.1", st.port, timeout=TIMEOUT)
        try:
            conn.request("GET", "/", headers={"Authorization": basic(cookie)})
            response = conn.getresponse()
            assert response.status == 405
            assert response.read() == b"JSONRPC server handles only POST requests"
        finally:
            conn.close()
        payload = {"method": "where", "id": 1}
        assert rpc(st.port, cookie, payload)[1]["result"] is None
        assert rpc(st.port, cookie, payload, "/wallet/my%20wallet")[1]["result"] == "my wallet"
        assert rpc(st.port, cookie, payload, "/wallet/")[1]["result"] == ""


def test_idle_connection_times_out(tmp_path: Path) -> None:
    with (
        running(tmp_path, timeout=0.3) as (st, _, _c),
        socket.create_connection(("127.0.0.1", st.port), timeout=TIMEOUT) as sock,
    ):
        started = time.monotonic()
        assert sock.recv(10) == b""
        assert time.monotonic() - started < 5


def test_long_poll_does_not_block_other_clients(tmp_path: Path) -> None:
    with running(tmp_path) as (st, _, cookie):
        result: list[Any] = []
        waiter = threading.Thread(
            target=lambda: result.append(rpc(st.port, cookie, {"method": "waitforit", "id": 1}))
        )
        waiter.start()
        for height in range(5):
            payload = {"method": "getblockhash", "params": [height], "id": height}
            assert rpc(st.port, cookie, payload)[0] == 200
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            info = rpc(st.port, cookie, {"method": "getrpcinfo", "id": 1})[1]["result"]
            if "waitforit" in [c["method"] for c in info["active_commands"]]:
                break
        assert "waitforit" in [c["method"] for c in info["active_commands"]]
        assert rpc(st.port, cookie, {"method": "releaseit", "id": 2})[0] == 200
        waiter.join(TIMEOUT)
        assert result == [(200, {"result": "released", "error": None, "id": 1})]


# -- warm-up, amounts, built-ins ------------------------------------------------------------


def test_warmup_answers_minus_28(tmp_path: Path) -> None:
    with running(tmp_path) as (st, handlers, cookie):
        st.server.set_warmup("Loading block index…")
        status, reply = rpc(st.port, cookie, {"method": "getblockhash", "params": [1], "id": 1})
        assert (status, reply["error"]) == (500, {"code": -28, "message": "Loading block index…"})
        v2 = {"jsonrpc": "2.0", "method": "nope", "id": 1}
        assert rpc(st.port, cookie, v2)[1]["error"]["code"] == -28
        assert handlers.calls == []
        st.server.set_warmup(None)
        assert rpc(st.port, cookie, {"method": "getblockhash", "params": [1], "id": 1})[0] == 200


def test_amounts_have_eight_decimals(tmp_path: Path) -> None:
    with running(tmp_path) as (st, _, cookie):
        _, _, data = post(st.port, json.dumps({"method": "amounts", "id": 1}), cookie)
        assert b'"amount":50.00000000' in data
        assert b'"fee":0.00000000' in data
        assert b'"change":0.30000000' in data
        assert b'"negative":-0.00000001' in data
        assert b'"exact":0.30000000' in data
        assert json.loads(data, parse_float=Decimal)["result"]["change"] == Decimal("0.3")


def test_help_getrpcinfo_and_stop(tmp_path: Path) -> None:
    stopped: list[bool] = []
    with running(tmp_path, on_stop=lambda: stopped.append(True), log_path="/x/debug.log") as (
        st,
        _,
        cookie,
    ):
        text = rpc(st.port, cookie, {"method": "help", "id": 1})[1]["result"]
        assert text.startswith("== Blockchain ==\ngetblockhash height\nreleaseit\nwaitforit\n\n")
        assert "== Control ==" in text and "stop" in text
        one = rpc(st.port, cookie, {"method": "help", "params": ["getblockhash"], "id": 1})
        assert one[1]["result"] == "getblockhash height"
        unknown = rpc(st.port, cookie, {"method": "help", "params": ["zzz"], "id": 1})
        assert unknown[1]["result"] == "help: unknown command: zzz"
        info = rpc(st.port, cookie, {"method": "getrpcinfo", "id": 1})[1]["result"]
        assert info["logpath"] == "/x/debug.log"
        assert info["active_commands"][0]["method"] == "getrpcinfo"
        assert isinstance(info["active_commands"][0]["duration"], int)
        reply = rpc(st.port, cookie, {"method": "stop", "params": {"wait": 0}, "id": 1})[1]
        assert reply == {"result": "Pyrite stopping", "error": None, "id": 1}
        assert stopped == [True]
        assert st.server.stop_requested.is_set()


# -- helpers --------------------------------------------------------------------------------


def test_amount_from_value() -> None:
    assert amount_from_value(Decimal("0.1")) == 10_000_000
    assert amount_from_value("1e-8") == 1
    assert amount_from_value(21_000_000) == 21_000_000 * 100_000_000
    assert amount_from_value(0.3) == 30_000_000
    for bad in (Decimal("0.000000001"), "1e-500", "01", "abc", "1e20", " 1"):
        with pytest.raises(RPCError, match="Invalid amount"):
            amount_from_value(bad)
    for out_of_range in (-1, "21000000.00000001"):
        with pytest.raises(RPCError, match="Amount out of range"):
            amount_from_value(out_of_range)
    with pytest.raises(RPCError, match="Amount is not a number or string") as info:
        amount_from_value(True)
    assert info.value.code == -3


def test_json_dumps_amounts_are_numbers() -> None:
    text = json_dumps({"a": [BTCAmount(1), BTCAmount(-250_000_000)], "s": 'q"\x00amt', "d": None})
    assert text == '{"a":[0.00000001,-2.50000000],"s":"q\\"\\u0000amt","d":null}'
    with pytest.raises(TypeError):
        json_dumps({"x": object()})


def test_address_helpers() -> None:
    assert split_host_port("127.0.0.1", 8332) == ("127.0.0.1", 8332)
    assert split_host_port("127.0.0.1:18443", 8332) == ("127.0.0.1", 18443)
    assert split_host_port("[::1]:5", 8332) == ("::1", 5)
    assert split_host_port("::1", 8332) == ("::1", 8332)
    with pytest.raises(ValueError):
        split_host_port("host:0", 1)
    assert rpc_bind_endpoints([], False, 18443) == [("::1", 18443), ("127.0.0.1", 18443)]
    assert rpc_bind_endpoints(["0.0.0.0"], False, 1) == [("::1", 1), ("127.0.0.1", 1)]
    assert rpc_bind_endpoints(["0.0.0.0", "[::]:9"], True, 1) == [("0.0.0.0", 1), ("::", 9)]
    assert str(parse_allow_ip("10.1.2.3/255.255.0.0")) == "10.1.0.0/16"
    assert str(parse_allow_ip("10.1.2.3/8")) == "10.0.0.0/8"
    assert str(parse_allow_ip("::1")) == "::1/128"
    with pytest.raises(ValueError, match="Invalid -rpcallowip subnet specification: nope"):
        parse_allow_ip("nope")


# -- lifecycle ------------------------------------------------------------------------------


def test_unbindable_endpoint_is_skipped_and_none_is_an_error(tmp_path: Path) -> None:
    server = RPCServer([("256.0.0.1", 0), ("127.0.0.1", 0)], cookie_path=None)
    with ServerThread(server) as st:
        assert [host for host, _ in st.server.addresses] == ["127.0.0.1"]
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        taken = busy.getsockname()[1]
        cookie = tmp_path / ".cookie"
        server = RPCServer([("127.0.0.1", taken)], cookie_path=cookie)
        st = ServerThread(server)
        with pytest.raises(OSError, match="Unable to bind any endpoint for RPC server"):
            st.__enter__()
        st.__exit__(None, None, None)
        assert not cookie.exists()


def test_stop_lets_a_call_in_progress_reply(tmp_path: Path) -> None:
    with running(tmp_path) as (st, handlers, cookie):
        result: list[Any] = []
        waiter = threading.Thread(
            target=lambda: result.append(post(st.port, '{"method":"waitforit","id":1}', cookie))
        )
        waiter.start()
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline and not st.server._active:
            time.sleep(0.01)
        idle = http.client.HTTPConnection("127.0.0.1", st.port, timeout=TIMEOUT)
        assert post(st.port, '{"method":"echo","id":2}', cookie, conn=idle)[0] == 200
        stopping = asyncio.run_coroutine_threadsafe(st.server.stop(grace=5.0), st.loop)
        st.loop.call_soon_threadsafe(handlers.release.set)
        stopping.result(TIMEOUT)
        waiter.join(TIMEOUT)
        status, response, data = result[0]
        assert (status, data) == (200, b'{"result":"released","error":null,"id":1}\n')
        assert response.getheader("Connection") == "close"
        assert idle.sock is not None
        assert idle.sock.recv(10) == b""  # idle keep-alive connections are closed
        idle.close()
        assert not (tmp_path / ".cookie").exists()
