"""Script byte-code helpers: opcode iteration, push building, templates, FindAndDelete."""

from __future__ import annotations

import re
from collections.abc import Iterator

from pyrite.script.opcodes import (
    OP_0,
    OP_1,
    OP_16,
    OP_CHECKMULTISIG,
    OP_CHECKMULTISIGVERIFY,
    OP_CHECKSIG,
    OP_CHECKSIGVERIFY,
    OP_EQUAL,
    OP_HASH160,
    OP_PUSHDATA1,
    OP_PUSHDATA2,
    OP_PUSHDATA4,
)

MAX_SCRIPT_ELEMENT_SIZE = 520
MAX_OPS_PER_SCRIPT = 201
MAX_PUBKEYS_PER_MULTISIG = 20
MAX_SCRIPT_SIZE = 10000
MAX_STACK_SIZE = 1000
LOCKTIME_THRESHOLD = 500_000_000


class ScriptParseError(Exception):
    """Internal: a push runs past the end of the script (Core's GetOp returns false)."""


def get_op(script: bytes, pc: int) -> tuple[int, bytes | None, int]:
    """Core's GetScriptOp: returns (opcode, pushed data or None, next pc).

    Raises ScriptParseError where GetOp would fail (truncated push).
    """
    end = len(script)
    if pc >= end:
        raise ScriptParseError
    op = script[pc]
    pc += 1
    if op > OP_PUSHDATA4:
        return op, None, pc
    if op < OP_PUSHDATA1:
        size = op
    elif op == OP_PUSHDATA1:
        if pc + 1 > end:
            raise ScriptParseError
        size = script[pc]
        pc += 1
    elif op == OP_PUSHDATA2:
        if pc + 2 > end:
            raise ScriptParseError
        size = script[pc] | (script[pc + 1] << 8)
        pc += 2
    else:
        if pc + 4 > end:
            raise ScriptParseError
        size = int.from_bytes(script[pc : pc + 4], "little")
        pc += 4
    if pc + size > end:
        raise ScriptParseError
    return op, script[pc : pc + size], pc + size


def iter_ops(script: bytes) -> Iterator[tuple[int, bytes | None, int]]:
    """Yield (opcode, data, next pc) until the end; stops silently on a truncated push."""
    pc = 0
    n = len(script)
    while pc < n:
        try:
            op, data, pc = get_op(script, pc)
        except ScriptParseError:
            return
        yield op, data, pc


def parses(script: bytes) -> bool:
    pc = 0
    n = len(script)
    try:
        while pc < n:
            _, _, pc = get_op(script, pc)
    except ScriptParseError:
        return False
    return True


def push_data(data: bytes) -> bytes:
    """Serialize a data push the way CScript << vector does (smallest PUSHDATA form)."""
    n = len(data)
    if n < OP_PUSHDATA1:
        return bytes((n,)) + data
    if n <= 0xFF:
        return bytes((OP_PUSHDATA1, n)) + data
    if n <= 0xFFFF:
        return bytes((OP_PUSHDATA2,)) + n.to_bytes(2, "little") + data
    return bytes((OP_PUSHDATA4,)) + n.to_bytes(4, "little") + data


def push_int(n: int) -> bytes:
    """CScript << int64: small integers as OP_n, others as a minimal CScriptNum push."""
    from pyrite.script.num import encode_num

    if n == -1 or 1 <= n <= 16:
        return bytes((n + OP_1 - 1,))
    if n == 0:
        return bytes((OP_0,))
    return push_data(encode_num(n))


def check_minimal_push(data: bytes, opcode: int) -> bool:
    """Core's CheckMinimalPush."""
    n = len(data)
    if n == 0:
        return opcode == OP_0
    if n == 1 and 1 <= data[0] <= 16:
        return False
    if n == 1 and data[0] == 0x81:
        return False
    if n <= 75:
        return opcode == n
    if n <= 255:
        return opcode == OP_PUSHDATA1
    if n <= 65535:
        return opcode == OP_PUSHDATA2
    return True


def is_push_only(script: bytes) -> bool:
    """Core's IsPushOnly: every op is at most OP_16 (OP_RESERVED counts) and parses."""
    pc = 0
    n = len(script)
    try:
        while pc < n:
            op, _, pc = get_op(script, pc)
            if op > OP_16:
                return False
    except ScriptParseError:
        return False
    return True


def is_p2sh(spk: bytes) -> bool:
    return len(spk) == 23 and spk[0] == OP_HASH160 and spk[1] == 0x14 and spk[22] == OP_EQUAL


