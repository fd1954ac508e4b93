"""Chain selection with an in-process Chainstate: reorganisations and the UTXO set.

Each test starts from its own regtest chain of 110 blocks (coinbases to the builder's
P2WPKH script; heights 1..11 are mature for the next block). After a reorganisation
the coins view is compared with that of a fresh node that only ever saw the winning
chain (``compute_utxo_stats`` over the flushed set), and restarts (close and reopen
of the Chainstate) are made in the middle of the scenarios: tip and UTXO statistics
must survive them.

Restarts are only made while no other chain has as much work as the tip. Core keeps
the previous tip when a tie is found at start-up (the active chain is loaded with
SEQ_ID_BEST_CHAIN_FROM_DISK); pyrite loads every block with the same sequence id, so
such a tie is settled arbitrarily for now.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from pyrite.chain.chainstate import PACK_PAUSE
from pyrite.chain.coins import Coin
from pyrite.chain.utxostats import UtxoStats
from pyrite.consensus.subsidy import get_block_subsidy
from pyrite.primitives import Block, OutPoint, Tx, TxOut
from tests.integration.chainutil import ChainBuilder

BASE_HEIGHT = 110


@pytest.fixture
def cb(tmp_path: Path) -> Iterator[ChainBuilder]:
    with ChainBuilder(tmp_path / "node") as builder:
        builder.mine(BASE_HEIGHT)
        yield builder


def out(tx: Tx, n: int = 0) -> OutPoint:
    return OutPoint(tx.txid, n)


def restart(cb: ChainBuilder) -> UtxoStats:
    """Close and reopen the node; the tip and the UTXO set must be exactly as before."""
    tip = cb.tip.hash
    height = cb.cs.height()
    stats = cb.utxo_stats()
    cb.reopen()
    assert cb.tip.hash == tip
    assert cb.cs.height() == height
    assert cb.utxo_stats() == stats
    return stats


def fresh_node_stats(cb: ChainBuilder, path: Path) -> UtxoStats:
    """UTXO statistics of a new node fed only the active chain of ``cb``, in order."""
    blocks = [cb.active_block(h) for h in range(1, cb.cs.height() + 1)]
    with ChainBuilder(path) as fresh:
        fresh.clock_time = cb.clock_time
        for block in blocks:
            assert fresh.submit(block) is None
        assert fresh.tip.hash == cb.tip.hash
        return fresh.utxo_stats()


def assert_matches_fresh_node(cb: ChainBuilder, path: Path) -> None:
    assert cb.utxo_stats() == fresh_node_stats(cb, path)


def coinbase_coins(cb: ChainBuilder, blocks: list[Block]) -> list[object]:
    return [cb.cs.get_coin(cb.coinbase_outpoint(b)) for b in blocks]


# --------------------------------------------------------------------------- most work wins


def test_longer_branch_wins_and_the_utxo_set_follows(cb: ChainBuilder, tmp_path: Path) -> None:
    key = cb.key
    fork = cb.tip
    c1, c2 = cb.spendable(key.p2wpkh)[:2]
    coin1 = cb.cs.get_coin(c1)

    tx_a = cb.spend(c1, to_script=key.p2pkh)
    a1 = cb.mine(1, fork, txs=[tx_a])[0]
    a2 = cb.mine(1, a1)[0]
    assert cb.cs.get_coin(c1) is None
    assert cb.cs.get_coin(out(tx_a)) is not None

    tx_b1 = cb.spend(c2, to_script=key.p2tr)
    tx_b2 = cb.spend(out(tx_b1))
    b1 = cb.next_block(fork, txs=[tx_b1])
    assert cb.submit(b1) == "inconclusive"  # less work: stored, not connected
    restart(cb)  # the side block is kept on disk
    b2 = cb.next_block(b1, txs=[tx_b2])
    assert cb.submit(b2) == "inconclusive"  # as much work as the tip: first seen stays
    assert cb.tip.hash == a2.hash
    assert cb.cs.get_coin(c2) is not None

    b3 = cb.next_block(b2)
    assert cb.submit(b3) is None
    assert cb.tip.hash == b3.hash and cb.cs.height() == fork.height + 3
    # Created only on the losing branch: gone. Spent only on the losing branch: back.
    assert cb.cs.get_coin(out(tx_a)) is None
    assert cb.cs.get_coin(c1) == coin1
    assert coinbase_coins(cb, [a1, a2]) == [None, None]
    # The winning branch's view: c2 spent, tx_b1's output spent in b2, tx_b2's unspent.
    assert cb.cs.get_coin(c2) is None
    assert cb.cs.get_coin(out(tx_b1)) is None
    assert cb.cs.get_coin(out(tx_b2)) is not None
    assert None not in coinbase_coins(cb, [b1, b2, b3])
    assert_matches_fresh_node(cb, tmp_path / "fresh-b")
    restart(cb)

    # The first branch comes back with more work: everything flips again.
    a3 = cb.next_block(a2)
    assert cb.submit(a3) == "inconclusive"
    a4 = cb.next_block(a3)
    assert cb.submit(a4) is None
    assert cb.tip.hash == a4.hash
    assert cb.cs.get_coin(c1) is None and cb.cs.get_coin(out(tx_a)) is not None
    assert cb.cs.get_coin(c2) is not None and cb.cs.get_coin(out(tx_b2)) is None
    assert_matches_fresh_node(cb, tmp_path / "fresh-a")
    restart(cb)
    assert cb.cs.verify_chain(depth=10, level=3)


def test_equal_work_keeps_the_first_seen_and_preciousblock_switches(cb: ChainBuilder) -> None:
    fork = cb.tip
    c1, c2 = cb.spendable(cb.key.p2wpkh)[:2]
    a = cb.mine(1, fork, txs=[cb.spend(c1)])[0]
    b = cb.next_block(fork, txs=[cb.spend(c2)])
    assert cb.submit(b) == "inconclusive"
    assert cb.tip.hash == a.hash

    def on(block: Block) -> None:
        assert cb.tip.hash == block.hash
        assert cb.cs.coins.best_block() == block.hash
        assert (cb.cs.get_coin(c1) is None) == (block is a)
        assert (cb.cs.get_coin(c2) is None) == (block is b)

    on(a)
    cb.cs.precious_block(cb.entry(b))
    on(b)
    cb.cs.precious_block(cb.entry(a))
    on(a)
    cb.cs.precious_block(cb.entry(b))
    on(b)
    # A block with less work than the tip cannot be made precious.
    cb.cs.precious_block(cb.entry(fork))
    on(b)
    # New work settles it: a block on ``a`` wins, however precious ``b`` was.
    a2 = cb.next_block(a)
    assert cb.submit(a2) is None
    assert cb.tip.hash == a2.hash
    assert cb.cs.get_coin(c1) is None and cb.cs.get_coin(c2) is not None
    restart(cb)


def test_deep_reorg_with_transactions_on_both_branches(cb: ChainBuilder, tmp_path: Path) -> None:
    key = cb.key
    fork = cb.tip
    depth = 30

    def branch(first_coinbase: int, pay_to: bytes, length: int) -> list[Block]:
        """Each block spends an old coinbase and the previous block's change."""
        blocks: list[Block] = []
        parent: Block | None = None
        last: Tx | None = None
        for i in range(length):
            txs = [cb.spend(cb.coinbase_outpoint(first_coinbase + i), to_script=pay_to)]
            if last is not None:
                txs.append(cb.spend(out(last), to_script=key.p2pkh))
            last = txs[0]
            block = cb.next_block(parent or fork, txs=txs)
            blocks.append(block)
            parent = block
        return blocks

    # Branch A spends coinbases 1..30, branch B coinbases 2..32: they conflict.
    a = branch(1, key.p2wpkh, depth)
    for block in a:
        assert cb.submit(block) is None
    assert cb.tip.hash == a[-1].hash
    restart(cb)

    b = branch(2, key.p2tr, depth + 1)
    for block in b[:depth]:
        assert cb.submit(block) == "inconclusive"
    assert cb.tip.hash == a[-1].hash
    assert cb.submit(b[-1]) is None
    assert cb.tip.hash == b[-1].hash and cb.cs.height() == fork.height + depth + 1

    assert coinbase_coins(cb, a) == [None] * depth
    assert cb.cs.get_coin(cb.coinbase_outpoint(1)) is not None  # spent only on A
    assert all(cb.cs.get_coin(out(tx)) is None for blk in a for tx in blk.txs[1:])
    assert_matches_fresh_node(cb, tmp_path / "fresh")
    restart(cb)
    assert cb.cs.verify_chain(depth=depth + 5, level=3)


