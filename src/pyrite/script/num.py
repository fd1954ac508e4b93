"""CScriptNum: Script's little-endian sign-magnitude integers."""

from __future__ import annotations

from pyrite.script.errors import ScriptError


def decode_num(vch: bytes, require_minimal: bool, max_size: int = 4) -> int:
    """Mirror of CScriptNum(vch, fRequireMinimal, nMaxNumSize); errors are SCRIPTNUM."""
    n = len(vch)
    if n > max_size:
        raise ScriptError("SCRIPTNUM", "script number overflow")
    if n == 0:
        return 0
    last = vch[-1]
    if require_minimal and (last & 0x7F) == 0 and (n <= 1 or (vch[-2] & 0x80) == 0):
        raise ScriptError("SCRIPTNUM", "non-minimally encoded script number")
    if last & 0x80:
        return -int.from_bytes(vch[:-1] + bytes((last & 0x7F,)), "little")
    return int.from_bytes(vch, "little")


def encode_num(value: int) -> bytes:
    """Minimal CScriptNum serialization."""
    small = _SMALL_NUMS.get(value)
    if small is not None:
        return small
    return _encode_num(value)


def _encode_num(value: int) -> bytes:
    if value == 0:
        return b""
    neg = value < 0
    absval = -value if neg else value
    out = bytearray()
    while absval:
        out.append(absval & 0xFF)
        absval >>= 8
    if out[-1] & 0x80:
        out.append(0x80 if neg else 0)
    elif neg:
        out[-1] |= 0x80
    return bytes(out)


#: ``encode_num`` of the numbers scripts push and count most (OP_1NEGATE to OP_16, sizes)
_SMALL_NUMS: dict[int, bytes] = {v: _encode_num(v) for v in range(-256, 1024)}


def clamp_int32(value: int) -> int:
    """CScriptNum::getint(): saturate to the int32 range."""
    if value > 0x7FFFFFFF:
        return 0x7FFFFFFF
    if value < -0x80000000:
        return -0x80000000
    return value


def cast_to_bool(vch: bytes) -> bool:
    """Any non-zero byte is true, except a lone sign bit in the last byte (negative zero)."""
    n = len(vch)
    if n == 0:
        return False
    if vch[-1] & 0x7F:
        return True
    return vch.count(0, 0, n - 1) != n - 1
