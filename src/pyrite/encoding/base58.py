"""Base58 and Base58Check (the legacy address, WIF and extended-key text format).

Each leading zero byte maps to one leading ``'1'`` and back. Decoding follows
Bitcoin Core's ``DecodeBase58``: ASCII whitespace at either end is ignored,
anything else outside the alphabet (including whitespace between digits) is an
error. Every decoding failure raises ``DecodeError``.
"""

from __future__ import annotations

from pyrite.crypto.hashes import sha256d
from pyrite.errors import DecodeError

ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_INDEX: dict[str, int] = {c: i for i, c in enumerate(ALPHABET)}
_SPACE = " \t\n\v\f\r"  # C's isspace() in the "C" locale, as Core uses
CHECKSUM_SIZE = 4


def encode(data: bytes) -> str:
    """Base58 text of ``data`` (no checksum)."""
    zeros = len(data) - len(data.lstrip(b"\x00"))
    n = int.from_bytes(data, "big")
    digits: list[str] = []
    while n:
        n, rem = divmod(n, 58)
        digits.append(ALPHABET[rem])
    return "1" * zeros + "".join(reversed(digits))


def decode(text: str, max_len: int | None = None) -> bytes:
    """Bytes encoded by ``text`` (no checksum).

    ``max_len`` bounds the decoded size, like the ``max_ret_len`` of Core's
    decoder; longer results raise ``DecodeError``.
    """
    if not isinstance(text, str):
        raise DecodeError("base58 input must be a str")
    s = text.strip(_SPACE)
    zeros = len(s) - len(s.lstrip("1"))
    digits = len(s) - zeros
    # k significant digits decode to more than (k - 1) * log256(58) > (k - 1) * 0.732 bytes,
    # so an over-long input is refused before the quadratic big-number work.
    if max_len is not None and zeros + (digits - 1) * 732 // 1000 > max_len:
        raise DecodeError(f"base58 data longer than {max_len} bytes")
    n = 0
    index = _INDEX
    for c in s[zeros:]:
        v = index.get(c)
        if v is None:
            raise DecodeError(f"invalid base58 character {c!r}")
        n = n * 58 + v
    body = n.to_bytes((n.bit_length() + 7) // 8, "big") if n else b""
    out = b"\x00" * zeros + body
    if max_len is not None and len(out) > max_len:
        raise DecodeError(f"base58 data longer than {max_len} bytes")
    return out


def checksum(payload: bytes) -> bytes:
    """The 4-byte Base58Check checksum: the head of sha256d(payload)."""
    return sha256d(payload)[:CHECKSUM_SIZE]


def encode_check(payload: bytes) -> str:
    """Base58Check text: ``payload`` followed by its 4-byte checksum."""
    return encode(payload + checksum(payload))


def decode_check(text: str, max_len: int | None = None) -> bytes:
    """Payload of a Base58Check string, checksum verified and removed.

    ``max_len`` bounds the payload size (checksum excluded).
    """
    limit = None if max_len is None else max_len + CHECKSUM_SIZE
    raw = decode(text, limit)
    if len(raw) < CHECKSUM_SIZE:
        raise DecodeError("base58check data shorter than its checksum")
    payload, check = raw[:-CHECKSUM_SIZE], raw[-CHECKSUM_SIZE:]
    if checksum(payload) != check:
        raise DecodeError("base58check checksum mismatch")
    return payload
