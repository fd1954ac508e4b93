"""Fast paths for the standard spends: P2PKH, P2WPKH (bare or wrapped in P2SH), P2TR key
path, P2TR script path through a leaf of one key (inscriptions included), P2PK, and bare
multisig (also in P2SH or P2WSH).

A fast path only ever answers "valid": it recognises the exact shape of a standard
spend, performs the checks the interpreter would perform on that shape, and returns
True when the signature verifies. In every other case (an unusual shape, a policy flag
that would object, a bad signature) it returns False and the caller runs the full
interpreter, so the error reported is always the interpreter's own.
"""

from __future__ import annotations

import hashlib
import struct
from typing import Any

from pyrite.crypto import secp
from pyrite.crypto.hashes import hash160, sha256_short
from pyrite.primitives.tx import Tx
from pyrite.script.flags import (
    CLEANSTACK,
    DERSIG,
    LOW_S,
    P2SH,
    STRICTENC,
    TAPROOT,
    WITNESS,
    WITNESS_PUBKEYTYPE,
)
from pyrite.script.num import cast_to_bool
from pyrite.script.script import MAX_SCRIPT_ELEMENT_SIZE, push_data
from pyrite.script.sighash import PrecomputedTx, bip143_sighash, legacy_sighash, taproot_sighash
from pyrite.script.witness import (
    TAPROOT_LEAF_TAPSCRIPT,
    tapleaf_hash,
    taproot_merkle_root,
    taptweak_hash,
)

_ENC_FLAGS = DERSIG | LOW_S | STRICTENC
_P2SH_WITNESS = P2SH | WITNESS
_U32 = struct.Struct("<I")
_Q = struct.Struct("<q")
_sha256 = hashlib.sha256
_short = sha256_short
_pubkey_memo_get = secp._pubkey_memo.get
_pubkey_entry = secp.pubkey_entry
_parsed_memo_get = secp._parsed_memo.get
_parsed_pubkey = secp.parsed_pubkey
_COMPRESSED = secp.KEY_COMPRESSED
_LEN1 = tuple(bytes((i,)) for i in range(0xFD))  # a short script's length prefix
_verify_parsed = secp.ecdsa_verify_parsed
_valid_sig_encoding = secp.is_valid_signature_encoding
_schnorr_verify = secp.schnorr_verify
_tweak_check = secp.xonly_tweak_add_check


def _sig_ok(sig: bytes, flags: int) -> bool:
    """The signature (with its hash type byte) passes CheckSignatureEncoding for these
    flags, LOW_S aside (which ``ecdsa_verify_parsed`` checks); else: slow path."""
    if flags & _ENC_FLAGS:
        if not _valid_sig_encoding(sig):
            return False
        return not (flags & STRICTENC and not 1 <= (sig[-1] & 0x7F) <= 3)
    return 9 <= len(sig) <= 73


def _pub_ok(pub: bytes, flags: int, segwit: bool) -> bool:
    """The key (65 bytes starting 4, 6 or 7: ``secp.KEY_FULL``) passes CheckPubKeyEncoding
    and the witness key-type rule."""
    if segwit and flags & WITNESS_PUBKEYTYPE:
        return False
    return pub[0] == 4 or not flags & STRICTENC


#: a signature check a fast path leaves to its caller: ``(input index, public key,
#: DER signature with its hash-type byte, message)`` for ECDSA, ``(input index, x-only
#: key, signature, message)`` for BIP340, ``(input index, output key, parity, internal
#: key, tweak)`` for a taproot commitment; ``secp.first_failing(checks,
#: *check_options(flags))`` verifies them
SigCheck = tuple[Any, ...]


def check_options(flags: int) -> tuple[int, int]:
    """``secp.first_failing``'s ``strict_der`` and ``require_low_s`` for the checks left
    under ``flags`` (with any of the encoding flags the fast path checked strict DER)."""
    return flags & _ENC_FLAGS, flags & LOW_S


#: P2SH scripts paying to P2WPKH redeem scripts, by redeem script (see ``_wrapped``)
_wrapped_memo: dict[bytes, bytes | None] = {}
_wrapped_get = _wrapped_memo.get