def witness_program(spk: bytes) -> tuple[int, bytes] | None:
    """Core's IsWitnessProgram: (version, program) or None."""
    n = len(spk)
    if n < 4 or n > 42:
        return None
    v = spk[0]
    if v != OP_0 and not (OP_1 <= v <= OP_16):
        return None
    if spk[1] + 2 != n:
        return None
    return (0 if v == OP_0 else v - OP_1 + 1), spk[2:]


def is_pay_to_anchor(version: int, program: bytes) -> bool:
    return version == 1 and program == b"\x4e\x73"


def is_unspendable(spk: bytes) -> bool:
    """Core's IsUnspendable: starts with OP_RETURN or larger than MAX_SCRIPT_SIZE."""
    return (len(spk) > 0 and spk[0] == 0x6A) or len(spk) > MAX_SCRIPT_SIZE


def find_and_delete(script: bytes, pattern: bytes) -> tuple[bytes, int]:
    """Core's FindAndDelete: remove every occurrence of ``pattern`` at an op boundary."""
    if not pattern or pattern not in script:  # (the usual case, at C speed)
        return script, 0
    found = 0
    out = bytearray()
    n = len(script)
    m = len(pattern)
    pc = 0
    pc2 = 0
    while True:
        out += script[pc2:pc]
        while n - pc >= m and script.startswith(pattern, pc):
            pc += m
            found += 1
        pc2 = pc
        if pc >= n:
            break
        try:
            _, _, pc = get_op(script, pc)
        except ScriptParseError:
            break
    if not found:
        return script, 0
    out += script[pc2:]
    return bytes(out), found


def remove_codeseparators(script: bytes) -> bytes:
    """The legacy sighash's scriptCode: OP_CODESEPARATORs removed (at op boundaries)."""
    if 0xAB not in script:
        return script
    out = bytearray()
    begin = 0
    pc = 0
    n = len(script)
    while pc < n:
        try:
            op, _, nxt = get_op(script, pc)
        except ScriptParseError:
            break
        if op == 0xAB:
            out += script[begin:pc]
            begin = nxt
        pc = nxt
    out += script[begin:]
    return bytes(out)


def _decode_op_n(op: int) -> int:
    return 0 if op == OP_0 else op - OP_1 + 1


_SIGOP_BYTES = re.compile(b"[\xac-\xaf]")


def sigop_count(script: bytes, accurate: bool) -> int:
    """Core's CScript::GetSigOpCount(fAccurate)."""
    if len(script) == 25 and script[:3] == b"\x76\xa9\x14" and script[23:] == b"\x88\xac":
        return 1  # P2PKH
    if _SIGOP_BYTES.search(script) is None:
        return 0  # no byte could be a signature opcode
    n = 0
    last = 0xFF
    pc = 0
    end = len(script)
    while pc < end:
        try:
            op, _, pc = get_op(script, pc)
        except ScriptParseError:
            break
        if op == OP_CHECKSIG or op == OP_CHECKSIGVERIFY:
            n += 1
        elif op == OP_CHECKMULTISIG or op == OP_CHECKMULTISIGVERIFY:
            if accurate and OP_1 <= last <= OP_16:
                n += _decode_op_n(last)
            else:
                n += MAX_PUBKEYS_PER_MULTISIG
        last = op
    return n


def p2sh_sigop_count(spk: bytes, script_sig: bytes) -> int:
    """Core's CScript::GetSigOpCount(scriptSig) for a P2SH output."""
    if not is_p2sh(spk):
        return sigop_count(spk, True)
    data = b""
    pc = 0
    end = len(script_sig)
    while pc < end:
        try:
            op, d, pc = get_op(script_sig, pc)
        except ScriptParseError:
            return 0
        if op > OP_16:
            return 0
        data = d if d is not None else b""
    return sigop_count(data, True)


def witness_sigop_count(
    script_sig: bytes, spk: bytes, witness: tuple[bytes, ...], p2sh_enabled: bool = True
) -> int:
    """Core's CountWitnessSigOps (called only with the WITNESS flag)."""
    wp = witness_program(spk)
    if wp is not None:
        return _witness_sigops(wp[0], wp[1], witness)
    if p2sh_enabled and is_p2sh(spk) and is_push_only(script_sig):
        last = b""
        for _op, d, _ in iter_ops(script_sig):
            last = d if d is not None else b""
        wp = witness_program(last)
        if wp is not None:
            return _witness_sigops(wp[0], wp[1], witness)
    return 0


def _witness_sigops(version: int, program: bytes, witness: tuple[bytes, ...]) -> int:
    if version == 0:
        if len(program) == 20:
            return 1
        if len(program) == 32 and witness:
            return sigop_count(witness[-1], True)
    return 0
