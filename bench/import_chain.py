"""Import benchmark: the shared benchmark chain from genesis, pyrited vs. libbitcoinkernel.

    python -m bench.import_chain [--rounds N] [--par 1 0] [--kernel-threads 0 1]
                                 [--python INTERPRETER ...] [--mypyc]

pyrited runs as a real process: ``pyrited -regtest -loadblock=<chain in blk layout> -par=N``;
the time is from process start until RPC reports the expected tip (a ``waitforblock`` call
that answers as soon as it is reached: no polling load on the node). The kernel runs in its
own process (py-bitcoinkernel's ChainstateManager.import_blocks on the same blk file, with
0 or 1 script-check worker threads); its time is also from process start, until
``import_blocks`` returns with the tip reached (what the process does after that, such as
flushing its coins to disk at exit, is not counted, as pyrited's shutdown is not). Peak memory is
each process's VmHWM, pyrited's script workers included; CPU is the user and system time
its processes (threads and workers) have used by then. Rounds are interleaved; medians
are reported, and for each target the ratio within every round (the machine drifts, and a
round's runs are close together in time) and the median of those. pyrite is byte-compiled
first, as an installation is.

pyrited runs on this interpreter, or on each ``--python`` given (each must have pyrite
installed, e.g. a venv of its own): how CPython was built matters to pyrite (a build with
profile-guided optimisation runs its Python code faster), not to the kernel. With
``--mypyc`` each also runs pyrite's optional compiled build (``PYRITE_MYPYC=1 pip install
.``: the hot modules compiled by mypyc), built from this checkout for that interpreter
(``bench.compiled_build``).
"""

from __future__ import annotations

import argparse
import base64
import http.client
import json
import math
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bench import compiled_build
from bench.chainfile import DEFAULT_CHAIN, read_chain, write_blk_file

TIP = "10c6542b173a81182cb3512e342c1ab53d9c3fb277c830a83510b4d828a36dd2"
HEIGHT = 232
INPUTS = 233_895

KERNEL_SCRIPT = r"""
import os, sys, time, pathlib
t0 = float(sys.argv[4])
import pbk
ctx = pbk.make_context(pbk.ChainType.REGTEST)
datadir = pathlib.Path(sys.argv[1])
opts = pbk.ChainstateManagerOptions(ctx, str(datadir), str(datadir / "blocks"))
opts.set_worker_threads_num(int(sys.argv[3]))
cm = pbk.ChainstateManager(opts)
cm.import_blocks([pathlib.Path(sys.argv[2])])
chain = cm.get_active_chain()
tip = chain.block_tree_entries[chain.height] if hasattr(chain, "block_tree_entries") else None
dt = time.time() - t0
cpu = sum(os.times()[:2])
hwm = 0
for line in open("/proc/self/status"):
    if line.startswith("VmHWM:"):
        hwm = int(line.split()[1]) * 1024
print(chain.height, dt, hwm, cpu)
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _rpc(port: int, cookie: Path, method: str, *params: object) -> object:
    auth = base64.b64encode(cookie.read_text().strip().encode()).decode()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)})
        conn.request("POST", "/", body, {"Authorization": f"Basic {auth}"})
        return json.loads(conn.getresponse().read())["result"]
    finally:
        conn.close()


_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _tree_total(pid: int, own: Callable[[int], float]) -> float:
    """``own(pid)`` plus the same of each of its descendants (script workers); a process
    that has gone counts what could still be read."""
    total = 0.0
    try:
        total += own(pid)
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as f:
                total += sum(_tree_total(int(c), own) for c in f.read().split())
    except OSError:
        pass
    return total


def _own_cpu_seconds(pid: int) -> float:
    """User and system time of the process's threads (utime and stime, from /proc)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS


