"""Block and undo flat files (mirrors Core's node/blockstorage.cpp and flatfile.cpp).

``<netdir>/blocks/blkNNNNN.dat`` holds records ``message_start(4) | u32le
size | block``; a file is closed for appends once the next record would take
it to ``max_file_size`` (128 MiB, Core's MAX_BLOCKFILE_SIZE).
``revNNNNN.dat`` holds the undo data of the blocks stored in
``blkNNNNN.dat`` (same number) as ``message_start | u32le size | undo |
sha256d(prev_block_hash || undo)``. As in Core the checksum commits to the
hash of the *parent* of the block the undo belongs to, so the files are
byte-compatible with bitcoind's. A ``FilePos`` names a file number and the
offset of the record's payload (just past the 8-byte header), like Core's
FlatFilePos.

Append positions come from the per-file ``BlockFileInfo`` records (blocks,
sizes, height and time ranges) kept in the block index store (``f`` keys,
see indexdb.BlockIndexDB), not from the files' lengths: bytes written after
the last persisted info are unreferenced and simply get overwritten after a
crash. A file without an info record is appended to at its current end, so
blocks that are on disk but unknown to the index (a wiped index before
``-reindex``) are never overwritten.

Crash-safe write order for the chainstate manager, per FlushStateToDisk:

1. ``write_block`` when a block is accepted; ``write_undo`` when it is
   connected (before its coin changes can be flushed);
2. ``flush()`` fsyncs every blk/rev file written since the last flush (and
   the directory when files were created);
3. write the block index: dirty ``BlockIndexEntry`` records with their
   HAVE_DATA/HAVE_UNDO positions, ``dirty_file_infos()`` and ``last_file``
   in one ``BlockIndexDB.write_batch``; then ``mark_file_infos_written``;
4. flush the coins cache (coins + best block in one batch).

After a crash the coins' best block is therefore always a block whose data
and undo are on disk and indexed, and any later block whose data is on disk
can be re-connected.

``scan_blocks_in_file`` / ``iter_blocks_in_file`` read a blk-layout file for
``-loadblock`` and ``-reindex`` (mirrors LoadExternalBlockFile): they search
for the message start, skip records whose size is implausible, whose bytes
do not parse as a block or whose transactions do not hash to the header's
merkle root (resuming one byte after that magic, so a truncated record does
not swallow the start of the next one), and stop quietly at a truncated
tail. Everything else about a found block is left to validation.
"""

from __future__ import annotations

import logging
import mmap
import os
import struct
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import NamedTuple, TypeVar

from pyrite.chain.compressor import varint, varint_at
from pyrite.consensus.merkle import block_merkle_root
from pyrite.crypto.hashes import sha256d
from pyrite.errors import DecodeError, StorageError
from pyrite.primitives.block import MAX_BLOCK_SERIALIZED_SIZE, Block, BlockHeader

log = logging.getLogger(__name__)

MAX_BLOCKFILE_SIZE = 0x8000000  # 128 MiB
STORAGE_HEADER_BYTES = 8  # message start + u32 size
UNDO_CHECKSUM_BYTES = 32
_MAX_UNDO_SIZE = 0x02000000  # Core's MAX_SIZE bounds any serialized object
_HEADER = struct.Struct("<4sI")
_BLK, _REV = 0, 1


@dataclass(frozen=True, slots=True)
class FilePos:
    """Position of a record's payload: file number and byte offset (Core's FlatFilePos)."""

    file: int
    offset: int


