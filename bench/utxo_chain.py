"""UTXO-set benchmark: a chain whose coins outgrow the cache, pyrited vs. libbitcoinkernel.

    python -m bench.utxo_chain [--fan-blocks N] [--dbcache MIB ...] [--rounds N]
                               [--python INTERPRETER]

The shared benchmark chain keeps a small UTXO set, and its time is mostly signature checks.
This one measures the other half of catching up with a chain: the coins. A deterministic
regtest chain is generated (and kept in the system's temporary directory): after 100
blocks for coinbase maturity, ``--fan-blocks`` blocks of 900 transactions with 100 outputs
each (89,100 new coins a block; 2.23M with the default 25), then blocks of 1,150
transactions spending 20 of those coins each, in random order, until none is left. Every
output is a bare OP_TRUE, so scripts cost almost nothing and the time is parsing, the UTXO
cache, its flushes to the database and the reads of coins flushed out of it.

pyrited imports it with ``-loadblock -par=1`` once for each ``--dbcache`` (MiB; the default
450 is Core's; a smaller one makes it flush more and read more coins back), the kernel
(one thread, its own default cache) in its own process. The time is from process start to
the end of the import (pyrited: the debug.log line that reports the blocks loaded; the
kernel: ``import_blocks`` returned), and, apart, to the process's exit, which includes the
final flush of the coins to disk (pyrited's ``-stopafterblockimport`` shutdown, the
kernel's teardown); peak memory is the process's VmHWM, which includes the pages of the
database file mapped in, and the peak of its anonymous memory, which does not. Medians of
the rounds.
"""

from __future__ import annotations

import argparse
import datetime
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.chainfile import write_blk_file
from bench.import_chain import KERNEL_SCRIPT, compile_bytecode
from pyrite.consensus.block_rules import coinbase_height_script
from pyrite.consensus.merkle import block_merkle_root
from pyrite.consensus.params import get_params
from pyrite.consensus.subsidy import get_block_subsidy
from pyrite.mining.assembler import solve
from pyrite.primitives import Block, BlockHeader, OutPoint, Tx, TxIn, TxOut
from pyrite.primitives.tx import NULL_HASH

OP_TRUE = b"\x51"
OUTPUTS = 100
FAN_TXS = 900
SPEND_INPUTS = 20
SPEND_TXS = 1150
MATURITY = 100


def _block(prev: Block, height: int, txs: list[Tx]) -> Block:
    params = get_params("regtest")
    script_sig = coinbase_height_script(height) + b"\x06pyrite"
    coinbase = Tx(2, (TxIn(OutPoint(NULL_HASH, 0xFFFFFFFF), script_sig, 0xFFFFFFFF),),
                  (TxOut(get_block_subsidy(height, params), OP_TRUE),), 0)  # fmt: skip
    time_ = params.genesis.header.time + 600 * height
    header = BlockHeader(4, prev.hash, NULL_HASH, time_, params.genesis.header.bits, 0)
    block = Block(header, (coinbase, *txs))
    root, _ = block_merkle_root(block)
    h = header
    block = Block(BlockHeader(h.version, h.prev_hash, root, h.time, h.bits, 0), block.txs)
    solved = solve(block, params)
    assert solved is not None
    return solved


