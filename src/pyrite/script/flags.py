"""Script verification flags with Bitcoin Core's bit values (script/interpreter.h)."""

from __future__ import annotations

from enum import IntFlag


class ScriptFlags(IntFlag):
    NONE = 0
    P2SH = 1 << 0
    STRICTENC = 1 << 1
    DERSIG = 1 << 2
    LOW_S = 1 << 3
    NULLDUMMY = 1 << 4
    SIGPUSHONLY = 1 << 5
    MINIMALDATA = 1 << 6
    DISCOURAGE_UPGRADABLE_NOPS = 1 << 7
    CLEANSTACK = 1 << 8
    CHECKLOCKTIMEVERIFY = 1 << 9
    CHECKSEQUENCEVERIFY = 1 << 10
    WITNESS = 1 << 11
    DISCOURAGE_UPGRADABLE_WITNESS_PROGRAM = 1 << 12
    MINIMALIF = 1 << 13
    NULLFAIL = 1 << 14
    WITNESS_PUBKEYTYPE = 1 << 15
    CONST_SCRIPTCODE = 1 << 16
    TAPROOT = 1 << 17
    DISCOURAGE_UPGRADABLE_TAPROOT_VERSION = 1 << 18
    DISCOURAGE_OP_SUCCESS = 1 << 19
    DISCOURAGE_UPGRADABLE_PUBKEYTYPE = 1 << 20


ALL_FLAGS = ScriptFlags((1 << 21) - 1)

# Plain-int copies for hot paths: IntFlag arithmetic costs a Python call per operation.
P2SH = 1 << 0
STRICTENC = 1 << 1
DERSIG = 1 << 2
LOW_S = 1 << 3
NULLDUMMY = 1 << 4
SIGPUSHONLY = 1 << 5
MINIMALDATA = 1 << 6
DISCOURAGE_UPGRADABLE_NOPS = 1 << 7
CLEANSTACK = 1 << 8
CHECKLOCKTIMEVERIFY = 1 << 9
CHECKSEQUENCEVERIFY = 1 << 10
WITNESS = 1 << 11
DISCOURAGE_UPGRADABLE_WITNESS_PROGRAM = 1 << 12
MINIMALIF = 1 << 13
NULLFAIL = 1 << 14
WITNESS_PUBKEYTYPE = 1 << 15
CONST_SCRIPTCODE = 1 << 16
TAPROOT = 1 << 17
DISCOURAGE_UPGRADABLE_TAPROOT_VERSION = 1 << 18
DISCOURAGE_OP_SUCCESS = 1 << 19
DISCOURAGE_UPGRADABLE_PUBKEYTYPE = 1 << 20

#: The flags that are consensus rules today (Core's SCRIPT_VERIFY_* used by blocks).
CONSENSUS_FLAGS = (
    ScriptFlags.P2SH
    | ScriptFlags.DERSIG
    | ScriptFlags.NULLDUMMY
    | ScriptFlags.CHECKLOCKTIMEVERIFY
    | ScriptFlags.CHECKSEQUENCEVERIFY
    | ScriptFlags.WITNESS
    | ScriptFlags.TAPROOT
)

#: Core's MANDATORY_SCRIPT_VERIFY_FLAGS and STANDARD_SCRIPT_VERIFY_FLAGS (policy/policy.h).
MANDATORY_FLAGS = CONSENSUS_FLAGS
STANDARD_FLAGS = (
    MANDATORY_FLAGS
    | ScriptFlags.STRICTENC
    | ScriptFlags.MINIMALDATA
    | ScriptFlags.DISCOURAGE_UPGRADABLE_NOPS
    | ScriptFlags.CLEANSTACK
    | ScriptFlags.MINIMALIF
    | ScriptFlags.NULLFAIL
    | ScriptFlags.LOW_S
    | ScriptFlags.DISCOURAGE_UPGRADABLE_WITNESS_PROGRAM
    | ScriptFlags.WITNESS_PUBKEYTYPE
    | ScriptFlags.CONST_SCRIPTCODE
    | ScriptFlags.DISCOURAGE_UPGRADABLE_TAPROOT_VERSION
    | ScriptFlags.DISCOURAGE_OP_SUCCESS
    | ScriptFlags.DISCOURAGE_UPGRADABLE_PUBKEYTYPE
)


def parse_flags(text: str) -> ScriptFlags:
    """Parse Core's test notation: comma-separated names, '' or 'NONE' for none."""
    out = ScriptFlags.NONE
    for name in text.split(","):
        name = name.strip()
        if not name or name == "NONE":
            continue
        try:
            out |= ScriptFlags[name]
        except KeyError:
            raise ValueError(f"unknown script flag {name!r}") from None
    return out


def flag_names(flags: int) -> str:
    return ",".join(f.name for f in ScriptFlags if f and flags & f and f.name) or "NONE"