# --------------------------------------------------------------------------- invalidate


def test_invalidate_the_tip_then_reconsider(cb: ChainBuilder) -> None:
    blocks = cb.mine(3, txs=())
    stats = cb.utxo_stats()
    cb.cs.invalidate_block(cb.entry(blocks[2]))
    assert cb.tip.hash == blocks[1].hash
    assert cb.entry(blocks[2]).failed()
    assert cb.cs.get_coin(cb.coinbase_outpoint(blocks[2])) is None
    assert cb.submit(blocks[2]) == "duplicate-invalid"
    assert cb.submit(cb.next_block(blocks[2])) == "bad-prevblk"

    restart(cb)
    assert cb.entry(blocks[2]).failed()  # the mark is persistent
    cb.cs.reconsider_block(cb.entry(blocks[2]))
    assert cb.tip.hash == blocks[2].hash
    assert not cb.entry(blocks[2]).failed()
    assert cb.utxo_stats() == stats
    restart(cb)


def test_invalidate_a_deeper_block_and_the_other_branch_takes_over(
    cb: ChainBuilder, tmp_path: Path
) -> None:
    fork = cb.tip
    c1, c2 = cb.spendable(cb.key.p2wpkh)[:2]
    tx_a = cb.spend(c1)
    a1 = cb.mine(1, fork, txs=[tx_a])[0]
    a = [a1, *cb.mine(2, a1)]
    b1 = cb.next_block(fork, txs=[cb.spend(c2)])
    b2 = cb.next_block(b1)
    assert [cb.submit(b1), cb.submit(b2)] == ["inconclusive", "inconclusive"]
    a_stats = cb.utxo_stats()

    cb.cs.invalidate_block(cb.entry(a1))
    assert cb.tip.hash == b2.hash  # back to the fork, then the most-work valid chain
    assert all(cb.entry(x).failed() for x in a)
    assert cb.cs.get_coin(c1) is not None and cb.cs.get_coin(out(tx_a)) is None
    assert cb.cs.get_coin(c2) is None
    assert_matches_fresh_node(cb, tmp_path / "fresh-b")
    restart(cb)
    assert all(cb.entry(x).failed() for x in a)

    cb.cs.reconsider_block(cb.entry(a1))
    assert cb.tip.hash == a[-1].hash
    assert not any(cb.entry(x).failed() for x in a)
    assert cb.utxo_stats() == a_stats
    restart(cb)


