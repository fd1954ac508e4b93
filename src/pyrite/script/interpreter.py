"""The script interpreter: Core's VerifyScript, and the interpreter's public names.

Every function here mirrors the Core function named in its docstring; failures
raise ``ScriptError`` with Core's error name.

This module holds VerifyScript (``verify_input``) and the flag-combination check; the
rest lives by concept in ``checker`` (the signature checker, the encoding checks and the
signature opcodes), ``evalscript`` (the EvalScript loop) and ``witness`` (segwit v0 and
taproot programs, the taproot hashes). Their public names are re-exported here, so
callers import the interpreter from this one module. Each of these modules imports
only those before it in the order checker, evalscript, witness, interpreter.
"""

from __future__ import annotations

from pyrite.script import flags as F
from pyrite.script.checker import (
    SEQUENCE_FINAL,
    SEQUENCE_LOCKTIME_DISABLE_FLAG,
    SEQUENCE_LOCKTIME_MASK,
    SEQUENCE_LOCKTIME_TYPE_FLAG,
    SIGVERSION_BASE,
    SIGVERSION_TAPROOT,
    SIGVERSION_TAPSCRIPT,
    SIGVERSION_WITNESS_V0,
    VALIDATION_WEIGHT_PER_SIGOP_PASSED,
    Checker,
    ExecData,
    check_pubkey_encoding,
    check_signature_encoding,
    is_valid_signature_encoding,
)
from pyrite.script.errors import ScriptError
from pyrite.script.evalscript import eval_script
from pyrite.script.num import cast_to_bool
from pyrite.script.script import is_p2sh, is_push_only, push_data, witness_program
from pyrite.script.witness import (
    ANNEX_TAG,
    TAPROOT_CONTROL_BASE_SIZE,
    TAPROOT_CONTROL_MAX_NODE_COUNT,
    TAPROOT_CONTROL_MAX_SIZE,
    TAPROOT_CONTROL_NODE_SIZE,
    TAPROOT_LEAF_MASK,
    TAPROOT_LEAF_TAPSCRIPT,
    VALIDATION_WEIGHT_OFFSET,
    tapbranch_hash,
    tapleaf_hash,
    taproot_merkle_root,
    taptweak_hash,
    verify_witness_program,
)

__all__ = [
    "ANNEX_TAG",
    "SEQUENCE_FINAL",
    "SEQUENCE_LOCKTIME_DISABLE_FLAG",
    "SEQUENCE_LOCKTIME_MASK",
    "SEQUENCE_LOCKTIME_TYPE_FLAG",
    "SIGVERSION_BASE",
    "SIGVERSION_TAPROOT",
    "SIGVERSION_TAPSCRIPT",
    "SIGVERSION_WITNESS_V0",
    "TAPROOT_CONTROL_BASE_SIZE",
    "TAPROOT_CONTROL_MAX_NODE_COUNT",
    "TAPROOT_CONTROL_MAX_SIZE",
    "TAPROOT_CONTROL_NODE_SIZE",
    "TAPROOT_LEAF_MASK",
    "TAPROOT_LEAF_TAPSCRIPT",
    "VALIDATION_WEIGHT_OFFSET",
    "VALIDATION_WEIGHT_PER_SIGOP_PASSED",
    "Checker",
    "ExecData",
    "check_flag_combination",
    "check_pubkey_encoding",
    "check_signature_encoding",
    "eval_script",
    "is_valid_signature_encoding",
    "tapbranch_hash",
    "tapleaf_hash",
    "taproot_merkle_root",
    "taptweak_hash",
    "verify_input",
    "verify_witness_program",
]


# --- VerifyScript ---


def check_flag_combination(flags: int) -> None:
    """Core asserts these; we refuse them with ValueError."""
    if flags & F.CLEANSTACK and (flags & (F.P2SH | F.WITNESS)) != (F.P2SH | F.WITNESS):
        raise ValueError("CLEANSTACK requires both P2SH and WITNESS")
    if flags & F.WITNESS and not flags & F.P2SH:
        raise ValueError("WITNESS requires P2SH")


def verify_input(
    script_sig: bytes,
    script_pubkey: bytes,
    witness: tuple[bytes, ...],
    flags: int,
    checker: Checker,
) -> None:
    """Core's VerifyScript for one input; raises ScriptError on failure."""
    if flags & F.SIGPUSHONLY and not is_push_only(script_sig):
        raise ScriptError("SIG_PUSHONLY")
    stack: list[bytes] = []
    eval_script(stack, script_sig, flags, checker, SIGVERSION_BASE)
    stack_copy = list(stack) if flags & F.P2SH else []
    eval_script(stack, script_pubkey, flags, checker, SIGVERSION_BASE)
    if not stack or not cast_to_bool(stack[-1]):
        raise ScriptError("EVAL_FALSE")

    had_witness = False
    if flags & F.WITNESS:
        wp = witness_program(script_pubkey)
        if wp is not None:
            had_witness = True
            if script_sig:
                raise ScriptError("WITNESS_MALLEATED")
            verify_witness_program(witness, wp[0], wp[1], flags, checker, False)
            del stack[1:]

    if flags & F.P2SH and is_p2sh(script_pubkey):
        if not is_push_only(script_sig):
            raise ScriptError("SIG_PUSHONLY")
        stack = stack_copy
        redeem = stack.pop()
        eval_script(stack, redeem, flags, checker, SIGVERSION_BASE)
        if not stack or not cast_to_bool(stack[-1]):
            raise ScriptError("EVAL_FALSE")
        if flags & F.WITNESS:
            wp = witness_program(redeem)
            if wp is not None:
                had_witness = True
                if script_sig != push_data(redeem):
                    raise ScriptError("WITNESS_MALLEATED_P2SH")
                verify_witness_program(witness, wp[0], wp[1], flags, checker, True)
                del stack[1:]

    if flags & F.CLEANSTACK and len(stack) != 1:
        raise ScriptError("CLEANSTACK")
    if flags & F.WITNESS and not had_witness and witness:
        raise ScriptError("WITNESS_UNEXPECTED")