class BlockFileInfo:
    """Statistics of one blk/rev file pair (mirrors CBlockFileInfo)."""

    __slots__ = (
        "blocks",
        "height_first",
        "height_last",
        "size",
        "time_first",
        "time_last",
        "undo_size",
    )

    def __init__(
        self,
        blocks: int = 0,
        size: int = 0,
        undo_size: int = 0,
        height_first: int = 0,
        height_last: int = 0,
        time_first: int = 0,
        time_last: int = 0,
    ) -> None:
        self.blocks = blocks
        self.size = size
        self.undo_size = undo_size
        self.height_first = height_first
        self.height_last = height_last
        self.time_first = time_first
        self.time_last = time_last

    def add_block(self, height: int | None, time: int) -> None:
        """Account one more block (mirrors CBlockFileInfo::AddBlock)."""
        first = self.blocks == 0
        if height is not None:
            if first or height < self.height_first:
                self.height_first = height
            if first or height > self.height_last:
                self.height_last = height
        if first or time < self.time_first:
            self.time_first = time
        if first or time > self.time_last:
            self.time_last = time
        self.blocks += 1

    def copy(self) -> BlockFileInfo:
        return BlockFileInfo(
            self.blocks,
            self.size,
            self.undo_size,
            self.height_first,
            self.height_last,
            self.time_first,
            self.time_last,
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, BlockFileInfo):
            return NotImplemented
        return self._fields() == other._fields()

    def _fields(self) -> tuple[int, ...]:
        return (
            self.blocks,
            self.size,
            self.undo_size,
            self.height_first,
            self.height_last,
            self.time_first,
            self.time_last,
        )

    def __repr__(self) -> str:
        return (
            f"BlockFileInfo(blocks={self.blocks}, size={self.size}, undo_size={self.undo_size}, "
            f"heights={self.height_first}..{self.height_last}, "
            f"times={self.time_first}..{self.time_last})"
        )

    def serialize(self) -> bytes:
        """Seven VARINTs, in CBlockFileInfo's field order."""
        return b"".join(varint(v) for v in self._fields())

    @classmethod
    def deserialize(cls, data: bytes) -> BlockFileInfo:
        vals = []
        pos = 0
        for _ in range(7):
            v, pos = varint_at(data, pos)
            vals.append(v)
        if pos != len(data):
            raise DecodeError("trailing bytes after block file info")
        return cls(*vals)


class ScannedBlock(NamedTuple):
    """A block found by ``scan_blocks_in_file``: payload offset, raw bytes, parsed block."""

    offset: int
    raw: bytes
    block: Block


_T = TypeVar("_T")


def _scan_records(
    path: str | os.PathLike[str],
    message_start: bytes,
    start: int,
    take: Callable[[mmap.mmap, int, int], _T | None],
) -> Iterator[_T]:
    """``take(file, payload offset, size)`` of every block record of a blk-layout file, in
    file order. Garbage between records is skipped by searching for the next message
    start; a record whose size is out of range, that runs past the end of the file or that
    ``take`` refuses (None) is skipped the same way. Raises StorageError only when the
    file cannot be opened or mapped."""
    if len(message_start) != 4:
        raise ValueError("message start must be 4 bytes")
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            if size == 0:
                return
            mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    except OSError as e:
        raise StorageError(f"cannot read block file {os.fspath(path)}: {e}") from e
    skipped = 0
    try:
        pos = start
        while True:
            i = mm.find(message_start, pos)
            if i < 0 or i + STORAGE_HEADER_BYTES > size:
                return
            (n,) = struct.unpack_from("<I", mm, i + 4)
            data_start = i + STORAGE_HEADER_BYTES
            item = None
            if 80 <= n <= MAX_BLOCK_SERIALIZED_SIZE and data_start + n <= size:
                item = take(mm, data_start, n)
            if item is None:
                skipped += 1
                pos = i + 1
                continue
            # handed over without a reference kept here, so the consumer decides when
            # the item is freed (an import frees each block before checking its
            # signatures, while its objects are still in the processor's caches)
            box = [item]
            item = None
            yield box.pop()
            pos = data_start + n
    finally:
        mm.close()
        if skipped:
            log.debug("%s: skipped %d implausible records", os.fspath(path), skipped)


