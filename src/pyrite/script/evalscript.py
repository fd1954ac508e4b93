"""Core's EvalScript: the script evaluation loop and its stack and arithmetic opcodes.

The signature opcodes are in ``checker``; witness programs and VerifyScript, which
call ``eval_script``, are in ``witness`` and ``interpreter``.
"""

from __future__ import annotations

from pyrite.crypto.hashes import hash160, ripemd160, sha1, sha256, sha256d
from pyrite.script import flags as F
from pyrite.script.checker import (
    _FALSE,
    _TRUE,
    SEQUENCE_LOCKTIME_DISABLE_FLAG,
    SIGVERSION_BASE,
    SIGVERSION_TAPSCRIPT,
    SIGVERSION_WITNESS_V0,
    Checker,
    ExecData,
    _checkmultisig,
    _checksig_pre_tapscript,
    _checksig_tapscript,
)
from pyrite.script.errors import ScriptError
from pyrite.script.num import cast_to_bool, clamp_int32, decode_num, encode_num
from pyrite.script.opcodes import (
    DISABLED_OPCODES,
    OP_1,
    OP_1NEGATE,
    OP_16,
    OP_CHECKLOCKTIMEVERIFY,
    OP_CHECKMULTISIG,
    OP_CHECKMULTISIGVERIFY,
    OP_CHECKSEQUENCEVERIFY,
    OP_CHECKSIG,
    OP_CHECKSIGADD,
    OP_CHECKSIGVERIFY,
    OP_CODESEPARATOR,
    OP_DUP,
    OP_ELSE,
    OP_ENDIF,
    OP_EQUAL,
    OP_EQUALVERIFY,
    OP_HASH160,
    OP_IF,
    OP_NOTIF,
    OP_PUSHDATA1,
    OP_PUSHDATA2,
    OP_PUSHDATA4,
)
from pyrite.script.script import (
    MAX_OPS_PER_SCRIPT,
    MAX_SCRIPT_ELEMENT_SIZE,
    MAX_SCRIPT_SIZE,
    MAX_STACK_SIZE,
    check_minimal_push,
)

# --- EvalScript ---


def eval_script(
    stack: list[bytes],
    script: bytes,
    flags: int,
    checker: Checker,
    sigversion: int,
    execdata: ExecData | None = None,
) -> None:
    """Core's EvalScript. Mutates ``stack``; raises ScriptError on failure."""
    legacy = sigversion == SIGVERSION_BASE or sigversion == SIGVERSION_WITNESS_V0
    if legacy and len(script) > MAX_SCRIPT_SIZE:
        raise ScriptError("SCRIPT_SIZE")
    if not script:  # nothing to run (every segwit spend's script signature): success
        if execdata is not None:
            execdata.codesep_pos = 0xFFFFFFFF
        return
    if execdata is None:
        execdata = ExecData()
    try:
        _eval(stack, script, flags, checker, sigversion, execdata, legacy)
    except IndexError:  # defensive: a stack access we did not guard
        raise ScriptError("INVALID_STACK_OPERATION") from None


