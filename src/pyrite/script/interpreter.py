"""The script interpreter: Core's EvalScript, VerifyScript and witness/taproot rules.

Every function here mirrors the Core function named in its docstring; failures
raise ``ScriptError`` with Core's error name.
"""

from __future__ import annotations

import hashlib

from pyrite.crypto import secp
from pyrite.crypto.hashes import hash160, ripemd160, sha1, sha256, sha256d, tagged_hasher
from pyrite.encoding.bytes import compact_size
from pyrite.primitives.tx import Tx
from pyrite.script import flags as F
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
    OP_SUCCESS,
)
from pyrite.script.script import (
    LOCKTIME_THRESHOLD,
    MAX_OPS_PER_SCRIPT,
    MAX_PUBKEYS_PER_MULTISIG,
    MAX_SCRIPT_ELEMENT_SIZE,
    MAX_SCRIPT_SIZE,
    MAX_STACK_SIZE,
    check_minimal_push,
    find_and_delete,
    is_p2sh,
    is_pay_to_anchor,
    is_push_only,
    push_data,
    witness_program,
)
from pyrite.script.sighash import (
    SIGHASH_ANYONECANPAY,
    SIGHASH_DEFAULT,
    PrecomputedTx,
    bip143_sighash,
    legacy_sighash,
    taproot_sighash,
)

SIGVERSION_BASE = 0
SIGVERSION_WITNESS_V0 = 1
SIGVERSION_TAPROOT = 2
SIGVERSION_TAPSCRIPT = 3

SEQUENCE_FINAL = 0xFFFFFFFF
SEQUENCE_LOCKTIME_DISABLE_FLAG = 1 << 31
SEQUENCE_LOCKTIME_TYPE_FLAG = 1 << 22
SEQUENCE_LOCKTIME_MASK = 0x0000FFFF

ANNEX_TAG = 0x50
TAPROOT_LEAF_MASK = 0xFE
TAPROOT_LEAF_TAPSCRIPT = 0xC0
TAPROOT_CONTROL_BASE_SIZE = 33
TAPROOT_CONTROL_NODE_SIZE = 32
TAPROOT_CONTROL_MAX_NODE_COUNT = 128
TAPROOT_CONTROL_MAX_SIZE = TAPROOT_CONTROL_BASE_SIZE + 32 * TAPROOT_CONTROL_MAX_NODE_COUNT
VALIDATION_WEIGHT_PER_SIGOP_PASSED = 50
VALIDATION_WEIGHT_OFFSET = 50

_TRUE = b"\x01"
_FALSE = b""
_sha256 = hashlib.sha256


class ExecData:
    """Core's ScriptExecutionData (taproot/tapscript execution context)."""

    __slots__ = ("annex_hash", "codesep_pos", "tapleaf_hash", "weight_left")

    def __init__(self) -> None:
        self.annex_hash: bytes | None = None
        self.tapleaf_hash: bytes | None = None
        self.codesep_pos = 0xFFFFFFFF
        self.weight_left = 0


