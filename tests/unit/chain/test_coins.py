"""Coin codec (Core's compressor/VARINT vectors), CoinsDB, CoinsCache flags, UTXO stats."""

from __future__ import annotations

import hashlib
import random
import struct
import tracemalloc
from collections.abc import Iterable, Mapping
from itertools import chain
from pathlib import Path

import pytest

from pyrite.chain.coins import (
    ENTRY_BYTES,
    PACKED_BYTES,
    Coin,
    CoinsCache,
    CoinsDB,
    CoinsLogicError,
    _unpack_coin,
    add_coins,
    coin_key,
)
from pyrite.chain.compressor import (
    compress_amount,
    compress_script,
    decompress_amount,
    read_compressed_txout,
    read_varint,
    varint,
    varint_at,
)
from pyrite.chain.kvstore import CHAINSTATE_BEST_BLOCK, LmdbStore, MemoryStore
from pyrite.chain.utxostats import compute_utxo_stats
from pyrite.crypto.hashes import sha256d
from pyrite.crypto.secp import pubkey_from_secret
from pyrite.encoding.bytes import ByteReader
from pyrite.errors import DecodeError, StorageError
from pyrite.primitives.tx import NULL_HASH, OutPoint, Tx, TxIn, TxOut

COIN = 100_000_000
P2PKH = bytes.fromhex("76a914") + bytes(range(20)) + bytes.fromhex("88ac")
P2SH = bytes.fromhex("a914") + bytes(range(20)) + b"\x87"
BEST1 = b"\x01" * 32
BEST2 = b"\x02" * 32


class SpyStore(MemoryStore):
    """A MemoryStore that records every batch and can be told to fail."""

    def __init__(self) -> None:
        super().__init__()
        self.batches: list[tuple[dict[bytes, bytes], list[bytes]]] = []
        self.fail = False

    def write_batch(self, puts: Mapping[bytes, bytes], deletes: Iterable[bytes] = ()) -> None:
        if self.fail:
            raise StorageError("injected failure")
        dels = list(deletes)
        self.batches.append((dict(puts), dels))
        super().write_batch(puts, dels)


def op(i: int, n: int = 0) -> OutPoint:
    return OutPoint(i.to_bytes(32, "little"), n)


def coin(value: int = 5 * COIN, height: int = 100, cb: bool = False) -> Coin:
    return Coin(value, P2PKH, height, cb)


# --- codec ---