def generate(fan_blocks: int) -> tuple[list[bytes], int]:
    """The chain's blocks (serialized, from height 1) and how many coins it creates."""
    rng = random.Random(7)
    blocks = [get_params("regtest").genesis]
    for height in range(1, MATURITY + fan_blocks + 1):
        blocks.append(_block(blocks[-1], height, []))
    pool: list[tuple[OutPoint, int]] = []
    for b in range(1, fan_blocks + 1):  # each fan-out block spends a mature coinbase
        coinbase = blocks[b].txs[0]
        prev, value = OutPoint(coinbase.txid, 0), coinbase.vout[0].value
        txs = []
        for _ in range(FAN_TXS):
            each = value // (OUTPUTS + 1)
            change = value - each * (OUTPUTS - 1)
            outs = (*[TxOut(each, OP_TRUE)] * (OUTPUTS - 1), TxOut(change, OP_TRUE))
            tx = Tx(2, (TxIn(prev, b"", 0xFFFFFFFF),), outs, 0)
            txs.append(tx)
            pool.extend((OutPoint(tx.txid, n), each) for n in range(OUTPUTS - 1))
            prev, value = OutPoint(tx.txid, OUTPUTS - 1), change
        blocks.append(_block(blocks[-1], len(blocks), txs))
    created = len(pool)
    rng.shuffle(pool)
    while pool:
        txs = []
        for _ in range(SPEND_TXS):
            if not pool:
                break
            taken = [pool.pop() for _ in range(min(SPEND_INPUTS, len(pool)))]
            ins = tuple(TxIn(op, b"", 0xFFFFFFFF) for op, _ in taken)
            txs.append(Tx(2, ins, (TxOut(sum(v for _, v in taken), OP_TRUE),), 0))
        blocks.append(_block(blocks[-1], len(blocks), txs))
    return [b.serialize() for b in blocks[1:]], created


def chain_file(fan_blocks: int) -> tuple[Path, int, int]:
    """The chain in blk layout (generated once, then kept), its height and its coins."""
    path = Path(tempfile.gettempdir()) / f"pyrite-utxo-chain-{fan_blocks}.dat"
    meta = path.with_suffix(".meta")
    if path.exists() and meta.exists():
        height, created = map(int, meta.read_text().split())
        return path, height, created
    t0 = time.perf_counter()
    raw, created = generate(fan_blocks)
    write_blk_file(raw, path)
    meta.write_text(f"{len(raw)} {created}")
    print(f"generated {path} ({len(raw)} blocks, {created:,} coins, "
          f"{path.stat().st_size / 1e6:.0f} MB) in {time.perf_counter() - t0:.0f} s")  # fmt: skip
    return path, len(raw), created


#: a process's peak resident memory (VmHWM) and the peak of its anonymous part (RssAnon,
#: sampled every 20 ms by a thread): the first counts the database file's pages that
#: the memory map brought in, which the system can drop at any time; the second is what
#: -dbcache is meant to bound
_MEMORY_PROBE = r"""
import threading, time
_peak_anon = [0]
def _status(field):
    for line in open("/proc/self/status"):
        if line.startswith(field):
            return int(line.split()[1]) * 1024
    return 0
def _sample():
    while True:
        _peak_anon[0] = max(_peak_anon[0], _status("RssAnon:"))
        time.sleep(0.02)
threading.Thread(target=_sample, daemon=True).start()
def report():
    print(_status("VmHWM:"), max(_peak_anon[0], _status("RssAnon:")))
"""

#: pyrited in this process, then its peak memory (see ``_MEMORY_PROBE``)
_PYRITE_SCRIPT = (
    _MEMORY_PROBE
    + r"""
import sys
from pyrite.node.main import run
d, blk, dbcache = sys.argv[1:]
rc = run(["-regtest", f"-datadir={d}", f"-loadblock={blk}", "-par=1", f"-dbcache={dbcache}",
          "-listen=0", "-rpcport=0", "-stopafterblockimport", "-printtoconsole=0",
          "-logtimemicros"])
assert rc == 0, rc
report()
"""
)

#: the import benchmark's kernel process, with the same memory probe
_KERNEL_SCRIPT = _MEMORY_PROBE + KERNEL_SCRIPT + "report()\n"

#: seconds to the end of the import, seconds to the process's exit, peak resident bytes,
#: peak anonymous bytes
Run = tuple[float, float, int, int]


