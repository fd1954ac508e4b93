"""The optional compiled build for the benchmarks.

    python -m bench.import_chain --mypyc [--python INTERPRETER ...]
    python -m bench.compiled_build INTERPRETER DEST   (then --python DEST/python)

``build`` installs pyrite from this checkout the way a user asks for the compiled build
(``PYRITE_MYPYC=1 pip install .``, see setup.py), with the interpreter given, into a
directory of the caller's (``pip install --target``, without dependencies: the
interpreter's own coincurve and lmdb serve), and writes a wrapper that runs that
interpreter with the directory first on its path, for the benchmark to time beside the
pure-Python pyrite the interpreter has installed.
"""

from __future__ import annotations

import argparse
import os
import stat
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def build(python: str, dest: Path) -> str:
    """Install the compiled build of this checkout for ``python`` into ``dest``; returns the
    path of a script that runs ``python`` on it (its arguments passed on)."""
    target = dest / "site"
    done = subprocess.run(
        [python, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target), str(REPO)],
        env={**os.environ, "PYRITE_MYPYC": "1"}, capture_output=True, text=True,
    )  # fmt: skip
    if done.returncode != 0:
        raise SystemExit(f"the compiled build failed:\n{done.stdout[-3000:]}{done.stderr[-3000:]}")
    wrapper = dest / "python"
    wrapper.write_text(f'#!/bin/sh\nPYTHONPATH="{target}" exec "{python}" "$@"\n')
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    check = subprocess.run(
        [str(wrapper), "-c", "from pyrite.compiled import build_description as d; print(d())"],
        check=True, capture_output=True, text=True,
    ).stdout.strip()  # fmt: skip
    if "compiled" not in check:
        raise SystemExit(f"the compiled build is not the one imported: {check}")
    return str(wrapper)


def main() -> None:
    """``python -m bench.compiled_build INTERPRETER DEST``: build, and print the wrapper's
    path (for the benchmarks' ``--python``, or to run one on the compiled build:
    ``DEST/python -m bench.validate_block``)."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    ap.add_argument("python", help="the interpreter to build for (with pyrite's dependencies)")
    ap.add_argument("dest", type=Path, help="a directory to install the build into")
    args = ap.parse_args()
    args.dest.mkdir(parents=True, exist_ok=True)
    print(build(args.python, args.dest))


if __name__ == "__main__":
    main()
