"""OutPoint, TxIn, TxOut and Tx with BIP144 (segwit) serialization."""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from pyrite.crypto.hashes import sha256_short, sha256d
from pyrite.encoding.bytes import ByteReader, ByteWriter, compact_size
from pyrite.errors import DecodeError

COIN = 100_000_000
MAX_MONEY = 21_000_000 * COIN
SEQUENCE_FINAL = 0xFFFFFFFF
NULL_HASH = bytes(32)
MAX_TX_SIZE = 4_000_000  # nothing bigger fits in a block
_OUTPOINT = struct.Struct("<32sI")
_U32 = struct.Struct("<I")
_I32 = struct.Struct("<i")
_I64 = struct.Struct("<q")
_sha256 = hashlib.sha256
_short = sha256_short
_new = tuple.__new__  # builds a NamedTuple without going through its Python-level __new__
_object_new = object.__new__


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


class TxIn(NamedTuple):
    """A transaction input. A tuple, which is far cheaper to build than a frozen
    dataclass (one per input of every parsed transaction); ``_replace`` gives a
    modified copy."""

    prevout: OutPoint
    script_sig: bytes = b""
    sequence: int = SEQUENCE_FINAL
    witness: tuple[bytes, ...] = ()


class TxOut(NamedTuple):
    """A transaction output (a tuple, like TxIn)."""

    value: int
    script_pubkey: bytes

    def serialize(self) -> bytes:
        return _I64.pack(self.value) + compact_size(len(self.script_pubkey)) + self.script_pubkey

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
    #: memo of ``consensus.sigops.legacy_sigop_count`` (-1: not counted yet); the count
    #: depends only on the (immutable) scripts, and CheckBlock and ConnectBlock both need it
    legacy_sigops_memo: int = field(default=-1, init=False, compare=False, repr=False)
    #: where the output count starts in ``raw`` (-1: not known yet; see ``io_layout``)
    outputs_at: int = field(default=-1, init=False, compare=False, repr=False)

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
        vin = self.vin
        if len(vin) != 1:
            return False
        txid, n = vin[0][0]  # the outpoint, by position (cheaper than by name)
        return n == 0xFFFFFFFF and txid == NULL_HASH

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
        """Mirrors Core's UnserializeTransaction (BIP144 marker/flag handling). A
        transaction of the common shapes in a byte string is read in one pass
        (``read_common``); anything else, and any error, takes the general way."""
        start = r.pos
        buf = r.buf
        if allow_witness and cls is Tx and type(buf) is bytes:
            common = read_common(buf, start, r.end)
            if common is not None:
                r.pos = common[1]
                return common[0]
        if start + 4 > r.end:
            raise DecodeError("unexpected end of data")
        version: int = _I32.unpack_from(buf, start)[0]
        r.pos = start + 4
        flags = 0
        body_start = start + 4
        vout: list[TxOut] = []
        if allow_witness and start + 4 < r.end and buf[start + 4] == 0:
            # no inputs: the BIP144 marker, then the flag (Core reads an empty vin)
            vin: list[TxIn] = []
            outputs_at = r.pos = start + 5
            flags = r.u8()
            if flags != 0:
                body_start = r.pos
                vin = _read_vin(r)
                outputs_at = r.pos
                vout = _read_vout(r)
        else:
            vin = _read_vin(r)
            outputs_at = r.pos
            vout = _read_vout(r)
        body_end = r.pos
        if flags & 1 and allow_witness:
            flags ^= 1
            _read_witnesses(r, vin)
        if flags:
            raise DecodeError("unknown transaction optional data")
        end = r.pos + 4
        if end > r.end:
            raise DecodeError("unexpected end of data")
        locktime: int = _U32.unpack_from(buf, end - 4)[0]
        r.pos = end
        raw = bytes(buf[start:end])
        if body_start == start + 4:
            base_size = len(raw)
            txid = wtxid = _short(_sha256(raw).digest()).digest()
        else:  # witness serialization: the txid's bytes lack marker, flag and witnesses
            base_size = 8 + body_end - body_start
            base = raw[:4] + bytes(buf[body_start:body_end]) + raw[-4:]
            txid = _short(_sha256(base).digest()).digest()
            wtxid = _short(_sha256(raw).digest()).digest()
        if cls is Tx:
            return _new_tx(
                version,
                tuple(vin),
                tuple(vout),
                locktime,
                txid,
                wtxid,
                len(raw),
                base_size,
                raw,
                outputs_at - start,
            )
        tx = cls(version, tuple(vin), tuple(vout), locktime, txid, wtxid, len(raw), base_size, raw)
        _set_outputs_at(tx, outputs_at - start)
        return tx

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


_set_outputs_at: Callable[[Tx, int], None] = vars(Tx)["outputs_at"].__set__


class _TxBuilder:
    """The slots of ``Tx`` without its frozen ``__setattr__``: ``_new_tx`` fills one and
    then makes it a ``Tx`` (a class change CPython allows between classes of the same
    slots), which takes half the time of setting each slot through its descriptor."""

    __slots__ = Tx.__slots__


def _new_tx(
    version: int,
    vin: tuple[TxIn, ...],
    vout: tuple[TxOut, ...],
    locktime: int,
    txid: bytes,
    wtxid: bytes,
    size: int,
    base_size: int,
    raw: bytes,
    outputs_at: int = -1,
) -> Tx:
    """``Tx(...)`` with every field given, in under half the time (``__post_init__`` has
    nothing to do when the txid is given)."""
    b: Any = _object_new(_TxBuilder)
    b.version = version
    b.vin = vin
    b.vout = vout
    b.locktime = locktime
    b.txid = txid
    b.wtxid = wtxid
    b.size = size
    b.base_size = base_size
    b.raw = raw
    b.legacy_sigops_memo = -1
    b.outputs_at = outputs_at
    b.__class__ = Tx
    tx: Tx = b
    return tx


def io_layout(tx: Tx) -> tuple[int, int, int]:
    """Where the inputs start, the output count starts and the outputs end in ``tx.raw``
    (the parser notes the middle one; for a built transaction it is worked out once)."""
    raw = tx.raw
    n_in = len(tx.vin)
    witness = tx.size != tx.base_size
    inputs_at = (6 if witness else 4) + (1 if n_in < 0xFD else len(compact_size(n_in)))
    outputs_at = tx.outputs_at
    if outputs_at < 0:
        outputs_at = inputs_at
        for txin in tx.vin:
            n = len(txin.script_sig)
            outputs_at += 40 + n + (1 if n < 0xFD else len(compact_size(n)))
        _set_outputs_at(tx, outputs_at)
    end = tx.base_size - 4 + (2 if witness else 0)
    assert len(raw) >= end
    return inputs_at, outputs_at, end


# The parser proper lives in ``txparse`` (imported last: it builds on the classes above),
# apart so that the optional compiled build can compile it (``pyrite.compiled``): a
# compiled module may not change an object's class, as ``_new_tx`` does.
from pyrite.primitives.txparse import (  # noqa: E402
    _read_vin,
    _read_vout,
    _read_witnesses,
    read_common,
)
