"""Which of pyrite's modules this installation runs compiled.

pyrite is pure Python, and that is how ``pip install`` builds it. ``PYRITE_MYPYC=1 pip
install .`` (see ``setup.py``) builds it with the modules of ``COMPILED_MODULES`` also
compiled by mypyc, the compiler that comes with mypy: the same source, type-annotated and
checked by mypy, turned into C extensions by a tool; nobody writes C. The ``.py`` files
stay beside the extensions, and Python's import system takes an extension first. The
daemon logs which build it runs (``build_description``).

This module imports nothing of pyrite: ``setup.py`` reads ``COMPILED_MODULES`` from it
before pyrite is installed.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util

#: the per-input and per-transaction work of validation: the transaction parser, the
#: signature-hash fast paths and precomputed transaction data, the loop over a
#: transaction's inputs, sigops, merkle trees, transaction checks, the UTXO cache, undo
#: data and its compressor, the hash helpers. Left out: ``primitives.tx`` (``_new_tx``
#: builds a ``Tx`` by changing an object's class, which compiled classes do not allow),
#: ``chain.connect`` (the interpreted Chainstate subclasses its BlockConnector; its own
#: loop is little of the work) and modules that measured no faster compiled
#: (``crypto.secp``, ``primitives.block``, ``consensus.block_rules``,
#: ``chain.scriptcheck``).
COMPILED_MODULES = (
    "pyrite.primitives.txparse",
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
    "pyrite.script.verify",
)


def compiled_modules() -> list[str]:
    """Those of ``COMPILED_MODULES`` that this interpreter imports as compiled extensions."""
    found = []
    for name in COMPILED_MODULES:
        spec = importlib.util.find_spec(name)
        if spec is not None and isinstance(spec.loader, importlib.machinery.ExtensionFileLoader):
            found.append(name)
    return found


def build_description() -> str:
    """The build in words: "pure Python", or how many of the hot modules run compiled."""
    n = len(compiled_modules())
    if n == 0:
        return "pure Python"
    return f"{n} of {len(COMPILED_MODULES)} hot modules compiled by mypyc"
