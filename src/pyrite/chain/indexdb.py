"""The block index on disk: entry records, block-file metadata and flags in a KVStore.

Mirrors the block-index part of Core's txdb.cpp / node/blockstorage.cpp (CBlockTreeDB,
CDiskBlockIndex records, block file infos, the last-file number, the reindexing marker
and named flags). The in-memory index it stores is ``index``; ``BlockTree.load`` rebuilds
it from ``BlockIndexDB.iter_records``.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

from pyrite.chain.blockstore import BlockFileInfo
from pyrite.chain.compressor import U32_MAX, varint, varint_at
from pyrite.chain.index import (
    BLOCK_HAVE_DATA,
    BLOCK_HAVE_MASK,
    BLOCK_HAVE_UNDO,
    BlockIndexEntry,
    BlockTree,
)
from pyrite.chain.kvstore import (
    INDEX_BLOCK,
    INDEX_FILE_INFO,
    INDEX_FLAG,
    INDEX_LAST_FILE,
    INDEX_REINDEXING,
    KVStore,
)
from pyrite.encoding.bytes import compact_size
from pyrite.errors import DecodeError, StorageError
from pyrite.primitives.block import BlockHeader

DISK_INDEX_VERSION = 259900  # written like Core's client version field; ignored on read
_HEADER = struct.Struct("<i32s32sIII")
_U32 = struct.Struct("<I")


@dataclass(frozen=True, slots=True)
class DiskBlockIndex:
    """A stored block index record (mirrors CDiskBlockIndex)."""

    hash: bytes
    header: BlockHeader
    height: int
    status: int
    n_tx: int
    file: int
    data_pos: int
    undo_pos: int


def serialize_entry(e: BlockIndexEntry) -> bytes:
    """CDiskBlockIndex layout: VARINT version, height, status, n_tx, [file, data, undo]; header."""
    parts = [varint(DISK_INDEX_VERSION), varint(e.height), varint(e.status), varint(e.n_tx)]
    if e.status & BLOCK_HAVE_MASK:
        parts.append(varint(e.file))
    if e.status & BLOCK_HAVE_DATA:
        parts.append(varint(e.data_pos))
    if e.status & BLOCK_HAVE_UNDO:
        parts.append(varint(e.undo_pos))
    parts.append(_HEADER.pack(e.version, e.prev_hash, e.merkle_root, e.time, e.bits, e.nonce))
    return b"".join(parts)


def deserialize_entry(key_hash: bytes, data: bytes) -> DiskBlockIndex:
    """Parse a record; DecodeError if malformed or if the header does not hash to the key."""
    pos = varint_at(data, 0, U32_MAX)[1]
    height, pos = varint_at(data, pos, 0x7FFFFFFF)
    status, pos = varint_at(data, pos, U32_MAX)
    n_tx, pos = varint_at(data, pos, U32_MAX)
    file = -1
    data_pos = undo_pos = 0
    if status & BLOCK_HAVE_MASK:
        file, pos = varint_at(data, pos, 0x7FFFFFFF)
    if status & BLOCK_HAVE_DATA:
        data_pos, pos = varint_at(data, pos, U32_MAX)
    if status & BLOCK_HAVE_UNDO:
        undo_pos, pos = varint_at(data, pos, U32_MAX)
    if len(data) - pos != 80:
        raise DecodeError("block index record has a bad header length")
    header = BlockHeader.from_bytes(data[pos:])
    if header.hash != key_hash:
        raise DecodeError("block index record does not hash to its key")
    return DiskBlockIndex(key_hash, header, height, status, n_tx, file, data_pos, undo_pos)


def _flag_key(name: str) -> bytes:
    raw = name.encode()
    return INDEX_FLAG + compact_size(len(raw)) + raw


class BlockIndexDB:
    """Block index records and flat-file metadata in a KVStore (mirrors CBlockTreeDB)."""

    __slots__ = ("store",)

    def __init__(self, store: KVStore) -> None:
        self.store = store

    def iter_records(self) -> Iterator[DiskBlockIndex]:
        for key, raw in self.store.iterate(INDEX_BLOCK):
            if len(key) != 33:
                raise StorageError(f"bad block index key {key.hex()}")
            try:
                yield deserialize_entry(key[1:], raw)
            except DecodeError as e:
                raise StorageError(f"corrupt block index record {key[1:][::-1].hex()}: {e}") from e

    def write_batch(
        self,
        entries: Iterable[BlockIndexEntry],
        file_infos: Mapping[int, BlockFileInfo] | None = None,
        last_file: int | None = None,
    ) -> None:
        """Write entries, file infos and the last-file number in one atomic batch."""
        puts: dict[bytes, bytes] = {}
        for e in entries:
            puts[INDEX_BLOCK + e.hash] = serialize_entry(e)
        for n, info in (file_infos or {}).items():
            puts[INDEX_FILE_INFO + _U32.pack(n)] = info.serialize()
        if last_file is not None:
            puts[INDEX_LAST_FILE] = _U32.pack(last_file)
        if puts:
            self.store.write_batch(puts)

    def flush_tree(
        self,
        tree: BlockTree,
        file_infos: Mapping[int, BlockFileInfo] | None = None,
        last_file: int | None = None,
    ) -> None:
        """Persist the tree's dirty entries (and file metadata), then mark them clean."""
        dirty = tree.dirty_entries()
        self.write_batch(dirty, file_infos, last_file)
        tree.clear_dirty(dirty)

    def read_file_info(self, n: int) -> BlockFileInfo | None:
        raw = self.store.get(INDEX_FILE_INFO + _U32.pack(n))
        if raw is None:
            return None
        try:
            return BlockFileInfo.deserialize(raw)
        except DecodeError as e:
            raise StorageError(f"corrupt info of block file {n}: {e}") from e

    def read_file_infos(self) -> dict[int, BlockFileInfo]:
        out = {}
        for key, raw in self.store.iterate(INDEX_FILE_INFO):
            if len(key) != 5:
                raise StorageError(f"bad block file info key {key.hex()}")
            try:
                out[_U32.unpack(key[1:])[0]] = BlockFileInfo.deserialize(raw)
            except DecodeError as e:
                raise StorageError(f"corrupt block file info {key.hex()}: {e}") from e
        return out

    def read_last_file(self) -> int | None:
        raw = self.store.get(INDEX_LAST_FILE)
        if raw is None:
            return None
        if len(raw) != 4:
            raise StorageError("corrupt last-block-file record")
        n: int = _U32.unpack(raw)[0]
        return n

    def set_reindexing(self, on: bool) -> None:
        if on:
            self.store.write_batch({INDEX_REINDEXING: b"1"})
        else:
            self.store.write_batch({}, [INDEX_REINDEXING])

    def is_reindexing(self) -> bool:
        return self.store.get(INDEX_REINDEXING) is not None

    def write_flag(self, name: str, value: bool) -> None:
        self.store.write_batch({_flag_key(name): b"1" if value else b"0"})

    def read_flag(self, name: str) -> bool | None:
        raw = self.store.get(_flag_key(name))
        if raw is None:
            return None
        if raw not in (b"0", b"1"):
            raise StorageError(f"corrupt flag {name!r}")
        return raw == b"1"
