"""Full validation of one large mainnet block: bcoin's block 300025 (461 transactions,
1,427 inputs) with the outputs it spends.

    python -m bench.validate_block [--rounds N]

Times what ConnectBlock does for it: parse, context-free checks (CheckBlock), sigop cost,
input amounts and fees (CheckTxInputs), coinbase amount, and every input's scripts with the
flags in force at that height; and, for comparison, libbitcoinkernel's script checks of the
same inputs (the kernel cannot connect a lone mainnet block).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path
from typing import Any

from pyrite.chain.coins import Coin
from pyrite.chain.scriptcheck import SerialScriptChecker
from pyrite.consensus import validation as rules
from pyrite.consensus.params import get_params
from pyrite.consensus.sigops import tx_sigop_cost
from pyrite.encoding.bytes import ByteReader
from pyrite.primitives import Block, TxOut

DATA = Path(os.environ.get("PYRITE_SHARED", Path(__file__).resolve().parents[2] / "shared"))
BLOCK = DATA / "vectors" / "bcoin" / "test" / "data" / "block300025.raw"
UNDO = DATA / "vectors" / "bcoin" / "test" / "data" / "block300025-undo.raw"
HEIGHT = 300025


def read_block(raw: bytes, undo: bytes) -> tuple[Block, list[list[TxOut]]]:
    """A block and, per non-coinbase transaction, the outputs its inputs spend (bcoin's
    undo files list them one after the other)."""
    block = Block.from_bytes(raw)
    r = ByteReader(undo)
    return block, [[TxOut.read(r) for _ in tx.vin] for tx in block.txs[1:]]


def validate(raw: bytes, undo: bytes) -> int:
    params = get_params("main")
    block, spent = read_block(raw, undo)
    rules.check_block(block, params)
    flags = rules.block_script_flags(HEIGHT, block.hash, params)
    fees = 0
    sigops = rules.accumulate_sigops_cost(0, tx_sigop_cost(block.txs[0], (), flags))
    checker = SerialScriptChecker()
    session = checker.begin(flags)
    for i, (tx, outs) in enumerate(zip(block.txs[1:], spent, strict=True), start=1):
        # the undo records carry no heights; any height deep enough for maturity will do
        coins = [Coin(o.value, o.script_pubkey, 1, False) for o in outs]
        fees = rules.accumulate_fees(fees, rules.check_tx_inputs(tx, coins, HEIGHT))
        sigops = rules.accumulate_sigops_cost(sigops, tx_sigop_cost(tx, outs, flags))
        session.add(i, tx, outs)
    rules.check_coinbase_amount(block, fees, HEIGHT, params)
    if session.finish() is not None:
        raise SystemExit("a script failed")
    return sum(len(s) for s in spent)


#: the script flags libbitcoinkernel takes (its btck_ScriptVerificationFlags: Core's bits)
KERNEL_FLAGS = 1 | 4 | 16 | 512 | 1024 | 2048 | 131072


def kernel_scripts(raw: bytes, undo: bytes, flags: int = 1 | 2048 | 131072) -> float:
    """Seconds libbitcoinkernel takes to verify every input's scripts, one thread."""
    import ctypes

    import pbk
    from pbk.script import PrecomputedTransactionData

    def make(cls: Any, data: bytes) -> Any:
        obj = cls.__new__(cls)
        super(cls, obj).__init__((ctypes.c_ubyte * len(data)).from_buffer_copy(data), len(data))
        return obj

    block, spent = read_block(raw, undo)
    prepared = []
    for tx, outs in zip(block.txs[1:], spent, strict=True):
        ktx = make(pbk.Transaction, tx.raw)
        spks = [make(pbk.ScriptPubkey, o.script_pubkey) for o in outs]
        kouts = [pbk.TransactionOutput(s, o.value) for s, o in zip(spks, outs, strict=True)]
        prepared.append((ktx, kouts, spks, [o.value for o in outs]))
    kflags = pbk.ScriptVerificationFlags(flags & KERNEL_FLAGS)
    t = time.perf_counter()
    for ktx, kouts, spks, amounts in prepared:
        pre = PrecomputedTransactionData(ktx, kouts)
        for k, spk in enumerate(spks):
            if not spk.verify(amounts[k], ktx, pre, k, kflags):
                raise SystemExit("kernel rejected an input")
    return time.perf_counter() - t


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--no-kernel", action="store_true")
    args = ap.parse_args()
    raw, undo = BLOCK.read_bytes(), UNDO.read_bytes()
    times, ktimes = [], []
    n = 0
    for _ in range(args.rounds):
        t = time.perf_counter()
        n = validate(raw, undo)
        times.append(time.perf_counter() - t)
        if not args.no_kernel:
            ktimes.append(kernel_scripts(raw, undo))
    med = statistics.median(times)
    print(f"block 300025: {len(raw):,} bytes, {n} inputs")
    print(f"pyrite full validation: median {med * 1000:.1f} ms ({n / med:,.0f} inputs/s)")
    if ktimes:
        km = statistics.median(ktimes)
        print(f"kernel script checks only: median {km * 1000:.1f} ms ({n / km:,.0f} inputs/s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
