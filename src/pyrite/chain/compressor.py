"""Core's compact encodings for the UTXO set and undo data: the VARINT of serialize.h
(MSB base-128 with the "+1" trick, so every value has one encoding) and compressor.cpp
(CompressAmount, ScriptCompression, TxOutCompression), byte for byte.
"""

from __future__ import annotations

from typing import Final

from pyrite.encoding.bytes import ByteReader
from pyrite.errors import DecodeError

MAX_SCRIPT_SIZE = 10_000
U32_MAX = 0xFFFFFFFF
U64_MAX = 0xFFFFFFFFFFFFFFFF
_N_SPECIAL_SCRIPTS = 6
N_SPECIAL_SCRIPTS: Final = _N_SPECIAL_SCRIPTS
_P = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEFFFFFC2F  # secp256k1 field
_MAX_MONEY = 21_000_000 * 100_000_000
_POW10: tuple[int, ...] = tuple(10**i for i in range(10))
#: the script lengths ScriptCompression may store in a special form (P2PKH, P2SH, P2PK)
_SPECIAL_SCRIPT_SIZES: Final = frozenset((25, 23, 35, 67))


# ---------------------------------------------------------------------------
# VARINT (serialize.h, VarIntMode::DEFAULT): MSB base-128 with the "+1" trick
# so every value has exactly one encoding.


def varint(n: int) -> bytes:
    """Encode a non-negative integer as Core's VARINT (mirrors WriteVarInt)."""
    if n < 0x80:
        if n < 0:
            raise ValueError("VARINT of a negative number")
        return _VARINT1[n]
    # A two-byte VARINT holds n - 128 in base 128, big-endian, 0x80 set on the first byte.
    if n < 0x4080:
        m = n - 0x80
        return bytes(((m >> 7) | 0x80, m & 0x7F))
    # Three and four bytes (heights, most compressed amounts) the same way.
    if n < 0x204080:
        m = n - 0x4080
        return bytes(((m >> 14) | 0x80, (m >> 7) & 0x7F | 0x80, m & 0x7F))
    if n < _VARINT4_END:
        m = n - 0x204080
        return bytes(((m >> 21) | 0x80, (m >> 14) & 0x7F | 0x80, (m >> 7) & 0x7F | 0x80, m & 0x7F))
    if n < _VARINT5_END:
        m = n - 0x10204080
        return bytes(((m >> 28) | 0x80, (m >> 21) & 0x7F | 0x80, (m >> 14) & 0x7F | 0x80,
                      (m >> 7) & 0x7F | 0x80, m & 0x7F))  # fmt: skip
    # Longer: built last byte first into an integer.
    acc = n & 0x7F
    shift = 8
    while True:
        n = (n >> 7) - 1
        acc |= ((n & 0x7F) | 0x80) << shift
        shift += 8
        if n <= 0x7F:
            return acc.to_bytes(shift >> 3, "big")


_VARINT1: Final = tuple(bytes((i,)) for i in range(0x80))


#: VARINTs below these take at most four and five bytes
_VARINT4_END: Final = 0x10204080
_VARINT5_END: Final = 0x810204080


def varint_at(data: bytes | memoryview, pos: int, max_value: int = U64_MAX) -> tuple[int, int]:
    """Decode a VARINT at ``data[pos]``; returns (value, next position). Mirrors ReadVarInt."""
    end = len(data)
    if pos < end:  # up to five bytes in one go, when no bound given can be reached
        c0 = data[pos]
        if c0 < 0x80:
            return c0, pos + 1
        if pos + 3 < end and max_value >= _VARINT4_END:
            c1 = data[pos + 1]
            if c1 < 0x80:
                return ((c0 & 0x7F) << 7 | c1) + 0x80, pos + 2
            c2 = data[pos + 2]
            if c2 < 0x80:
                return ((c0 & 0x7F) << 14 | (c1 & 0x7F) << 7 | c2) + 0x4080, pos + 3
            c3 = data[pos + 3]
            if c3 < 0x80:
                n = (c0 & 0x7F) << 21 | (c1 & 0x7F) << 14 | (c2 & 0x7F) << 7 | c3
                return n + 0x204080, pos + 4
            if pos + 4 < end and max_value >= _VARINT5_END:  # (most compressed amounts)
                c4 = data[pos + 4]
                if c4 < 0x80:
                    n = (c0 & 0x7F) << 28 | (c1 & 0x7F) << 21 | (c2 & 0x7F) << 14
                    return (n | (c3 & 0x7F) << 7 | c4) + 0x10204080, pos + 5
    n = 0
    while True:
        if pos >= end:
            raise DecodeError("truncated VARINT")
        ch = data[pos]
        pos += 1
        if n > (max_value >> 7):
            raise DecodeError("ReadVarInt(): size too large")
        n = (n << 7) | (ch & 0x7F)
        if ch & 0x80:
            if n == max_value:
                raise DecodeError("ReadVarInt(): size too large")
            n += 1
        else:
            return n, pos


def read_varint(r: ByteReader, max_value: int = U64_MAX) -> int:
    """Read a VARINT from a ByteReader (mirrors ReadVarInt)."""
    n, r.pos = varint_at(r.buf, r.pos, max_value)
    return n


# ---------------------------------------------------------------------------
# Amount and script compression (compressor.cpp)