def _take_block(mm: mmap.mmap, offset: int, size: int) -> ScannedBlock | None:
    raw = mm[offset : offset + size]
    try:
        block = Block.from_bytes(raw)
    except DecodeError:
        return None
    if block_merkle_root(block)[0] != block.header.merkle_root:
        return None
    return ScannedBlock(offset, raw, block)


def _take_header(mm: mmap.mmap, offset: int, _size: int) -> BlockHeader:
    return BlockHeader.from_bytes(mm[offset : offset + 80])


def scan_blocks_in_file(
    path: str | os.PathLike[str], message_start: bytes, start: int = 0
) -> Iterator[ScannedBlock]:
    """Every parseable block record of a blk-layout file, in file order (see
    ``_scan_records``; a record that does not parse, or whose merkle root does not match
    its transactions, is skipped as garbage)."""
    return _scan_records(path, message_start, start, _take_block)


def scan_headers_in_file(
    path: str | os.PathLike[str], message_start: bytes
) -> Iterator[BlockHeader]:
    """The header of every block record of a blk-layout file, in file order, reading only
    its first 80 bytes: the blocks themselves are neither parsed nor checked here."""
    return _scan_records(path, message_start, 0, _take_header)


def iter_blocks_in_file(path: str | os.PathLike[str], message_start: bytes) -> Iterator[bytes]:
    """Raw bytes of every block record of a blk-layout file (see scan_blocks_in_file)."""
    for found in scan_blocks_in_file(path, message_start):
        yield found.raw


