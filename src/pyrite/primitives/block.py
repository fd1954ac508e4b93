"""Block headers and blocks."""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from pyrite.crypto.hashes import sha256d
from pyrite.encoding.bytes import ByteReader, ByteWriter, compact_size
from pyrite.errors import DecodeError
from pyrite.primitives.tx import Tx
from pyrite.primitives.txparse import read_common

_HEADER = struct.Struct("<i32s32sIII")
HEADER_SIZE = 80
MAX_BLOCK_SERIALIZED_SIZE = 4_000_000
_MIN_TX_SIZE = 10


@dataclass(frozen=True, slots=True)
class BlockHeader:
    version: int
    prev_hash: bytes
    merkle_root: bytes
    time: int
    bits: int
    nonce: int
    hash: bytes = field(default=b"", compare=False)

    def __post_init__(self) -> None:
        if not self.hash:
            object.__setattr__(self, "hash", sha256d(self.serialize()))

    def serialize(self) -> bytes:
        return _HEADER.pack(
            self.version, self.prev_hash, self.merkle_root, self.time, self.bits, self.nonce
        )

    @classmethod
    def read(cls, r: ByteReader) -> BlockHeader:
        p = r.pos
        if p + HEADER_SIZE > r.end:
            raise DecodeError("truncated block header")
        raw = bytes(r.buf[p : p + HEADER_SIZE])
        r.pos = p + HEADER_SIZE
        v, prev, mr, t, bits, nonce = _HEADER.unpack(raw)
        return cls(v, prev, mr, t, bits, nonce, sha256d(raw))

    @classmethod
    def from_bytes(cls, data: bytes) -> BlockHeader:
        r = ByteReader(data)
        h = cls.read(r)
        r.done()
        return h

    def hash_hex(self) -> str:
        return self.hash[::-1].hex()


@dataclass(frozen=True, slots=True)
class Block:
    header: BlockHeader
    txs: tuple[Tx, ...]
    #: memo of ``consensus.merkle.block_merkle_root`` (the transactions never change):
    #: loading a block file checks the root to find blocks, CheckBlock checks it again
    merkle_memo: tuple[bytes, bool] | None = field(
        default=None, init=False, compare=False, repr=False
    )

    @property
    def hash(self) -> bytes:
        return self.header.hash

    def hash_hex(self) -> str:
        return self.header.hash_hex()

    def write(self, w: ByteWriter, witness: bool = True) -> None:
        w.write(self.header.serialize())
        w.compact_size(len(self.txs))
        for tx in self.txs:
            tx.write(w, witness)

    def serialize(self, witness: bool = True) -> bytes:
        w = ByteWriter()
        self.write(w, witness)
        return w.getvalue()

    @classmethod
    def read(cls, r: ByteReader) -> Block:
        header = BlockHeader.read(r)
        n = r.compact_size()
        if n * _MIN_TX_SIZE > r.remaining():
            raise DecodeError(f"transaction count {n} exceeds data")
        buf = r.buf
        if type(buf) is not bytes:
            return cls(header, tuple(Tx.read(r) for _ in range(n)))
        # Tx.read's one-pass reader called directly: most blocks are nothing else
        txs: list[Tx] = []
        append = txs.append
        pos = r.pos
        end = r.end
        for _ in range(n):
            common = read_common(buf, pos, end)
            if common is None:
                r.pos = pos
                append(Tx.read(r))
                pos = r.pos
            else:
                tx, pos = common
                append(tx)
        r.pos = pos
        return cls(header, tuple(txs))

    @classmethod
    def from_bytes(cls, data: bytes) -> Block:
        r = ByteReader(data)
        b = cls.read(r)
        r.done()
        return b

    @property
    def size(self) -> int:
        return 80 + len(compact_size(len(self.txs))) + sum(t.size for t in self.txs)

    @property
    def base_size(self) -> int:
        return 80 + len(compact_size(len(self.txs))) + sum(t.base_size for t in self.txs)

    @property
    def weight(self) -> int:
        return self.base_size * 3 + self.size
