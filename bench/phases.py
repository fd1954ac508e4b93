"""Python time of each phase of the benchmark chain's import, one phase at a time.

    python -m bench.phases [--rounds N] [--phase NAME ...]

The import benchmark (``bench.import_chain``) times the whole daemon; this one runs the
Python parts of validating the same 232 blocks on their own, in this process, without the
signature checks (libsecp256k1's share, which the daemon's workers take): parsing the
blocks, CheckBlock's merkle trees and transaction checks, connecting the transactions (UTXO
cache, CheckTxInputs, sigop cost, undo data as objects), serializing the undo data, and
running every input's scripts up to its signature check (signature hashes included). Each
phase is CPU time, the best of the rounds, so that a change to one phase shows in its own
figure rather than in the noise of a whole import.
"""

from __future__ import annotations

import argparse
import gc
import time
from collections.abc import Callable

from bench.chainfile import DEFAULT_CHAIN, read_chain
from pyrite.chain.coins import Coin, CoinsCache, CoinsDB
from pyrite.chain.kvstore import MemoryStore
from pyrite.chain.undo import BlockUndo, update_coins
from pyrite.consensus import validation as rules
from pyrite.consensus.merkle import block_merkle_root, block_witness_merkle_root
from pyrite.consensus.sigops import tx_sigop_cost
from pyrite.consensus.tx_check import check_transaction
from pyrite.primitives import Block, Tx
from pyrite.script.flags import CONSENSUS_FLAGS
from pyrite.script.sighash import PrecomputedTx
from pyrite.script.verify import verify_tx_inputs

FLAGS = int(CONSENSUS_FLAGS)


class Phases:
    def __init__(self) -> None:
        self.raws = read_chain(DEFAULT_CHAIN)
        self.blocks = [Block.from_bytes(raw) for raw in self.raws]
        self.spends: list[tuple[Tx, list[Coin]]] = []
        self.undos = self.connect()

    def parse(self) -> None:
        for raw in self.raws:
            Block.from_bytes(raw)

    def check(self) -> None:
        for block in self.blocks:
            object.__setattr__(block, "merkle_memo", None)  # computed again, as on import
            block_merkle_root(block)
            block_witness_merkle_root(block)
            for tx in block.txs:
                check_transaction(tx)

    def connect(self) -> list[BlockUndo]:
        view = CoinsCache(CoinsDB(MemoryStore()))  # empty: the chain creates what it spends
        undos = []
        self.spends = []
        for height, block in enumerate(self.blocks, 1):
            txs = []
            update_coins(view, block.txs[0], height)
            for tx in block.txs[1:]:
                prevouts = [txin.prevout for txin in tx.vin]
                coins: list[Coin] = view.fetch_coins(prevouts)  # type: ignore[assignment]
                rules.check_tx_inputs(tx, coins, height)
                tx_sigop_cost(tx, coins, FLAGS)
                self.spends.append((tx, coins))
                undo = update_coins(view, tx, height, coins, prevouts)
                assert undo is not None
                txs.append(undo)
            undos.append(BlockUndo(txs))
        return undos

    def undo(self) -> None:
        for undo in self.undos:
            undo.serialize()

    def scripts(self) -> None:
        for tx, coins in self.spends:
            checks: list[tuple[object, ...]] = []
            pre = PrecomputedTx(tx, coins)  # type: ignore[arg-type]  # a Coin starts as its TxOut
            if verify_tx_inputs(pre, FLAGS, checks) is not None:
                raise SystemExit(f"scripts of {tx.txid_hex()} fail")

    def run(self, name: str) -> float:
        fn: Callable[[], object] = getattr(self, name)
        start = time.process_time()
        fn()
        return time.process_time() - start


PHASES = ("parse", "check", "connect", "undo", "scripts")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--phase", nargs="*", choices=PHASES, default=list(PHASES))
    args = ap.parse_args(argv)
    phases = Phases()
    # as the daemon: everything loaded so far frozen, young objects collected rarely
    gc.collect()
    gc.freeze()
    gc.set_threshold(100_000, 50, 1000)
    best = dict.fromkeys(args.phase, float("inf"))
    for _ in range(args.rounds):
        for name in args.phase:
            best[name] = min(best[name], phases.run(name))
    for name in args.phase:
        print(f"{name:8s} {best[name] * 1000:8.0f} ms")
    print(f"{'total':8s} {sum(best.values()) * 1000:8.0f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