def _wrapped(redeem: bytes) -> bytes | None:
    """The P2SH script paying to ``redeem`` (a P2WPKH script), memoised; None if its
    program is false as a stack item (the redeem script would leave false on the stack:
    EVAL_FALSE, for the interpreter to report)."""
    if not cast_to_bool(redeem[2:]):
        return None
    spk = b"\xa9\x14" + hash160(redeem) + b"\x87"
    if len(_wrapped_memo) >= secp.PUBKEY_MEMO_SIZE:
        _wrapped_memo.clear()
    _wrapped_memo[redeem] = spk
    return spk


def _verify_now(pub: bytes, sig: bytes, h: bytes, flags: int) -> bool:
    pk = _parsed_memo_get(pub) or _parsed_pubkey(pub)
    return pk is not None and _verify_parsed(pk, sig, h, flags & _ENC_FLAGS, flags & LOW_S)


# --- bare multisig (OP_m <keys> OP_n OP_CHECKMULTISIG) in P2SH or P2WSH ---


def _multisig_parts(script: bytes) -> tuple[int, list[bytes]] | None:
    """(m, keys) of the script OP_m <key>... OP_n OP_CHECKMULTISIG with 1 <= m <= n <= 16
    and 33- or 65-byte key pushes; else None."""
    size = len(script)
    if size < 37 or script[-1] != 0xAE:
        return None
    m = script[0] - 0x50
    n = script[-2] - 0x50
    if not 1 <= m <= n <= 16:
        return None
    keys = []
    pos = 1
    end = size - 2
    while pos < end:
        ln = script[pos]
        if ln != 33 and ln != 65:
            return None
        keys.append(script[pos + 1 : pos + 1 + ln])
        pos += 1 + ln
    if pos != end or len(keys) != n:
        return None
    return m, keys


def _pushes(script: bytes) -> list[bytes] | None:
    """What a script of minimal pushes only (OP_0, direct pushes of 2 to 75 bytes,
    PUSHDATA1 of 76 to 255) leaves on the stack; None for any other script."""
    items = []
    pos = 0
    size = len(script)
    while pos < size:
        op = script[pos]
        if op == 0:
            items.append(b"")
            pos += 1
            continue
        if 2 <= op <= 75:
            ln = op
            pos += 1
        elif op == 0x4C and pos + 1 < size and script[pos + 1] >= 76:
            ln = script[pos + 1]
            pos += 2
        else:
            return None
        if pos + ln > size:
            return None
        items.append(script[pos : pos + ln])
        pos += ln
    return items


def _multisig_ok(
    pre: PrecomputedTx, n_in: int, items: list[bytes], code: bytes, amount: int, flags: int,
    segwit: bool,
) -> bool:  # fmt: skip
    """``items`` (the dummy, the signatures) satisfy the multisig script ``code`` (also the
    signature hashes' scriptCode) by OP_CHECKMULTISIG's own search, every signature and
    key of an encoding that these flags accept; False also for anything unusual."""
    parts = _multisig_parts(code)
    if parts is None or items[0]:  # the dummy is empty (NULLDUMMY)
        return False
    m, keys = parts
    sigs = items[1:]
    if len(sigs) != m:
        return False
    for sig in sigs:
        if not sig or not _sig_ok(sig, flags):
            return False
        if not segwit and push_data(sig) in code:  # FindAndDelete would change scriptCode
            return False
    for key in keys:
        if len(key) == 33:
            if key[0] != 2 and key[0] != 3:
                return False
        elif key[0] not in (4, 6, 7) or not _pub_ok(key, flags, segwit):
            return False
    tx = pre.tx
    enc = flags & _ENC_FLAGS
    low = flags & LOW_S
    hashes: dict[int, bytes] = {}
    n_sigs = m
    n_keys = len(keys)
    isig = ikey = 0
    while n_sigs:  # Core's loop: each signature against the keys left, in order
        sig = sigs[isig]
        hash_type = sig[-1]
        h = hashes.get(hash_type)
        if h is None:
            if segwit:
                h = bip143_sighash(code, tx, n_in, hash_type, amount, pre)
            else:
                h = legacy_sighash(code, tx, n_in, hash_type, pre)
            hashes[hash_type] = h
        key = keys[ikey]
        pk = _parsed_memo_get(key) or _parsed_pubkey(key)
        if pk is not None and _verify_parsed(pk, sig[:-1], h, enc, low):
            isig += 1
            n_sigs -= 1
        ikey += 1
        n_keys -= 1
        if n_sigs > n_keys:
            return False
    return True


