"""The HTTP side of the RPC server: where to listen, who may connect, and HTTP/1.x framing.

Holds the ``-rpcbind`` / ``-rpcallowip`` / ``-rpcauth`` helpers (:func:`split_host_port`,
:func:`rpc_bind_endpoints`, :func:`parse_allow_ip`, :func:`rpcauth_hmac`; mirrors Core's
SplitHostPort and HTTPBindAddresses in ``httpserver.cpp``) and the wire format of one exchange:
:func:`read_request` reads a request (headers, a ``Content-Length`` or chunked body,
``Expect: 100-continue``) into an :class:`HTTPRequest`, or raises :class:`HTTPError` carrying
the status to answer; :func:`response_head` writes a status line and headers; and
:func:`peer_address` names the client. Routing, authentication and JSON-RPC are left to
:mod:`pyrite.rpc.server`.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from email.utils import formatdate
from typing import Final, TypeAlias

from pyrite.rpc.errors import HTTP_BAD_REQUEST, HTTP_NO_CONTENT, HTTP_PAYLOAD_TOO_LARGE

log = logging.getLogger(__name__)

MAX_HEADERS_SIZE: Final = 8192

IPNetwork: TypeAlias = ipaddress.IPv4Network | ipaddress.IPv6Network

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
# HTTP/1.x requests and responses
# --------------------------------------------------------------------------------------------


class HTTPError(Exception):
    """A request too malformed or too large to answer normally; ``status`` is the reply."""

    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


@dataclass(slots=True)
class HTTPRequest:
    """One request as read off the wire; header names are lower-cased, repeats joined by ", "."""

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
        raise HTTPError(HTTP_BAD_REQUEST) from None


async def read_request(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, max_body: int
) -> HTTPRequest | None:
    """Read one request; None on a clean EOF before it starts. Raises HTTPError when bad."""
    line = b""
    for _ in range(8):  # tolerate stray blank lines between requests
        line = await _readline(reader)
        if not line:
            return None
        if line.strip():
            break
    parts = line.decode("latin-1").strip().split(" ")
    if len(parts) != 3 or parts[2] not in ("HTTP/1.0", "HTTP/1.1") or not parts[1]:
        raise HTTPError(HTTP_BAD_REQUEST)
    method, target, version = parts
    headers: dict[str, str] = {}
    total = len(line)
    while True:
        raw = await _readline(reader)
        total += len(raw)
        if not raw or total > MAX_HEADERS_SIZE or not raw.endswith(b"\n"):
            raise HTTPError(HTTP_BAD_REQUEST)
        text = raw.decode("latin-1").rstrip("\r\n")
        if not text:
            break
        name, sep, value = text.partition(":")
        if not sep or not name or name != name.strip() or " " in name:
            raise HTTPError(HTTP_BAD_REQUEST)
        key = name.lower()
        headers[key] = f"{headers[key]}, {value.strip()}" if key in headers else value.strip()
    request = HTTPRequest(method, target, version, headers, b"")
    encoding = headers.get("transfer-encoding", "").strip().lower()
    if encoding:
        if encoding != "chunked":
            raise HTTPError(HTTP_BAD_REQUEST)
        _continue(request, writer)
        request.body = await _read_chunked(reader, max_body)
        return request
    length_text = headers.get("content-length", "0").strip()
    if not length_text.isdigit():
        raise HTTPError(HTTP_BAD_REQUEST)
    length = int(length_text)
    if length > max_body:
        raise HTTPError(HTTP_PAYLOAD_TOO_LARGE)
    if length:
        _continue(request, writer)
        request.body = await reader.readexactly(length)
    return request


def _continue(request: HTTPRequest, writer: asyncio.StreamWriter) -> None:
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
            raise HTTPError(HTTP_BAD_REQUEST) from None
        if size < 0:
            raise HTTPError(HTTP_BAD_REQUEST)
        if size == 0:
            break
        size_total += size
        if size_total > max_body:
            raise HTTPError(HTTP_PAYLOAD_TOO_LARGE)
        chunks.append(await reader.readexactly(size))
        if (await _readline(reader)).strip():
            raise HTTPError(HTTP_BAD_REQUEST)
    while (await _readline(reader)).strip():  # trailers
        pass
    return b"".join(chunks)


def response_head(version: str, status: int, headers: list[tuple[str, str]], length: int) -> bytes:
    """The status line and headers (with ``Date`` and, unless 204, ``Content-Length``)."""
    lines = [f"{version} {status} {_REASONS.get(status, 'Unknown')}"]
    lines += [f"{name}: {value}" for name, value in headers]
    lines.append(f"Date: {formatdate(usegmt=True)}")
    if status != HTTP_NO_CONTENT:
        lines.append(f"Content-Length: {length}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def peer_address(
    writer: asyncio.StreamWriter,
) -> tuple[str, ipaddress.IPv4Address | ipaddress.IPv6Address | None]:
    """The client as shown in logs (``1.2.3.4:5``, ``[::1]:5``) and its address, IPv4-mapped
    addresses unwrapped; the address is None when the peer is not an IP socket."""
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