def compress_amount(value: int) -> int:
    """Mirrors CompressAmount (the value is taken as a uint64)."""
    n = value & U64_MAX
    if n == 0:
        return 0
    e = 0
    while n % 10 == 0 and e < 9:
        n //= 10
        e += 1
    if e < 9:
        d = n % 10
        n //= 10
        return (1 + (n * 9 + d - 1) * 10 + e) & U64_MAX
    return (1 + (n - 1) * 10 + 9) & U64_MAX


def decompress_amount(x: int) -> int:
    """Mirrors DecompressAmount, returning the int64 Core would store in nValue."""
    if x == 0:
        return 0
    x -= 1
    e = x % 10
    x //= 10
    if e < 9:
        d = x % 9 + 1
        x //= 9
        n = x * 10 + d
    else:
        n = x + 1
    n = (n * _POW10[e]) & U64_MAX
    return n - (1 << 64) if n >> 63 else n


def _uncompressed_key_valid(script: bytes) -> bool:
    """IsFullyValid for a 65-byte 0x04 key at script[1:66]: coordinates below p, on the curve."""
    x = int.from_bytes(script[2:34], "big")
    y = int.from_bytes(script[34:66], "big")
    return x < _P and y < _P and (y * y - x * x * x - 7) % _P == 0


def compress_script(script: bytes) -> bytes:
    """Mirrors ScriptCompression::Ser: a special 21/33-byte form or VARINT(len+6)||script."""
    n = len(script)
    if n == 25:
        if (
            script[0] == 0x76
            and script[1] == 0xA9
            and script[2] == 20
            and script[23] == 0x88
            and script[24] == 0xAC
        ):
            return b"\x00" + script[3:23]
    elif n == 23:
        if script[0] == 0xA9 and script[1] == 20 and script[22] == 0x87:
            return b"\x01" + script[2:22]
    elif n == 35:
        if script[0] == 33 and script[34] == 0xAC and script[1] in (2, 3):
            return script[1:34]
    elif n == 67:
        if (
            script[0] == 65
            and script[66] == 0xAC
            and script[1] == 4
            and _uncompressed_key_valid(script)
        ):
            return bytes((4 | (script[65] & 1),)) + script[2:34]
    n += _N_SPECIAL_SCRIPTS
    return (_VARINT1[n] if n < 0x80 else varint(n)) + script


def _decompress_special(kind: int, payload: bytes) -> bytes:
    if kind == 0:
        return b"\x76\xa9\x14" + payload + b"\x88\xac"
    if kind == 1:
        return b"\xa9\x14" + payload + b"\x87"
    if kind in (2, 3):
        return b"\x21" + bytes((kind,)) + payload + b"\xac"
    # 4, 5: an uncompressed key stored as its x coordinate and the parity of y
    x = int.from_bytes(payload, "big")
    if x >= _P:
        raise DecodeError("compressed P2PK x coordinate out of range")
    y2 = (x * x * x + 7) % _P
    y = pow(y2, (_P + 1) // 4, _P)
    if y * y % _P != y2:
        raise DecodeError("compressed P2PK key is not on the curve")
    if (y & 1) != (kind & 1):
        y = _P - y
    return b"\x41\x04" + payload + y.to_bytes(32, "big") + b"\xac"


def _read_compressed_script(data: bytes, pos: int) -> tuple[bytes, int]:
    """Mirrors ScriptCompression::Unser; returns (script, next position)."""
    size, pos = varint_at(data, pos, U32_MAX)
    return read_compressed_script(data, size, pos)


def read_compressed_script(data: bytes, size: int, pos: int) -> tuple[bytes, int]:
    """``_read_compressed_script`` once its leading VARINT (``size``) has been read."""
    if size < _N_SPECIAL_SCRIPTS:
        plen = 20 if size < 2 else 32
        end = pos + plen
        if end > len(data):
            raise DecodeError("truncated compressed script")
        return _decompress_special(size, data[pos:end]), end
    size -= _N_SPECIAL_SCRIPTS
    end = pos + size
    if end > len(data):
        raise DecodeError("truncated script")
    if size > MAX_SCRIPT_SIZE:  # Core keeps a short unspendable stand-in
        return b"\x6a", end
    return data[pos:end], end


def compress_txout(value: int, script: bytes) -> bytes:
    """Mirrors TxOutCompression: VARINT(CompressAmount(value)) || compressed script."""
    if 0 < value <= _MAX_MONEY and value % 10:  # CompressAmount without trailing zeros
        a = 1 + (value // 10 * 9 + value % 10 - 1) * 10
    else:
        a = compress_amount(value)
    n = len(script)
    if n < 0x7A and n not in _SPECIAL_SCRIPT_SIZES:  # stored as VARINT(len + 6) || script
        return (_VARINT1[a] if a < 0x80 else varint(a)) + _VARINT1[n + _N_SPECIAL_SCRIPTS] + script
    return (_VARINT1[a] if a < 0x80 else varint(a)) + compress_script(script)


def read_compressed_txout(data: bytes, pos: int) -> tuple[int, bytes, int]:
    """Inverse of ``compress_txout`` at ``data[pos]``: (value, script, next position)."""
    amount, pos = varint_at(data, pos)
    script, pos = _read_compressed_script(data, pos)
    return decompress_amount(amount), script, pos


def is_unspendable(script: bytes) -> bool:
    """Mirrors CScript::IsUnspendable: OP_RETURN first, or longer than MAX_SCRIPT_SIZE."""
    return (len(script) > 0 and script[0] == 0x6A) or len(script) > MAX_SCRIPT_SIZE