def _schnorr_parts(sig: bytes) -> tuple[bytes, int] | None:
    """A BIP340 signature as it stands in a witness: (the 64 bytes, the hash type; 0, the
    default, for a bare 64-byte one); None for any other size and for an explicit 0."""
    if len(sig) == 64:
        return sig, 0
    if len(sig) == 65 and sig[64] != 0:
        return sig[:64], sig[64]
    return None


# --- tapscript: a leaf of one key (<key> OP_CHECKSIG), inscription envelopes allowed ---


def _inert_envelopes(script: bytes, pos: int) -> bool:
    """``script[pos:]`` is nothing but ``OP_0 OP_IF <pushes> OP_ENDIF`` envelopes (as
    ordinals inscriptions are): data pushes of at most 520 bytes, OP_1NEGATE and OP_1 to
    OP_16 only. Executed after a successful OP_CHECKSIG, each leaves the stack as it was:
    OP_IF takes the empty vector (MINIMALIF allows it) and skips to OP_ENDIF, its
    pushes checked only for size, as Core does in an unexecuted branch; none is an
    OP_SUCCESSx. False for anything else, even what would be valid."""
    end = len(script)
    while pos < end:
        if script[pos] != 0 or pos + 1 >= end or script[pos + 1] != 0x63:  # OP_0 OP_IF
            return False
        pos += 2
        while True:
            if pos >= end:
                return False  # no OP_ENDIF: UNBALANCED_CONDITIONAL
            op = script[pos]
            pos += 1
            if op == 0x68:  # OP_ENDIF
                break
            if op <= 0x4B:
                size = op
            elif op == 0x4C:
                if pos >= end:
                    return False
                size = script[pos]
                pos += 1
            elif op == 0x4D:
                if pos + 2 > end:
                    return False
                size = script[pos] | script[pos + 1] << 8
                pos += 2
            elif op == 0x4E:
                if pos + 4 > end:
                    return False
                size = int.from_bytes(script[pos : pos + 4], "little")
                pos += 4
            elif op == 0x4F or 0x51 <= op <= 0x60:
                continue
            else:
                return False
            if size > MAX_SCRIPT_ELEMENT_SIZE or pos + size > end:
                return False
            pos += size
    return True


def _single_key_leaf(
    pre: PrecomputedTx,
    n_in: int,
    program: bytes,
    wit: tuple[bytes, ...],
    checks: list[SigCheck] | None,
) -> bool:
    """A script-path spend (signature, script, control block; no annex) of a tapscript
    leaf ``<32-byte key> OP_CHECKSIG`` followed by nothing or by ``_inert_envelopes``:
    valid if the control block commits to the leaf in the output key (the tweak check)
    and the signature verifies. With ``checks`` both EC checks are left there."""
    sig, script, control = wit
    size = len(control)
    if size < 33 or size > 33 + 32 * 128 or (size - 33) % 32 or control[0] & 0xFE != 0xC0:
        return False  # (a leaf version of 0xC0 also rules out an annex)
    if len(script) < 34 or script[0] != 32 or script[33] != 0xAC:
        return False
    if len(script) > 34 and not _inert_envelopes(script, 34):
        return False
    parts = _schnorr_parts(sig)
    if parts is None:
        return False  # (an empty signature fails the spend: the interpreter says how)
    sig, hash_type = parts
    leaf = tapleaf_hash(TAPROOT_LEAF_TAPSCRIPT, script)
    h = taproot_sighash(pre, n_in, hash_type, None, leaf)
    if h is None:
        return False
    internal = control[1:33]
    tweak = taptweak_hash(internal, taproot_merkle_root(control, leaf))
    key = script[1:33]
    if checks is not None:
        checks.append((n_in, program, control[0] & 1, internal, tweak))
        checks.append((n_in, key, sig, h))
        return True
    return _tweak_check(program, control[0] & 1, internal, tweak) and _schnorr_verify(key, sig, h)


