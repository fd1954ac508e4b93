"""Flat block/undo files: rollover, reopen, checksums, the importer, the flush order."""

from __future__ import annotations

import os
import struct
from pathlib import Path

import pytest

from pyrite.chain.blockstore import (
    BlockFileInfo,
    BlockStore,
    FilePos,
    iter_blocks_in_file,
    scan_blocks_in_file,
)
from pyrite.chain.coins import CoinsCache, CoinsDB
from pyrite.chain.index import (
    BLOCK_HAVE_UNDO,
    BLOCK_VALID_SCRIPTS,
    ActiveChain,
    BlockIndexEntry,
    BlockTree,
)
from pyrite.chain.indexdb import BlockIndexDB
from pyrite.chain.kvstore import LmdbStore, MemoryStore
from pyrite.chain.undo import BlockUndo, apply_coin_undo, update_coins
from pyrite.consensus.merkle import merkle_root
from pyrite.crypto.hashes import sha256d
from pyrite.errors import StorageError
from pyrite.primitives import Block, BlockHeader, OutPoint, Tx, TxIn, TxOut
from pyrite.primitives.tx import NULL_HASH, NULL_OUTPOINT
from tests.conftest import vector_path

MAGIC = bytes.fromhex("f9beb4d9")
NAMES = ["block1.raw", "block300025.raw", "block482683.raw", "block898352.raw", "block426884.raw"]


def _blocks() -> list[bytes]:
    return [vector_path("bcoin", "test", "data", n).read_bytes() for n in NAMES]


def test_write_read_across_file_rollover(tmp_path: Path) -> None:
    blocks = _blocks()
    store = BlockStore(tmp_path / "blocks", MAGIC, max_file_size=300_000)
    positions = [store.write_block(raw, height=h) for h, raw in enumerate(blocks * 2)]
    store.flush()
    # Core's rule: move on when size + 8 + block would reach the maximum
    expected, n, used = [], 0, 0
    for raw in blocks * 2:
        if used and used + len(raw) + 8 >= 300_000:
            n, used = n + 1, 0
        expected.append(n)
        used += len(raw) + 8
    assert [p.file for p in positions] == expected == [0, 0, 0, 0, 1, 2, 2, 2, 2, 3]
    assert positions[0] == FilePos(0, 8)
    for pos, raw in zip(positions, blocks * 2, strict=True):
        assert store.read_block_bytes(pos) == raw
    assert store.read_block(positions[1]).hash == sha256d(blocks[1][:80])
    info = store.file_info(2)
    assert info is not None and info.blocks == 4 and (info.height_first, info.height_last) == (5, 8)
    assert info.size == os.path.getsize(store.block_path(2))
    assert store.last_file == 3
    with open(store.block_path(0), "rb") as f:
        assert f.read(8) == MAGIC + struct.pack("<I", len(blocks[0]))
    store.close()


def test_oversized_block_goes_into_an_empty_file(tmp_path: Path) -> None:
    store = BlockStore(tmp_path, MAGIC, max_file_size=1000)
    big = _blocks()[1]
    assert store.write_block(big).file == 0
    assert store.write_block(big).file == 1
    store.close()


def test_reopen_continues_from_persisted_infos(tmp_path: Path) -> None:
    blocks = _blocks()
    index = BlockIndexDB(MemoryStore())
    store = BlockStore(tmp_path, MAGIC, max_file_size=2_000_000)
    p0 = store.write_block(blocks[0], height=0)
    p1 = store.write_block(blocks[1], height=1)
    u1 = store.write_undo(b"undo-1", b"\x11" * 32, p1.file)
    store.flush()
    dirty = store.dirty_file_infos()
    index.write_batch([], dirty, store.last_file)
    store.mark_file_infos_written(dirty)
    assert store.dirty_file_infos() == {}
    # unindexed bytes after the persisted size, as after a crash
    store.write_block(blocks[2], height=2)
    store.close()
    size_with_garbage = os.path.getsize(store.block_path(0))

    infos = index.read_file_infos()
    assert infos == dirty and index.read_last_file() == 0
    store = BlockStore(tmp_path, MAGIC, file_infos=infos, last_file=index.read_last_file() or 0)
    p2 = store.write_block(blocks[3], height=2)
    assert p2.offset == p1.offset + len(blocks[1]) + 8  # overwrote the unindexed tail
    assert os.path.getsize(store.block_path(0)) == size_with_garbage  # no growth past it
    assert store.read_block_bytes(p0) == blocks[0]
    assert store.read_block_bytes(p2) == blocks[3]
    assert store.read_undo(u1, b"\x11" * 32) == b"undo-1"
    store.close()