def _eval(
    stack: list[bytes],
    script: bytes,
    flags: int,
    checker: Checker,
    sigversion: int,
    execdata: ExecData,
    legacy: bool,
) -> None:
    end = len(script)
    pc = 0
    codehash_start = 0
    vexec: list[bool] = []
    false_count = 0  # how many entries of vexec are False (Core's ConditionStack)
    altstack: list[bytes] = []
    op_count = 0
    minimal = bool(flags & F.MINIMALDATA)
    opcode_pos = 0
    execdata.codesep_pos = 0xFFFFFFFF
    push = stack.append
    pop = stack.pop

    def need(n: int) -> None:
        if len(stack) < n:
            raise ScriptError("INVALID_STACK_OPERATION")

    while pc < end:
        fexec = false_count == 0
        op = script[pc]
        pc += 1
        if op <= OP_PUSHDATA4:
            if op < OP_PUSHDATA1:
                size = op
            elif op == OP_PUSHDATA1:
                if pc + 1 > end:
                    raise ScriptError("BAD_OPCODE")
                size = script[pc]
                pc += 1
            elif op == OP_PUSHDATA2:
                if pc + 2 > end:
                    raise ScriptError("BAD_OPCODE")
                size = script[pc] | (script[pc + 1] << 8)
                pc += 2
            else:
                if pc + 4 > end:
                    raise ScriptError("BAD_OPCODE")
                size = int.from_bytes(script[pc : pc + 4], "little")
                pc += 4
            if pc + size > end:
                raise ScriptError("BAD_OPCODE")
            if size > MAX_SCRIPT_ELEMENT_SIZE:
                raise ScriptError("PUSH_SIZE")
            if fexec:
                data = script[pc : pc + size]
                if minimal and not check_minimal_push(data, op):
                    raise ScriptError("MINIMALDATA")
                push(data)
            pc += size
        else:
            if legacy and op > OP_16:
                op_count += 1
                if op_count > MAX_OPS_PER_SCRIPT:
                    raise ScriptError("OP_COUNT")
            if op in DISABLED_OPCODES:
                raise ScriptError("DISABLED_OPCODE")
            if (
                op == OP_CODESEPARATOR
                and sigversion == SIGVERSION_BASE
                and flags & F.CONST_SCRIPTCODE
            ):
                raise ScriptError("OP_CODESEPARATOR")
            if not fexec and not (OP_IF <= op <= OP_ENDIF):
                opcode_pos += 1
                continue

            if op == OP_1NEGATE or OP_1 <= op <= OP_16:
                push(encode_num(op - (OP_1 - 1)))
            elif op == 0x61:  # OP_NOP
                pass
            elif op == OP_IF or op == OP_NOTIF:
                value = False
                if fexec:
                    if not stack:
                        raise ScriptError("INVALID_STACK_OPERATION")
                    top = stack[-1]
                    if sigversion == SIGVERSION_TAPSCRIPT and (
                        len(top) > 1 or (len(top) == 1 and top[0] != 1)
                    ):
                        raise ScriptError("TAPSCRIPT_MINIMALIF")
                    if sigversion == SIGVERSION_WITNESS_V0 and flags & F.MINIMALIF:
                        if len(top) > 1 or (len(top) == 1 and top[0] != 1):
                            raise ScriptError("MINIMALIF")
                    value = cast_to_bool(top)
                    if op == OP_NOTIF:
                        value = not value
                    pop()
                vexec.append(value)
                if not value:
                    false_count += 1
            elif op == OP_ELSE:
                if not vexec:
                    raise ScriptError("UNBALANCED_CONDITIONAL")
                was = vexec[-1]
                vexec[-1] = not was
                false_count += 1 if was else -1
            elif op == OP_ENDIF:
                if not vexec:
                    raise ScriptError("UNBALANCED_CONDITIONAL")
                if not vexec.pop():
                    false_count -= 1
            elif op == 0x69:  # OP_VERIFY
                need(1)
                if not cast_to_bool(stack[-1]):
                    raise ScriptError("VERIFY")
                pop()
            elif op == 0x6A:  # OP_RETURN
                raise ScriptError("OP_RETURN")
            elif op == OP_DUP:
                need(1)
                push(stack[-1])
            elif op == OP_HASH160:
                need(1)
                stack[-1] = hash160(stack[-1])
            elif op == OP_EQUAL or op == OP_EQUALVERIFY:
                need(2)
                equal = pop() == pop()
                if op == OP_EQUALVERIFY:
                    if not equal:
                        raise ScriptError("EQUALVERIFY")
                else:
                    push(_TRUE if equal else _FALSE)
            elif op == OP_CHECKSIG or op == OP_CHECKSIGVERIFY:
                need(2)
                sig = stack[-2]
                pubkey = stack[-1]
                if sigversion == SIGVERSION_TAPSCRIPT:
                    ok = _checksig_tapscript(sig, pubkey, execdata, flags, checker)
                else:
                    ok = _checksig_pre_tapscript(
                        sig, pubkey, script, codehash_start, flags, checker, sigversion
                    )
                pop()
                pop()
                if op == OP_CHECKSIGVERIFY:
                    if not ok:
                        raise ScriptError("CHECKSIGVERIFY")
                else:
                    push(_TRUE if ok else _FALSE)
            elif op == OP_CHECKSIGADD:
                if legacy:
                    raise ScriptError("BAD_OPCODE")
                need(3)
                sig = stack[-3]
                n = decode_num(stack[-2], minimal)
                pubkey = stack[-1]
                ok = _checksig_tapscript(sig, pubkey, execdata, flags, checker)
                del stack[-3:]
                push(encode_num(n + (1 if ok else 0)))
            elif op == OP_CHECKMULTISIG or op == OP_CHECKMULTISIGVERIFY:
                if sigversion == SIGVERSION_TAPSCRIPT:
                    raise ScriptError("TAPSCRIPT_CHECKMULTISIG")
                op_count = _checkmultisig(
                    op, stack, script, codehash_start, flags, checker, sigversion, op_count
                )
            elif 0x6B <= op <= 0x7D or op == 0x82:
                _stack_op(op, stack, altstack, minimal)
            elif 0x8B <= op <= 0xA5:
                _arith_op(op, stack, minimal)
            elif 0xA6 <= op <= 0xAA:
                need(1)
                item = stack[-1]
                if op == 0xA6:
                    stack[-1] = ripemd160(item)
                elif op == 0xA7:
                    stack[-1] = sha1(item)
                elif op == 0xA8:
                    stack[-1] = sha256(item)
                elif op == 0xA9:
                    stack[-1] = hash160(item)
                else:
                    stack[-1] = sha256d(item)
            elif op == OP_CODESEPARATOR:
                codehash_start = pc
                execdata.codesep_pos = opcode_pos
            elif op == OP_CHECKLOCKTIMEVERIFY:
                if flags & F.CHECKLOCKTIMEVERIFY:
                    need(1)
                    locktime = decode_num(stack[-1], minimal, 5)
                    if locktime < 0:
                        raise ScriptError("NEGATIVE_LOCKTIME")
                    if not checker.check_locktime(locktime):
                        raise ScriptError("UNSATISFIED_LOCKTIME")
            elif op == OP_CHECKSEQUENCEVERIFY:
                if flags & F.CHECKSEQUENCEVERIFY:
                    need(1)
                    seq = decode_num(stack[-1], minimal, 5)
                    if seq < 0:
                        raise ScriptError("NEGATIVE_LOCKTIME")
                    if not seq & SEQUENCE_LOCKTIME_DISABLE_FLAG and not checker.check_sequence(seq):
                        raise ScriptError("UNSATISFIED_LOCKTIME")
            elif op == 0xB0 or 0xB3 <= op <= 0xB9:  # OP_NOP1, OP_NOP4..OP_NOP10
                if flags & F.DISCOURAGE_UPGRADABLE_NOPS:
                    raise ScriptError("DISCOURAGE_UPGRADABLE_NOPS")
            else:
                raise ScriptError("BAD_OPCODE")

        if len(stack) + len(altstack) > MAX_STACK_SIZE:
            raise ScriptError("STACK_SIZE")
        opcode_pos += 1

    if vexec:
        raise ScriptError("UNBALANCED_CONDITIONAL")


