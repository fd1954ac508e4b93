"""The one-pass reader for common transactions (``tx.read_common``) against the general
one: on every real transaction at hand and on thousands of damaged ones, it either gives
exactly what the general reader gives (fields, raw bytes, hashes, where it stops) or
declines (None), and it declines whenever the general reader raises."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from bench.chainfile import read_chain
from pyrite.encoding.bytes import ByteReader
from pyrite.errors import DecodeError
from pyrite.primitives import Block, Tx
from pyrite.primitives.txparse import read_common
from tests.conftest import BENCH_CHAIN, vector_path

FIELDS = ("version", "vin", "vout", "locktime", "txid", "wtxid", "size", "base_size", "raw",
          "outputs_at")  # fmt: skip


def general(raw: bytes, pos: int = 0) -> tuple[Tx, int] | DecodeError:
    """``Tx.read`` the general way (a bytearray is read through a memoryview, which the
    one-pass reader never takes)."""
    r = ByteReader(bytearray(raw), pos)
    try:
        return Tx.read(r), r.pos
    except DecodeError as e:
        return e


def agree(raw: bytes, pos: int = 0) -> bool:
    """Assert the two readers agree on the transaction at ``pos``; True if the one-pass
    reader took it."""
    ref = general(raw, pos)
    got = read_common(raw, pos, len(raw))
    if got is None:
        return False
    assert not isinstance(ref, DecodeError), f"one-pass reader accepted what fails: {ref}"
    tx, end = got
    want, want_end = ref
    assert end == want_end
    for f in FIELDS:
        assert getattr(tx, f) == getattr(want, f), f
    return True


def real_transactions() -> list[bytes]:
    txs = []
    for name in ("tx_valid.json", "tx_invalid.json"):
        rows = json.loads(vector_path("bitcoin-core", "src", "test", "data", name).read_text())
        txs += [bytes.fromhex(r[1]) for r in rows if isinstance(r[0], list)]
    corpus = json.loads(vector_path("pyrite-taproot", "taproot_corpus.json").read_text())
    txs += [bytes.fromhex(c["tx"]) for c in corpus["cases"]]
    data = Path(vector_path("bcoin", "test", "data"))
    for f in sorted(data.glob("block*.raw")):
        if "undo" not in f.name:
            txs += [tx.raw for tx in Block.from_bytes(f.read_bytes()).txs]
    return txs


def test_agrees_on_every_real_transaction() -> None:
    txs = real_transactions()
    taken = sum(agree(raw) for raw in txs)
    print(f"{len(txs)} transactions from the vectors, {taken} read in one pass")
    assert taken > len(txs) // 2  # the common shapes are common
    assert taken < len(txs)  # and the corpus has others (big witness stacks, ...)


def test_agrees_on_the_benchmark_chain() -> None:
    if not BENCH_CHAIN.exists():
        pytest.fail(f"benchmark chain missing: {BENCH_CHAIN}")
    n = taken = 0
    for raw in read_chain(BENCH_CHAIN):
        for tx in Block.from_bytes(raw).txs:
            n += 1
            taken += agree(tx.raw)
    print(f"{n} transactions in the benchmark chain, {taken} read in one pass")
    assert n == 93_355
    assert taken == n - 10  # all but the ten fan-out transactions of 1,200 outputs


def test_agrees_on_damaged_transactions() -> None:
    rng = random.Random(4)
    pool = real_transactions()
    seen = {"taken": 0, "declined": 0, "invalid": 0}
    for _ in range(20_000):
        b = bytearray(rng.choice(pool))
        for _ in range(rng.randint(1, 3)):
            op = rng.randrange(4)
            i = rng.randrange(len(b))
            if op == 0:
                b[i] = rng.randrange(256)
            elif op == 1:
                del b[i:]
            elif op == 2:
                b[i:i] = rng.randbytes(rng.randint(1, 3))
            elif b:
                b[i] = rng.choice((0x00, 0x01, 0x02, 0xFC, 0xFD, 0xFE, 0xFF))
            if not b:
                b += rng.randbytes(5)
        raw = bytes(b)
        if agree(raw):
            seen["taken"] += 1
        elif isinstance(general(raw), DecodeError):
            seen["invalid"] += 1
        else:
            seen["declined"] += 1
    print(seen)
    assert all(seen.values())


@pytest.mark.parametrize(
    ("hexdata", "why"),
    [
        # version, marker, flag 1, one input with an empty witness, one output, locktime
        ("01000000" "0001" "01" + "11" * 32 + "00000000" "00" "ffffffff" "01" + "00" * 8 + "00"
         "00" "00000000", "superfluous witness record"),
        ("01000000" "0002" "01" + "11" * 32 + "00000000" "00" "ffffffff" "01" + "00" * 8 + "00"
         "00" "00000000", "unknown flag"),
        ("01000000" "00" "01" + "00" * 8 + "00" "00000000", "no inputs, no marker"),
        ("01000000" "fd0100" + "11" * 32 + "00000000" "00" "ffffffff" "00" "00000000",
         "non-canonical input count"),
        ("01000000" "01" + "11" * 32 + "00000000" "fd0000" "ffffffff" "00" "00000000",
         "three-byte script length"),
    ],
)  # fmt: skip
def test_declines_unusual_shapes(hexdata: str, why: str) -> None:
    raw = bytes.fromhex(hexdata)
    assert read_common(raw, 0, len(raw)) is None, why
    ref = general(raw)
    if not isinstance(ref, DecodeError):  # valid but unusual: Tx.read still reads it
        assert Tx.from_bytes(raw) == ref[0]


def test_a_transaction_read_in_one_pass_is_a_plain_frozen_tx() -> None:
    """The one-pass reader builds its ``Tx`` in a look-alike class and then changes the
    object's class: what comes out is exactly a ``Tx``, frozen, with the memo unset."""
    raw = real_transactions()[0]
    got = read_common(raw, 0, len(raw))
    assert got is not None
    tx = got[0]
    assert type(tx) is Tx
    assert tx.legacy_sigops_memo == -1
    with pytest.raises(AttributeError):  # dataclasses.FrozenInstanceError
        tx.version = 3  # type: ignore[misc]
    assert tx == Tx.from_bytes(raw) and hash(tx) == hash(Tx.from_bytes(raw))