def test_files_without_info_are_appended_not_overwritten(tmp_path: Path) -> None:
    blocks = _blocks()
    store = BlockStore(tmp_path, MAGIC)
    p0 = store.write_block(blocks[0])
    store.close()
    store = BlockStore(tmp_path, MAGIC)  # the index was lost
    p1 = store.write_block(blocks[1])
    assert p1.offset == p0.offset + len(blocks[0]) + 8
    assert store.read_block_bytes(p0) == blocks[0]
    assert list(iter_blocks_in_file(store.block_path(0), MAGIC)) == blocks[:2]
    store.close()


def test_undo_checksum_and_errors(tmp_path: Path) -> None:
    store = BlockStore(tmp_path, MAGIC)
    pos = store.write_block(_blocks()[0], height=0)
    prev = b"\x22" * 32
    u = store.write_undo(b"\x00", prev, pos.file)
    u2 = store.write_undo(b"second undo", prev, pos.file)
    store.flush()
    assert store.read_undo(u, prev) == b"\x00"
    assert store.read_undo(u2, prev) == b"second undo"
    with open(store.undo_path(0), "rb") as f:
        raw = f.read()
    assert raw[:8] == MAGIC + struct.pack("<I", 1)
    assert raw[9:41] == sha256d(prev + b"\x00")
    with pytest.raises(StorageError, match="checksum"):
        store.read_undo(u, b"\x33" * 32)
    with open(store.undo_path(0), "r+b") as f:
        f.seek(u2.offset)
        f.write(b"S")
    with pytest.raises(StorageError, match="checksum"):
        store.read_undo(u2, prev)
    with pytest.raises(StorageError, match="magic"):
        store.read_block_bytes(FilePos(0, pos.offset + 1))
    with pytest.raises(StorageError):
        store.read_block_bytes(FilePos(0, 4))
    with pytest.raises(StorageError):
        store.read_block_bytes(FilePos(7, 8))
    with pytest.raises(StorageError):
        store.read_undo(FilePos(0, u2.offset + 1000), prev)
    store.close()