def _own_vm_hwm(pid: int) -> float:
    """Peak resident memory of the process, in bytes."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return 0


def _cpu_seconds(pid: int) -> float:
    """CPU time used so far by ``pid`` and its script workers."""
    return _tree_total(pid, _own_cpu_seconds)


def _vm_hwm(pid: int) -> int:
    """Peak resident memory of ``pid`` plus that of its descendants (script workers)."""
    return int(_tree_total(pid, _own_vm_hwm))


COMPILE = (
    "import compileall as c, os, pyrite as p; c.compile_dir(os.path.dirname(p.__file__), quiet=1)"
)
DESCRIBE = (
    "import sys, pyrite, pyrite.compiled as c; "
    "print(sys.version.replace(chr(10), ' '), '|', pyrite.__file__, '|', c.build_description())"
)


def compile_bytecode(python: str = sys.executable) -> None:
    """Byte-compile pyrite as an installation does (pip writes the .pyc files): with
    PYTHONDONTWRITEBYTECODE set, as on CI machines, an editable install would otherwise
    compile every module again at each pyrited start (about 0.1 s)."""
    subprocess.run([python, "-c", COMPILE], check=True)


def describe(python: str) -> str:
    """The interpreter's version and build, and which pyrite it imports."""
    out = subprocess.run([python, "-c", DESCRIBE], check=True, capture_output=True, text=True)
    return out.stdout.strip()


#: a run's seconds, peak memory (bytes) and CPU seconds
Run = tuple[float, int, float]


