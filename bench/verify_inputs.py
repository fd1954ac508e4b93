"""Script-verification benchmark: every input of the shared benchmark chain, pyrite vs.
libbitcoinkernel (py-bitcoinkernel), single process, one core each.

    python -m bench.verify_inputs [--rounds N] [--limit N]

Both sides get the same prepared work: parsed transactions and the outputs they spend.
The timed part is the per-transaction precomputation and the per-input verification.
"""

from __future__ import annotations

import argparse
import ctypes
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

from bench.chainfile import DEFAULT_CHAIN, read_chain
from pyrite.primitives import Block, Tx, TxOut
from pyrite.script.flags import CONSENSUS_FLAGS
from pyrite.script.sighash import PrecomputedTx
from pyrite.script.verify import verify_tx_input

Job = tuple[bytes, Tx, list[TxOut]]


def load_jobs(limit: int | None) -> list[Job]:
    utxo: dict[tuple[bytes, int], TxOut] = {}
    jobs: list[Job] = []
    for raw in read_chain(DEFAULT_CHAIN):
        block = Block.from_bytes(raw)
        for tx in block.txs:
            if not tx.is_coinbase():
                spent = [utxo.pop((i.prevout.txid, i.prevout.n)) for i in tx.vin]
                jobs.append((tx.serialize(), tx, spent))
            for n, out in enumerate(tx.vout):
                utxo[(tx.txid, n)] = out
    return jobs[:limit] if limit else jobs


def pyrite_runner(jobs: list[Job]) -> Callable[[], int]:
    flags = int(CONSENSUS_FLAGS)

    def run() -> int:
        count = 0
        for _raw, tx, spent in jobs:
            pre = PrecomputedTx(tx, spent)
            for k, out in enumerate(spent):
                verify_tx_input(pre, k, out.script_pubkey, out.value, flags)
            count += len(spent)
        return count

    return run


def kernel_runner(jobs: list[Job]) -> Callable[[], int]:
    import pbk
    from pbk.script import PrecomputedTransactionData

    def make(cls: Any, data: bytes) -> Any:
        # py-bitcoinkernel copies bytes one by one in Python; build the buffer natively so
        # that only the kernel's own work is timed.
        obj = cls.__new__(cls)
        buf = (ctypes.c_ubyte * len(data)).from_buffer_copy(data)
        super(cls, obj).__init__(buf, len(data))
        return obj

    prepared = []
    for raw, _tx, spent in jobs:
        ktx = make(pbk.Transaction, raw)
        spks = [make(pbk.ScriptPubkey, o.script_pubkey) for o in spent]
        outs = [pbk.TransactionOutput(s, o.value) for s, o in zip(spks, spent, strict=True)]
        prepared.append((ktx, outs, spks, [o.value for o in spent]))
    flags = pbk.ScriptVerificationFlags(int(CONSENSUS_FLAGS))

    def run() -> int:
        count = 0
        for ktx, outs, spks, amounts in prepared:
            pre = PrecomputedTransactionData(ktx, outs)
            for k, spk in enumerate(spks):
                if not spk.verify(amounts[k], ktx, pre, k, flags):
                    raise SystemExit("kernel rejected an input of the benchmark chain")
            count += len(spks)
        return count

    return run


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rounds", type=int, default=3, help="interleaved rounds (median is shown)")
    ap.add_argument("--limit", type=int, default=None, help="only the first N transactions")
    ap.add_argument("--no-kernel", action="store_true", help="skip libbitcoinkernel")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    jobs = load_jobs(args.limit)
    n_inputs = sum(len(s) for _r, _t, s in jobs)
    print(f"chain: {DEFAULT_CHAIN.name}, {len(jobs)} transactions, {n_inputs} inputs "
          f"(loaded in {time.perf_counter() - t0:.1f} s)")  # fmt: skip
    runners = {"pyrite": pyrite_runner(jobs)}
    if not args.no_kernel:
        runners["kernel"] = kernel_runner(jobs)
    times: dict[str, list[float]] = {name: [] for name in runners}
    for rnd in range(args.rounds):
        for name, run in runners.items():
            t = time.perf_counter()
            count = run()
            dt = time.perf_counter() - t
            assert count == n_inputs
            times[name].append(dt)
            print(f"  round {rnd + 1}: {name:7s} {dt:7.2f} s  {count / dt:9,.0f} inputs/s")
    print(f"\n{'engine':8s} {'median s':>9s} {'inputs/s':>10s}")
    med = {name: statistics.median(ts) for name, ts in times.items()}
    for name, m in med.items():
        print(f"{name:8s} {m:9.2f} {n_inputs / m:10,.0f}")
    if "kernel" in med:
        ratio = med["pyrite"] / med["kernel"]
        print(f"\npyrite time / kernel time = {ratio:.2f}x (target <= 1.5x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
