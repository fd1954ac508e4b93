"""JSON-RPC over HTTP/1.x on asyncio, behaving like bitcoind's RPC server.

Mirrors Core's ``httpserver.cpp`` (connections, ``-rpcbind``/``-rpcallowip``, limits),
``httprpc.cpp`` (Basic auth, HTTP statuses, batches, JSON-RPC 2.0 notifications),
``rpc/request.cpp`` (request parsing, reply shapes, the ``.cookie`` file) and ``rpc/server.cpp``
(command table, named parameters, warm-up, ``help``, ``stop``, ``getrpcinfo``).

Handlers are registered with :meth:`RPCServer.register`; they receive the positional parameter
list (named parameters already mapped to positions) and a :class:`RequestContext`, and may be
plain functions (run on the event loop, so they must be quick) or coroutines (for anything that
waits). JSON numbers with a fraction arrive as :class:`decimal.Decimal`. Results may contain
:class:`BTCAmount` (printed as ``1.50000000``) and ``Decimal`` values.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import inspect
import ipaddress
import json
import logging
import os
import re
import secrets
import time
import urllib.parse
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from email.utils import formatdate
from pathlib import Path
from typing import Any, Final, TypeAlias

from pyrite.rpc.errors import (
    HTTP_BAD_METHOD,
    HTTP_BAD_REQUEST,
    HTTP_FORBIDDEN,
    HTTP_INTERNAL_SERVER_ERROR,
    HTTP_NO_CONTENT,
    HTTP_NOT_FOUND,
    HTTP_OK,
    HTTP_PAYLOAD_TOO_LARGE,
    HTTP_UNAUTHORIZED,
    RPC_IN_WARMUP,
    RPC_INVALID_PARAMETER,
    RPC_INVALID_REQUEST,
    RPC_METHOD_NOT_FOUND,
    RPC_MISC_ERROR,
    RPC_PARSE_ERROR,
    RPC_TYPE_ERROR,
    RPCError,
)

log = logging.getLogger(__name__)

MAX_BODY_SIZE: Final = 0x02000000  # Core's MAX_SIZE: 32 MiB, enough for any submitblock
MAX_HEADERS_SIZE: Final = 8192
DEFAULT_RPC_SERVER_TIMEOUT: Final = 30.0  # -rpcservertimeout
AUTH_FAILURE_DELAY: Final = 0.25  # seconds slept before answering bad credentials
STOP_GRACE: Final = 5.0  # how long stop() lets in-flight calls finish their reply
COOKIE_USER: Final = "__cookie__"
COOKIE_FILENAME: Final = ".cookie"
WWW_AUTHENTICATE: Final = 'Basic realm="jsonrpc"'
WALLET_ENDPOINT: Final = "/wallet/"
COIN: Final = 100_000_000
MAX_MONEY: Final = 21_000_000 * COIN

IPNetwork: TypeAlias = ipaddress.IPv4Network | ipaddress.IPv6Network
Handler: TypeAlias = Callable[[list[Any], "RequestContext"], Any]

_REASONS: Final = {
    200: "OK",
    204: "No Content",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    413: "Payload Too Large",
    500: "Internal Server Error",
    503: "Service Unavailable",
}
_HTTP_METHODS: Final = frozenset(
    {"GET", "POST", "HEAD", "PUT", "DELETE", "OPTIONS", "TRACE", "CONNECT", "PATCH"}
)
_LOOPBACK: Final[tuple[IPNetwork, ...]] = (
    ipaddress.ip_network("127.0.0.0/8"),
    ipaddress.ip_network("::1/128"),
)


# --------------------------------------------------------------------------------------------
# Amounts and JSON output
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BTCAmount:
    """A satoshi amount that :func:`json_dumps` prints in BTC with exactly eight decimals."""

    sats: int

    def __str__(self) -> str:
        whole, frac = divmod(abs(self.sats), COIN)
        return f"{'-' if self.sats < 0 else ''}{whole}.{frac:08d}"


def value_from_amount(sats: int) -> BTCAmount:
    """Satoshis as a JSON-ready BTC amount (mirrors ValueFromAmount)."""
    return BTCAmount(sats)


_FIXED_POINT = re.compile(r"(-?)(0|[1-9][0-9]*)(?:\.([0-9]+))?(?:[eE]([-+]?[0-9]+))?")


def amount_from_value(value: object, decimals: int = 8) -> int:
    """A JSON number or numeric string in BTC as satoshis (mirrors AmountFromValue).

    Raises RPCError(-3) for a wrong type, more than ``decimals`` decimals, or a value outside
    0..21e6 BTC. Exact: no binary floating point is involved.
    """
    if isinstance(value, bool) or not isinstance(value, int | Decimal | float | str):
        raise RPCError(RPC_TYPE_ERROR, "Amount is not a number or string")
    text = repr(value) if isinstance(value, float) else str(value)
    match = _FIXED_POINT.fullmatch(text)
    if match is None or len((match[4] or "").lstrip("+-")) > 18:
        raise RPCError(RPC_TYPE_ERROR, "Invalid amount")
    frac = match[3] or ""
    digits = (match[2] + frac).lstrip("0")
    exponent = int(match[4] or 0) - len(frac) + decimals
    units = 0
    if digits:
        significant = digits.rstrip("0")
        exponent += len(digits) - len(significant)
        if exponent < 0 or len(significant) + exponent > 18:
            raise RPCError(RPC_TYPE_ERROR, "Invalid amount")
        units = int(significant) * 10**exponent
    if match[1]:
        units = -units
    if not 0 <= units <= MAX_MONEY:
        raise RPCError(RPC_TYPE_ERROR, "Amount out of range")
    return units


def json_dumps(obj: object) -> str:
    """Compact JSON as Core writes it; BTCAmount and Decimal become plain numbers.

    The C encoder cannot print a number it did not format itself, so such values are first
    written as strings carrying a random marker, then the marker and quotes are stripped.
    """
    marker: list[str] = []

    def number(text: str) -> str:
        if not marker:
            marker.append(f"\x00{secrets.token_hex(8)}:")
        return marker[0] + text

    def default(o: object) -> object:
        if isinstance(o, BTCAmount):
            return number(str(o))
        if isinstance(o, Decimal):
            if not o.is_finite():
                raise ValueError("non-finite Decimal is not valid JSON")
            return number(format(o, "f"))
        raise TypeError(f"Object of type {type(o).__name__} is not JSON serializable")

    text = json.dumps(
        obj, default=default, ensure_ascii=False, separators=(",", ":"), allow_nan=False
    )
    if not marker:
        return text
    head, *rest = text.split('"' + json.dumps(marker[0])[1:-1])
    return head + "".join(part.replace('"', "", 1) for part in rest)


class _DuplicateKeys(dict[str, Any]):
    """A JSON object that had repeated keys; the first value of each is kept, like UniValue."""

    duplicates: list[str]


def _object_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) == len(pairs):
        return obj
    dup = _DuplicateKeys()
    dup.duplicates = []
    for key, value in pairs:
        if key in dup:
            dup.duplicates.append(key)
        else:
            dup[key] = value
    return dup


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def json_loads(data: bytes | str) -> Any:
    """Parse a request body: fractions become Decimal, NaN/Infinity are rejected."""
    return json.loads(
        data,
        parse_float=Decimal,
        parse_constant=_reject_constant,
        object_pairs_hook=_object_pairs,
    )


# --------------------------------------------------------------------------------------------
# Addresses
# --------------------------------------------------------------------------------------------


def split_host_port(text: str, default_port: int) -> tuple[str, int]:
    """``host``, ``host:port``, ``[v6]:port`` or a bare IPv6 address (mirrors SplitHostPort).

    Raises ValueError when a port is present but is not 1..65535.
    """
    colon = text.rfind(":")
    bracketed = colon > 0 and text.startswith("[") and text[colon - 1] == "]"
    multi_colon = colon > 0 and text.rfind(":", 0, colon) != -1
    host, port = text, default_port
    if colon != -1 and (colon == 0 or bracketed or not multi_colon):
        digits = text[colon + 1 :]
        if not digits.isdigit() or not 0 < int(digits) <= 0xFFFF:
            raise ValueError(f"Invalid port specified in host '{text}'")
        host, port = text[:colon], int(digits)
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host, port


def rpc_bind_endpoints(
    rpcbind: Sequence[str], rpcallowip_set: bool, port: int
) -> list[tuple[str, int]]:
    """Where to listen, as Core decides it (HTTPBindAddresses).

    ``-rpcbind`` is honoured only together with ``-rpcallowip``; otherwise the server binds
    loopback only (``::1`` and ``127.0.0.1``). Raises ValueError for a bad ``-rpcbind`` port.
    """
    if not (rpcallowip_set and rpcbind):
        if rpcallowip_set:
            log.warning(
                "option -rpcallowip was specified without -rpcbind; this doesn't usually make sense"
            )
        if rpcbind:
            log.warning("option -rpcbind was ignored because -rpcallowip was not specified")
        return [("::1", port), ("127.0.0.1", port)]
    endpoints = []
    for entry in rpcbind:
        try:
            endpoints.append(split_host_port(entry, port))
        except ValueError:
            raise ValueError(f"Invalid port specified in -rpcbind: '{entry}'") from None
    return endpoints


def parse_allow_ip(spec: str) -> IPNetwork:
    """One ``-rpcallowip`` value: an address, ``net/cidr`` or ``net/netmask``."""
    try:
        return ipaddress.ip_network(spec.strip(), strict=False)
    except ValueError:
        raise ValueError(
            f"Invalid -rpcallowip subnet specification: {spec}. Valid are a single IP "
            "(e.g. 1.2.3.4), a network/netmask (e.g. 1.2.3.4/255.255.255.0) or a network/CIDR "
            "(e.g. 1.2.3.4/24)."
        ) from None


def rpcauth_hmac(salt: str, password: str) -> str:
    """The hex HMAC-SHA256 that an ``-rpcauth=user:salt$hash`` entry stores (share/rpcauth)."""
    return hmac.new(salt.encode(), password.encode(), hashlib.sha256).hexdigest()


# --------------------------------------------------------------------------------------------
# Command table
# --------------------------------------------------------------------------------------------


@dataclass(slots=True)
class RequestContext:
    """What a handler may want to know about the call besides its parameters."""

    method: str
    uri: str = "/"
    auth_user: str = ""
    peer: str = ""
    json_version: int = 1
    stopping: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def wallet_name(self) -> str | None:
        """The decoded name from ``/wallet/<name>``, or None for the plain ``/`` endpoint."""
        if not self.uri.startswith(WALLET_ENDPOINT):
            return None
        return urllib.parse.unquote(self.uri[len(WALLET_ENDPOINT) :])


@dataclass(frozen=True, slots=True)
class RPCCommand:
    """A registered method. ``param_names`` entries may list aliases as ``"verbosity|verbose"``."""

    name: str
    func: Handler
    param_names: tuple[str, ...]
    category: str
    required: int
    help_text: str


def _usage(name: str, param_names: Sequence[str], required: int) -> str:
    """A one-line synopsis like ``getblock blockhash ( verbosity )``."""
    names = [p.split("|")[0] for p in param_names]
    line = " ".join([name, *names[:required]])
    if len(names) > required:
        line += " ( " + " ".join(names[required:]) + " )"
    return line


def named_to_positional(command: RPCCommand, named: dict[str, Any]) -> list[Any]:
    """Map an object of named parameters onto positions (mirrors transformNamedArguments).

    Gaps before a given parameter are filled with null, trailing ones are left out; a leftover
    ``"args"`` array supplies leading positional values.
    """
    if isinstance(named, _DuplicateKeys) and named.duplicates:
        raise RPCError(
            RPC_INVALID_PARAMETER, f"Parameter {named.duplicates[0]} specified multiple times"
        )
    remaining = dict(named)
    out: list[Any] = []
    hole = 0
    initial_hole = 0
    first_given: str | None = None
    for pattern in command.param_names:
        key = next((a for a in pattern.split("|") if a in remaining), None)
        if key is None:
            hole += 1
            if not out:
                initial_hole = hole
            continue
        out.extend([None] * hole)
        hole = 0
        if first_given is None:
            first_given = pattern
        out.append(remaining.pop(key))
    positional = remaining.pop("args", None) if "args" in remaining else None
    if isinstance(positional, list):
        if first_given is not None and initial_hole < len(positional):
            raise RPCError(
                RPC_INVALID_PARAMETER,
                f"Parameter {first_given} specified twice both as positional and named argument",
            )
        out = list(positional) + out[len(positional) :]
    elif positional is not None:
        remaining["args"] = positional
    if remaining:
        raise RPCError(RPC_INVALID_PARAMETER, f"Unknown named parameter {next(iter(remaining))}")
    return out


# --------------------------------------------------------------------------------------------
# JSON-RPC requests and replies
# --------------------------------------------------------------------------------------------


@dataclass(slots=True)
class _Call:
    """One parsed JSON-RPC request (mirrors JSONRPCRequest); filled in as parsing proceeds."""

    version: int = 1
    has_id: bool = False
    id: Any = None
    method: str = ""
    params: list[Any] | dict[str, Any] = field(default_factory=list)

    @property
    def is_notification(self) -> bool:
        return self.version == 2 and not self.has_id

    def parse(self, obj: object) -> None:
        if not isinstance(obj, dict):
            raise RPCError(RPC_INVALID_REQUEST, "Invalid Request object")
        self.has_id = "id" in obj
        self.id = obj.get("id")
        version = obj.get("jsonrpc")
        if version is not None:
            if not isinstance(version, str):
                raise RPCError(RPC_INVALID_REQUEST, "jsonrpc field must be a string")
            if version not in ("1.0", "2.0"):
                raise RPCError(RPC_INVALID_REQUEST, "JSON-RPC version not supported")
            self.version = 2 if version == "2.0" else 1
        method = obj.get("method")
        if method is None:
            raise RPCError(RPC_INVALID_REQUEST, "Missing method")
        if not isinstance(method, str):
            raise RPCError(RPC_INVALID_REQUEST, "Method must be a string")
        self.method = method
        params = obj.get("params")
        if params is None:
            self.params = []
        elif isinstance(params, list | dict):
            self.params = params
        else:
            raise RPCError(RPC_INVALID_REQUEST, "Params must be an array or object")

    def reply(self, result_json: str | None, error: RPCError | None) -> str:
        """The reply object's text (mirrors JSONRPCReplyObj): 2.0 has result xor error."""
        parts = ['"jsonrpc":"2.0"'] if self.version == 2 else []
        if error is None:
            parts.append(f'"result":{result_json}')
            if self.version == 1:
                parts.append('"error":null')
        else:
            if self.version == 1:
                parts.append('"result":null')
            parts.append(f'"error":{json_dumps(error.to_json())}')
        if self.has_id:
            parts.append(f'"id":{json_dumps(self.id)}')
        return "{" + ",".join(parts) + "}"


