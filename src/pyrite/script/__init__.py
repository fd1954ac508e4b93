"""Bitcoin Script: opcodes, numbers, signature hashing and the interpreter.

Mirrors Bitcoin Core's ``script/interpreter.cpp``: every verification flag with
Core's bit value, Core's error names, legacy/BIP143/BIP341 signature hashes.
Pure and deterministic; it knows transactions but not blocks or the chain.
"""

from pyrite.script.errors import ScriptError
from pyrite.script.flags import ScriptFlags

__all__ = ["ScriptError", "ScriptFlags"]