class Checker:
    """Core's GenericTransactionSignatureChecker for one input of one transaction."""

    __slots__ = ("amount", "n_in", "pre", "tx")

    def __init__(self, tx: Tx, n_in: int, amount: int, pre: PrecomputedTx | None = None) -> None:
        self.tx = tx
        self.n_in = n_in
        self.amount = amount
        self.pre = pre if pre is not None else PrecomputedTx(tx)

    def check_ecdsa(self, sig: bytes, pubkey: bytes, script_code: bytes, sigversion: int) -> bool:
        if not secp.pubkey_size_ok(pubkey) or not sig:
            return False
        hash_type = sig[-1]
        if sigversion == SIGVERSION_WITNESS_V0:
            h = bip143_sighash(script_code, self.tx, self.n_in, hash_type, self.amount, self.pre)
        else:
            h = legacy_sighash(script_code, self.tx, self.n_in, hash_type, self.pre)
        return secp.ecdsa_verify(pubkey, sig[:-1], h)

    def check_schnorr(self, sig: bytes, pubkey: bytes, sigversion: int, execdata: ExecData) -> None:
        """Core's CheckSchnorrSignature; raises on failure."""
        n = len(sig)
        if n != 64 and n != 65:
            raise ScriptError("SCHNORR_SIG_SIZE")
        hash_type = SIGHASH_DEFAULT
        if n == 65:
            hash_type = sig[64]
            sig = sig[:64]
            if hash_type == SIGHASH_DEFAULT:
                raise ScriptError("SCHNORR_SIG_HASHTYPE")
        if self.pre.spent_outputs is None:
            raise ScriptError("UNKNOWN_ERROR", "taproot check needs the spent outputs")
        h = taproot_sighash(
            self.pre,
            self.n_in,
            hash_type,
            execdata.annex_hash,
            execdata.tapleaf_hash if sigversion == SIGVERSION_TAPSCRIPT else None,
            execdata.codesep_pos,
        )
        if h is None:
            raise ScriptError("SCHNORR_SIG_HASHTYPE")
        if not secp.schnorr_verify(pubkey, sig, h):
            raise ScriptError("SCHNORR_SIG")

    def check_locktime(self, locktime: int) -> bool:
        tx_lock = self.tx.locktime
        if not (
            (tx_lock < LOCKTIME_THRESHOLD and locktime < LOCKTIME_THRESHOLD)
            or (tx_lock >= LOCKTIME_THRESHOLD and locktime >= LOCKTIME_THRESHOLD)
        ):
            return False
        if locktime > tx_lock:
            return False
        return self.tx.vin[self.n_in].sequence != SEQUENCE_FINAL

    def check_sequence(self, sequence: int) -> bool:
        tx_seq = self.tx.vin[self.n_in].sequence
        if (self.tx.version & 0xFFFFFFFF) < 2:
            return False
        if tx_seq & SEQUENCE_LOCKTIME_DISABLE_FLAG:
            return False
        mask = SEQUENCE_LOCKTIME_TYPE_FLAG | SEQUENCE_LOCKTIME_MASK
        tx_masked = tx_seq & mask
        masked = sequence & mask
        if not (
            (tx_masked < SEQUENCE_LOCKTIME_TYPE_FLAG and masked < SEQUENCE_LOCKTIME_TYPE_FLAG)
            or (tx_masked >= SEQUENCE_LOCKTIME_TYPE_FLAG and masked >= SEQUENCE_LOCKTIME_TYPE_FLAG)
        ):
            return False
        return masked <= tx_masked


# --- encoding checks (Core's CheckSignatureEncoding / CheckPubKeyEncoding) ---


def is_valid_signature_encoding(sig: bytes) -> bool:
    """Core's IsValidSignatureEncoding: strict DER (BIP66) plus one hash-type byte."""
    return secp.is_valid_signature_encoding(sig)


def check_signature_encoding(sig: bytes, flags: int) -> None:
    if not sig:
        return
    if flags & (F.DERSIG | F.LOW_S | F.STRICTENC) and not is_valid_signature_encoding(sig):
        raise ScriptError("SIG_DER")
    if flags & F.LOW_S and not secp.is_low_s(sig[:-1]):
        raise ScriptError("SIG_HIGH_S")
    if flags & F.STRICTENC:
        base = sig[-1] & ~SIGHASH_ANYONECANPAY
        if base < 1 or base > 3:
            raise ScriptError("SIG_HASHTYPE")


def check_pubkey_encoding(pubkey: bytes, flags: int, sigversion: int) -> None:
    if flags & F.STRICTENC and not _compressed_or_uncompressed(pubkey):
        raise ScriptError("PUBKEYTYPE")
    if (
        flags & F.WITNESS_PUBKEYTYPE
        and sigversion == SIGVERSION_WITNESS_V0
        and not (len(pubkey) == 33 and pubkey[0] in (2, 3))
    ):
        raise ScriptError("WITNESS_PUBKEYTYPE")


def _compressed_or_uncompressed(pub: bytes) -> bool:
    n = len(pub)
    if n < 33:
        return False
    if pub[0] == 0x04:
        return n == 65
    if pub[0] in (0x02, 0x03):
        return n == 33
    return False


# --- EvalScript ---