def test_invalidate_without_a_better_branch(cb: ChainBuilder) -> None:
    fork = cb.tip
    a = cb.mine(4, fork)
    b = cb.build_chain(2, fork)
    assert [cb.submit(x) for x in b] == ["inconclusive", "inconclusive"]

    cb.cs.invalidate_block(cb.entry(a[3]))
    assert cb.tip.hash == a[2].hash  # a3 still has more work than b2
    cb.cs.invalidate_block(cb.entry(a[1]))
    assert cb.tip.hash == b[1].hash  # a1 alone has less
    assert cb.entry(a[0]).failed() is False
    restart(cb)

    # Reconsidering a2 clears its descendants too, a4 included: back to a4.
    cb.cs.reconsider_block(cb.entry(a[1]))
    assert cb.tip.hash == a[3].hash
    assert not any(cb.entry(x).failed() for x in a)


# --------------------------------------------------------------------------- out of order


def test_block_arriving_before_its_parent_is_connected_with_it(cb: ChainBuilder) -> None:
    tip = cb.tip
    c1 = cb.spendable(cb.key.p2wpkh)[0]
    tx1 = cb.spend(c1)
    tx2 = cb.spend(out(tx1))  # the child block spends the parent block's output
    parent = cb.next_block(txs=[tx1])
    child = cb.next_block(parent, txs=[tx2])

    assert cb.submit(child) == "prev-blk-not-found"
    assert cb.tip is tip and cb.cs.lookup(child.hash) is None
    assert cb.submit(child) == "prev-blk-not-found"  # still waiting, kept once

    assert cb.submit(parent) is None
    assert cb.tip.hash == child.hash
    assert cb.cs.get_coin(out(tx2)) is not None
    assert cb.submit(child) == "duplicate"
    restart(cb)


