"""Script checks of real blocks, in one process and with a worker: bcoin's mainnet block
300025 and testnet3 blocks 928816-928927 and 1087400, with the outputs they spend.

    python -m bench.real_blocks [--rounds N] [--no-kernel]

For each block: its inputs, how many of them take the multisig path and how many only the
interpreter runs (the rest are standard spends with fast paths), and the time to verify
every input's scripts with the block's flags (Core's GetBlockScriptFlags at its height):
pyrite in one process (``-par=1``), pyrite with one worker process (what ``-par=0`` gives
on two cores), and libbitcoinkernel on one thread. The import benchmark's chain holds only
standard spends; these blocks show how the rest fares.
"""

from __future__ import annotations

import argparse
import statistics
import time

from bench.validate_block import DATA, kernel_scripts, read_block
from pyrite.chain.scriptcheck import ParallelScriptChecker, ScriptChecker, SerialScriptChecker
from pyrite.consensus import validation as rules
from pyrite.consensus.params import get_params
from pyrite.primitives import Block, TxOut
from pyrite.script.fastpath import try_fast_path, try_multisig
from pyrite.script.sighash import PrecomputedTx

BLOCKS = {300025: "main", 928816: "test", 928828: "test", 928831: "test", 928848: "test",
          928849: "test", 928927: "test", 1087400: "test"}  # fmt: skip


def input_kinds(block: Block, spent: list[list[TxOut]], flags: int) -> tuple[int, int]:
    """How many inputs the multisig path takes, and how many only the interpreter runs
    (the rest take the standard fast paths)."""
    multisig = interp = 0
    for tx, outs in zip(block.txs[1:], spent, strict=True):
        pre = PrecomputedTx(tx, outs)
        for k, out in enumerate(outs):
            if try_fast_path(pre, k, out.script_pubkey, out.value, flags, []):
                continue
            if try_multisig(pre, k, out.script_pubkey, out.value, flags):
                multisig += 1
            else:
                interp += 1
    return multisig, interp


def timed(checker: ScriptChecker, block: Block, spent: list[list[TxOut]], flags: int) -> float:
    t = time.perf_counter()
    failure = checker.check_block_scripts(block, spent, flags)
    dt = time.perf_counter() - t
    if failure is not None:
        raise SystemExit(f"block {block.hash_hex()}: input failed: {failure}")
    return dt


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--no-kernel", action="store_true")
    args = ap.parse_args()
    parallel = ParallelScriptChecker(1)
    serial = SerialScriptChecker()
    print(f"{'block':>8} {'net':>4} {'inputs':>7} {'multisig':>8} {'interp.':>7} {'-par=1 ms':>10} "
          f"{'1 worker':>9} {'speedup':>8} {'kernel ms':>10} {'-par=1/kernel':>14}")  # fmt: skip
    try:
        for height, net in BLOCKS.items():
            data = DATA / "vectors" / "bcoin" / "test" / "data"
            raw = (data / f"block{height}.raw").read_bytes()
            undo = (data / f"block{height}-undo.raw").read_bytes()
            block, spent = read_block(raw, undo)
            flags = rules.block_script_flags(height, block.hash, get_params(net))
            ser, par, ker = [], [], []
            for _ in range(args.rounds):
                ser.append(timed(serial, block, spent, flags))
                par.append(timed(parallel, block, spent, flags))
                if not args.no_kernel:
                    ker.append(kernel_scripts(raw, undo, flags))
            s, p = statistics.median(ser), statistics.median(par)
            inputs = sum(len(o) for o in spent)
            multisig, interp = input_kinds(block, spent, flags)
            line = (f"{height:>8} {net:>4} {inputs:>7,} {multisig:>8,} {interp:>7,}"
                    f" {s * 1000:>10.1f} {p * 1000:>9.1f} {s / p:>7.2f}x")  # fmt: skip
            if ker:
                k = statistics.median(ker)
                line += f" {k * 1000:>10.1f} {s / k:>13.2f}x"
            print(line)
    finally:
        parallel.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
