"""Witness programs: segwit v0 and taproot (BIP141, BIP341, BIP342).

Core's VerifyWitnessProgram and ExecuteWitnessScript, and the taproot hashes
(TapLeaf, TapBranch, TapTweak, the control block's merkle root).
"""

from __future__ import annotations

import hashlib

from pyrite.crypto import secp
from pyrite.crypto.hashes import tagged_hasher
from pyrite.encoding.bytes import compact_size
from pyrite.script import flags as F
from pyrite.script.checker import (
    SIGVERSION_TAPROOT,
    SIGVERSION_TAPSCRIPT,
    SIGVERSION_WITNESS_V0,
    Checker,
    ExecData,
)
from pyrite.script.errors import ScriptError
from pyrite.script.evalscript import eval_script
from pyrite.script.num import cast_to_bool
from pyrite.script.opcodes import OP_PUSHDATA1, OP_PUSHDATA2, OP_PUSHDATA4, OP_SUCCESS
from pyrite.script.script import MAX_SCRIPT_ELEMENT_SIZE, MAX_STACK_SIZE, is_pay_to_anchor

ANNEX_TAG = 0x50
TAPROOT_LEAF_MASK = 0xFE
TAPROOT_LEAF_TAPSCRIPT = 0xC0
TAPROOT_CONTROL_BASE_SIZE = 33
TAPROOT_CONTROL_NODE_SIZE = 32
TAPROOT_CONTROL_MAX_NODE_COUNT = 128
TAPROOT_CONTROL_MAX_SIZE = TAPROOT_CONTROL_BASE_SIZE + 32 * TAPROOT_CONTROL_MAX_NODE_COUNT
VALIDATION_WEIGHT_OFFSET = 50

_sha256 = hashlib.sha256


def tapleaf_hash(leaf_version: int, script: bytes) -> bytes:
    h = tagged_hasher("TapLeaf").copy()
    h.update(bytes((leaf_version,)) + compact_size(len(script)) + script)
    return h.digest()


def tapbranch_hash(a: bytes, b: bytes) -> bytes:
    h = tagged_hasher("TapBranch").copy()
    h.update(a + b if a < b else b + a)
    return h.digest()


def taptweak_hash(internal: bytes, merkle_root: bytes | None) -> bytes:
    h = tagged_hasher("TapTweak").copy()
    h.update(internal + (merkle_root or b""))
    return h.digest()


def taproot_merkle_root(control: bytes, leaf_hash: bytes) -> bytes:
    """Core's ComputeTaprootMerkleRoot."""
    k = leaf_hash
    for pos in range(TAPROOT_CONTROL_BASE_SIZE, len(control), TAPROOT_CONTROL_NODE_SIZE):
        k = tapbranch_hash(k, control[pos : pos + TAPROOT_CONTROL_NODE_SIZE])
    return k


def _execute_witness_script(
    stack: list[bytes],
    exec_script: bytes,
    flags: int,
    sigversion: int,
    checker: Checker,
    execdata: ExecData,
) -> None:
    """Core's ExecuteWitnessScript."""
    if sigversion == SIGVERSION_TAPSCRIPT:
        pc = 0
        end = len(exec_script)
        while pc < end:
            op = exec_script[pc]
            if op in OP_SUCCESS:
                if flags & F.DISCOURAGE_OP_SUCCESS:
                    raise ScriptError("DISCOURAGE_OP_SUCCESS")
                return
            pc += 1
            if op <= OP_PUSHDATA4:
                if op < OP_PUSHDATA1:
                    size = op
                else:
                    width = 1 if op == OP_PUSHDATA1 else 2 if op == OP_PUSHDATA2 else 4
                    if pc + width > end:
                        raise ScriptError("BAD_OPCODE")
                    size = int.from_bytes(exec_script[pc : pc + width], "little")
                    pc += width
                if pc + size > end:
                    raise ScriptError("BAD_OPCODE")
                pc += size
        if len(stack) > MAX_STACK_SIZE:
            raise ScriptError("STACK_SIZE")
    for elem in stack:
        if len(elem) > MAX_SCRIPT_ELEMENT_SIZE:
            raise ScriptError("PUSH_SIZE")
    eval_script(stack, exec_script, flags, checker, sigversion, execdata)
    if len(stack) != 1:
        raise ScriptError("CLEANSTACK")
    if not cast_to_bool(stack[-1]):
        raise ScriptError("EVAL_FALSE")