def try_multisig(pre: PrecomputedTx, n_in: int, script_pubkey: bytes, amount: int,
                 flags: int) -> bool:  # fmt: skip
    """True if input ``n_in`` spends a bare multisig output, or a P2SH or P2WSH output
    whose script is one, with a signature for each of the first m keys that match and
    nothing else, and so certainly verifies under ``flags`` (the signatures are verified
    here; this search cannot be left to a worker as a list of checks). False: ask the
    interpreter."""
    spk = script_pubkey
    _, script_sig, _, wit = pre.tx.vin[n_in]
    n = len(spk)
    if n == 23 and spk[0] == 0xA9 and spk[1] == 20 and spk[22] == 0x87:  # P2SH
        if not flags & P2SH or wit:
            return False
        items = _pushes(script_sig)
        if items is None or len(items) < 3:
            return False
        redeem = items.pop()
        if hash160(redeem) != spk[2:22]:
            return False
        return _multisig_ok(pre, n_in, items, redeem, amount, flags, False)
    if n == 34 and spk[0] == 0 and spk[1] == 32:  # P2WSH
        if not flags & WITNESS or script_sig or len(wit) < 3:
            return False
        witness_script = wit[-1]
        if _sha256(witness_script).digest() != spk[2:]:
            return False
        return _multisig_ok(pre, n_in, list(wit[:-1]), witness_script, amount, flags, True)
    if n >= 37 and spk[-1] == 0xAE:  # bare multisig, if the script is one
        if wit or (flags & CLEANSTACK and not flags & WITNESS):
            return False
        items = _pushes(script_sig)
        if items is None or len(items) < 2:
            return False
        return _multisig_ok(pre, n_in, items, spk, amount, flags, False)
    return False


