"""Bech32 (BIP173) and Bech32m (BIP350) strings, and segwit addresses built on them.

``decode`` applies every rule of the BIPs: at most 90 characters, each in the
printable range 33..126, no mixed case, a non-empty human-readable part (hrp)
before the last ``'1'``, a data part of at least six characters from the
Bech32 alphabet, and a checksum that matches exactly one of the two variants.
All failures raise ``DecodeError``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from enum import Enum

from pyrite.errors import DecodeError

CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
_CHARSET_REV: dict[str, int] = {c: i for i, c in enumerate(CHARSET)}
_GEN = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)
MAX_LENGTH = 90
CHECKSUM_LENGTH = 6


class Spec(Enum):
    """Checksum variant; the value is the constant the polymod must produce."""

    BECH32 = 1
    BECH32M = 0x2BC830A3


BECH32 = Spec.BECH32
BECH32M = Spec.BECH32M


def _polymod(values: Iterable[int]) -> int:
    chk = 1
    for v in values:
        top = chk >> 25
        chk = ((chk & 0x1FFFFFF) << 5) ^ v
        for i in range(5):
            if (top >> i) & 1:
                chk ^= _GEN[i]
    return chk


def _hrp_expand(hrp: str) -> list[int]:
    codes = [ord(c) for c in hrp]
    return [c >> 5 for c in codes] + [0] + [c & 31 for c in codes]


def _checksum(hrp: str, data: Sequence[int], spec: Spec) -> list[int]:
    pm = _polymod([*_hrp_expand(hrp), *data, 0, 0, 0, 0, 0, 0]) ^ spec.value
    return [(pm >> (5 * (5 - i))) & 31 for i in range(CHECKSUM_LENGTH)]


def encode(hrp: str, data: Sequence[int], spec: Spec, max_length: int = MAX_LENGTH) -> str:
    """Bech32/Bech32m string for ``hrp`` and 5-bit ``data`` (always lower case)."""
    if not hrp:
        raise DecodeError("empty human-readable part")
    if any(not 33 <= ord(c) <= 126 for c in hrp):
        raise DecodeError("human-readable part character out of range")
    if hrp.lower() != hrp and hrp.upper() != hrp:
        raise DecodeError("mixed-case human-readable part")
    if any(not 0 <= d < 32 for d in data):
        raise DecodeError("data value is not a 5-bit group")
    hrp = hrp.lower()
    out = hrp + "1" + "".join(CHARSET[d] for d in [*data, *_checksum(hrp, data, spec)])
    if len(out) > max_length:
        raise DecodeError(f"bech32 string longer than {max_length} characters")
    return out


def decode(text: str, max_length: int = MAX_LENGTH) -> tuple[str, list[int], Spec]:
    """Split a Bech32/Bech32m string into (lower-case hrp, 5-bit data, spec).

    The returned data excludes the six checksum characters.
    """
    if not isinstance(text, str):
        raise DecodeError("bech32 input must be a str")
    if len(text) > max_length:
        raise DecodeError(f"bech32 string longer than {max_length} characters")
    if any(not 33 <= ord(c) <= 126 for c in text):
        raise DecodeError("bech32 character out of range")
    lower = text.lower()
    if lower != text and text.upper() != text:
        raise DecodeError("mixed-case bech32 string")
    pos = lower.rfind("1")
    if pos < 0:
        raise DecodeError("missing bech32 separator")
    if pos == 0:
        raise DecodeError("empty human-readable part")
    if pos + 1 + CHECKSUM_LENGTH > len(lower):
        raise DecodeError("bech32 checksum too short")
    hrp = lower[:pos]
    data: list[int] = []
    for c in lower[pos + 1 :]:
        v = _CHARSET_REV.get(c)
        if v is None:
            raise DecodeError(f"invalid bech32 data character {c!r}")
        data.append(v)
    const = _polymod([*_hrp_expand(hrp), *data])
    if const == Spec.BECH32.value:
        spec = Spec.BECH32
    elif const == Spec.BECH32M.value:
        spec = Spec.BECH32M
    else:
        raise DecodeError("bech32 checksum mismatch")
    return hrp, data[:-CHECKSUM_LENGTH], spec


def convertbits(data: Iterable[int], frombits: int, tobits: int, pad: bool) -> list[int]:
    """Regroup a sequence of ``frombits``-bit values into ``tobits``-bit values.

    With ``pad`` a final partial group is zero-filled. Without it, leftover bits
    must be fewer than ``frombits`` and all zero, as BIP173 requires when going
    from 5-bit groups back to bytes.
    """
    acc = 0
    bits = 0
    out: list[int] = []
    maxv = (1 << tobits) - 1
    max_acc = (1 << (frombits + tobits - 1)) - 1
    for value in data:
        if value < 0 or value >> frombits:
            raise DecodeError(f"value {value} does not fit in {frombits} bits")
        acc = ((acc << frombits) | value) & max_acc
        bits += frombits
        while bits >= tobits:
            bits -= tobits
            out.append((acc >> bits) & maxv)
    if pad:
        if bits:
            out.append((acc << (tobits - bits)) & maxv)
    elif bits >= frombits:
        raise DecodeError("more than the allowed padding bits")
    elif (acc << (tobits - bits)) & maxv:
        raise DecodeError("non-zero padding bits")
    return out


# --- segwit addresses (BIP173 with the BIP350 amendment) ---


def _check_program(version: int, program: bytes) -> None:
    if not 0 <= version <= 16:
        raise DecodeError(f"invalid witness version {version}")
    if not 2 <= len(program) <= 40:
        raise DecodeError(f"invalid witness program length {len(program)}")
    if version == 0 and len(program) not in (20, 32):
        raise DecodeError(f"invalid witness v0 program length {len(program)}")


def segwit_encode(hrp: str, version: int, program: bytes) -> str:
    """Address for a witness program: Bech32 for version 0, Bech32m for 1..16."""
    _check_program(version, program)
    spec = Spec.BECH32 if version == 0 else Spec.BECH32M
    return encode(hrp, [version, *convertbits(program, 8, 5, True)], spec)


def segwit_decode_any(addr: str) -> tuple[str, int, bytes]:
    """(hrp, witness version, program) of a segwit address with any hrp."""
    hrp, data, spec = decode(addr)
    if not data:
        raise DecodeError("empty segwit data section")
    version = data[0]
    if version > 16:
        raise DecodeError(f"invalid witness version {version}")
    program = bytes(convertbits(data[1:], 5, 8, False))
    _check_program(version, program)
    if version == 0 and spec is not Spec.BECH32:
        raise DecodeError("witness v0 address must use bech32")
    if version != 0 and spec is not Spec.BECH32M:
        raise DecodeError("witness v1+ address must use bech32m")
    return hrp, version, program


def segwit_decode(hrp: str, addr: str) -> tuple[int, bytes]:
    """(witness version, program) of a segwit address that must carry ``hrp``."""
    got, version, program = segwit_decode_any(addr)
    if got != hrp.lower():
        raise DecodeError(f"human-readable part {got!r} is not {hrp!r}")
    return version, program