def _error_status(code: int) -> int:
    if code == RPC_INVALID_REQUEST:
        return HTTP_BAD_REQUEST
    if code == RPC_METHOD_NOT_FOUND:
        return HTTP_NOT_FOUND
    return HTTP_INTERNAL_SERVER_ERROR


# --------------------------------------------------------------------------------------------
# HTTP
# --------------------------------------------------------------------------------------------


class _HTTPError(Exception):
    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


@dataclass(slots=True)
class _HTTPRequest:
    method: str
    target: str
    version: str
    headers: dict[str, str]
    body: bytes

    @property
    def keep_alive(self) -> bool:
        tokens = {t.strip().lower() for t in self.headers.get("connection", "").split(",")}
        if self.version == "HTTP/1.0":
            return "keep-alive" in tokens
        return "close" not in tokens


async def _readline(reader: asyncio.StreamReader) -> bytes:
    try:
        return await reader.readline()
    except ValueError:  # longer than the stream's buffer limit
        raise _HTTPError(HTTP_BAD_REQUEST) from None


async def _read_request(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, max_body: int
) -> _HTTPRequest | None:
    """Read one request; None on a clean EOF before it starts. Raises _HTTPError when bad."""
    line = b""
    for _ in range(8):  # tolerate stray blank lines between requests
        line = await _readline(reader)
        if not line:
            return None
        if line.strip():
            break
    parts = line.decode("latin-1").strip().split(" ")
    if len(parts) != 3 or parts[2] not in ("HTTP/1.0", "HTTP/1.1") or not parts[1]:
        raise _HTTPError(HTTP_BAD_REQUEST)
    method, target, version = parts
    headers: dict[str, str] = {}
    total = len(line)
    while True:
        raw = await _readline(reader)
        total += len(raw)
        if not raw or total > MAX_HEADERS_SIZE or not raw.endswith(b"\n"):
            raise _HTTPError(HTTP_BAD_REQUEST)
        text = raw.decode("latin-1").rstrip("\r\n")
        if not text:
            break
        name, sep, value = text.partition(":")
        if not sep or not name or name != name.strip() or " " in name:
            raise _HTTPError(HTTP_BAD_REQUEST)
        key = name.lower()
        headers[key] = f"{headers[key]}, {value.strip()}" if key in headers else value.strip()
    request = _HTTPRequest(method, target, version, headers, b"")
    encoding = headers.get("transfer-encoding", "").strip().lower()
    if encoding:
        if encoding != "chunked":
            raise _HTTPError(HTTP_BAD_REQUEST)
        _continue(request, writer)
        request.body = await _read_chunked(reader, max_body)
        return request
    length_text = headers.get("content-length", "0").strip()
    if not length_text.isdigit():
        raise _HTTPError(HTTP_BAD_REQUEST)
    length = int(length_text)
    if length > max_body:
        raise _HTTPError(HTTP_PAYLOAD_TOO_LARGE)
    if length:
        _continue(request, writer)
        request.body = await reader.readexactly(length)
    return request


