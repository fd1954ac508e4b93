"""bitcoind's JSON-RPC server on asyncio: the command table, dispatch and connection handling.

Mirrors Core's ``httpserver.cpp`` (connections, ``-rpcallowip`` checks, limits, timeouts),
``httprpc.cpp`` (Basic auth, HTTP statuses, batches, JSON-RPC 2.0 notifications), the
``.cookie`` file of ``rpc/request.cpp`` and ``rpc/server.cpp`` (command table, warm-up,
``help``, ``stop``, ``getrpcinfo``). Its parts live next door: :mod:`pyrite.rpc.http` reads
and writes HTTP/1.x and parses ``-rpcbind``/``-rpcallowip``, :mod:`pyrite.rpc.jsonrpc` parses
requests, shapes replies and maps named parameters, :mod:`pyrite.rpc.jsonutil` is the JSON
and amount codec.

Handlers are registered with :meth:`RPCServer.register`; they receive the positional parameter
list (named parameters already mapped to positions) and a
:class:`~pyrite.rpc.jsonrpc.RequestContext`, and may be plain functions (run on the event loop,
so they must be quick) or coroutines (for anything that waits). JSON numbers with a fraction
arrive as :class:`decimal.Decimal`. Results may contain :class:`~pyrite.rpc.jsonutil.BTCAmount`
(printed as ``1.50000000``) and ``Decimal`` values.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import inspect
import ipaddress
import logging
import os
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from pyrite.rpc.errors import (
    HTTP_BAD_METHOD,
    HTTP_FORBIDDEN,
    HTTP_NO_CONTENT,
    HTTP_NOT_FOUND,
    HTTP_OK,
    HTTP_UNAUTHORIZED,
    RPC_IN_WARMUP,
    RPC_METHOD_NOT_FOUND,
    RPC_MISC_ERROR,
    RPC_PARSE_ERROR,
    RPC_TYPE_ERROR,
    RPCError,
)
from pyrite.rpc.http import (
    HTTPError,
    HTTPRequest,
    IPNetwork,
    parse_allow_ip,
    peer_address,
    read_request,
    response_head,
)
from pyrite.rpc.jsonrpc import (
    WALLET_ENDPOINT,
    Handler,
    JSONRPCRequest,
    RequestContext,
    RPCCommand,
    error_status,
    named_to_positional,
    usage,
)
from pyrite.rpc.jsonutil import json_dumps, json_loads

log = logging.getLogger(__name__)

MAX_BODY_SIZE: Final = 0x02000000  # Core's MAX_SIZE: 32 MiB, enough for any submitblock
DEFAULT_RPC_SERVER_TIMEOUT: Final = 30.0  # -rpcservertimeout
AUTH_FAILURE_DELAY: Final = 0.25  # seconds slept before answering bad credentials
STOP_GRACE: Final = 5.0  # how long stop() lets in-flight calls finish their reply
COOKIE_USER: Final = "__cookie__"
COOKIE_FILENAME: Final = ".cookie"
WWW_AUTHENTICATE: Final = 'Basic realm="jsonrpc"'

_HTTP_METHODS: Final = frozenset(
    {"GET", "POST", "HEAD", "PUT", "DELETE", "OPTIONS", "TRACE", "CONNECT", "PATCH"}
)
_LOOPBACK: Final[tuple[IPNetwork, ...]] = (
    ipaddress.ip_network("127.0.0.0/8"),
    ipaddress.ip_network("::1/128"),
)


@dataclass(slots=True)
class _Connection:
    busy: bool = False


# --------------------------------------------------------------------------------------------
# The server
# --------------------------------------------------------------------------------------------


class RPCServer:
    """bitcoind's JSON-RPC HTTP server.

    ``bind`` lists ``(host, port)`` endpoints (see :func:`~pyrite.rpc.http.rpc_bind_endpoints`;
    an endpoint that cannot be bound, e.g. ``::1`` without IPv6, is skipped with a warning; port 0
    picks a free port, read back with :attr:`addresses`). ``rpcallowip`` adds subnets to the always
    allowed loopback ones. Credentials: the cookie (when ``cookie_path`` is given, written on
    :meth:`start`), ``rpcuser``/``rpcpassword`` (used only when the password is non-empty) and
    ``rpcauth`` entries ``user:salt$hash``. ``on_stop`` is called by the ``stop`` RPC; it must
    only signal shutdown (e.g. set an event), never await :meth:`stop` itself.

    Raises ValueError for a malformed ``rpcauth`` or ``rpcallowip`` value.
    """

    STOP_MESSAGE: Final = "Pyrite stopping"

    def __init__(
        self,
        bind: Sequence[tuple[str, int]] = (("::1", 8332), ("127.0.0.1", 8332)),
        *,
        rpcallowip: Sequence[str] = (),
        rpcuser: str = "",
        rpcpassword: str = "",
        rpcauth: Sequence[str] = (),
        cookie_path: Path | None = None,
        timeout: float = DEFAULT_RPC_SERVER_TIMEOUT,
        log_path: str | Path = "",
        on_stop: Callable[[], object] | None = None,
        max_body: int = MAX_BODY_SIZE,
    ) -> None:
        self._endpoints = list(bind)
        self._allowed = list(_LOOPBACK) + [parse_allow_ip(s) for s in rpcallowip]
        self._userpass = f"{rpcuser}:{rpcpassword}".encode() if rpcpassword else None
        self._rpcauth: list[tuple[str, str, str]] = []
        for entry in rpcauth:
            fields = entry.split(":")
            salt_hash = fields[-1].split("$")
            if len(fields) != 2 or len(salt_hash) != 2:
                raise ValueError("Invalid -rpcauth argument.")
            self._rpcauth.append((fields[0], salt_hash[0], salt_hash[1]))
        self._cookie_path = cookie_path
        self._cookie_userpass: bytes | None = None
        self._written_cookie: Path | None = None
        self._timeout = timeout
        self._log_path = str(log_path)
        self._on_stop = on_stop
        self._max_body = max_body
        self._commands: dict[str, RPCCommand] = {}
        self._warmup: str | None = None
        self._servers: list[asyncio.Server] = []
        self._bound: list[tuple[str, int]] = []
        self._connections: dict[asyncio.Task[Any], _Connection] = {}
        self._active: dict[int, tuple[str, float]] = {}
        self._next_call = 0
        self._closed = asyncio.Event()
        self.stopping = asyncio.Event()
        """Set once :meth:`stop` begins; long-polling handlers should return when it is set."""
        self.stop_requested = asyncio.Event()
        """Set by the ``stop`` RPC (in addition to calling ``on_stop``)."""
        self.register("help", self._help, ["command"], "control", help_text=_HELP_HELP)
        self.register("stop", self._stop, ["wait"], "control", help_text=_STOP_HELP)
        self.register("getrpcinfo", self._getrpcinfo, [], "control", help_text=_RPCINFO_HELP)

    # -- registry --------------------------------------------------------------------------

    def register(
        self,
        name: str,
        func: Handler,
        param_names: Sequence[str] = (),
        category: str = "",
        *,
        required: int = 0,
        help_text: str | None = None,
    ) -> None:
        """Add a method. ``required`` leading parameters must be given; more than
        ``len(param_names)`` is an error. Missing optional ones are absent or None."""
        if name in self._commands:
            raise ValueError(f"RPC method {name} is already registered")
        if not 0 <= required <= len(param_names):
            raise ValueError(f"RPC method {name}: required={required} out of range")
        text = help_text or usage(name, param_names, required)
        self._commands[name] = RPCCommand(name, func, tuple(param_names), category, required, text)

    def unregister(self, name: str) -> None:
        self._commands.pop(name, None)

    @property
    def commands(self) -> dict[str, RPCCommand]:
        return dict(self._commands)

    # -- warm-up ---------------------------------------------------------------------------

    def set_warmup(self, status: str | None) -> None:
        """While a status is set every call fails with -28 and that message."""
        self._warmup = status

    @property
    def in_warmup(self) -> bool:
        return self._warmup is not None

    # -- lifecycle -------------------------------------------------------------------------

    @property
    def addresses(self) -> list[tuple[str, int]]:
        """The ``(host, port)`` pairs actually listening."""
        return list(self._bound)

    async def start(self) -> None:
        """Listen on every endpoint that can be bound, then write the cookie (if configured).

        Raises OSError when no endpoint could be bound.
        """
        if self._servers:
            raise RuntimeError("RPC server already started")
        self.stopping.clear()
        self._closed.clear()
        for host, port in self._endpoints:
            log.info("Binding RPC on address %s port %i", host, port)
            try:
                server = await asyncio.start_server(self._on_connect, host, port)
            except OSError as exc:
                log.warning("Binding RPC on address %s port %i failed: %s", host, port, exc)
                continue
            self._servers.append(server)
            self._bound += [
                (str(s.getsockname()[0]), int(s.getsockname()[1])) for s in server.sockets
            ]
        if not self._servers:
            raise OSError("Unable to bind any endpoint for RPC server")
        if self._cookie_path is not None:
            self.write_cookie(self._cookie_path)

    async def stop(self, grace: float = STOP_GRACE) -> None:
        """Stop listening, let calls in progress send their reply (up to ``grace`` seconds),
        close every connection and delete the cookie."""
        self.stopping.set()
        servers, self._servers = self._servers, []
        for server in servers:
            server.close()
        current = asyncio.current_task()
        for task, conn in list(self._connections.items()):
            if not conn.busy and task is not current:
                task.cancel()
        pending = [t for t in self._connections if t is not current]
        if pending:
            _, late = await asyncio.wait(pending, timeout=grace)
            for task in late:
                task.cancel()
            if late:
                await asyncio.wait(late, timeout=1.0)
        await asyncio.sleep(0)  # let the connection callbacks close their transports
        for server in servers:
            try:
                async with asyncio.timeout(1.0):
                    await server.wait_closed()
            except TimeoutError:
                pass
        self._bound.clear()
        self.delete_cookie()
        self._closed.set()

    async def run(self) -> None:
        """Start, then serve until :meth:`stop` is called or the task is cancelled."""
        await self.start()
        try:
            await self._closed.wait()
        finally:
            if not self._closed.is_set():
                await self.stop()

    def write_cookie(self, path: Path) -> None:
        """Create a fresh ``__cookie__:<64 hex>`` secret and write it atomically to ``path``."""
        secret = f"{COOKIE_USER}:{secrets.token_hex(32)}"
        tmp = path.with_name(path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as fh:
            fh.write(secret)
        os.replace(tmp, path)
        self._cookie_userpass = secret.encode()
        self._written_cookie = path
        log.info("Generated RPC authentication cookie %s", path)

    def delete_cookie(self) -> None:
        if self._written_cookie is not None:
            try:
                self._written_cookie.unlink()
            except FileNotFoundError:
                pass
            except OSError as exc:
                log.warning("Unable to remove RPC authentication cookie: %s", exc)
            self._written_cookie = None
        self._cookie_userpass = None

    # -- authentication --------------------------------------------------------------------

    def check_auth(self, header: str) -> tuple[bool, str]:
        """Check an ``Authorization`` header; returns (accepted, user name)."""
        if not header.startswith("Basic "):
            return False, ""
        try:
            userpass = base64.b64decode(header[6:].strip(), validate=True)
        except (binascii.Error, ValueError):
            return False, ""
        user = userpass.split(b":", 1)[0].decode("utf-8", "replace") if b":" in userpass else ""
        for expected in (self._userpass, self._cookie_userpass):
            if expected is not None and hmac.compare_digest(userpass, expected):
                return True, user
        if b":" not in userpass:
            return False, user
        name, password = userpass.split(b":", 1)
        for auth_user, salt, digest in self._rpcauth:
            if not hmac.compare_digest(name, auth_user.encode()):
                continue
            mac = hmac.new(salt.encode(), password, hashlib.sha256).hexdigest()
            if hmac.compare_digest(mac.encode(), digest.encode()):
                return True, user
        return False, user

    # -- JSON-RPC dispatch -----------------------------------------------------------------

    async def handle_jsonrpc(
        self, body: bytes, *, uri: str = "/", auth_user: str = "", peer: str = ""
    ) -> tuple[int, bytes]:
        """Answer one authenticated HTTP body: returns (HTTP status, reply bytes).

        An empty reply goes with status 204 (2.0 notifications). Mirrors HTTPReq_JSONRPC.
        """
        call = JSONRPCRequest()
        try:
            try:
                request = json_loads(body)
            except (ValueError, UnicodeDecodeError, RecursionError):
                raise RPCError(RPC_PARSE_ERROR, "Parse error") from None
            if isinstance(request, dict):
                call.parse(request)
                if call.version == 2:
                    text = await self._execute_one(call, uri, auth_user, peer)
                    if call.is_notification:
                        return HTTP_NO_CONTENT, b""
                else:
                    result = await self._execute(call, uri, auth_user, peer)
                    text = call.reply(result, None)
            elif isinstance(request, list):
                replies: list[str] = []
                for item in request:
                    call = JSONRPCRequest()
                    try:
                        call.parse(item)
                    except RPCError as exc:
                        reply = call.reply(None, exc)
                    else:
                        reply = await self._execute_one(call, uri, auth_user, peer)
                    if not call.is_notification:
                        replies.append(reply)
                if request and not replies:
                    return HTTP_NO_CONTENT, b""
                text = "[" + ",".join(replies) + "]"
            else:
                raise RPCError(RPC_PARSE_ERROR, "Top-level object parse error")
        except RPCError as exc:
            return error_status(exc.code), (call.reply(None, exc) + "\n").encode()
        return HTTP_OK, (text + "\n").encode()

    async def _execute_one(self, call: JSONRPCRequest, uri: str, auth_user: str, peer: str) -> str:
        try:
            return call.reply(await self._execute(call, uri, auth_user, peer), None)
        except RPCError as exc:
            return call.reply(None, exc)

    async def _execute(self, call: JSONRPCRequest, uri: str, auth_user: str, peer: str) -> str:
        """Run one call and return its result as JSON text; every failure is an RPCError."""
        if self._warmup is not None:
            raise RPCError(RPC_IN_WARMUP, self._warmup)
        command = self._commands.get(call.method)
        if command is None:
            raise RPCError(RPC_METHOD_NOT_FOUND, "Method not found")
        log.debug("ThreadRPCServer method=%s user=%s", call.method, auth_user)
        call_id = self._next_call
        self._next_call += 1
        self._active[call_id] = (call.method, time.monotonic())
        try:
            if isinstance(call.params, dict):
                params = named_to_positional(command, call.params)
            else:
                params = list(call.params)
            if not command.required <= len(params) <= len(command.param_names):
                raise RPCError(RPC_MISC_ERROR, command.help_text)
            ctx = RequestContext(call.method, uri, auth_user, peer, call.version, self.stopping)
            result = command.func(params, ctx)
            if inspect.isawaitable(result):
                result = await result
            return json_dumps(result)
        except RPCError:
            raise
        except Exception as exc:  # any handler bug becomes an error reply, never a crash
            log.debug("RPC %s failed", call.method, exc_info=True)
            raise RPCError(RPC_MISC_ERROR, str(exc) or type(exc).__name__) from exc
        finally:
            del self._active[call_id]

    # -- built-in methods ------------------------------------------------------------------

    def _help(self, params: list[Any], ctx: RequestContext) -> str:
        wanted = params[0] if params else None
        if wanted is not None and not isinstance(wanted, str):
            raise RPCError(
                RPC_TYPE_ERROR, "JSON value of type number is not of expected type string"
            )
        if wanted:
            command = self._commands.get(wanted)
            return command.help_text if command else f"help: unknown command: {wanted}"
        lines: list[str] = []
        category: str | None = None
        for command in sorted(self._commands.values(), key=lambda c: c.category + c.name):
            if command.category == "hidden":
                continue
            if command.category != category:
                if category is not None:
                    lines.append("")
                category = command.category
                lines.append(f"== {category[:1].upper()}{category[1:]} ==")
            lines.append(command.help_text.split("\n", 1)[0])
        return "\n".join(lines)

    async def _stop(self, params: list[Any], ctx: RequestContext) -> str:
        wait = params[0] if params else None
        if isinstance(wait, int) and not isinstance(wait, bool) and wait > 0:
            await asyncio.sleep(wait / 1000)
        self.stop_requested.set()
        if self._on_stop is not None:
            self._on_stop()
        return self.STOP_MESSAGE

    def _getrpcinfo(self, params: list[Any], ctx: RequestContext) -> dict[str, Any]:
        now = time.monotonic()
        active = [
            {"method": method, "duration": int((now - started) * 1_000_000)}
            for method, started in self._active.values()
        ]
        return {"active_commands": active, "logpath": self._log_path}

    # -- HTTP connections ------------------------------------------------------------------

    async def _on_connect(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """One client connection. The work runs in an inner task that :meth:`stop` may cancel;
        this callback task itself always ends normally (on 3.11 asyncio logs a traceback for a
        cancelled client-connected task, and stderr must stay quiet)."""
        peer, address = peer_address(writer)
        conn = _Connection()
        work = asyncio.create_task(self._serve(reader, writer, conn, peer, address))
        self._connections[work] = conn
        try:
            await work
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if current is not None and current.cancelling():
                raise  # we were cancelled from outside, not just the work by stop()
        except (ConnectionError, asyncio.IncompleteReadError, TimeoutError):
            pass  # the client went away or idled out
        except Exception:
            log.exception("RPC connection from %s failed", peer)
        finally:
            self._connections.pop(work, None)
            writer.close()

    async def _serve(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        conn: _Connection,
        peer: str,
        address: ipaddress.IPv4Address | ipaddress.IPv6Address | None,
    ) -> None:
        while not self.stopping.is_set():
            conn.busy = False  # stop() may cancel us only while we wait for a request
            try:
                async with asyncio.timeout(self._timeout):
                    request = await read_request(reader, writer, self._max_body)
            except HTTPError as exc:
                head = response_head("HTTP/1.1", exc.status, [("Connection", "close")], 0)
                writer.write(head)
                await writer.drain()
                return
            if request is None:
                return
            conn.busy = True
            status, headers, body = await self._respond(request, peer, address)
            keep_alive = request.keep_alive and not self.stopping.is_set()
            if not keep_alive:
                headers.append(("Connection", "close"))
            elif request.version == "HTTP/1.0":
                headers.append(("Connection", "keep-alive"))
            writer.write(response_head(request.version, status, headers, len(body)))
            if body and request.method != "HEAD":
                writer.write(body)
            async with asyncio.timeout(self._timeout):
                await writer.drain()
            if not keep_alive:
                return

    async def _respond(
        self,
        request: HTTPRequest,
        peer: str,
        address: ipaddress.IPv4Address | ipaddress.IPv6Address | None,
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        """Route and answer one HTTP request (mirrors http_request_cb and HTTPReq_JSONRPC)."""
        html = [("Content-Type", "text/html; charset=ISO-8859-1")]
        if address is None or not any(address in net for net in self._allowed):
            log.info(
                "HTTP request from %s rejected: Client network is not allowed RPC access", peer
            )
            return HTTP_FORBIDDEN, html, b""
        if request.method not in _HTTP_METHODS:
            return HTTP_BAD_METHOD, html, b""
        if request.target != "/" and not request.target.startswith(WALLET_ENDPOINT):
            return HTTP_NOT_FOUND, html, b""
        if request.method != "POST":
            return HTTP_BAD_METHOD, html, b"JSONRPC server handles only POST requests"
        authorization = request.headers.get("authorization")
        unauthorized = [("WWW-Authenticate", WWW_AUTHENTICATE), *html]
        if authorization is None:
            return HTTP_UNAUTHORIZED, unauthorized, b""
        accepted, user = self.check_auth(authorization)
        if not accepted:
            log.info("ThreadRPCServer incorrect password attempt from %s", peer)
            await asyncio.sleep(AUTH_FAILURE_DELAY)
            return HTTP_UNAUTHORIZED, unauthorized, b""
        status, body = await self.handle_jsonrpc(
            request.body, uri=request.target, auth_user=user, peer=peer
        )
        headers = [] if status == HTTP_NO_CONTENT else [("Content-Type", "application/json")]
        return status, headers, body


_HELP_HELP: Final = """help ( "command" )

List all commands, or get help for a specified command.

Arguments:
1. command    (string, optional, default=all commands) The command to get help on

Result:
"str"    (string) The help text"""

_STOP_HELP: Final = """stop

Request a graceful shutdown of the node.

Result:
"str"    (string) A string with the content 'Pyrite stopping'"""

_RPCINFO_HELP: Final = """getrpcinfo

Returns details of the RPC server.

Result:
{                          (json object)
  "active_commands" : [    (json array) All active commands
    {                      (json object) Information about an active command
      "method" : "str",    (string) The name of the RPC command
      "duration" : n       (numeric) The running time in microseconds
    },
    ...
  ],
  "logpath" : "str"        (string) The complete file path to the debug log
}"""