def try_fast_path(
    pre: PrecomputedTx,
    n_in: int,
    script_pubkey: bytes,
    amount: int,
    flags: int,
    checks: list[SigCheck] | None = None,
) -> bool:
    """True if input ``n_in`` is a standard spend that certainly verifies under ``flags``.

    With ``checks`` the final signature check is not done but appended there: True then
    means the input is valid if that check passes (and the interpreter fails it if not).
    The key is parsed only by the check: one that does not parse fails it. Without
    ``checks`` multisig spends are tried too (``try_multisig``)."""
    tx: Tx = pre.tx
    _, script_sig, _, wit = tx.vin[n_in]
    spk = script_pubkey
    n = len(spk)
    if n == 22 and spk[0] == 0 and spk[1] == 20:  # P2WPKH
        if not flags & WITNESS or script_sig or len(wit) != 2:
            return False
        sig, pub = wit
        entry = _pubkey_memo_get(pub) or _pubkey_entry(pub)
        kind = entry[0]
        if not kind or entry[2] != spk:
            return False
        segwit = True
    elif n == 34 and spk[0] == 0x51 and spk[1] == 32:  # P2TR key path
        if not flags & WITNESS or not flags & TAPROOT or script_sig or pre.spent_outputs is None:
            return False
        if len(wit) != 1:
            return len(wit) == 3 and _single_key_leaf(pre, n_in, spk[2:], wit, checks)
        parts = _schnorr_parts(wit[0])
        if parts is None:
            return False
        sig, hash_type = parts
        if hash_type <= 1:  # DEFAULT / ALL: the message differs only in the input index
            th = _sha256(pre.taproot_keypath_prefix(hash_type) + _U32.pack(n_in)).digest()
        else:
            other = taproot_sighash(pre, n_in, hash_type)
            if other is None:
                return False
            th = other
        if checks is not None:
            checks.append((n_in, spk[2:], sig, th))
            return True
        return _schnorr_verify(spk[2:], sig, th)
    elif n == 25 and spk[0] == 0x76:  # P2PKH, once the key's script matches
        if wit or (flags & CLEANSTACK and not flags & WITNESS) or not script_sig:
            return False
        ss = script_sig
        slen = ss[0]
        if not 9 <= slen <= 73 or len(ss) < slen + 2:
            return False
        plen = ss[slen + 1]
        if len(ss) != slen + 2 + plen or (plen != 33 and plen != 65):
            return False
        pub = ss[slen + 2 :]
        entry = _pubkey_memo_get(pub) or _pubkey_entry(pub)
        kind = entry[0]
        if not kind or entry[3] != spk:
            return False
        sig = ss[1 : slen + 1]
        sig_push = ss[: slen + 1]
        segwit = False
    elif n == 23 and spk[0] == 0xA9 and spk[1] == 20 and spk[22] == 0x87:  # P2SH-P2WPKH
        # the script signature pushes the redeem script, exactly (else the interpreter
        # fails it: WITNESS_MALLEATED_P2SH), and that is the P2WPKH script of the key
        if len(script_sig) != 23 or script_sig[0] != 22 or len(wit) != 2:
            return checks is None and try_multisig(pre, n_in, spk, amount, flags)
        if flags & _P2SH_WITNESS != _P2SH_WITNESS:
            return False
        sig, pub = wit
        entry = _pubkey_memo_get(pub) or _pubkey_entry(pub)
        kind = entry[0]
        redeem = entry[2]
        if not kind or script_sig[1:] != redeem:
            return False
        if (_wrapped_get(redeem) or _wrapped(redeem)) != spk:
            return False
        segwit = True
    elif ((n == 35 and spk[0] == 33) or (n == 67 and spk[0] == 65)) and spk[-1] == 0xAC:  # P2PK
        if wit or (flags & CLEANSTACK and not flags & WITNESS) or not script_sig:
            return False
        slen = script_sig[0]
        if not 9 <= slen <= 73 or len(script_sig) != slen + 1:
            return False
        sig = script_sig[1:]
        sig_push = script_sig
        pub = spk[1:-1]
        entry = _pubkey_memo_get(pub) or _pubkey_entry(pub)
        kind = entry[0]
        if not kind:
            return False
        segwit = False
    else:
        return checks is None and try_multisig(pre, n_in, spk, amount, flags)
    # one ECDSA signature ``sig`` by key ``pub`` (of ``entry``): P2WPKH bare or wrapped in
    # P2SH (``segwit``), else P2PKH or P2PK (``sig_push`` is how the script pushed it)
    if not _sig_ok(sig, flags) or (kind != _COMPRESSED and not _pub_ok(pub, flags, segwit)):
        return False
    if not segwit:
        if sig_push in spk:  # FindAndDelete would change the scriptCode
            return False
        if sig[-1] == 1:  # SIGHASH_ALL: legacy_sighash with per-transaction parts
            # (neither template holds an OP_CODESEPARATOR: the scriptCode is the script)
            head, blanks, tail = pre.legacy_all_parts()
            p = 41 * n_in
            h = _short(
                _sha256(
                    b"".join((head, blanks[: p + 36], _LEN1[n], spk, blanks[p + 37 :], tail))
                ).digest()
            ).digest()  # fmt: skip
        else:
            h = legacy_sighash(spk, tx, n_in, sig[-1], pre)
    elif sig[-1] == 1:  # SIGHASH_ALL: per-transaction parts precomputed
        head, blanks, tail, _ = pre.bip143_all_parts()
        p = 41 * n_in
        h = _short(
            _sha256(
                b"".join((head, blanks[p : p + 36], b"\x19\x76\xa9\x14", entry[1],
                          b"\x88\xac", _Q.pack(amount), blanks[p + 37 : p + 41], tail))
            ).digest()
        ).digest()  # fmt: skip
    else:
        script_code = b"\x76\xa9\x14" + entry[1] + b"\x88\xac"
        h = bip143_sighash(script_code, tx, n_in, sig[-1], amount, pre)
    if checks is not None:
        checks.append((n_in, pub, sig, h))  # (verified as check_options(flags) say)
        return True
    return _verify_now(pub, sig[:-1], h, flags)