def test_blocks_in_reverse_order(cb: ChainBuilder) -> None:
    c1 = cb.spendable(cb.key.p2wpkh)[0]
    txs = [cb.spend(c1)]
    for _ in range(4):
        txs.append(cb.spend(out(txs[-1])))
    blocks: list[Block] = []
    for tx in txs:
        blocks.append(cb.next_block(blocks[-1] if blocks else None, txs=[tx]))
    for block in reversed(blocks[1:]):
        assert cb.submit(block) == "prev-blk-not-found"
    assert cb.submit(blocks[0]) is None
    assert cb.tip.hash == blocks[-1].hash
    assert cb.cs.get_coin(out(txs[-1])) is not None
    assert cb.cs.get_coin(out(txs[0])) is None
    restart(cb)


# --------------------------------------------------------------------------- invalid branches


def _overpaying(cb: ChainBuilder, parent: Block) -> Block:
    """A block that passes every check but ConnectBlock's (bad-cb-amount)."""
    height = cb.height_of(parent.hash) + 1
    return cb.next_block(parent, coinbase_value=get_block_subsidy(height, cb.params) + 1)


def test_reorg_into_a_branch_with_an_invalid_block_stops_before_it(
    cb: ChainBuilder, tmp_path: Path
) -> None:
    fork = cb.tip
    a = cb.mine(5, fork)
    b1 = cb.next_block(fork, txs=[cb.spend(cb.spendable(cb.key.p2wpkh)[0])])
    b2 = cb.next_block(b1)
    b3 = _overpaying(cb, b2)
    b4 = cb.next_block(b3)
    b5 = cb.next_block(b4)
    b = [b1, b2, b3, b4, b5]
    # Stored while the active chain has more work: the bad block is not found out yet.
    assert [cb.submit(x) for x in b] == ["inconclusive"] * 5
    assert not cb.entry(b3).failed()

    # Without branch A, B has the most work; connecting it stops at b3.
    cb.cs.invalidate_block(cb.entry(a[0]))
    assert cb.tip.hash == b2.hash
    assert cb.entry(b3).failed() and cb.entry(b4).failed() and cb.entry(b5).failed()
    assert not cb.entry(b2).failed()
    assert_matches_fresh_node(cb, tmp_path / "fresh")
    restart(cb)
    assert cb.entry(b3).failed()
    assert cb.submit(b3) == "duplicate-invalid"
    assert cb.submit(cb.next_block(b5)) == "bad-prevblk"

    cb.cs.reconsider_block(cb.entry(a[0]))
    assert cb.tip.hash == a[-1].hash
    assert cb.entry(b3).failed()  # reconsidering A does not forgive b3


def test_reorg_triggered_by_late_parent_stops_at_the_last_valid_block(cb: ChainBuilder) -> None:
    fork = cb.tip
    a1 = cb.mine(1, fork)[0]
    b1 = cb.next_block(fork)
    b2 = cb.next_block(b1)
    b3 = cb.next_block(b2)
    b4 = _overpaying(cb, b3)
    b5 = cb.next_block(b4)
    for block in (b5, b4, b3, b2):
        assert cb.submit(block) == "prev-blk-not-found"
    assert cb.tip.hash == a1.hash

    # b1 arrives: b2..b4 follow; the reorg reaches b3 and b4 fails; b5 is refused.
    assert cb.submit(b1) is None
    assert cb.tip.hash == b3.hash
    assert cb.entry(b4).failed()
    assert cb.cs.lookup(b5.hash) is None
    assert cb.cs.get_coin(cb.coinbase_outpoint(a1)) is None
    restart(cb)
    assert cb.entry(b4).failed()