@pytest.mark.parametrize(
    ("value", "hexed"),
    [
        (0, "00"),
        (0x7F, "7f"),
        (0x80, "8000"),
        (0x1234, "a334"),
        (0xFFFF, "82fe7f"),
        (0x123456, "c7e756"),
        (0x80123456, "86ffc7e756"),
        (0xFFFFFFFF, "8efefefe7f"),
        (0x7FFFFFFFFFFFFFFF, "fefefefefefefefe7f"),
        (0xFFFFFFFFFFFFFFFF, "80fefefefefefefefe7f"),
    ],
)
def test_varint_bit_patterns(value: int, hexed: str) -> None:
    assert varint(value).hex() == hexed
    assert varint_at(bytes.fromhex(hexed), 0) == (value, len(hexed) // 2)


def test_read_varint_from_reader() -> None:
    r = ByteReader(memoryview(b"\xff" + varint(0x1234) + varint(5) + b"\x00"))
    r.u8()
    assert (read_varint(r), read_varint(r), r.remaining()) == (0x1234, 5, 1)
    with pytest.raises(DecodeError):
        read_varint(ByteReader(varint(1 << 32)), 0xFFFFFFFF)


def test_varint_rejects_overflow_and_truncation() -> None:
    with pytest.raises(DecodeError):
        varint_at(varint(1 << 32), 0, 0xFFFFFFFF)
    with pytest.raises(DecodeError):
        varint_at(b"\x80", 0)
    with pytest.raises(DecodeError):
        varint_at(b"\xff" * 12, 0)


def _write_varint_loop(n: int) -> bytes:
    """Core's WriteVarInt as written: the reference for the coder's per-length shortcuts."""
    out = []
    while True:
        out.append((n & 0x7F) | (0x80 if out else 0))
        if n <= 0x7F:
            return bytes(reversed(out))
        n = (n >> 7) - 1


def _read_varint_loop(data: bytes, max_value: int) -> tuple[int, int] | None:
    """Core's ReadVarInt as written (None where it throws)."""
    n = 0
    for pos, ch in enumerate(data):
        if n > max_value >> 7:
            return None
        n = (n << 7) | (ch & 0x7F)
        if not ch & 0x80:
            return n, pos + 1
        if n == max_value:
            return None
        n += 1
    return None


def test_varint_coder_matches_core_loops() -> None:
    """Around every length boundary and at random: encodings, and decodings under each
    bound the node uses, with and without bytes after the VARINT and cut short."""
    rng = random.Random(11)
    values = [b + d for b in (0x80, 0x4080, 0x204080, 0x10204080, 0x810204080, 1 << 32,
                              1 << 31, 0x40810204080) for d in (-2, -1, 0, 1)]  # fmt: skip
    values += [rng.randrange(1 << rng.randrange(1, 64)) for _ in range(20_000)]
    for value in values:
        encoded = varint(value)
        assert encoded == _write_varint_loop(value), value
        for data in (encoded, encoded + b"\x05\x85", encoded[:-1]):
            for bound in (0xFFFFFFFFFFFFFFFF, 0xFFFFFFFF, 0x7FFFFFFF):
                try:
                    got: tuple[int, int] | None = varint_at(data, 0, bound)
                except DecodeError:
                    got = None
                assert got == _read_varint_loop(data, bound), (data.hex(), bound)
    for _ in range(20_000):  # any bytes at all
        data = bytes(rng.choice((rng.randrange(256), rng.randrange(128, 256))) for _ in range(9))
        try:
            got = varint_at(data, 0, 0xFFFFFFFF)
        except DecodeError:
            got = None
        assert got == _read_varint_loop(data, 0xFFFFFFFF), data.hex()


@pytest.mark.parametrize(
    ("amount", "compressed"),
    [(0, 0), (1, 1), (1_000_000, 7), (COIN, 9), (50 * COIN, 0x32), (21_000_000 * COIN, 0x1406F40)],
)
def test_amount_compression_vectors(amount: int, compressed: int) -> None:
    assert compress_amount(amount) == compressed
    assert decompress_amount(compressed) == amount


def test_amount_compression_round_trips() -> None:
    rng = random.Random(1)
    values = [rng.randrange(21_000_000 * COIN) for _ in range(2000)]
    values += [10**e * d for e in range(16) for d in range(1, 10)]
    for v in values:
        assert decompress_amount(compress_amount(v)) == v
    for x in range(100_000):
        assert compress_amount(decompress_amount(x)) == x


def test_core_coin_records() -> None:
    # Core's coins_tests ccoins_serialization
    c1 = Coin.deserialize(bytes.fromhex("97f23c835800816115944e077fe7c803cfa57f29b36bf87c1d35"))
    assert (c1.is_coinbase, c1.height, c1.value) == (False, 203998, 60_000_000_000)
    assert c1.script_pubkey.hex() == "76a914816115944e077fe7c803cfa57f29b36bf87c1d3588ac"
    c2 = Coin.deserialize(bytes.fromhex("8ddf77bbd123008c988f1a4a4de2161e0f50aac7f17e7f9555caa4"))
    assert (c2.is_coinbase, c2.height, c2.value) == (True, 120891, 110397)
    assert c2.script_pubkey.hex() == "76a9148c988f1a4a4de2161e0f50aac7f17e7f9555caa488ac"
    c3 = Coin.deserialize(bytes.fromhex("000006"))
    assert c3 == Coin(0, b"", 0, False)
    for c, raw in ((c1, "97f23c835800816115944e077fe7c803cfa57f29b36bf87c1d35"), (c3, "000006")):
        assert c.serialize().hex() == raw
    for bad in ("000007", "00008a95c0bb00", "00000600", "", "97f23c8358"):
        with pytest.raises(DecodeError):
            Coin.deserialize(bytes.fromhex(bad))


def test_script_compression_special_forms() -> None:
    secret = bytes(31) + b"\x07"
    comp = pubkey_from_secret(secret, compressed=True)
    unc = pubkey_from_secret(secret, compressed=False)
    p2pk_c = b"\x21" + comp + b"\xac"
    p2pk_u = b"\x41" + unc + b"\xac"
    cases = {P2PKH: 21, P2SH: 21, p2pk_c: 33, p2pk_u: 33}
    for script, size in cases.items():
        packed = compress_script(script)
        assert len(packed) == size
        value, back, end = read_compressed_txout(b"\x09" + packed, 0)
        assert (value, back, end) == (COIN, script, size + 1)
    assert compress_script(p2pk_u)[0] == 4 | (unc[64] & 1)
    # an uncompressed "key" off the curve is not compressible
    off_curve = b"\x41\x04" + bytes(63) + b"\x01\xac"
    assert compress_script(off_curve) == varint(67 + 6) + off_curve
    other = b"\x00\x14" + bytes(20)
    assert compress_script(other) == bytes([22 + 6]) + other


def test_overlong_script_becomes_op_return() -> None:
    long_script = b"\x51" * 10_001
    raw = varint(0) + varint(0) + varint(len(long_script) + 6) + long_script
    assert Coin.deserialize(raw).script_pubkey == b"\x6a"


def test_coin_key_layout() -> None:
    assert coin_key(OutPoint(b"\xab" * 32, 1)) == b"C" + b"\xab" * 32 + b"\x01"
    assert coin_key(OutPoint(b"\xab" * 32, 300)) == b"C" + b"\xab" * 32 + varint(300)


# --- CoinsDB ---


def test_coinsdb_batch_write_and_best_block() -> None:
    store = SpyStore()
    db = CoinsDB(store)
    assert db.best_block() == NULL_HASH
    db.batch_write({op(1): coin(), op(2): coin(7)}, BEST1)
    assert db.best_block() == BEST1
    assert db.get_coin(op(1)) == coin()
    assert db.have_coin(op(2)) and not db.have_coin(op(3))
    db.batch_write({op(1): None, op(9): None}, BEST2, fresh={op(9)})
    assert store.batches[-1][1] == [coin_key(op(1))]  # a fresh None needs no delete
    assert db.get_coin(op(1)) is None
    assert [o for o, _ in db.iter_coins()] == [op(2)]


def test_coinsdb_corrupt_record_is_storage_error() -> None:
    store = MemoryStore()
    store.write_batch({coin_key(op(1)): b"\x00\x00\x07", b"B": b"short"})
    db = CoinsDB(store)
    with pytest.raises(StorageError):
        db.get_coin(op(1))
    with pytest.raises(StorageError):
        db.best_block()
    with pytest.raises(StorageError):
        list(db.iter_coins())


# --- CoinsCache ---


def test_create_and_spend_between_flushes_never_reaches_disk() -> None:
    store = SpyStore()
    cache = CoinsCache(CoinsDB(store))
    cache.add_coin(op(1), coin())
    assert cache.get_coin(op(1)) == coin()
    assert cache.spend_coin(op(1)) == coin()
    assert cache.get_coin(op(1)) is None
    assert len(cache) == 0  # a FRESH coin is forgotten when spent
    cache.set_best_block(BEST1)
    cache.flush()
    assert store.batches == [({b"B": BEST1}, [])]


def test_spending_a_db_coin_deletes_it_on_flush() -> None:
    store = SpyStore()
    db = CoinsDB(store)
    db.batch_write({op(1): coin(), op(2): coin(3)}, BEST1)
    cache = CoinsCache(db)
    assert cache.best_block() == BEST1
    assert cache.spend_coin(op(1)) == coin()
    assert cache.spend_coin(op(1)) is None
    assert cache.spend_coin(op(7)) is None
    assert cache.get_coin(op(2)) == coin(3)  # fetched, clean: not written back
    cache.set_best_block(BEST2)
    cache.flush()
    puts, dels = store.batches[-1]
    assert puts == {b"B": BEST2} and dels == [coin_key(op(1))]
    assert db.get_coin(op(1)) is None and db.best_block() == BEST2


def test_overwrite_rules() -> None:
    cache = CoinsCache(CoinsDB(MemoryStore()))
    cache.add_coin(op(1), coin())
    with pytest.raises(CoinsLogicError, match="Attempted to overwrite an unspent coin"):
        cache.add_coin(op(1), coin(9))
    assert cache.get_coin(op(1)) == coin()
    cache.add_coin(op(1), coin(9), overwrite=True)
    assert cache.get_coin(op(1)) == coin(9)
    cache.spend_coin(op(1))
    cache.add_coin(op(1), coin(4))  # re-adding a spent (forgotten) coin is fine
    assert cache.get_coin(op(1)) == coin(4)


def test_readded_spent_coin_stays_dirty_not_fresh() -> None:
    # Core's reorg case: a coin on disk is spent, re-added, spent again; the
    # final spend must still delete the coin on disk.
    store = SpyStore()
    db = CoinsDB(store)
    db.batch_write({op(1): coin()}, BEST1)
    cache = CoinsCache(db)
    cache.spend_coin(op(1))
    cache.add_coin(op(1), coin(2))
    cache.spend_coin(op(1))
    cache.flush()
    assert store.batches[-1][1] == [coin_key(op(1))]
    assert db.get_coin(op(1)) is None


def test_overwrite_of_uncached_coin_is_not_fresh() -> None:
    store = SpyStore()
    db = CoinsDB(store)
    db.batch_write({op(1): coin()}, BEST1)
    cache = CoinsCache(db)
    cache.add_coin(op(1), coin(8), overwrite=True)  # parent not consulted, not FRESH
    cache.spend_coin(op(1))
    cache.flush()
    assert db.get_coin(op(1)) is None


def test_unspendable_outputs_are_not_stored() -> None:
    cache = CoinsCache(CoinsDB(MemoryStore()))
    cache.add_coin(op(1), Coin(0, b"\x6a\x04abcd", 1, False))
    cache.add_coin(op(2), Coin(1, b"\x51" * 10_001, 1, False))
    assert not cache.have_coin(op(1)) and not cache.have_coin(op(2))
    assert len(cache) == 0


def test_failed_flush_keeps_changes_and_disk_untouched() -> None:
    store = SpyStore()
    db = CoinsDB(store)
    db.batch_write({op(1): coin()}, BEST1)
    cache = CoinsCache(db)
    cache.spend_coin(op(1))
    cache.add_coin(op(2), coin(2))
    cache.set_best_block(BEST2)
    store.fail = True
    with pytest.raises(StorageError):
        cache.flush()
    assert db.get_coin(op(1)) == coin() and db.best_block() == BEST1
    store.fail = False
    cache.flush()
    assert db.get_coin(op(1)) is None and db.get_coin(op(2)) == coin(2)
    assert db.best_block() == BEST2


def test_flush_is_one_batch_with_best_block(tmp_path: Path) -> None:
    with LmdbStore(tmp_path / "chainstate") as store:
        db = CoinsDB(store)
        cache = CoinsCache(db)
        for i in range(500):
            cache.add_coin(op(i), coin(i + 1))
        cache.set_best_block(BEST1)
        cache.flush()
        assert cache.memory_usage() == 0
    with LmdbStore(tmp_path / "chainstate") as store:
        db = CoinsDB(store)
        assert db.best_block() == BEST1
        assert sum(1 for _ in db.iter_coins()) == 500


def test_child_view_discard_and_flush() -> None:
    store = SpyStore()
    db = CoinsDB(store)
    db.batch_write({op(1): coin(), op(2): coin(2)}, BEST1)
    tip = CoinsCache(db)
    child = CoinsCache(tip)
    assert child.spend_coin(op(1)) == coin()
    child.add_coin(op(3), coin(3))
    child.set_best_block(BEST2)
    del child  # a failed ConnectBlock: nothing reached the tip
    assert tip.get_coin(op(1)) == coin() and tip.get_coin(op(3)) is None
    assert tip.best_block() == BEST1

    child = CoinsCache(tip)
    child.spend_coin(op(1))
    child.add_coin(op(3), coin(3))
    child.set_best_block(BEST2)
    child.flush()
    assert tip.get_coin(op(1)) is None and tip.get_coin(op(3)) == coin(3)
    assert tip.best_block() == BEST2 and db.best_block() == BEST1
    # op(3) arrived FRESH in the tip: spending it there never touches disk
    tip.spend_coin(op(3))
    n_batches = len(store.batches)
    tip.flush()
    assert len(store.batches) == n_batches + 1
    puts, dels = store.batches[-1]
    assert puts == {b"B": BEST2} and dels == [coin_key(op(1))]


def test_fresh_misapplied_is_a_logic_error() -> None:
    tip = CoinsCache(CoinsDB(MemoryStore()))
    tip.add_coin(op(1), coin())
    with pytest.raises(CoinsLogicError, match="FRESH flag misapplied"):
        tip.batch_write({op(1): coin(2)}, BEST1, fresh={op(1)})


def test_child_spend_of_parent_fresh_coin_is_dropped() -> None:
    store = SpyStore()
    tip = CoinsCache(CoinsDB(store))
    tip.add_coin(op(1), coin())
    child = CoinsCache(tip)
    child.spend_coin(op(1))  # fetched from the tip: not FRESH in the child
    child.flush()
    assert len(tip) == 0 and tip.dirty_count() == 0
    tip.flush()
    assert store.batches[-1][1] == []


def test_sync_keeps_unspent_entries_clean() -> None:
    store = SpyStore()
    db = CoinsDB(store)
    cache = CoinsCache(db)
    cache.add_coin(op(1), coin())
    cache.add_coin(op(2), coin(2))
    cache.set_best_block(BEST1)
    cache.sync()
    assert db.get_coin(op(1)) == coin()
    assert cache.have_coin_in_cache(op(1)) and cache.dirty_count() == 0
    cache.spend_coin(op(1))
    cache.sync()
    assert db.get_coin(op(1)) is None and len(cache) == 1
    cache.uncache(op(2))
    assert len(cache) == 0


def test_memory_usage_and_needs_flush() -> None:
    cache = CoinsCache(CoinsDB(MemoryStore()))
    assert cache.memory_usage() == 0
    for i in range(100):
        cache.add_coin(op(i), coin())
    used = cache.memory_usage()
    assert used >= 100 * len(P2PKH)
    assert cache.needs_flush(used - 1) and not cache.needs_flush(used)
    for i in range(100):
        cache.spend_coin(op(i))
    assert cache.memory_usage() == 0


def test_packed_coins_answer_as_before() -> None:
    """Packing the cached coins keeps every answer (reads, spends, overwrite rules, what a
    flush writes) and costs less memory."""
    store = SpyStore()
    db = CoinsDB(store)
    db.batch_write({op(1): coin(), op(8): coin(7)}, BEST1)
    tip = CoinsCache(db)
    tip.get_coin(op(1))  # clean
    tip.spend_coin(op(8))  # spent, DIRTY: not packed
    for i in range(2, 7):
        tip.add_coin(op(i), coin(value=i, height=700_000 + i, cb=i == 3))
    tip.add_coin(op(7), Coin(9, b"", 1, False))  # an empty script
    used, count, dirty = tip.memory_usage(), len(tip), tip.dirty_count()
    assert tip.pack() == 7 and tip.pack() == 0
    _check_cache_invariants(tip)
    assert tip.memory_usage() < used and len(tip) == count and tip.dirty_count() == dirty
    assert tip.have_coin(op(4)) and tip.have_coin_in_cache(op(4))
    assert tip.have_any_output([(op(5).txid, 1)])
    assert tip.get_coin(op(3)) == coin(value=3, height=700_003, cb=True)  # back to FRESH
    assert op(3) in tip._fresh and op(3) not in tip._packed
    with pytest.raises(CoinsLogicError):
        tip.add_coin(op(4), coin())
    _check_cache_invariants(tip)
    assert tip.get_coin(op(4)) == coin(value=4, height=700_004)
    tip.pack()
    tip.add_coin(op(4), coin(value=44), overwrite=True)  # still FRESH
    assert tip.spend_coin(op(5)) == coin(value=5, height=700_005)
    assert tip.spend_coin(op(5)) is None
    child = CoinsCache(tip)
    fetched = child.fetch_coins([op(6), op(7)])
    assert fetched == [coin(value=6, height=700_006), Coin(9, b"", 1, False)]
    child.spend_fetched([op(6), op(7)], fetched)  # type: ignore[arg-type]
    child.flush()
    _check_cache_invariants(tip)
    tip.pack()
    tip.set_best_block(BEST2)
    tip.sync()
    _check_cache_invariants(tip)
    assert not tip._packed and len(tip._packed_clean) == 4 and tip.dirty_count() == 0
    puts, deletes = store.batches[-1]
    assert set(puts) == {coin_key(op(2)), coin_key(op(3)), coin_key(op(4)),
                         CHAINSTATE_BEST_BLOCK} and deletes == [coin_key(op(8))]  # fmt: skip
    assert db.get_coin(op(2)) == coin(value=2, height=700_002)
    assert tip.get_coin(op(3)) == coin(value=3, height=700_003, cb=True)  # clean again
    assert op(3) in tip._coins and tip.dirty_count() == 0
    with pytest.raises(CoinsLogicError):
        tip.add_coin(op(4), coin())
    assert tip.spend_coin(op(4)) == coin(value=44)  # clean: the spending reaches the disk
    tip.uncache(op(1))
    tip.uncache(op(2))
    _check_cache_invariants(tip)
    assert len(tip) == 2 and tip.dirty_count() == 1
    tip.flush()
    assert db.get_coin(op(4)) is None and db.get_coin(op(2)) is not None
    assert dict(db.iter_coins()).keys() == {op(1), op(2), op(3)}


def test_add_coins_from_transactions() -> None:
    cache = CoinsCache(CoinsDB(MemoryStore()))
    cb = Tx(1, (TxIn(OutPoint(NULL_HASH, 0xFFFFFFFF), b"\x01\x02"),), (TxOut(50 * COIN, P2SH),))
    tx = Tx(2, (TxIn(OutPoint(cb.txid, 0)),), (TxOut(1, P2PKH), TxOut(0, b"\x6a")))
    add_coins(cache, cb, 7)
    add_coins(cache, cb, 7)  # a duplicate coinbase overwrites (BIP30 history)
    assert cache.get_coin(OutPoint(cb.txid, 0)) == Coin(50 * COIN, P2SH, 7, True)
    add_coins(cache, tx, 8)
    assert cache.get_coin(OutPoint(tx.txid, 0)) == Coin(1, P2PKH, 8, False)
    assert cache.get_coin(OutPoint(tx.txid, 1)) is None
    with pytest.raises(CoinsLogicError):
        add_coins(cache, tx, 8)
    add_coins(cache, tx, 8, check_for_overwrite=True)


def _check_cache_invariants(cache: CoinsCache) -> None:
    """FRESH (packed or not) and other entries apart, DIRTY marks only on the others,
    FRESH coins unspent, and the script bytes counted those of the unspent coins held."""
    maps = (cache._fresh, cache._coins, cache._packed, cache._packed_clean)
    assert sum(map(len, maps)) == len(set().union(*maps))
    assert cache._dirty <= cache._coins.keys()
    assert all(c is not None for c in cache._fresh.values())
    packed = [_unpack_coin(r) for r in chain(cache._packed.values(), cache._packed_clean.values())]
    held = [c for c in chain(cache._fresh.values(), cache._coins.values(), packed) if c]
    assert cache._script_bytes == sum(len(c.script_pubkey) for c in held)


@pytest.mark.parametrize("seed", range(6))
def test_random_layers_match_a_model(seed: int) -> None:
    """Random adds/spends (one by one and a transaction's worth at a time) over DB <- tip
    <- child, with flushes and syncs, agree with a plain dict; a flush writes only what
    changed on disk."""
    rng = random.Random(seed)
    store = SpyStore()
    db = CoinsDB(store)
    tip = CoinsCache(db)
    model: dict[OutPoint, Coin] = {}
    tip_model: dict[OutPoint, Coin] = {}
    ops = [op(i, rng.randrange(3)) for i in range(60)]
    for _ in range(300):
        child = CoinsCache(tip)
        child_model = dict(tip_model)
        for _ in range(rng.randrange(1, 20)):
            o = rng.choice(ops)
            r = rng.random()
            if r < 0.45:
                c = Coin(rng.randrange(1, 10**9), rng.choice([P2PKH, P2SH, b"\x51"]), 5, False)
                if o in child_model or rng.random() < 0.2:
                    child.add_coin(o, c, overwrite=True)
                else:
                    child.add_coin(o, c)
                child_model[o] = c
            elif r < 0.8:
                assert child.spend_coin(o) == child_model.pop(o, None)
            elif r < 0.9:  # as ConnectBlock spends a transaction's inputs
                picked = list(dict.fromkeys(rng.sample(ops, rng.randrange(1, 4))))
                fetched = child.fetch_coins(picked)
                assert fetched == [child_model.get(p) for p in picked]
                if all(fetched):
                    child.spend_fetched(picked, fetched)  # type: ignore[arg-type]
                    for p in picked:
                        del child_model[p]
            elif r < 0.97:
                assert child.get_coin(o) == child_model.get(o)
            else:
                child.pack()
            _check_cache_invariants(child)
        if rng.random() < 0.8:
            child.set_best_block(rng.randbytes(32))
            child.flush()
            tip_model = child_model
            _check_cache_invariants(tip)
        if rng.random() < 0.3:
            tip.pack()
            _check_cache_invariants(tip)
        if rng.random() < 0.2:  # clean entries, packed or not, may be dropped at any time
            for o in rng.sample(ops, 10):
                tip.uncache(o)
            _check_cache_invariants(tip)
            assert all(tip.get_coin(o) == c for o, c in tip_model.items())
        r = rng.random()
        if r < 0.3:
            before = len(store.batches)
            if r < 0.15:
                tip.flush()
                assert len(tip) == 0
            else:
                tip.sync()
                assert tip.dirty_count() == 0
                assert all(tip.get_coin(o) == c for o, c in tip_model.items())
            _check_cache_invariants(tip)
            if len(store.batches) > before:
                puts, deletes = store.batches[-1]
                keys = {coin_key(o) for o in tip_model}
                assert set(puts) <= keys | {CHAINSTATE_BEST_BLOCK}
                assert not set(deletes) & keys
            model = dict(tip_model)
            assert dict(db.iter_coins()) == model
    tip.flush()
    assert dict(db.iter_coins()) == tip_model


# --- statistics ---


def _expected_hash(coins: dict[OutPoint, Coin]) -> bytes:
    h = hashlib.sha256()
    for o in sorted(coins, key=lambda o: (o.txid, o.n)):
        c = coins[o]
        h.update(o.serialize() + struct.pack("<I", c.height * 2 + c.is_coinbase))
        h.update(TxOut(c.value, c.script_pubkey).serialize())
    return hashlib.sha256(h.digest()).digest()


def test_utxo_stats() -> None:
    db = CoinsDB(MemoryStore())
    empty = compute_utxo_stats(db)
    assert empty.txouts == 0 and empty.hash_serialized == sha256d(b"")
    coins = {
        OutPoint(b"\x01" * 32, 0): Coin(5, P2PKH, 10, True),
        OutPoint(b"\x01" * 32, 16512): Coin(6, P2SH, 11, False),  # key sorts before 16511
        OutPoint(b"\x01" * 32, 16511): Coin(7, b"\x51", 12, False),
        OutPoint(b"\x00" * 32, 3): Coin(8, P2PKH, 13, False),
    }
    db.batch_write(coins, BEST1)
    assert coin_key(OutPoint(b"\x01" * 32, 16512)) < coin_key(OutPoint(b"\x01" * 32, 16511))
    stats = compute_utxo_stats(db)
    assert stats.best_block == BEST1
    assert (stats.transactions, stats.txouts, stats.total_amount) == (2, 4, 26)
    assert stats.bogosize == sum(50 + len(c.script_pubkey) for c in coins.values())
    assert stats.disk_size > 0
    assert stats.hash_serialized == _expected_hash(coins)


def _varint_reference(n: int) -> bytes:
    """WriteVarInt, byte by byte as in serialize.h."""
    tmp = [n & 0x7F]
    while n > 0x7F:
        n = (n >> 7) - 1
        tmp.append((n & 0x7F) | 0x80)
    return bytes(reversed(tmp))


def test_varint_matches_reference_across_length_boundaries() -> None:
    rng = random.Random(7)
    values = [rng.randrange(1 << bits) for bits in range(1, 65) for _ in range(200)]
    for start in (0x80, 0x4080, 0x204080, 0x10204080, 0x810204080, 0x40810204080):
        values += range(start - 3, start + 3)
    for n in values:
        assert varint(n) == _varint_reference(n), n
        assert varint_at(varint(n), 0) == (n, len(varint(n)))


def test_fetch_coins_and_spend_fetched_match_get_and_spend() -> None:
    db = CoinsDB(MemoryStore())
    db.batch_write({op(1): coin(), op(2): coin(cb=True)}, BEST1)
    tip = CoinsCache(db)
    tip.add_coin(op(3), coin(height=7))  # FRESH here
    tip.get_coin(op(2))  # clean, cached
    ref = CoinsCache(db)
    ref.add_coin(op(3), coin(height=7))
    ref.get_coin(op(2))
    ops = [op(1), op(2), op(3)]
    fetched = tip.fetch_coins(ops)
    assert fetched == [ref.get_coin(o) for o in ops]
    assert tip.fetch_coins([op(1), op(9)]) == [coin(), None]  # a missing one: the slow path
    ref.get_coin(op(9))
    tip.spend_fetched(ops, [c for c in fetched if c is not None])
    for o in ops:
        ref.spend_coin(o)
    assert tip._fresh == ref._fresh
    assert tip._coins == ref._coins
    assert tip._dirty == ref._dirty
    assert tip.memory_usage() == ref.memory_usage()


@pytest.mark.parametrize("layers", [1, 2])
@pytest.mark.parametrize("backend", ["memory", "lmdb"])
def test_have_any_output_is_any_have_coin(layers: int, backend: str, tmp_path: Path) -> None:
    """BIP30's question, asked a transaction at a time, gives what asking every outpoint
    one by one gives, through any stack of caches."""
    store = MemoryStore() if backend == "memory" else LmdbStore(tmp_path / "db")
    db = CoinsDB(store)
    db.batch_write({op(1, 200): coin(), op(2): coin(), op(3, 1): coin()}, BEST1)
    view = CoinsCache(db)
    if layers == 2:
        view = CoinsCache(view)

    def outputs(*txs: tuple[int, int]) -> list[tuple[bytes, int]]:
        return [(op(t).txid, count) for t, count in txs]

    def reference(txs: list[tuple[bytes, int]]) -> bool:
        return any(view.have_coin(OutPoint(t, n)) for t, count in txs for n in range(count))

    for txs in (outputs((5, 300)), outputs((5, 3), (1, 201)), outputs((2, 1)),
                outputs((3, 1), (4, 1)), outputs((3, 2)), outputs()):  # fmt: skip
        assert view.have_any_output(txs) == reference(txs), txs
    assert db.have_any_output(outputs((1, 201)))
    assert not db.have_any_output(outputs((4, 9)))
    view.spend_coin(op(2))
    assert not view.have_any_output(outputs((2, 1), (5, 300)))  # spent here, not in the parent
    view.add_coin(op(5, 3), coin())
    assert view.have_any_output(outputs((5, 4)))
    if backend == "lmdb":
        store.close()


def test_store_any_prefixed(tmp_path: Path) -> None:
    for store in (MemoryStore(), LmdbStore(tmp_path / "db")):
        assert not store.any_prefixed([b"a"])
        store.write_batch({b"ab": b"1", b"cd": b"3"})
        assert store.any_prefixed([b"a"])
        assert store.any_prefixed([b"x", b"cd"])
        assert not store.any_prefixed([b"b", b"abc", b"ce", b"d"])
        assert not store.any_prefixed([])
        store.close()


def test_packed_usage_foretells_memory_usage() -> None:
    db = CoinsDB(MemoryStore())
    db.batch_write({op(i): coin() for i in range(10)}, BEST1)
    cache = CoinsCache(db)
    for i in range(5):
        cache.get_coin(op(i))  # clean
    cache.spend_coin(op(5))  # DIRTY, spent
    for i in range(20, 40):
        cache.add_coin(op(i), coin())  # FRESH
    cache.add_coin(op(6), coin(), overwrite=True)  # DIRTY, unspent: stays as it is
    expected = cache.packed_usage()
    assert expected < cache.memory_usage()
    assert cache.pack() == 25
    assert cache.memory_usage() == expected == cache.packed_usage()


def test_memory_accounting_covers_what_coins_take() -> None:
    """``ENTRY_BYTES`` and ``PACKED_BYTES`` (which ``-dbcache`` is held to) are not below
    what a coin takes, packed or not, measured with tracemalloc for P2WPKH coins of
    two-output transactions (mainnet's common case)."""
    rng = random.Random(7)
    count = 20_000
    tracemalloc.start()
    try:
        cache = CoinsCache(CoinsDB(MemoryStore()))
        start = tracemalloc.get_traced_memory()[0]
        for t in range(count // 2):
            outputs = [(rng.randrange(10**4, 10**10), b"\x00\x14" + rng.randbytes(20))
                       for _ in range(2)]  # fmt: skip
            cache.add_outputs(rng.randbytes(32), 0, outputs, 700_000 + t // 1000, False, False)
        unpacked = tracemalloc.get_traced_memory()[0] - start
        cache.pack()
        packed = tracemalloc.get_traced_memory()[0] - start
    finally:
        tracemalloc.stop()
    scripts = count * 22
    assert cache.memory_usage() == count * PACKED_BYTES + scripts
    assert count * ENTRY_BYTES * 0.6 < unpacked - scripts <= count * ENTRY_BYTES
    assert count * PACKED_BYTES * 0.6 < packed - scripts <= count * PACKED_BYTES
