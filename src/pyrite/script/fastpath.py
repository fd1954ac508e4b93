"""Fast paths for the three standard spends: P2PKH, P2WPKH and P2TR key path.

A fast path only ever answers "valid": it recognises the exact shape of a standard
spend, performs the checks the interpreter would perform on that shape, and returns
True when the signature verifies. In every other case (an unusual shape, a policy flag
that would object, a bad signature) it returns False and the caller runs the full
interpreter, so the error reported is always the interpreter's own.
"""

from __future__ import annotations

import hashlib
import struct

from pyrite.crypto import secp
from pyrite.primitives.tx import Tx
from pyrite.script.flags import (
    CLEANSTACK,
    DERSIG,
    LOW_S,
    STRICTENC,
    TAPROOT,
    WITNESS,
    WITNESS_PUBKEYTYPE,
)
from pyrite.script.sighash import PrecomputedTx, bip143_sighash, legacy_sighash, taproot_sighash

_ENC_FLAGS = DERSIG | LOW_S | STRICTENC
_U32 = struct.Struct("<I")
_Q = struct.Struct("<q")
_sha256 = hashlib.sha256
_pubkey_entry = secp.pubkey_entry
_verify_parsed = secp.ecdsa_verify_parsed
_is_strict_der = secp.is_strict_der
_schnorr_verify = secp.schnorr_verify


def _sig_ok(sig: bytes, flags: int) -> bool:
    """The signature passes CheckSignatureEncoding for these flags, LOW_S aside (which
    ``ecdsa_verify_parsed`` checks); else: slow path. ``sig`` is not empty."""
    if flags & _ENC_FLAGS:
        if not _is_strict_der(sig[:-1]):
            return False
        if flags & STRICTENC and not 1 <= (sig[-1] & 0x7F) <= 3:
            return False
    return True


def _pub_ok(pub: bytes, flags: int, segwit: bool) -> bool:
    n = len(pub)
    first = pub[0]
    if n == 33:
        return first == 2 or first == 3
    if n == 65:
        if segwit and flags & WITNESS_PUBKEYTYPE:
            return False
        return first == 4 or (not flags & STRICTENC and (first == 6 or first == 7))
    return False


def try_fast_path(
    pre: PrecomputedTx, n_in: int, script_pubkey: bytes, amount: int, flags: int
) -> bool:
    """True if input ``n_in`` is a standard spend that certainly verifies under ``flags``."""
    tx: Tx = pre.tx
    txin = tx.vin[n_in]
    spk = script_pubkey
    n = len(spk)
    if n == 22 and spk[0] == 0 and spk[1] == 20:  # P2WPKH
        if not flags & WITNESS or txin.script_sig:
            return False
        wit = txin.witness
        if len(wit) != 2:
            return False
        sig, pub = wit
        if not 9 <= len(sig) <= 73 or not pub:
            return False
        pk, h160 = _pubkey_entry(pub)
        if pk is None or h160 != spk[2:]:
            return False
        if not _pub_ok(pub, flags, True) or not _sig_ok(sig, flags):
            return False
        hash_type = sig[-1]
        if hash_type == 1:  # SIGHASH_ALL: per-transaction parts precomputed
            head, tail = pre.bip143_all_parts()
            op = txin.prevout
            h = _sha256(
                _sha256(
                    b"".join((head, op.txid, _U32.pack(op.n), b"\x19\x76\xa9\x14", spk[2:],
                              b"\x88\xac", _Q.pack(amount), _U32.pack(txin.sequence), tail))
                ).digest()
            ).digest()  # fmt: skip
        else:
            script_code = b"\x76\xa9\x14" + spk[2:] + b"\x88\xac"
            h = bip143_sighash(script_code, tx, n_in, hash_type, amount, pre)
        return _verify_parsed(pk, sig[:-1], h, bool(flags & _ENC_FLAGS), bool(flags & LOW_S))
    if n == 34 and spk[0] == 0x51 and spk[1] == 32:  # P2TR key path
        if not flags & WITNESS or not flags & TAPROOT or txin.script_sig:
            return False
        if pre.spent_outputs is None:
            return False
        wit = txin.witness
        if len(wit) != 1:
            return False
        sig = wit[0]
        if len(sig) == 64:
            hash_type = 0
        elif len(sig) == 65 and sig[64] != 0:
            hash_type = sig[64]
            sig = sig[:64]
        else:
            return False
        if hash_type <= 1:  # DEFAULT / ALL: the message differs only in the input index
            th: bytes | None = _sha256(
                pre.taproot_keypath_prefix(hash_type) + _U32.pack(n_in)
            ).digest()
        else:
            th = taproot_sighash(pre, n_in, hash_type)
        return th is not None and _schnorr_verify(spk[2:], sig, th)
    if (
        n == 25
        and spk[0] == 0x76
        and spk[1] == 0xA9
        and spk[2] == 20
        and spk[23] == 0x88
        and spk[24] == 0xAC
    ):  # P2PKH
        if txin.witness or (flags & CLEANSTACK and not flags & WITNESS):
            return False
        ss = txin.script_sig
        if not ss:
            return False
        slen = ss[0]
        if not 9 <= slen <= 73 or len(ss) < slen + 2:
            return False
        plen = ss[slen + 1]
        if plen not in (33, 65) or len(ss) != slen + 2 + plen:
            return False
        sig = ss[1 : slen + 1]
        pub = ss[slen + 2 :]
        pk, h160 = _pubkey_entry(pub)
        if pk is None or h160 != spk[3:23]:
            return False
        if not _pub_ok(pub, flags, False) or not _sig_ok(sig, flags):
            return False
        if ss[: slen + 1] in spk:  # FindAndDelete would change the scriptCode
            return False
        h = legacy_sighash(spk, tx, n_in, sig[-1], pre)
        return _verify_parsed(pk, sig[:-1], h, bool(flags & _ENC_FLAGS), bool(flags & LOW_S))
    return False
