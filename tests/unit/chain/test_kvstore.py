"""KVStore protocol: MemoryStore and LmdbStore behave the same; LMDB specifics; SIGKILL safety."""

from __future__ import annotations

import os
import random
import selectors
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from pyrite.chain.kvstore import KVStore, LmdbStore, MemoryStore
from pyrite.errors import StorageError


@pytest.fixture(params=["memory", "lmdb"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[KVStore]:
    s: KVStore = MemoryStore() if request.param == "memory" else LmdbStore(tmp_path / "db")
    yield s
    s.close()


def test_get_put_delete(store: KVStore) -> None:
    assert store.get(b"a") is None
    store.write_batch({b"a": b"1", b"b": b"2"})
    assert store.get(b"a") == b"1"
    store.write_batch({b"c": b"3"}, [b"a"])
    assert store.get(b"a") is None
    assert store.get(b"c") == b"3"
    store.write_batch({}, [b"missing"])  # deleting an absent key is fine
    store.write_batch({b"b": b"22"}, [b"b"])  # a put wins over a delete of the same key
    assert store.get(b"b") == b"22"


def test_iterate_prefix_in_order(store: KVStore) -> None:
    keys = [b"C" + bytes([i, j]) for i in (3, 1, 255, 0) for j in (9, 0, 128)]
    store.write_batch({k: k[1:] for k in keys} | {b"B": b"x", b"D\x00": b"y", b"C": b"z"})
    got = list(store.iterate(b"C"))
    assert [k for k, _ in got] == sorted([*keys, b"C"])
    assert all(v == k[1:] or k == b"C" for k, v in got)
    assert [k for k, _ in store.iterate()] == sorted([*keys, b"B", b"D\x00", b"C"])
    assert list(store.iterate(b"Z")) == []


def test_iterate_many_crosses_chunks(store: KVStore) -> None:
    n = 2600  # more than LmdbStore's scan chunk
    store.write_batch({b"p" + i.to_bytes(3, "big"): b"%d" % i for i in range(n)} | {b"q": b""})
    got = [int(v) for _, v in store.iterate(b"p")]
    assert got == list(range(n))


def test_writes_during_iteration(store: KVStore) -> None:
    store.write_batch({b"k" + bytes([i]): b"v" for i in range(10)})
    seen = []
    for k, _ in store.iterate(b"k"):
        seen.append(k)
        store.write_batch({b"other": b"1"})
    assert len(seen) == 10


def test_key_size_limit(store: KVStore) -> None:
    store.write_batch({b"k" * 511: b"ok"})
    assert store.get(b"k" * 511) == b"ok"
    with pytest.raises(ValueError):
        store.write_batch({b"k" * 512: b"too long", b"fine": b"1"})
    assert store.get(b"fine") is None  # nothing of a refused batch is written
    with pytest.raises(ValueError):
        store.write_batch({b"": b"empty key"})
    assert store.get(b"k" * 600) is None


def test_write_ops_applies_a_stream_as_one_batch(store: KVStore) -> None:
    store.write_batch({b"a": b"1", b"b": b"2"})

    def ops() -> Iterator[tuple[bytes, bytes | None]]:
        yield b"a", None
        yield b"c", b"3"
        yield b"missing", None

    store.write_ops(ops)
    assert (store.get(b"a"), store.get(b"b"), store.get(b"c")) == (None, b"2", b"3")

    def failing() -> Iterator[tuple[bytes, bytes | None]]:
        yield b"d", b"4"
        yield b"b", None
        raise RuntimeError("the producer failed")

    with pytest.raises(RuntimeError):
        store.write_ops(failing)
    assert (store.get(b"b"), store.get(b"d")) == (b"2", None)  # nothing of it was written

    def bad_key() -> Iterator[tuple[bytes, bytes | None]]:
        yield b"e", b"5"
        yield b"k" * 512, b"too long"

    with pytest.raises(ValueError):
        store.write_ops(bad_key)
    assert store.get(b"e") is None


def test_write_ops_of_many_puts_among_deletes(store: KVStore) -> None:
    """More puts than LMDB takes in one call, deletes of stored keys among them."""
    store.write_batch({i.to_bytes(4, "big"): b"old" for i in range(0, 12_000, 2)})

    def ops() -> Iterator[tuple[bytes, bytes | None]]:
        for i in range(12_000):
            if i % 2 == 0:
                if i % 3 == 0:
                    yield i.to_bytes(4, "big"), None
            else:
                yield i.to_bytes(4, "big"), b"new%d" % i

    store.write_ops(ops)
    expected = {i.to_bytes(4, "big"): b"new%d" % i if i % 2 else b"old"
                for i in range(12_000) if i % 6}  # fmt: skip
    assert dict(store.iterate()) == expected


def _big_ops(calls: list[int]) -> Iterator[tuple[bytes, bytes | None]]:
    calls.append(1)
    for i in range(5000):
        yield i.to_bytes(4, "big"), bytes(200) + i.to_bytes(4, "big")


def test_lmdb_write_ops_is_retried_whole_when_the_map_is_full(tmp_path: Path) -> None:
    with LmdbStore(tmp_path / "db", map_size=1 << 16) as s:
        calls: list[int] = []
        s.write_ops(lambda: _big_ops(calls))  # no size hint: the map fills, then grows
        assert len(calls) >= 2
        assert [k for k, _ in s.iterate()] == [i.to_bytes(4, "big") for i in range(5000)]


def test_lmdb_write_ops_makes_room_for_its_size_hint_first(tmp_path: Path) -> None:
    with LmdbStore(tmp_path / "db", map_size=1 << 16) as s:
        calls: list[int] = []
        s.write_ops(lambda: _big_ops(calls), size_hint=5000 * 208)
        assert len(calls) == 1  # grown beforehand: no batch was thrown away
        assert s.map_size() >= 2 * 5000 * 208
        assert s.get((4999).to_bytes(4, "big")) == bytes(200) + (4999).to_bytes(4, "big")


def test_lmdb_persists_across_reopen(tmp_path: Path) -> None:
    path = tmp_path / "chainstate"
    with LmdbStore(path) as s:
        s.write_batch({b"a": b"1", b"b": b"2"})
        s.write_batch({}, [b"b"])
    with LmdbStore(path) as s:
        assert s.get(b"a") == b"1"
        assert s.get(b"b") is None
    assert sorted(p.name for p in path.iterdir()) == ["data.mdb", "lock.mdb"]


def test_lmdb_map_grows_and_batch_is_whole(tmp_path: Path) -> None:
    s = LmdbStore(tmp_path / "db", map_size=1 << 16)
    try:
        start = s.map_size()
        big = {i.to_bytes(4, "big"): bytes(200) + i.to_bytes(4, "big") for i in range(5000)}
        s.write_batch(big)
        assert s.map_size() > start
        assert all(s.get(k) == v for k, v in big.items())
        assert len(list(s.iterate())) == 5000
    finally:
        s.close()


def test_lmdb_map_growth_during_iteration(tmp_path: Path) -> None:
    s = LmdbStore(tmp_path / "db", map_size=1 << 16)
    try:
        s.write_batch({b"a" + bytes([i]): b"1" for i in range(5)})
        it = s.iterate(b"a")
        first = next(it)
        s.write_batch({i.to_bytes(4, "big"): bytes(300) for i in range(3000)})
        assert [first, *it] == [(b"a" + bytes([i]), b"1") for i in range(5)]
    finally:
        s.close()


def test_lmdb_configuration(tmp_path: Path) -> None:
    s = LmdbStore(tmp_path / "db")
    try:
        flags = s._env.flags()
        assert flags["sync"] and flags["metasync"]
        assert not flags["writemap"] and not flags["map_async"]
        assert s.max_key_size == 511
    finally:
        s.close()


def test_lmdb_errors_are_storage_errors(tmp_path: Path) -> None:
    bad = tmp_path / "notadir"
    bad.write_bytes(b"x")
    with pytest.raises(StorageError):
        LmdbStore(bad)
    path = tmp_path / "db"
    path.mkdir()
    (path / "data.mdb").write_bytes(b"garbage" * 1000)
    with pytest.raises(StorageError):
        LmdbStore(path)


def test_closed_memory_store_raises() -> None:
    s = MemoryStore()
    s.close()
    with pytest.raises(StorageError):
        s.get(b"a")


# --- crash safety ---
# SIGKILL a process in the middle of LmdbStore batches: the store keeps a whole prefix.
#
# A child process appends numbered batches (20 keys of varied sizes plus a
# counter, and deletes of half of the previous batch's keys) to an LmdbStore
# that starts with a tiny map, so map growth happens under the knife too. It
# prints each batch number after ``write_batch`` returns. The parent kills it
# at a random instant, reopens the store and checks that it holds exactly
# batches 0..n for some n no lower than the last batch reported as committed.

KEYS_PER_BATCH = 20

CHILD = r"""
import sys
from pyrite.chain.kvstore import LmdbStore

K = __K__

def value(i, j):
    return bytes([(i * 7 + j) % 251]) * ((i * 31 + j * 17) % 600 + 1)

store = LmdbStore(sys.argv[1], map_size=1 << 16)
raw = store.get(b"n")
i = -1 if raw is None else int(raw)
while True:
    i += 1
    puts = {b"b%08d/%02d" % (i, j): value(i, j) for j in range(K)}
    puts[b"n"] = b"%d" % i
    deletes = [b"b%08d/%02d" % (i - 1, j) for j in range(1, K, 2)] if i else []
    store.write_batch(puts, deletes)
    sys.stdout.write("%d\n" % i)
    sys.stdout.flush()
""".replace("__K__", str(KEYS_PER_BATCH))


def _value(i: int, j: int) -> bytes:
    return bytes([(i * 7 + j) % 251]) * ((i * 31 + j * 17) % 600 + 1)


def _check(path: Path, reported: int) -> int:
    with LmdbStore(path) as s:
        raw = s.get(b"n")
        n = -1 if raw is None else int(raw)
        assert n >= reported, f"batch {reported} was reported committed but the store has {n}"
        expected: dict[bytes, bytes] = {}
        for i in range(n + 1):
            for j in range(KEYS_PER_BATCH):
                if j % 2 == 0 or i == n:
                    expected[b"b%08d/%02d" % (i, j)] = _value(i, j)
        got = dict(s.iterate(b"b"))
        assert got.keys() == expected.keys(), f"store is not exactly batches 0..{n}"
        assert got == expected
    return n


def test_sigkill_leaves_a_prefix_of_batches(tmp_path: Path) -> None:
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    path = tmp_path / "chainstate"
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
    n = -1
    kills_mid_run = 0
    for round_no in range(8):
        proc = subprocess.Popen(
            [sys.executable, "-c", CHILD, str(path)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
        )
        assert proc.stdout is not None
        first = b""
        if round_no % 2 == 0:
            # wait until batches are flowing, then kill at a random instant
            with selectors.DefaultSelector() as sel:
                sel.register(proc.stdout, selectors.EVENT_READ)
                if sel.select(timeout=20):
                    first = proc.stdout.readline()
            delay = rng.uniform(0.0, 0.2)
        else:
            # anywhere, including while the environment is being opened
            delay = rng.uniform(0.05, 0.5)
        try:
            proc.wait(timeout=delay)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
        out, err = proc.communicate(timeout=30)
        assert proc.returncode == -signal.SIGKILL, f"child died on its own: {err.decode()}"
        lines = (first + out).decode().split()
        reported = int(lines[-1]) if lines else n
        if lines:
            kills_mid_run += 1
        n = _check(path, reported)
    assert n >= 0 and kills_mid_run >= 4, f"too few batches were written (seed {seed})"