def _import_end(log: str) -> float:
    """When the import ended (seconds since the epoch): the timestamp of debug.log's
    "Loaded N blocks from external file" line (written with -logtimemicros)."""
    for line in log.splitlines():
        if " blocks from external file" in line and " Loaded " in line:
            stamp = line.split(" ", 1)[0]
            when = datetime.datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%fZ")
            return when.replace(tzinfo=datetime.UTC).timestamp()
    raise SystemExit("pyrited's debug.log does not say when the import ended")


def run_pyrite(blk: Path, height: int, dbcache: int, python: str) -> Run:
    with tempfile.TemporaryDirectory(prefix="pyrite-utxo-") as d:
        t0 = time.time()
        proc = subprocess.run(
            [python, "-c", _PYRITE_SCRIPT, d, str(blk), str(dbcache)],
            check=True, capture_output=True, text=True,
        )  # fmt: skip
        to_exit = time.time() - t0
        log = (Path(d) / "regtest" / "debug.log").read_text()
    if f"height={height} " not in log:
        raise SystemExit(f"pyrited did not reach height {height}")
    hwm, anon = proc.stdout.split()[-2:]
    return _import_end(log) - t0, to_exit, int(hwm), int(anon)


def run_kernel(blk: Path, height: int) -> Run:
    with tempfile.TemporaryDirectory(prefix="kernel-utxo-") as d:
        t0 = time.time()
        out = subprocess.run(
            [sys.executable, "-c", _KERNEL_SCRIPT, d, str(blk), "0", repr(t0)],
            check=True, capture_output=True, text=True,
        ).stdout.split()  # fmt: skip
        to_exit = time.time() - t0
    if int(out[0]) != height:
        raise SystemExit(f"the kernel reached height {out[0]}, not {height}")
    return float(out[1]), to_exit, int(out[-2]), int(out[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--fan-blocks", type=int, default=25)
    ap.add_argument("--dbcache", type=int, nargs="+", default=[450, 100])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--python", default=sys.executable, help="interpreter for pyrited")
    args = ap.parse_args()
    blk, height, created = chain_file(args.fan_blocks)
    compile_bytecode(args.python)
    print(f"chain: {blk.name}, {height} blocks, {created:,} coins created and spent; "
          f"pyrited on {args.python}")  # fmt: skip
    names = [f"pyrite -dbcache={c}" for c in args.dbcache] + ["kernel"]
    runs: dict[str, list[Run]] = {n: [] for n in names}
    mib = 1 << 20
    for r in range(args.rounds):
        for name, cache in zip(names, [*args.dbcache, None], strict=True):
            if cache is None:
                run = run_kernel(blk, height)
            else:
                run = run_pyrite(blk, height, cache, args.python)
            runs[name].append(run)
            print(f"  round {r + 1}: {name:20s} {run[0]:7.2f} s ({run[1]:.2f} s to exit)  "
                  f"peak {run[2] / mib:5.0f} MiB (anonymous {run[3] / mib:.0f} MiB)")  # fmt: skip
    kernel = statistics.median(x[0] for x in runs["kernel"])
    kernel_exit = statistics.median(x[1] for x in runs["kernel"])
    print(f"\n{'engine':20s} {'median s':>9s} {'coins/s':>9s} {'peak MiB':>9s} "
          f"{'anon MiB':>9s} {'/ kernel':>9s} {'to exit s':>10s} {'/ kernel':>9s}")  # fmt: skip
    for name in names:
        t = statistics.median(x[0] for x in runs[name])
        t_exit = statistics.median(x[1] for x in runs[name])
        peak = statistics.median(x[2] for x in runs[name]) / mib
        anon = statistics.median(x[3] for x in runs[name]) / mib
        print(f"{name:20s} {t:9.2f} {created / t:9,.0f} {peak:9.0f} {anon:9.0f} "
              f"{t / kernel:8.2f}x {t_exit:10.2f} {t_exit / kernel_exit:8.2f}x")  # fmt: skip


if __name__ == "__main__":
    main()
