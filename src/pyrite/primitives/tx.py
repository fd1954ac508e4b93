"""OutPoint, TxIn, TxOut and Tx with BIP144 (segwit) serialization."""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import NamedTuple

from pyrite.crypto.hashes import sha256d
from pyrite.encoding.bytes import ByteReader, ByteWriter, compact_size
from pyrite.errors import DecodeError

COIN = 100_000_000
MAX_MONEY = 21_000_000 * COIN
SEQUENCE_FINAL = 0xFFFFFFFF
NULL_HASH = bytes(32)
MAX_TX_SIZE = 4_000_000  # nothing bigger fits in a block
_MIN_TXIN = 41
_MIN_TXOUT = 9
_OUTPOINT = struct.Struct("<32sI")
_U32 = struct.Struct("<I")
_I64 = struct.Struct("<q")


class OutPoint(NamedTuple):
    """A reference to a transaction output. A tuple, so hashing and comparison run in C
    (outpoints key the UTXO cache)."""

    txid: bytes  # internal byte order
    n: int

    def is_null(self) -> bool:
        return self.n == 0xFFFFFFFF and self.txid == NULL_HASH

    def serialize(self) -> bytes:
        return _OUTPOINT.pack(self.txid, self.n)

    def __str__(self) -> str:
        return f"{self.txid[::-1].hex()}:{self.n}"


NULL_OUTPOINT = OutPoint(NULL_HASH, 0xFFFFFFFF)


@dataclass(frozen=True, slots=True)
class TxIn:
    prevout: OutPoint
    script_sig: bytes = b""
    sequence: int = SEQUENCE_FINAL
    witness: tuple[bytes, ...] = ()


@dataclass(frozen=True, slots=True)
class TxOut:
    value: int
    script_pubkey: bytes

    def serialize(self) -> bytes:
        return (
            struct.pack("<q", self.value)
            + compact_size(len(self.script_pubkey))
            + (self.script_pubkey)
        )

    @classmethod
    def read(cls, r: ByteReader) -> TxOut:
        return cls(r.i64(), r.var_bytes())


@dataclass(frozen=True, slots=True)
class Tx:
    version: int
    vin: tuple[TxIn, ...]
    vout: tuple[TxOut, ...]
    locktime: int = 0
    txid: bytes = field(default=b"", compare=False)
    wtxid: bytes = field(default=b"", compare=False)
    size: int = field(default=0, compare=False)  # serialized size with witness
    base_size: int = field(default=0, compare=False)  # without witness
    #: the exact bytes this transaction was parsed from (with witness), kept because they
    #: are at hand anyway; built transactions get theirs from ``serialize()``
    raw: bytes = field(default=b"", compare=False, repr=False)

    def __post_init__(self) -> None:
        if not self.txid:
            raw = self.serialize(witness=True)
            base = self.serialize(witness=False)
            object.__setattr__(self, "raw", raw)
            object.__setattr__(self, "txid", sha256d(base))
            object.__setattr__(self, "wtxid", sha256d(raw) if raw != base else sha256d(base))
            object.__setattr__(self, "size", len(raw))
            object.__setattr__(self, "base_size", len(base))

    # --- properties ---
    def has_witness(self) -> bool:
        return any(i.witness for i in self.vin)

    def is_coinbase(self) -> bool:
        return len(self.vin) == 1 and self.vin[0].prevout.is_null()

    @property
    def weight(self) -> int:
        return self.base_size * 3 + self.size

    @property
    def vsize(self) -> int:
        return (self.weight + 3) // 4

    # --- codec ---
    def write(self, w: ByteWriter, witness: bool = True) -> None:
        use_wit = witness and self.has_witness()
        w.i32(self.version)
        if use_wit:
            w.write(b"\x00\x01")
        w.compact_size(len(self.vin))
        for i in self.vin:
            w.write(i.prevout.serialize())
            w.var_bytes(i.script_sig)
            w.u32(i.sequence)
        w.compact_size(len(self.vout))
        for o in self.vout:
            w.i64(o.value)
            w.var_bytes(o.script_pubkey)
        if use_wit:
            for i in self.vin:
                w.compact_size(len(i.witness))
                for item in i.witness:
                    w.var_bytes(item)
        w.u32(self.locktime)

    def serialize(self, witness: bool = True) -> bytes:
        w = ByteWriter()
        self.write(w, witness)
        return w.getvalue()

    @classmethod
    def read(cls, r: ByteReader, allow_witness: bool = True) -> Tx:
        """Mirrors Core's UnserializeTransaction (BIP144 marker/flag handling)."""
        start = r.pos
        buf = r.buf
        version = r.i32()
        flags = 0
        vin = _read_vin(r)
        body_start = start + 4
        if not vin and allow_witness:
            flags = r.u8()
            if flags != 0:
                body_start = r.pos
                vin = _read_vin(r)
                vout = _read_vout(r)
            else:
                vout = ()
        else:
            vout = _read_vout(r)
        body_end = r.pos
        if flags & 1 and allow_witness:
            flags ^= 1
            wins = []
            any_wit = False
            for txin in vin:
                stack = _read_witness(r)
                if stack:
                    any_wit = True
                wins.append(TxIn(txin.prevout, txin.script_sig, txin.sequence, stack))
            if not any_wit:
                raise DecodeError("superfluous witness record")
            vin = tuple(wins)
        if flags:
            raise DecodeError("unknown transaction optional data")
        locktime = r.u32()
        end = r.pos
        raw = bytes(buf[start:end])
        if body_start != start + 4:  # witness serialization: strip marker/flag and witnesses
            base = raw[:4] + bytes(buf[body_start:body_end]) + raw[-4:]
        else:
            base = raw
        txid = sha256d(base)
        wtxid = sha256d(raw) if base is not raw else txid
        return cls(version, vin, vout, locktime, txid, wtxid, len(raw), len(base), raw)

    @classmethod
    def from_bytes(cls, data: bytes, allow_witness: bool = True) -> Tx:
        r = ByteReader(data)
        tx = cls.read(r, allow_witness)
        r.done()
        return tx

    @classmethod
    def from_hex(cls, s: str) -> Tx:
        try:
            data = bytes.fromhex(s)
        except ValueError as e:
            raise DecodeError("transaction hex is not valid hex") from e
        return cls.from_bytes(data)

    def txid_hex(self) -> str:
        return self.txid[::-1].hex()

    def wtxid_hex(self) -> str:
        return self.wtxid[::-1].hex()


