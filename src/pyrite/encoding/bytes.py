"""ByteReader / ByteWriter over memoryview with precompiled structs, and CompactSize."""

from __future__ import annotations

import struct

from pyrite.errors import DecodeError

MAX_SIZE = 0x02000000  # Core's MAX_SIZE: no single serialized object may claim more

_U8 = struct.Struct("<B")
_U16 = struct.Struct("<H")
_U32 = struct.Struct("<I")
_I32 = struct.Struct("<i")
_U64 = struct.Struct("<Q")
_I64 = struct.Struct("<q")


class ByteReader:
    """Sequential reader; every read checks bounds and raises DecodeError."""

    __slots__ = ("buf", "end", "pos")

    def __init__(self, data: bytes | bytearray | memoryview, pos: int = 0) -> None:
        self.buf = memoryview(data).cast("B") if not isinstance(data, bytes) else data
        self.pos = pos
        self.end = len(data)

    def remaining(self) -> int:
        return self.end - self.pos

    def read(self, n: int) -> bytes:
        p = self.pos
        q = p + n
        if n < 0 or q > self.end:
            raise DecodeError(f"read of {n} bytes past end ({self.end - p} left)")
        self.pos = q
        return bytes(self.buf[p:q])

    def u8(self) -> int:
        p = self.pos
        if p >= self.end:
            raise DecodeError("unexpected end of data")
        self.pos = p + 1
        return self.buf[p]

    def _unpack(self, st: struct.Struct) -> int:
        p = self.pos
        q = p + st.size
        if q > self.end:
            raise DecodeError("unexpected end of data")
        self.pos = q
        v: int = st.unpack_from(self.buf, p)[0]
        return v

    def u16(self) -> int:
        return self._unpack(_U16)

    def u32(self) -> int:
        return self._unpack(_U32)

    def i32(self) -> int:
        return self._unpack(_I32)

    def u64(self) -> int:
        return self._unpack(_U64)

    def i64(self) -> int:
        return self._unpack(_I64)

    def compact_size(self, max_value: int = MAX_SIZE) -> int:
        """Read a canonical CompactSize no larger than ``max_value`` (mirrors ReadCompactSize)."""
        first = self.u8()
        if first < 0xFD:
            n = first
        elif first == 0xFD:
            n = self.u16()
            if n < 0xFD:
                raise DecodeError("non-canonical compact size")
        elif first == 0xFE:
            n = self.u32()
            if n < 0x10000:
                raise DecodeError("non-canonical compact size")
        else:
            n = self.u64()
            if n < 0x100000000:
                raise DecodeError("non-canonical compact size")
        if n > max_value:
            raise DecodeError(f"compact size {n} too large")
        return n

    def var_bytes(self) -> bytes:
        n = self.compact_size()
        return self.read(n)

    def done(self) -> None:
        if self.pos != self.end:
            raise DecodeError(f"{self.end - self.pos} trailing bytes")


class ByteWriter:
    """Appends to a bytearray."""

    __slots__ = ("buf",)

    def __init__(self) -> None:
        self.buf = bytearray()

    def write(self, b: bytes | bytearray | memoryview) -> None:
        self.buf += b

    def u8(self, v: int) -> None:
        self.buf.append(v)

    def u16(self, v: int) -> None:
        self.buf += _U16.pack(v)

    def u32(self, v: int) -> None:
        self.buf += _U32.pack(v)

    def i32(self, v: int) -> None:
        self.buf += _I32.pack(v)

    def u64(self, v: int) -> None:
        self.buf += _U64.pack(v)

    def i64(self, v: int) -> None:
        self.buf += _I64.pack(v)

    def compact_size(self, n: int) -> None:
        self.buf += compact_size(n)

    def var_bytes(self, b: bytes) -> None:
        self.buf += compact_size(len(b))
        self.buf += b

    def getvalue(self) -> bytes:
        return bytes(self.buf)


_SMALL = tuple(bytes((i,)) for i in range(0xFD))


def compact_size(n: int) -> bytes:
    """Encode ``n`` as a canonical CompactSize."""
    if 0 <= n < 0xFD:
        return _SMALL[n]
    if n < 0:
        raise ValueError("negative compact size")
    if n <= 0xFFFF:
        return b"\xfd" + _U16.pack(n)
    if n <= 0xFFFFFFFF:
        return b"\xfe" + _U32.pack(n)
    return b"\xff" + _U64.pack(n)


def read_compact_size(data: bytes, max_value: int = MAX_SIZE) -> int:
    r = ByteReader(data)
    n = r.compact_size(max_value)
    r.done()
    return n
