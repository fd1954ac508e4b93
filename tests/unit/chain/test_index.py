"""Block index: skip-list ancestors, forks, MTP, locators, active chain, persistence."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from pyrite.chain.blockstore import BlockFileInfo, FilePos
from pyrite.chain.index import (
    BLOCK_FAILED_CHILD,
    BLOCK_FAILED_VALID,
    BLOCK_HAVE_DATA,
    BLOCK_HAVE_UNDO,
    BLOCK_VALID_SCRIPTS,
    BLOCK_VALID_TRANSACTIONS,
    BLOCK_VALID_TREE,
    ActiveChain,
    BlockIndexEntry,
    BlockTree,
    ancestor_lookup,
    find_fork,
    locator_hashes,
)
from pyrite.chain.indexdb import BlockIndexDB
from pyrite.chain.kvstore import KVStore, LmdbStore, MemoryStore
from pyrite.errors import StorageError
from pyrite.primitives import BlockHeader
from pyrite.primitives.tx import NULL_HASH


def work(bits: int) -> int:
    return bits & 0xFF


def extend(
    tree: BlockTree, parent: BlockIndexEntry | None, n: int, tag: int, bits: int = 0x207FFF01
) -> list[BlockIndexEntry]:
    out = []
    prev_hash = NULL_HASH if parent is None else parent.hash
    t = 1_600_000_000 if parent is None else parent.time
    for i in range(n):
        t += 600 + (i * 7919 % 1300) - 650  # wobbling, sometimes decreasing, times
        h = BlockHeader(0x20000000, prev_hash, bytes([tag]) * 28 + i.to_bytes(4, "big"), t, bits, i)
        e = tree.add_header(h, work)
        out.append(e)
        prev_hash = e.hash
    return out


def entry(tree: BlockTree, block_hash: bytes) -> BlockIndexEntry:
    e = tree.get(block_hash)
    assert e is not None
    return e


Forked = tuple[BlockTree, list[BlockIndexEntry], list[BlockIndexEntry]]


def naive_ancestor(e: BlockIndexEntry, height: int) -> BlockIndexEntry | None:
    walk: BlockIndexEntry | None = e
    while walk is not None and walk.height > height:
        walk = walk.prev
    return walk


@pytest.fixture
def forked() -> tuple[BlockTree, list[BlockIndexEntry], list[BlockIndexEntry]]:
    tree = BlockTree()
    main = extend(tree, None, 1200, 1)
    side = extend(tree, main[700], 300, 2)
    return tree, main, side


def test_heights_work_and_header(forked: Forked) -> None:
    tree, main, side = forked
    assert len(tree) == 1500
    assert main[0].height == 0 and main[0].prev is None and main[-1].height == 1199
    assert side[0].height == 701 and side[0].prev is main[700]
    assert main[9].chain_work == 10
    assert main[0].status == BLOCK_VALID_TREE and main[0].is_valid(BLOCK_VALID_TREE)
    hdr = side[5].header()
    assert hdr.hash == side[5].hash and hdr.prev_hash == side[4].hash
    assert BlockHeader.from_bytes(hdr.serialize()).hash == side[5].hash
    assert tree.get(main[3].hash) is main[3] and main[3].hash in tree
    assert tree.add_header(hdr, work) is side[5]
    assert main[5].time_max == max(e.time for e in main[:6])


def test_add_header_needs_parent() -> None:
    tree = BlockTree()
    extend(tree, None, 1, 1)
    with pytest.raises(KeyError):
        tree.add_header(BlockHeader(1, b"\x99" * 32, bytes(32), 0, 1, 0), work)
    with pytest.raises(KeyError):  # a second genesis
        tree.add_header(BlockHeader(1, NULL_HASH, b"\x01" * 32, 0, 1, 0), work)


def test_get_ancestor_matches_walk(forked: Forked) -> None:
    _, main, side = forked
    rng = random.Random(5)
    for _ in range(400):
        e = rng.choice(main + side)
        h = rng.randrange(-2, e.height + 3)
        expected = naive_ancestor(e, h) if 0 <= h <= e.height else None
        assert e.get_ancestor(h) is expected
    assert side[-1].get_ancestor(700) is main[700]
    assert all(e.skip is not None for e in main[1:])


def test_ancestor_lookup_matches_get_ancestor(forked: Forked) -> None:
    """The lookup the difficulty rules use: any order of heights, runs of single steps
    back (the testnet rule's walk) among them."""
    _, main, side = forked
    rng = random.Random(7)
    for tip in (main[-1], side[-1], side[0], main[0]):
        lookup = ancestor_lookup(tip)
        heights = [rng.randrange(0, tip.height + 1) for _ in range(50)]
        heights += list(range(tip.height, max(tip.height - 40, -1), -1))
        heights += [h - k for h in heights[:10] for k in range(3) if h - k >= 0]
        for h in heights:
            assert lookup(h) is naive_ancestor(tip, h)


def test_find_fork(forked: Forked) -> None:
    _, main, side = forked
    assert find_fork(main[-1], side[-1]) is main[700]
    assert find_fork(side[10], main[300]) is main[300]
    assert find_fork(main[5], main[5]) is main[5]
    assert find_fork(main[5], None) is None


def test_median_time_past(forked: Forked) -> None:
    _, main, _ = forked
    for i in (0, 1, 5, 10, 11, 500):
        times = sorted(e.time for e in main[max(0, i - 10) : i + 1])
        assert main[i].median_time_past() == times[len(times) // 2]


def test_locator(forked: Forked) -> None:
    _, main, _ = forked
    loc = locator_hashes(main[-1])
    # Core: the step doubles once more than ten hashes are in, genesis always last
    heights, h, step = [], 1199, 1
    while True:
        heights.append(h)
        if h == 0:
            break
        h = max(h - step, 0)
        if len(heights) > 10:
            step *= 2
    assert heights[:13] == [*range(1199, 1187, -1), 1186]
    assert loc == [main[h].hash for h in heights]
    assert locator_hashes(main[0]) == [main[0].hash]
    assert locator_hashes(None) == []


def test_active_chain(forked: Forked) -> None:
    _, main, side = forked
    chain = ActiveChain()
    assert chain.tip() is None and chain.height() == -1
    chain.set_tip(main[-1])
    assert chain.tip() is main[-1] and chain.height() == 1199 and len(chain) == 1200
    assert chain.genesis() is main[0] and chain[600] is main[600] and chain[5000] is None
    assert chain.contains(main[800]) and not chain.contains(side[0])
    assert chain.next(main[10]) is main[11] and chain.next(main[-1]) is None
    assert chain.next(side[0]) is None
    assert chain.find_fork(side[-1]) is main[700]
    chain.set_tip(side[-1])  # reorg
    assert chain.tip() is side[-1] and chain.height() == 1000
    assert chain[700] is main[700] and chain[701] is side[0]
    assert not chain.contains(main[800]) and chain.contains(side[100])
    assert chain.find_fork(main[-1]) is main[700]
    chain.set_tip(main[50])
    assert chain.height() == 50 and chain.tip() is main[50]
    assert chain.locator() == locator_hashes(main[50])
    chain.set_tip(main[-1])
    assert list(chain) == main
    target = main[400].time_max
    found = chain.find_earliest_at_least(target)
    assert found is not None and found.time_max >= target
    assert found.prev is None or found.prev.time_max < target
    assert chain.find_earliest_at_least(0, 30) is main[30]
    assert chain.find_earliest_at_least(main[-1].time_max + 1) is None
    chain.set_tip(None)
    assert len(chain) == 0


def test_best_header_prefers_work_then_first_seen() -> None:
    tree = BlockTree()
    main = extend(tree, None, 10, 1)
    assert tree.best_header is main[-1]
    side = extend(tree, main[5], 4, 2)  # same work as main[-1]
    assert tree.best_header is main[-1]
    more = extend(tree, side[-1], 1, 3)
    assert tree.best_header is more[0]
    tree.mark_failed(side[1])
    assert side[2].status & BLOCK_FAILED_CHILD and more[0].status & BLOCK_FAILED_CHILD
    assert side[1].status & BLOCK_FAILED_VALID and not side[1].is_valid(BLOCK_VALID_TREE)
    assert tree.best_header is main[-1]
    tree.clear_failure(side[2])
    assert not side[1].failed() and not more[0].failed()
    assert tree.best_header is more[0]


def test_received_block_data_links_out_of_order() -> None:
    tree = BlockTree()
    c = extend(tree, None, 4, 1)
    assert tree.received_block_data(c[0], 1, FilePos(0, 8)) == [c[0]]
    assert tree.received_block_data(c[2], 3, FilePos(0, 300)) == []
    assert tree.received_block_data(c[3], 4, FilePos(0, 500)) == []
    assert c[2].chain_tx == 0 and c[2] in tree.unlinked[c[1]]
    linked = tree.received_block_data(c[1], 2, FilePos(0, 100))
    assert set(linked) == {c[1], c[2], c[3]}
    assert [e.chain_tx for e in c] == [1, 3, 6, 10]
    assert c[1].sequence_id < c[2].sequence_id < c[3].sequence_id
    assert c[2].is_valid(BLOCK_VALID_TRANSACTIONS) and c[2].have_data()
    assert c[2].data_file_pos() == FilePos(0, 300) and c[2].undo_file_pos() is None
    assert not tree.unlinked


@pytest.fixture(params=["memory", "lmdb"])
def kv(request: pytest.FixtureRequest, tmp_path: Path) -> KVStore:
    return MemoryStore() if request.param == "memory" else LmdbStore(tmp_path / "index")


def test_persist_and_load_round_trip(kv: KVStore) -> None:
    tree = BlockTree()
    main = extend(tree, None, 300, 1)
    side = extend(tree, main[200], 50, 2)
    for i, e in enumerate(main[:250]):
        tree.received_block_data(e, i + 1, FilePos(i // 100, 8 + i * 1000))
        if i < 240:
            e.undo_pos = 8 + i * 10
            e.status |= BLOCK_HAVE_UNDO
            e.raise_validity(BLOCK_VALID_SCRIPTS)
            tree.mark_dirty(e)
    tree.received_block_data(main[260], 7, FilePos(2, 77))  # unlinked: 250..259 have no data
    tree.mark_failed(side[10])
    db = BlockIndexDB(kv)
    infos = {0: BlockFileInfo(100, 5000, 70, 0, 99, 1, 2), 2: BlockFileInfo(1, 2, 3, 4, 5, 6, 7)}
    db.flush_tree(tree, infos, 2)
    assert tree.dirty_entries() == []
    loaded = BlockTree.load(db, work)
    assert len(loaded) == len(tree)
    for e in tree:
        f = loaded.get(e.hash)
        assert f is not None
        for attr in (
            "height", "status", "n_tx", "chain_tx", "chain_work", "time_max", "version",
            "merkle_root", "time", "bits", "nonce", "prev_hash",
        ):  # fmt: skip
            assert getattr(f, attr) == getattr(e, attr), attr
        if e.have_data():
            assert (f.file, f.data_pos) == (e.file, e.data_pos)
        if e.have_undo():
            assert f.undo_pos == e.undo_pos
    assert loaded.best_header is not None and tree.best_header is not None
    assert loaded.best_header.hash == tree.best_header.hash
    waiting = loaded.unlinked[entry(loaded, main[259].hash)]
    assert [x.hash for x in waiting] == [main[260].hash]
    assert entry(loaded, side[20].hash).status & BLOCK_FAILED_CHILD
    assert db.read_file_infos() == infos and db.read_file_info(2) == infos[2]
    assert db.read_file_info(1) is None and db.read_last_file() == 2
    # only dirty entries are written again
    main[0].status |= BLOCK_HAVE_DATA
    tree.mark_dirty(main[0])
    assert tree.dirty_entries() == [main[0]]
    kv.close()


def test_load_marks_children_of_failed_blocks() -> None:
    tree = BlockTree()
    c = extend(tree, None, 5, 1)
    c[2].status |= BLOCK_FAILED_VALID  # as if only the failed block had been written
    db = BlockIndexDB(MemoryStore())
    db.flush_tree(tree)
    loaded = BlockTree.load(db, work)
    assert entry(loaded, c[4].hash).status & BLOCK_FAILED_CHILD
    assert loaded.best_header is entry(loaded, c[1].hash)


def test_corrupt_records_raise_storage_error() -> None:
    tree = BlockTree()
    c = extend(tree, None, 3, 1)
    store = MemoryStore()
    db = BlockIndexDB(store)
    db.flush_tree(tree)
    key = b"b" + c[1].hash
    raw = store.get(key)
    assert raw is not None
    store.write_batch({key: raw[:-1] + bytes([raw[-1] ^ 1])})  # header no longer hashes to key
    with pytest.raises(StorageError):
        BlockTree.load(db, work)
    store.write_batch({key: raw[:10]})
    with pytest.raises(StorageError):
        BlockTree.load(db, work)
    store.write_batch({}, [key])  # an orphaned record (parent missing)
    with pytest.raises(StorageError, match="no parent"):
        BlockTree.load(db, work)
    store.write_batch({b"f\x00\x00\x00\x00": b"\xff", b"l": b"12345"})
    with pytest.raises(StorageError):
        db.read_file_infos()
    with pytest.raises(StorageError):
        db.read_last_file()


def test_flags() -> None:
    db = BlockIndexDB(MemoryStore())
    assert not db.is_reindexing()
    db.set_reindexing(True)
    assert db.is_reindexing()
    db.set_reindexing(False)
    assert not db.is_reindexing()
    assert db.read_flag("txindex") is None
    db.write_flag("txindex", True)
    db.write_flag("prunedblockfiles", False)
    assert db.read_flag("txindex") is True and db.read_flag("prunedblockfiles") is False