def _continue(request: _HTTPRequest, writer: asyncio.StreamWriter) -> None:
    if request.version == "HTTP/1.1" and request.headers.get("expect", "").lower() == (
        "100-continue"
    ):
        writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")


async def _read_chunked(reader: asyncio.StreamReader, max_body: int) -> bytes:
    chunks: list[bytes] = []
    size_total = 0
    while True:
        size_line = (await _readline(reader)).split(b";")[0].strip()
        try:
            size = int(size_line, 16)
        except ValueError:
            raise _HTTPError(HTTP_BAD_REQUEST) from None
        if size < 0:
            raise _HTTPError(HTTP_BAD_REQUEST)
        if size == 0:
            break
        size_total += size
        if size_total > max_body:
            raise _HTTPError(HTTP_PAYLOAD_TOO_LARGE)
        chunks.append(await reader.readexactly(size))
        if (await _readline(reader)).strip():
            raise _HTTPError(HTTP_BAD_REQUEST)
    while (await _readline(reader)).strip():  # trailers
        pass
    return b"".join(chunks)


def _response_head(version: str, status: int, headers: list[tuple[str, str]], length: int) -> bytes:
    lines = [f"{version} {status} {_REASONS.get(status, 'Unknown')}"]
    lines += [f"{name}: {value}" for name, value in headers]
    lines.append(f"Date: {formatdate(usegmt=True)}")
    if status != HTTP_NO_CONTENT:
        lines.append(f"Content-Length: {length}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def _peer_address(
    writer: asyncio.StreamWriter,
) -> tuple[str, ipaddress.IPv4Address | ipaddress.IPv6Address | None]:
    peer = writer.get_extra_info("peername")
    if not isinstance(peer, tuple) or not peer:
        return "", None
    host, port = str(peer[0]), peer[1]
    try:
        address = ipaddress.ip_address(host.split("%")[0])
    except ValueError:
        return f"{host}:{port}", None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    shown = f"[{address}]:{port}" if address.version == 6 else f"{address}:{port}"
    return shown, address