class BlockStore:
    """Appends blocks and undo data to flat files and reads them back.

    ``file_infos`` and ``last_file`` come from ``BlockIndexDB`` at startup.
    Methods are thread-safe; OS errors surface as StorageError.
    """

    def __init__(
        self,
        blocks_dir: str | os.PathLike[str],
        message_start: bytes,
        *,
        max_file_size: int = MAX_BLOCKFILE_SIZE,
        file_infos: Mapping[int, BlockFileInfo] | None = None,
        last_file: int = 0,
        max_open_files: int = 64,
    ) -> None:
        if len(message_start) != 4:
            raise ValueError("message start must be 4 bytes")
        self._dir = os.fspath(blocks_dir)
        self._magic = bytes(message_start)
        self._max_size = max_file_size
        self._infos: dict[int, BlockFileInfo] = {n: i.copy() for n, i in (file_infos or {}).items()}
        self._last = last_file
        self._dirty_infos: set[int] = set()
        self._dirty_files: set[tuple[int, int]] = set()
        self._new_files = False
        self._fds: dict[tuple[int, int], tuple[int, bool]] = {}
        self._max_open = max(max_open_files, 4)
        self._lock = threading.Lock()
        try:
            os.makedirs(self._dir, exist_ok=True)
        except OSError as e:
            raise StorageError(f"cannot create {self._dir}: {e}") from e

    # --- paths and infos ---
    @property
    def blocks_dir(self) -> str:
        return self._dir

    @property
    def last_file(self) -> int:
        return self._last

    def block_path(self, n: int) -> str:
        return os.path.join(self._dir, f"blk{n:05d}.dat")

    def undo_path(self, n: int) -> str:
        return os.path.join(self._dir, f"rev{n:05d}.dat")

    def existing_block_files(self) -> list[int]:
        """Numbers of blk files present, from 0 up to the first gap (reindex order)."""
        out = []
        n = 0
        while os.path.exists(self.block_path(n)):
            out.append(n)
            n += 1
        return out

    def file_info(self, n: int) -> BlockFileInfo | None:
        with self._lock:
            info = self._infos.get(n)
            return None if info is None else info.copy()

    def dirty_file_infos(self) -> dict[int, BlockFileInfo]:
        """Copies of the infos changed since ``mark_file_infos_written``."""
        with self._lock:
            return {n: self._infos[n].copy() for n in self._dirty_infos}

    def mark_file_infos_written(self, numbers: Iterable[int]) -> None:
        with self._lock:
            self._dirty_infos.difference_update(numbers)

    # --- low-level file access (lock held) ---
    def _path(self, kind: int, n: int) -> str:
        return self.block_path(n) if kind == _BLK else self.undo_path(n)

    def _fd(self, kind: int, n: int, write: bool) -> int:
        key = (kind, n)
        got = self._fds.pop(key, None)
        if got is not None:
            fd, writable = got
            if writable or not write:
                self._fds[key] = got  # move to the most recently used end
                return fd
            os.close(fd)
        path = self._path(kind, n)
        if write:
            existed = os.path.exists(path)
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
            if not existed:
                self._new_files = True
        else:
            fd = os.open(path, os.O_RDONLY)
        self._fds[key] = (fd, write)
        if len(self._fds) > self._max_open:
            for old in list(self._fds):
                if len(self._fds) <= self._max_open:
                    break
                if old != key and old not in self._dirty_files:
                    os.close(self._fds.pop(old)[0])
        return fd

    def _append_pos(self, kind: int, n: int, info: BlockFileInfo | None) -> int:
        if info is not None:
            return info.size if kind == _BLK else info.undo_size
        try:
            return os.path.getsize(self._path(kind, n))
        except FileNotFoundError:
            return 0

    def _pwrite(self, kind: int, n: int, data: bytes, offset: int) -> None:
        fd = self._fd(kind, n, True)
        view = memoryview(data)
        while view:
            written = os.pwrite(fd, view, offset)
            view = view[written:]
            offset += written
        self._dirty_files.add((kind, n))

    def _pread(self, kind: int, n: int, size: int, offset: int) -> bytes:
        fd = self._fd(kind, n, False)
        chunks = []
        while size > 0:
            b = os.pread(fd, size, offset)
            if not b:
                raise StorageError(f"{self._path(kind, n)}: truncated at offset {offset}")
            chunks.append(b)
            size -= len(b)
            offset += len(b)
        return b"".join(chunks)

    def _read_record(self, kind: int, pos: FilePos, max_size: int) -> bytes:
        if pos.offset < STORAGE_HEADER_BYTES:
            raise StorageError(f"invalid file position {pos}")
        head = self._pread(kind, pos.file, STORAGE_HEADER_BYTES, pos.offset - STORAGE_HEADER_BYTES)
        magic, size = _HEADER.unpack(head)
        if magic != self._magic:
            raise StorageError(f"{self._path(kind, pos.file)}: magic mismatch at {pos.offset}")
        if size > max_size:
            raise StorageError(f"{self._path(kind, pos.file)}: record size {size} too large")
        extra = UNDO_CHECKSUM_BYTES if kind == _REV else 0
        return self._pread(kind, pos.file, size + extra, pos.offset)

    # --- blocks ---
    def write_block(self, raw: bytes, height: int | None = None) -> FilePos:
        """Append a serialized block; returns where its bytes start (mirrors SaveBlockToDisk).

        ``height`` feeds the file's height range (prune bookkeeping); the time
        range is read from the header.
        """
        if len(raw) < 80:
            raise ValueError("a block is at least 80 bytes")
        (time,) = struct.unpack_from("<I", raw, 68)
        add = STORAGE_HEADER_BYTES + len(raw)
        with self._lock:
            try:
                n = self._last
                info = self._infos.get(n)
                offset = self._append_pos(_BLK, n, info)
                while offset > 0 and offset + add >= self._max_size:
                    n += 1
                    info = self._infos.get(n)
                    offset = self._append_pos(_BLK, n, info)
                if info is None:
                    info = self._infos[n] = BlockFileInfo()
                    info.size = offset
                    info.undo_size = self._append_pos(_REV, n, None)
                self._pwrite(_BLK, n, _HEADER.pack(self._magic, len(raw)) + raw, offset)
            except OSError as e:
                raise StorageError(f"cannot write block: {e}") from e
            info.size = offset + add
            info.add_block(height, time)
            self._last = n
            self._dirty_infos.add(n)
            return FilePos(n, offset + STORAGE_HEADER_BYTES)

    def record_existing_block(self, pos: FilePos, size: int, height: int | None, time: int) -> None:
        """Account a block already in a blk file (reindex: Core's UpdateBlockInfo)."""
        with self._lock:
            info = self._infos.get(pos.file)
            if info is None:
                info = self._infos[pos.file] = BlockFileInfo()
            info.add_block(height, time)
            info.size = max(info.size, pos.offset + size)
            self._last = max(self._last, pos.file)
            self._dirty_infos.add(pos.file)

    def read_block_bytes(self, pos: FilePos) -> bytes:
        """The raw block at ``pos`` (mirrors ReadRawBlock); StorageError if unreadable."""
        with self._lock:
            try:
                return self._read_record(_BLK, pos, MAX_BLOCK_SERIALIZED_SIZE)
            except OSError as e:
                raise StorageError(f"cannot read block at {pos}: {e}") from e

    def read_block(self, pos: FilePos) -> Block:
        raw = self.read_block_bytes(pos)
        try:
            return Block.from_bytes(raw)
        except DecodeError as e:
            raise StorageError(f"corrupt block at {pos}: {e}") from e

    # --- undo ---
    def write_undo(self, undo: bytes, prev_block_hash: bytes, file_no: int) -> FilePos:
        """Append undo data to ``revNNNNN.dat`` of the block's file (mirrors WriteUndoDataForBlock).

        ``prev_block_hash`` is the hash of the parent of the block the undo
        belongs to (what Core's checksum commits to); ``read_undo`` must get
        the same value.
        """
        if len(prev_block_hash) != 32:
            raise ValueError("prev_block_hash must be 32 bytes")
        if len(undo) > _MAX_UNDO_SIZE:
            raise ValueError("undo data too large")
        record = _HEADER.pack(self._magic, len(undo)) + undo + sha256d(prev_block_hash + undo)
        with self._lock:
            info = self._infos.get(file_no)
            try:
                if info is None:
                    info = self._infos[file_no] = BlockFileInfo()
                    info.size = self._append_pos(_BLK, file_no, None)
                    info.undo_size = self._append_pos(_REV, file_no, None)
                offset = info.undo_size
                self._pwrite(_REV, file_no, record, offset)
            except OSError as e:
                raise StorageError(f"cannot write undo data: {e}") from e
            info.undo_size = offset + len(record)
            self._dirty_infos.add(file_no)
            return FilePos(file_no, offset + STORAGE_HEADER_BYTES)

    def read_undo(self, pos: FilePos, prev_block_hash: bytes) -> bytes:
        """Undo bytes at ``pos`` after checking the checksum (mirrors ReadBlockUndo)."""
        with self._lock:
            try:
                data = self._read_record(_REV, pos, _MAX_UNDO_SIZE)
            except OSError as e:
                raise StorageError(f"cannot read undo data at {pos}: {e}") from e
        undo = data[:-UNDO_CHECKSUM_BYTES]
        if sha256d(prev_block_hash + undo) != data[-UNDO_CHECKSUM_BYTES:]:
            raise StorageError(f"undo data checksum mismatch at {pos}")
        return undo

    # --- durability ---
    def flush(self) -> None:
        """fsync every file written since the last flush (and the directory for new files)."""
        with self._lock:
            try:
                for key in sorted(self._dirty_files):
                    got = self._fds.get(key)
                    if got is not None:
                        os.fsync(got[0])
                self._dirty_files.clear()
                if self._new_files:
                    dfd = os.open(self._dir, os.O_RDONLY)
                    try:
                        os.fsync(dfd)
                    finally:
                        os.close(dfd)
                    self._new_files = False
            except OSError as e:
                raise StorageError(f"cannot sync block files: {e}") from e

    def close(self) -> None:
        """Flush and close every file."""
        self.flush()
        with self._lock:
            for fd, _ in self._fds.values():
                os.close(fd)
            self._fds.clear()
