"""Undo records: Core's byte layout, round trips, connect/disconnect with real blocks."""

from __future__ import annotations

import random

import pytest

from pyrite.chain.coins import Coin, CoinsCache, CoinsDB, CoinsLogicError
from pyrite.chain.compressor import compress_txout
from pyrite.chain.kvstore import MemoryStore
from pyrite.chain.undo import BlockUndo, TxUndo, apply_coin_undo, update_coins
from pyrite.errors import DecodeError, StorageError
from pyrite.primitives import Block, OutPoint
from tests.conftest import vector_path

P2PKH = bytes.fromhex("76a914") + bytes(range(20)) + bytes.fromhex("88ac")


def test_coin_undo_layout_matches_core() -> None:
    # height 0 has no dummy version byte, height > 0 has a 0x00 after the code
    undo = TxUndo([Coin(50, P2PKH, 0, False), Coin(1000, b"\x51", 120891, True)])
    expected = (
        b"\x02"
        + b"\x00"
        + compress_txout(50, P2PKH)
        + bytes.fromhex("8ddf77")
        + b"\x00"
        + compress_txout(1000, b"\x51")
    )
    assert undo.serialize() == expected
    assert TxUndo.from_bytes(expected) == undo


def test_block_undo_round_trip() -> None:
    rng = random.Random(3)
    txs = []
    for _ in range(40):
        coins = [
            Coin(
                rng.randrange(0, 21_000_000 * 10**8),
                rng.choice([P2PKH, b"", b"\x00\x14" + rng.randbytes(20), rng.randbytes(300)]),
                rng.randrange(1, 900_000),
                rng.random() < 0.1,
            )
            for _ in range(rng.randrange(0, 8))
        ]
        txs.append(TxUndo(coins))
    undo = BlockUndo(txs)
    raw = undo.serialize()
    assert BlockUndo.from_bytes(raw) == undo
    assert BlockUndo.from_bytes(BlockUndo().serialize()) == BlockUndo()
    assert BlockUndo().serialize() == b"\x00"


def test_block_undo_rejects_malformed() -> None:
    raw = BlockUndo([TxUndo([Coin(5, P2PKH, 9, False)])]).serialize()
    for bad in (raw[:-1], raw + b"\x00", b"", b"\x05\x00", b"\xfd\x01\x00", b"\x01\x01"):
        with pytest.raises(DecodeError):
            BlockUndo.from_bytes(bad)


@pytest.mark.parametrize("name", ["block300025.raw", "block426884.raw"])
def test_connect_then_disconnect_restores_the_set(name: str) -> None:
    block = Block.from_bytes(vector_path("bcoin", "test", "data", name).read_bytes())
    created = {tx.txid for tx in block.txs}
    base = CoinsCache(CoinsDB(MemoryStore()))
    # invent the coins the block spends (those not created by the block itself)
    prevouts = [i.prevout for tx in block.txs[1:] for i in tx.vin if i.prevout.txid not in created]
    for k, p in enumerate(prevouts):
        base.add_coin(p, Coin(1000 + k, P2PKH, 1 + k % 500, k % 7 == 0))
    before = {p: base.get_coin(p) for p in prevouts}
    base.set_best_block(block.header.prev_hash)

    view = CoinsCache(base)
    height = 300_025
    undo = BlockUndo()
    for tx in block.txs:
        txu = update_coins(view, tx, height)
        if txu is not None:
            undo.txs.append(txu)
    view.set_best_block(block.hash)
    assert len(undo.txs) == len(block.txs) - 1
    undo = BlockUndo.from_bytes(undo.serialize())
    view.flush()
    assert all(not base.have_coin(p) for p in prevouts)

    # DisconnectBlock: last transaction first, outputs spent, inputs restored
    view = CoinsCache(base)
    clean = True
    for i in range(len(block.txs) - 1, -1, -1):
        tx = block.txs[i]
        for n, out in enumerate(tx.vout):
            c = view.spend_coin(OutPoint(tx.txid, n))
            if c is None:
                continue  # unspendable outputs were never added
            assert (c.value, c.script_pubkey, c.height) == (out.value, out.script_pubkey, height)
            assert c.is_coinbase == (i == 0)
        if i > 0:
            txu = undo.txs[i - 1]
            for txin, c in zip(reversed(tx.vin), reversed(txu.spent), strict=True):
                clean &= apply_coin_undo(view, txin.prevout, c)
    assert clean
    view.set_best_block(block.header.prev_hash)
    view.flush()
    assert {p: base.get_coin(p) for p in prevouts} == before
    assert all(base.get_coin(OutPoint(tx.txid, 0)) is None for tx in block.txs)


def test_update_coins_missing_input() -> None:
    block = Block.from_bytes(vector_path("bcoin", "test", "data", "block300025.raw").read_bytes())
    view = CoinsCache(CoinsDB(MemoryStore()))
    with pytest.raises(CoinsLogicError):
        update_coins(view, block.txs[1], 1)


def test_apply_coin_undo_unclean_and_legacy() -> None:
    view = CoinsCache(CoinsDB(MemoryStore()))
    p = OutPoint(b"\x05" * 32, 0)
    assert apply_coin_undo(view, p, Coin(1, P2PKH, 5, False))
    assert not apply_coin_undo(view, p, Coin(2, P2PKH, 5, False))  # overwrote an unspent coin
    assert view.get_coin(p) == Coin(2, P2PKH, 5, False)
    with pytest.raises(StorageError):
        apply_coin_undo(view, OutPoint(b"\x06" * 32, 0), Coin(1, P2PKH, 0, False))