def _checksig_pre_tapscript(
    sig: bytes,
    pubkey: bytes,
    script: bytes,
    codehash_start: int,
    flags: int,
    checker: Checker,
    sigversion: int,
) -> bool:
    """Core's EvalChecksigPreTapscript."""
    script_code = script[codehash_start:]
    if sigversion == SIGVERSION_BASE:
        script_code, found = find_and_delete(script_code, push_data(sig))
        if found and flags & F.CONST_SCRIPTCODE:
            raise ScriptError("SIG_FINDANDDELETE")
    check_signature_encoding(sig, flags)
    check_pubkey_encoding(pubkey, flags, sigversion)
    ok = checker.check_ecdsa(sig, pubkey, script_code, sigversion)
    if not ok and flags & F.NULLFAIL and sig:
        raise ScriptError("NULLFAIL")
    return ok


def _checksig_tapscript(
    sig: bytes, pubkey: bytes, execdata: ExecData, flags: int, checker: Checker
) -> bool:
    """Core's EvalChecksigTapscript."""
    success = len(sig) > 0
    if success:
        execdata.weight_left -= VALIDATION_WEIGHT_PER_SIGOP_PASSED
        if execdata.weight_left < 0:
            raise ScriptError("TAPSCRIPT_VALIDATION_WEIGHT")
    if len(pubkey) == 0:
        raise ScriptError("TAPSCRIPT_EMPTY_PUBKEY")
    if len(pubkey) == 32:
        if success:
            checker.check_schnorr(sig, pubkey, SIGVERSION_TAPSCRIPT, execdata)
    elif flags & F.DISCOURAGE_UPGRADABLE_PUBKEYTYPE:
        raise ScriptError("DISCOURAGE_UPGRADABLE_PUBKEYTYPE")
    return success


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


def _checkmultisig(
    op: int,
    stack: list[bytes],
    script: bytes,
    codehash_start: int,
    flags: int,
    checker: Checker,
    sigversion: int,
    op_count: int,
) -> int:
    """Core's OP_CHECKMULTISIG(VERIFY); returns the updated op count."""
    minimal = bool(flags & F.MINIMALDATA)
    i = 1
    if len(stack) < i:
        raise ScriptError("INVALID_STACK_OPERATION")
    n_keys = clamp_int32(decode_num(stack[-i], minimal))
    if n_keys < 0 or n_keys > MAX_PUBKEYS_PER_MULTISIG:
        raise ScriptError("PUBKEY_COUNT")
    op_count += n_keys
    if op_count > MAX_OPS_PER_SCRIPT:
        raise ScriptError("OP_COUNT")
    i += 1
    ikey = i
    ikey2 = n_keys + 2  # position of the last non-signature item, for NULLFAIL cleanup
    i += n_keys
    if len(stack) < i:
        raise ScriptError("INVALID_STACK_OPERATION")
    n_sigs = clamp_int32(decode_num(stack[-i], minimal))
    if n_sigs < 0 or n_sigs > n_keys:
        raise ScriptError("SIG_COUNT")
    i += 1
    isig = i
    i += n_sigs
    if len(stack) < i:
        raise ScriptError("INVALID_STACK_OPERATION")

    script_code = script[codehash_start:]
    if sigversion == SIGVERSION_BASE:
        for k in range(n_sigs):
            script_code, found = find_and_delete(script_code, push_data(stack[-isig - k]))
            if found and flags & F.CONST_SCRIPTCODE:
                raise ScriptError("SIG_FINDANDDELETE")

    success = True
    while success and n_sigs > 0:
        sig = stack[-isig]
        pubkey = stack[-ikey]
        check_signature_encoding(sig, flags)
        check_pubkey_encoding(pubkey, flags, sigversion)
        if checker.check_ecdsa(sig, pubkey, script_code, sigversion):
            isig += 1
            n_sigs -= 1
        ikey += 1
        n_keys -= 1
        if n_sigs > n_keys:
            success = False

    while i > 1:
        i -= 1
        if not success and flags & F.NULLFAIL and not ikey2 and stack[-1]:
            raise ScriptError("NULLFAIL")
        if ikey2 > 0:
            ikey2 -= 1
        stack.pop()

    if not stack:
        raise ScriptError("INVALID_STACK_OPERATION")
    if flags & F.NULLDUMMY and stack[-1]:
        raise ScriptError("SIG_NULLDUMMY")
    stack.pop()
    if op == OP_CHECKMULTISIGVERIFY:
        if not success:
            raise ScriptError("CHECKMULTISIGVERIFY")
    else:
        stack.append(_TRUE if success else _FALSE)
    return op_count


# --- VerifyScript and witness programs ---


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