@dataclass(slots=True)
class _Connection:
    busy: bool = False


# --------------------------------------------------------------------------------------------
# The server
# --------------------------------------------------------------------------------------------


class RPCServer:
    """bitcoind's JSON-RPC HTTP server.

    ``bind`` lists ``(host, port)`` endpoints (see :func:`rpc_bind_endpoints`; an endpoint
    that cannot be bound, e.g. ``::1`` without IPv6, is skipped with a warning; port 0 picks a
    free port, read back with :attr:`addresses`). ``rpcallowip`` adds subnets to the always
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
        text = help_text or _usage(name, param_names, required)
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
        call = _Call()
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
                    call = _Call()
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
            return _error_status(exc.code), (call.reply(None, exc) + "\n").encode()
        return HTTP_OK, (text + "\n").encode()

    async def _execute_one(self, call: _Call, uri: str, auth_user: str, peer: str) -> str:
        try:
            return call.reply(await self._execute(call, uri, auth_user, peer), None)
        except RPCError as exc:
            return call.reply(None, exc)

    async def _execute(self, call: _Call, uri: str, auth_user: str, peer: str) -> str:
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
        peer, address = _peer_address(writer)
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
                    request = await _read_request(reader, writer, self._max_body)
            except _HTTPError as exc:
                head = _response_head("HTTP/1.1", exc.status, [("Connection", "close")], 0)
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
            writer.write(_response_head(request.version, status, headers, len(body)))
            if body and request.method != "HEAD":
                writer.write(body)
            async with asyncio.timeout(self._timeout):
                await writer.drain()
            if not keep_alive:
                return

    async def _respond(
        self,
        request: _HTTPRequest,
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
