"""Display helpers: Bitcoin shows 256-bit hashes byte-reversed."""

from __future__ import annotations

from pyrite.errors import DecodeError


def hash_to_hex(h: bytes) -> str:
    return h[::-1].hex()


def hex_to_hash(s: str) -> bytes:
    try:
        b = bytes.fromhex(s)
    except ValueError as e:
        raise DecodeError(f"bad hex hash: {s!r}") from e
    if len(b) != 32:
        raise DecodeError("hash must be 32 bytes")
    return b[::-1]