def _stack_op(op: int, stack: list[bytes], altstack: list[bytes], minimal: bool) -> None:
    n = len(stack)

    def need(k: int) -> None:
        if n < k:
            raise ScriptError("INVALID_STACK_OPERATION")

    if op == 0x6B:  # OP_TOALTSTACK
        need(1)
        altstack.append(stack.pop())
    elif op == 0x6C:  # OP_FROMALTSTACK
        if not altstack:
            raise ScriptError("INVALID_ALTSTACK_OPERATION")
        stack.append(altstack.pop())
    elif op == 0x6D:  # OP_2DROP
        need(2)
        del stack[-2:]
    elif op == 0x6E:  # OP_2DUP
        need(2)
        stack.extend(stack[-2:])
    elif op == 0x6F:  # OP_3DUP
        need(3)
        stack.extend(stack[-3:])
    elif op == 0x70:  # OP_2OVER
        need(4)
        stack.extend(stack[-4:-2])
    elif op == 0x71:  # OP_2ROT
        need(6)
        moved = stack[-6:-4]
        del stack[-6:-4]
        stack.extend(moved)
    elif op == 0x72:  # OP_2SWAP
        need(4)
        stack[-4:] = stack[-2:] + stack[-4:-2]
    elif op == 0x73:  # OP_IFDUP
        need(1)
        if cast_to_bool(stack[-1]):
            stack.append(stack[-1])
    elif op == 0x74:  # OP_DEPTH
        stack.append(encode_num(n))
    elif op == 0x75:  # OP_DROP
        need(1)
        stack.pop()
    elif op == 0x77:  # OP_NIP
        need(2)
        del stack[-2]
    elif op == 0x78:  # OP_OVER
        need(2)
        stack.append(stack[-2])
    elif op == 0x79 or op == 0x7A:  # OP_PICK, OP_ROLL
        need(2)
        k = clamp_int32(decode_num(stack[-1], minimal))
        stack.pop()
        if k < 0 or k >= len(stack):
            raise ScriptError("INVALID_STACK_OPERATION")
        v = stack[-k - 1]
        if op == 0x7A:
            del stack[-k - 1]
        stack.append(v)
    elif op == 0x7B:  # OP_ROT
        need(3)
        stack[-3], stack[-2], stack[-1] = stack[-2], stack[-1], stack[-3]
    elif op == 0x7C:  # OP_SWAP
        need(2)
        stack[-2], stack[-1] = stack[-1], stack[-2]
    elif op == 0x7D:  # OP_TUCK
        need(2)
        stack.insert(-2, stack[-1])
    elif op == 0x82:  # OP_SIZE
        need(1)
        stack.append(encode_num(len(stack[-1])))
    else:  # pragma: no cover - OP_DUP is handled by the caller
        raise ScriptError("BAD_OPCODE")