def _witness_serialized_size(witness: tuple[bytes, ...]) -> int:
    return len(compact_size(len(witness))) + sum(
        len(compact_size(len(w))) + len(w) for w in witness
    )


def verify_witness_program(
    witness: tuple[bytes, ...],
    version: int,
    program: bytes,
    flags: int,
    checker: Checker,
    is_p2sh_spend: bool,
) -> None:
    """Core's VerifyWitnessProgram."""
    stack = list(witness)
    execdata = ExecData()
    if version == 0:
        if len(program) == 32:
            if not stack:
                raise ScriptError("WITNESS_PROGRAM_WITNESS_EMPTY")
            exec_script = stack.pop()
            if _sha256(exec_script).digest() != program:
                raise ScriptError("WITNESS_PROGRAM_MISMATCH")
            _execute_witness_script(stack, exec_script, flags, SIGVERSION_WITNESS_V0, checker,
                                    execdata)  # fmt: skip
            return
        if len(program) == 20:
            if len(stack) != 2:
                raise ScriptError("WITNESS_PROGRAM_MISMATCH")
            exec_script = b"\x76\xa9\x14" + program + b"\x88\xac"
            _execute_witness_script(stack, exec_script, flags, SIGVERSION_WITNESS_V0, checker,
                                    execdata)  # fmt: skip
            return
        raise ScriptError("WITNESS_PROGRAM_WRONG_LENGTH")
    if version == 1 and len(program) == 32 and not is_p2sh_spend:
        if not flags & F.TAPROOT:
            return
        if not stack:
            raise ScriptError("WITNESS_PROGRAM_WITNESS_EMPTY")
        if len(stack) >= 2 and stack[-1] and stack[-1][0] == ANNEX_TAG:
            annex = stack.pop()
            execdata.annex_hash = _sha256(compact_size(len(annex)) + annex).digest()
        if len(stack) == 1:
            checker.check_schnorr(stack[0], program, SIGVERSION_TAPROOT, execdata)
            return
        control = stack.pop()
        script = stack.pop()
        clen = len(control)
        if (
            clen < TAPROOT_CONTROL_BASE_SIZE
            or clen > TAPROOT_CONTROL_MAX_SIZE
            or (clen - TAPROOT_CONTROL_BASE_SIZE) % TAPROOT_CONTROL_NODE_SIZE
        ):
            raise ScriptError("TAPROOT_WRONG_CONTROL_SIZE")
        leaf_version = control[0] & TAPROOT_LEAF_MASK
        leaf = tapleaf_hash(leaf_version, script)
        root = taproot_merkle_root(control, leaf)
        tweak = taptweak_hash(control[1:33], root)
        if not secp.xonly_tweak_add_check(program, control[0] & 1, control[1:33], tweak):
            raise ScriptError("WITNESS_PROGRAM_MISMATCH")
        execdata.tapleaf_hash = leaf
        if leaf_version == TAPROOT_LEAF_TAPSCRIPT:
            execdata.weight_left = _witness_serialized_size(witness) + VALIDATION_WEIGHT_OFFSET
            _execute_witness_script(stack, script, flags, SIGVERSION_TAPSCRIPT, checker, execdata)
            return
        if flags & F.DISCOURAGE_UPGRADABLE_TAPROOT_VERSION:
            raise ScriptError("DISCOURAGE_UPGRADABLE_TAPROOT_VERSION")
        return
    if not is_p2sh_spend and is_pay_to_anchor(version, program):
        return
    if flags & F.DISCOURAGE_UPGRADABLE_WITNESS_PROGRAM:
        raise ScriptError("DISCOURAGE_UPGRADABLE_WITNESS_PROGRAM")
