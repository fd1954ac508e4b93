"""The signature checker and the signature opcodes of the script interpreter.

Core's ScriptExecutionData (``ExecData``) and GenericTransactionSignatureChecker
(``Checker``), the signature and public key encoding checks, and the bodies of
OP_CHECKSIG(VERIFY), OP_CHECKSIGADD and OP_CHECKMULTISIG(VERIFY) that EvalScript calls.
"""

from __future__ import annotations

from pyrite.crypto import secp
from pyrite.primitives.tx import Tx
from pyrite.script import flags as F
from pyrite.script.errors import ScriptError
from pyrite.script.num import clamp_int32, decode_num
from pyrite.script.opcodes import OP_CHECKMULTISIGVERIFY
from pyrite.script.script import (
    LOCKTIME_THRESHOLD,
    MAX_OPS_PER_SCRIPT,
    MAX_PUBKEYS_PER_MULTISIG,
    find_and_delete,
    push_data,
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

VALIDATION_WEIGHT_PER_SIGOP_PASSED = 50

_TRUE = b"\x01"
_FALSE = b""


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
        """Core's CheckECDSASignature: the signature (with its hash type byte) against the
        key, laxly parsed and S normalised (CPubKey::Verify)."""
        if not sig:
            return False
        pk = secp.parsed_pubkey(pubkey)
        if pk is None:  # also every key of a wrong size or header
            return False
        hash_type = sig[-1]
        if sigversion == SIGVERSION_WITNESS_V0:
            h = bip143_sighash(script_code, self.tx, self.n_in, hash_type, self.amount, self.pre)
        else:
            h = legacy_sighash(script_code, self.tx, self.n_in, hash_type, self.pre)
        # strict DER (always, once BIP66 is in force): libsecp256k1's parser reads it as the
        # lax one would, and faster than the lax one written in Python
        return secp.ecdsa_verify_parsed(pk, sig[:-1], h, secp.is_valid_signature_encoding(sig), 0)

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


# --- signature opcodes (EvalScript's OP_CHECKSIG family) ---


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