def test_truncated_block_file_is_storage_error(tmp_path: Path) -> None:
    store = BlockStore(tmp_path, MAGIC)
    raw = _blocks()[1]
    pos = store.write_block(raw)
    store.close()
    os.truncate(store.block_path(0), len(raw) // 2)
    store = BlockStore(tmp_path, MAGIC)
    with pytest.raises(StorageError, match="truncated"):
        store.read_block_bytes(pos)
    store.close()


def test_flush_fsyncs_written_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    synced: list[int] = []
    real = os.fsync

    def spy(fd: int) -> None:
        synced.append(fd)
        real(fd)

    monkeypatch.setattr(os, "fsync", spy)
    store = BlockStore(tmp_path, MAGIC)
    pos = store.write_block(_blocks()[0])
    store.write_undo(b"u", bytes(32), pos.file)
    store.flush()
    assert len(synced) == 3  # blk, rev and the directory (new files)
    store.flush()
    assert len(synced) == 3
    store.close()


def test_importer_skips_garbage_and_truncated_tail(tmp_path: Path) -> None:
    blocks = _blocks()
    rec = [MAGIC + struct.pack("<I", len(b)) + b for b in blocks]
    fake = MAGIC + struct.pack("<I", 200) + b"\x01" * 200  # magic, plausible size, not a block
    data = (
        b"junk" * 10
        + rec[0]
        + bytes(1000)  # zero padding, like Core's pre-allocation
        + MAGIC
        + struct.pack("<I", 10)  # implausibly small
        + rec[1]
        + fake
        + MAGIC[:3]
        + rec[2]
        + MAGIC
        + struct.pack("<I", 5_000_000)  # implausibly large
        + rec[3][:-7]  # truncated record (hides nothing: skipped)
        + rec[4]
        + rec[1][: len(rec[1]) // 2]  # truncated tail
    )
    path = tmp_path / "bootstrap.dat"
    path.write_bytes(data)
    found = list(scan_blocks_in_file(path, MAGIC))
    assert [f.raw for f in found] == [blocks[0], blocks[1], blocks[2], blocks[4]]
    for f in found:
        assert data[f.offset : f.offset + len(f.raw)] == f.raw
        assert f.block.hash == sha256d(f.raw[:80])
    assert list(iter_blocks_in_file(path, bytes.fromhex("0b110907"))) == []
    (tmp_path / "empty.dat").write_bytes(b"")
    assert list(iter_blocks_in_file(tmp_path / "empty.dat", MAGIC)) == []
    with pytest.raises(StorageError):
        list(iter_blocks_in_file(tmp_path / "missing.dat", MAGIC))


def test_importer_reads_blockstore_files_and_reindex_accounting(tmp_path: Path) -> None:
    blocks = _blocks()
    store = BlockStore(tmp_path / "a", MAGIC, max_file_size=1_000_000)
    for h, raw in enumerate(blocks):
        store.write_block(raw, height=h)
    store.close()
    files = store.existing_block_files()
    assert files == [0, 1]
    got = [raw for n in files for raw in iter_blocks_in_file(store.block_path(n), MAGIC)]
    assert got == blocks
    # reindex: account blocks found in place without rewriting them
    re = BlockStore(tmp_path / "a", MAGIC, file_infos={}, last_file=0)
    for n in files:
        for h, f in enumerate(scan_blocks_in_file(store.block_path(n), MAGIC)):
            re.record_existing_block(FilePos(n, f.offset), len(f.raw), h, f.block.header.time)
    times = [struct.unpack_from("<I", b, 68)[0] for b in blocks[:4]]
    size0 = os.path.getsize(store.block_path(0))
    assert re.file_info(0) == BlockFileInfo(4, size0, 0, 0, 3, min(times), max(times))
    assert re.last_file == 1
    re.close()


def test_file_info_codec() -> None:
    info = BlockFileInfo(3, 1000, 200, 5, 7, 1_500_000_000, 1_600_000_000)
    assert BlockFileInfo.deserialize(info.serialize()) == info


# --- the documented write order, end to end ---

P2PKH = bytes.fromhex("76a914") + bytes(range(20)) + bytes.fromhex("88ac")


def _chain_of_blocks(n: int) -> list[Block]:
    blocks: list[Block] = []
    prev_hash = NULL_HASH
    spendable: OutPoint | None = None
    for height in range(n):
        txs = [
            Tx(
                1,
                (TxIn(NULL_OUTPOINT, bytes([2, height, 0])),),
                (TxOut(50 * 10**8, P2PKH), TxOut(0, b"\x6a\x01\x01")),
            )
        ]
        if spendable is not None:
            txs.append(Tx(2, (TxIn(spendable),), (TxOut(10**8 - height, P2PKH),)))
        spendable = OutPoint(txs[-1].txid, 0)
        root = merkle_root([t.txid for t in txs])[0]
        header = BlockHeader(1, prev_hash, root, 1000 + height, 1, 0)
        blocks.append(Block(header, tuple(txs)))
        prev_hash = header.hash
    return blocks


class _Node:
    """The pieces a chainstate manager wires together, opened from a netdir."""

    def __init__(self, netdir: Path) -> None:
        self.index_store = LmdbStore(netdir / "blocks" / "index")
        self.chain_store = LmdbStore(netdir / "chainstate")
        self.index = BlockIndexDB(self.index_store)
        self.coins = CoinsDB(self.chain_store)
        self.tip = CoinsCache(self.coins)
        self.tree = BlockTree.load(self.index, lambda bits: 1)
        self.blocks = BlockStore(
            netdir / "blocks",
            MAGIC,
            file_infos=self.index.read_file_infos(),
            last_file=self.index.read_last_file() or 0,
        )
        self.chain = ActiveChain()
        self.chain.set_tip(self.tree.get(self.coins.best_block()))

    def connect(self, block: Block) -> BlockIndexEntry:
        e = self.tree.add_header(block.header, lambda bits: 1)
        pos = self.blocks.write_block(block.serialize(), e.height)
        self.tree.received_block_data(e, len(block.txs), pos)
        view = CoinsCache(self.tip)
        undo = BlockUndo()
        for tx in block.txs:
            txu = update_coins(view, tx, e.height)
            if txu is not None:
                undo.txs.append(txu)
        upos = self.blocks.write_undo(undo.serialize(), e.prev_hash, pos.file)
        e.undo_pos = upos.offset
        e.status |= BLOCK_HAVE_UNDO
        e.raise_validity(BLOCK_VALID_SCRIPTS)
        self.tree.mark_dirty(e)
        view.set_best_block(e.hash)
        view.flush()
        self.chain.set_tip(e)
        return e

    def flush_files_and_index(self) -> None:
        self.blocks.flush()
        infos = self.blocks.dirty_file_infos()
        self.index.flush_tree(self.tree, infos, self.blocks.last_file)
        self.blocks.mark_file_infos_written(infos)

    def close(self) -> None:
        self.blocks.close()
        self.index_store.close()
        self.chain_store.close()


def test_documented_flush_order_survives_reopen(tmp_path: Path) -> None:
    blocks = _chain_of_blocks(6)
    node = _Node(tmp_path)
    for b in blocks[:5]:
        node.connect(b)
    node.flush_files_and_index()
    node.tip.flush()
    # block 5 is stored and indexed, but its coins never reach disk (a crash)
    node.connect(blocks[5])
    node.flush_files_and_index()
    node.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["blocks", "chainstate"]

    node = _Node(tmp_path)
    tip = node.chain.tip()
    assert tip is not None and tip.hash == blocks[4].hash  # the coins' best block
    newer = node.tree.get(blocks[5].hash)
    assert newer is not None and newer.have_data() and newer.prev is tip  # to re-connect
    assert node.coins.get_coin(OutPoint(blocks[4].txs[1].txid, 0)) is not None
    assert node.coins.get_coin(OutPoint(blocks[3].txs[1].txid, 0)) is None  # spent by 4
    # disconnect the tip with its stored undo data
    pos = tip.data_file_pos()
    upos = tip.undo_file_pos()
    assert pos is not None and upos is not None
    block = node.blocks.read_block(pos)
    undo = BlockUndo.from_bytes(node.blocks.read_undo(upos, tip.prev_hash))
    view = CoinsCache(node.tip)
    for i in range(len(block.txs) - 1, -1, -1):
        tx = block.txs[i]
        for n in range(len(tx.vout)):
            view.spend_coin(OutPoint(tx.txid, n))
        if i:
            for txin, c in zip(reversed(tx.vin), reversed(undo.txs[i - 1].spent), strict=True):
                assert apply_coin_undo(view, txin.prevout, c)
    view.set_best_block(tip.prev_hash)
    view.flush()
    node.tip.flush()
    assert node.coins.best_block() == blocks[3].hash
    assert node.coins.get_coin(OutPoint(blocks[3].txs[1].txid, 0)) is not None
    assert node.coins.get_coin(OutPoint(blocks[4].txs[1].txid, 0)) is None
    node.close()