def _read_vin(r: ByteReader) -> tuple[TxIn, ...]:
    n = r.compact_size()
    if n * _MIN_TXIN > r.end - r.pos:
        raise DecodeError(f"input count {n} exceeds data")
    buf = r.buf
    pos = r.pos
    end = r.end
    out = []
    unpack = _OUTPOINT.unpack_from
    u32 = _U32.unpack_from
    for _ in range(n):
        if pos + 37 > end:
            raise DecodeError("truncated input")
        h, idx = unpack(buf, pos)
        ln = buf[pos + 36]
        if ln < 0xFD:
            pos += 37
        else:  # multi-byte compact size: let the reader check it is canonical
            r.pos = pos + 36
            ln = r.compact_size()
            pos = r.pos
        q = pos + ln
        if q + 4 > end:
            raise DecodeError("truncated input")
        ss = bytes(buf[pos:q])
        pos = q + 4
        out.append(TxIn(OutPoint(h, idx), ss, u32(buf, q)[0]))
    r.pos = pos
    return tuple(out)


def _read_vout(r: ByteReader) -> tuple[TxOut, ...]:
    n = r.compact_size()
    if n * _MIN_TXOUT > r.end - r.pos:
        raise DecodeError(f"output count {n} exceeds data")
    buf = r.buf
    pos = r.pos
    end = r.end
    out = []
    i64 = _I64.unpack_from
    for _ in range(n):
        if pos + 9 > end:
            raise DecodeError("truncated output")
        value = i64(buf, pos)[0]
        ln = buf[pos + 8]
        if ln < 0xFD:
            pos += 9
        else:
            r.pos = pos + 8
            ln = r.compact_size()
            pos = r.pos
        q = pos + ln
        if q > end:
            raise DecodeError("truncated output script")
        out.append(TxOut(value, bytes(buf[pos:q])))
        pos = q
    r.pos = pos
    return tuple(out)


def _read_witness(r: ByteReader) -> tuple[bytes, ...]:
    n = r.compact_size()
    if n > r.end - r.pos:
        raise DecodeError("witness stack count exceeds data")
    buf = r.buf
    pos = r.pos
    end = r.end
    items = []
    for _ in range(n):
        if pos >= end:
            raise DecodeError("truncated witness")
        ln = buf[pos]
        if ln < 0xFD:
            pos += 1
        else:
            r.pos = pos
            ln = r.compact_size()
            pos = r.pos
        q = pos + ln
        if q > end:
            raise DecodeError("truncated witness item")
        items.append(bytes(buf[pos:q]))
        pos = q
    r.pos = pos
    return tuple(items)