def _arith_op(op: int, stack: list[bytes], minimal: bool) -> None:
    if op <= 0x92:  # unary: 1ADD 1SUB NEGATE ABS NOT 0NOTEQUAL (2MUL/2DIV are disabled)
        if not stack:
            raise ScriptError("INVALID_STACK_OPERATION")
        a = decode_num(stack[-1], minimal)
        if op == 0x8B:
            r = a + 1
        elif op == 0x8C:
            r = a - 1
        elif op == 0x8F:
            r = -a
        elif op == 0x90:
            r = abs(a)
        elif op == 0x91:
            r = int(a == 0)
        elif op == 0x92:
            r = int(a != 0)
        else:  # pragma: no cover - disabled opcodes are rejected earlier
            raise ScriptError("BAD_OPCODE")
        stack[-1] = encode_num(r)
        return
    if op == 0xA5:  # OP_WITHIN
        if len(stack) < 3:
            raise ScriptError("INVALID_STACK_OPERATION")
        x = decode_num(stack[-3], minimal)
        lo = decode_num(stack[-2], minimal)
        hi = decode_num(stack[-1], minimal)
        del stack[-3:]
        stack.append(_TRUE if lo <= x < hi else _FALSE)
        return
    if len(stack) < 2:
        raise ScriptError("INVALID_STACK_OPERATION")
    a = decode_num(stack[-2], minimal)
    b = decode_num(stack[-1], minimal)
    if op == 0x93:
        r = a + b
    elif op == 0x94:
        r = a - b
    elif op == 0x9A:
        r = int(a != 0 and b != 0)
    elif op == 0x9B:
        r = int(a != 0 or b != 0)
    elif op == 0x9C or op == 0x9D:
        r = int(a == b)
    elif op == 0x9E:
        r = int(a != b)
    elif op == 0x9F:
        r = int(a < b)
    elif op == 0xA0:
        r = int(a > b)
    elif op == 0xA1:
        r = int(a <= b)
    elif op == 0xA2:
        r = int(a >= b)
    elif op == 0xA3:
        r = min(a, b)
    elif op == 0xA4:
        r = max(a, b)
    else:  # pragma: no cover - disabled opcodes are rejected earlier
        raise ScriptError("BAD_OPCODE")
    del stack[-2:]
    if op == 0x9D:  # OP_NUMEQUALVERIFY
        if not r:
            raise ScriptError("NUMEQUALVERIFY")
        return
    stack.append(encode_num(r))