def run_pyrite(blk: Path, par: int, python: str = sys.executable) -> Run:
    with tempfile.TemporaryDirectory(prefix="pyrite-bench-") as d:
        port = _free_port()
        cookie = Path(d) / "regtest" / ".cookie"
        t0 = time.monotonic()
        proc = subprocess.Popen(
            [python, "-m", "pyrite.node.main", "-regtest", f"-datadir={d}",
             f"-rpcport={port}", f"-loadblock={blk}", f"-par={par}", "-listen=0"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )  # fmt: skip
        try:
            while True:
                if proc.poll() is not None:
                    raise SystemExit(f"pyrited exited: {proc.stderr.read().decode()}")  # type: ignore[union-attr]
                if cookie.exists():
                    # waitforblock answers as soon as the tip is reached (or after 1 s):
                    # no polling load on the node while it imports
                    try:
                        reply = _rpc(port, cookie, "waitforblock", TIP, 1000)
                        if isinstance(reply, dict) and reply.get("hash") == TIP:
                            break
                        continue
                    except (OSError, ValueError, KeyError, TypeError):
                        pass
                time.sleep(0.02)
            dt = time.monotonic() - t0
            hwm = _vm_hwm(proc.pid)
            cpu = _cpu_seconds(proc.pid)
            _rpc(port, cookie, "stop")
            proc.wait(60)
        finally:
            if proc.poll() is None:
                proc.kill()
        return dt, hwm, cpu


def run_kernel(blk: Path, threads: int) -> Run:
    with tempfile.TemporaryDirectory(prefix="kernel-bench-") as d:
        t0 = time.time()
        out = subprocess.run(
            [sys.executable, "-c", KERNEL_SCRIPT, d, str(blk), str(threads), repr(t0)],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        # the kernel's own clock stops when the tip is reached (t0 is ours, passed in);
        # the process's exit, which flushes its coins to disk, comes after (about 45 ms)
        height, dt_text, hwm, cpu = out.stdout.split()
        dt = float(dt_text)
        if int(height) != HEIGHT:
            raise SystemExit(f"kernel reached height {height}")
        return dt, int(hwm), float(cpu)


def _print_run(rnd: int, name: str, res: Run) -> None:
    print(f"round {rnd + 1}: {name:22s} {res[0]:7.2f} s  peak {res[1] / 2**20:7.1f} MiB  "
          f"CPU {res[2]:6.2f} s", flush=True)  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--par", type=int, nargs="*", default=[1, 0], help="pyrited -par values")
    ap.add_argument("--kernel-threads", type=int, nargs="*", default=[0, 1])
    ap.add_argument("--no-kernel", action="store_true")
    ap.add_argument("--python", nargs="*", default=[sys.executable],
                    help="interpreters to run pyrited on (default: this one)")  # fmt: skip
    ap.add_argument("--mypyc", action="store_true",
                    help="also run each interpreter on pyrite's optional compiled build "
                         "(PYRITE_MYPYC=1: see bench.compiled_build)")  # fmt: skip
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="chain-blk-") as d:
        pythons: list[str] = list(args.python)
        tags = [""] if len(pythons) == 1 else [f" [{i + 1}]" for i in range(len(pythons))]
        if args.mypyc:
            for i, python in enumerate(args.python):
                pythons.append(compiled_build.build(python, Path(d) / f"mypyc-{i + 1}"))
                tags.append(f" [{i + 1} mypyc]" if len(args.python) > 1 else " [mypyc]")
        for python, tag in zip(pythons, tags, strict=True):
            compile_bytecode(python)
            print(f"pyrited{tag} on {python}: {describe(python)}")
        print(f"kernel: {describe(sys.executable).split('|')[0].strip()} ({sys.executable})\n")
        blk = write_blk_file(read_chain(DEFAULT_CHAIN), Path(d) / "bench-blk.dat")
        runs: dict[str, list[Run]] = {}
        for rnd in range(args.rounds):
            for python, tag in zip(pythons, tags, strict=True):
                for par in args.par:
                    name = f"pyrite -par={par}{tag}"
                    res = run_pyrite(blk, par, python)
                    runs.setdefault(name, []).append(res)
                    _print_run(rnd, name, res)
            if not args.no_kernel:
                for threads in args.kernel_threads:
                    name = f"kernel threads={threads}"
                    res = run_kernel(blk, threads)
                    runs.setdefault(name, []).append(res)
                    _print_run(rnd, name, res)
    print(f"\n{'engine':24s} {'median s':>9s} {'blocks/s':>9s} {'inputs/s':>9s} {'peak MiB':>9s}"
          f" {'CPU s':>7s}")  # fmt: skip
    med: dict[str, tuple[float, float]] = {}
    for name, rs in runs.items():
        t = statistics.median(r[0] for r in rs)
        m = max(r[1] for r in rs) / 2**20
        cpu = statistics.median(r[2] for r in rs)
        med[name] = (t, m)
        print(f"{name:24s} {t:9.2f} {HEIGHT / t:9.1f} {INPUTS / t:9,.0f} {m:9.1f} {cpu:7.2f}")
    pairs = [(f"pyrite -par={par}{tag}", f"kernel threads={threads}", target)
             for tag in tags
             for par, threads, target in ((1, 0, 1.2), (0, 1, 1.0))]  # fmt: skip
    print()
    for a, b, target in pairs:
        if a in med and b in med:
            print(f"{a} / {b}: time {med[a][0] / med[b][0]:.2f}x (target <= {target}x), "
                  f"memory {med[a][1] / med[b][1]:.2f}x (target <= 2x)")  # fmt: skip
            # Each round runs both close together in time, so its ratio is less affected by
            # the machine's drift than the ratio of the medians.
            ratios = [ra[0] / rb[0] for ra, rb in zip(runs[a], runs[b], strict=True)]
            print(f"    per round: {' '.join(f'{x:.2f}' for x in ratios)} "
                  f"(median {statistics.median(ratios):.2f}x)")  # fmt: skip
            met = sum(x <= target for x in ratios)
            interval = median_interval(ratios)
            span = "" if interval is None else (
                f"; the rounds' median lies in {interval[0]:.2f}-{interval[1]:.2f}x "
                f"with {interval[2]:.1%} confidence")  # fmt: skip
            print(f"    target met in {met} of {len(ratios)} rounds{span}")
    return 0


def median_interval(xs: list[float], level: float = 0.95) -> tuple[float, float, float] | None:
    """A distribution-free confidence interval for the median of what ``xs`` samples:
    ``(sorted[k], sorted[n-1-k], confidence)`` for the largest ``k`` whose confidence,
    ``1 - 2 P(Binomial(n, 1/2) <= k)``, is at least ``level``; None when even the full
    range falls short (fewer than 6 rounds at 95%)."""
    n = len(xs)
    xs = sorted(xs)
    best = None
    tail = 0.0
    for k in range(n // 2):
        tail += math.comb(n, k) / 2**n  # P(B <= k)
        confidence = 1 - 2 * tail
        if confidence < level:
            break
        best = (xs[k], xs[n - 1 - k], confidence)
    return best


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