# --------------------------------------------------------------------------- a packed cache


def test_packed_coins_through_spends_reorgs_and_restarts(cb: ChainBuilder, tmp_path: Path) -> None:
    """A coins cache too small for a block's 150 new coins packs them (``CoinsCache.pack``)
    instead of flushing; spending some of them, disconnecting and reconnecting those
    blocks, and restarting leave the UTXO set a fresh node with a large cache has."""
    cb.cs.dbcache_bytes = 1
    cb.cs.flush()  # (over the limit: the cache is emptied)
    fan = cb.spend(cb.coinbase_outpoint(1), outputs=[TxOut(1_000_000 + i, cb.key.p2wpkh)
                                                      for i in range(150)])  # fmt: skip
    cb.cs.dbcache_bytes = 40_000  # over it with 150 coins, under it packed
    a = cb.mine(1, txs=[fan])[0]
    coins = cb.cs.coins
    assert coins.packed_count() == 150 and coins.memory_usage() <= 40_000
    picked = [out(fan, n) for n in (149, 3, 77, 0, 120, 51)]
    b = cb.mine(1, txs=[cb.spend(picked), cb.spend(out(fan, 5), to_script=cb.key.p2tr)])[0]
    assert coins.packed_count() == 150 - 7
    assert all(cb.cs.get_coin(op) is None for op in picked)
    stats = cb.utxo_stats()
    assert_matches_fresh_node(cb, tmp_path / "fresh")

    cb.cs.invalidate_block(cb.entry(a))  # both blocks disconnected: the coins come back
    cb.cs.activate_best_chain()
    assert cb.tip.hash != b.hash
    assert all(cb.cs.get_coin(out(fan, n)) is None for n in range(150))
    cb.cs.reconsider_block(cb.entry(a))
    assert cb.tip.hash == b.hash
    assert cb.utxo_stats() == stats
    cb.cs.invalidate_block(cb.entry(b))
    cb.cs.activate_best_chain()
    height = cb.entry(a).height
    assert cb.cs.get_coin(out(fan, 149)) == Coin(1_000_149, cb.key.p2wpkh, height, False)
    cb.cs.reconsider_block(cb.entry(b))
    assert cb.utxo_stats() == stats
    restart(cb)
    assert_matches_fresh_node(cb, tmp_path / "fresh2")


def test_packing_pauses_when_the_packed_coins_are_flushed_unspent(cb: ChainBuilder) -> None:
    """Coins packed and then written out unspent by the next flush cost time for nothing:
    the next ``PACK_PAUSE`` flushes come without packing."""
    cs = cb.cs
    cs.dbcache_bytes = 1
    cs.flush()
    cs.dbcache_bytes = 40_000
    outputs = [TxOut(1_000_000 + i, cb.key.p2wpkh) for i in range(150)]
    cb.mine(1, txs=[cb.spend(cb.coinbase_outpoint(1), outputs=outputs)])
    assert cs.coins.packed_count() == 150
    cs.dbcache_bytes = 1
    cs.flush()  # none of the 150 was spent
    assert cs.coins.packed_count() == 0 and len(cs.coins) == 0
    cs.dbcache_bytes = 40_000
    for k in range(PACK_PAUSE):
        cb.mine(1, txs=[cb.spend(cb.coinbase_outpoint(2 + k), outputs=outputs)])
        assert cs.coins.packed_count() == 0 and len(cs.coins) < 10  # flushed instead
    cb.mine(1, txs=[cb.spend(cb.coinbase_outpoint(2 + PACK_PAUSE), outputs=outputs)])
    assert cs.coins.packed_count() == 150  # tried again
