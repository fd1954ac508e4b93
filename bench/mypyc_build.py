"""An experiment beside pyrite, not part of it: pyrite with its hot modules compiled by mypyc.

    python -m bench.import_chain --mypyc [--python INTERPRETER ...]

pyrite is pure Python, and the import benchmark shows what that costs: with both cores
busy, the main process's Python work (parsing, the UTXO cache, signature hashes) is what
stands between ``-par=0`` and the kernel's time. mypyc (part of mypy, which type-checks
pyrite already) compiles type-annotated Python modules into C extensions without any
change to their source; nobody writes C. Whether pyrite may ship such a build is the
project's decision (the issue asks for native speed only through libraries made for the
job), so nothing here is used by pyrite itself: ``build`` makes, in a directory of the
caller's, a copy of an interpreter's installed pyrite with the modules of ``HOT_MODULES``
compiled, and a wrapper that runs that interpreter on the copy, for the benchmark to time
beside the pure-Python pyrite.

Needs mypy (pyrite's ``test`` extra) and a C compiler with the interpreter's headers. Two
hot modules are left out because mypyc cannot compile them as they are: ``chain.connect``
(its BlockConnector is subclassed by the interpreted Chainstate, which compiled classes do
not allow) and ``primitives.tx`` (its parser builds a ``Tx`` by changing an object's
class). pyrite's unit and vector tests pass against the copy (``PYTHONPATH=<dest> pytest
tests/unit tests/vectors``).
"""

from __future__ import annotations

import shutil
import stat
import subprocess
from pathlib import Path

#: the modules compiled: the per-input and per-transaction work of an import
HOT_MODULES = (
    "pyrite.script.fastpath",
    "pyrite.script.sighash",
    "pyrite.consensus.sigops",
    "pyrite.consensus.merkle",
    "pyrite.consensus.tx_check",
    "pyrite.consensus.tx_rules",
    "pyrite.chain.compressor",
    "pyrite.chain.undo",
    "pyrite.chain.coins",
    "pyrite.crypto.hashes",
)


def build(python: str, dest: Path) -> str:
    """Copy ``python``'s pyrite into ``dest`` with ``HOT_MODULES`` compiled; returns the path
    of a script that runs ``python`` on that copy (its arguments passed on)."""
    where = subprocess.run(
        [python, "-c", "import os, pyrite; print(os.path.dirname(pyrite.__file__))"],
        check=True, capture_output=True, text=True,
    ).stdout.strip()  # fmt: skip
    shutil.copytree(where, dest / "pyrite", ignore=shutil.ignore_patterns("__pycache__", "*.so"))
    files = [name.replace(".", "/") + ".py" for name in HOT_MODULES]
    done = subprocess.run([python, "-m", "mypyc", *files], cwd=dest, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"mypyc failed:\n{done.stdout[-3000:]}{done.stderr[-3000:]}")
    wrapper = dest / "python"
    wrapper.write_text(f'#!/bin/sh\nPYTHONPATH="{dest}" exec "{python}" "$@"\n')
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    check = subprocess.run(
        [str(wrapper), "-c", f"import {HOT_MODULES[0]} as m; print(m.__file__)"],
        check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    if not check.strip().endswith(".so"):
        raise SystemExit(f"the compiled copy is not the one imported: {check}")
    return str(wrapper)
