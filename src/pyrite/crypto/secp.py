"""secp256k1 through libsecp256k1 (coincurve's cffi bindings).

Verification mirrors Bitcoin Core's ``CPubKey::Verify`` (lax DER parsing, then
S normalisation, then verify) and ``XOnlyPubKey::VerifySchnorr``. The bindings
are called directly: the wrapper classes cost more than the curve arithmetic.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any

from coincurve import PrivateKey
from coincurve._libsecp256k1 import ffi, lib
from coincurve.context import GLOBAL_CONTEXT

from pyrite.crypto.hashes import ripemd160

_CTX = GLOBAL_CONTEXT.ctx
_ZERO64 = bytes(64)

_pubkey_parse = lib.secp256k1_ec_pubkey_parse
_sig_parse_compact = lib.secp256k1_ecdsa_signature_parse_compact
_sig_parse_der = lib.secp256k1_ecdsa_signature_parse_der
_sig_normalize = lib.secp256k1_ecdsa_signature_normalize
_ecdsa_verify = lib.secp256k1_ecdsa_verify
_xonly_parse = lib.secp256k1_xonly_pubkey_parse
_schnorr_verify = lib.secp256k1_schnorrsig_verify
_new = ffi.new

_sha256 = hashlib.sha256

SECP256K1_ORDER = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
HALF_ORDER = SECP256K1_ORDER >> 1


def pubkey_size_ok(pub: bytes) -> bool:
    """Core's CPubKey validity: the header byte fixes the length (33 or 65)."""
    if not pub:
        return False
    h = pub[0]
    if h in (2, 3):
        return len(pub) == 33
    if h in (4, 6, 7):
        return len(pub) == 65
    return False


def parse_der_lax(sig: bytes) -> bytes | None:
    """Core's ecdsa_signature_parse_der_lax, returning 64 bytes r||s.

    Returns None where Core's parser fails. An r or s that overflows 32 bytes or
    the group order yields all zeroes, a parsed signature that never verifies.
    """
    n = len(sig)
    pos = 0
    if pos == n or sig[pos] != 0x30:
        return None
    pos += 1
    if pos == n:
        return None
    lenbyte = sig[pos]
    pos += 1
    if lenbyte & 0x80:
        lenbyte -= 0x80
        if lenbyte > n - pos:
            return None
        pos += lenbyte
    parts: list[tuple[int, int]] = []
    for _ in range(2):
        if pos == n or sig[pos] != 0x02:
            return None
        pos += 1
        if pos == n:
            return None
        lenbyte = sig[pos]
        pos += 1
        if lenbyte & 0x80:
            lenbyte -= 0x80
            if lenbyte > n - pos:
                return None
            while lenbyte > 0 and sig[pos] == 0:
                pos += 1
                lenbyte -= 1
            if lenbyte >= 4:
                return None
            ilen = 0
            while lenbyte > 0:
                ilen = (ilen << 8) + sig[pos]
                pos += 1
                lenbyte -= 1
        else:
            ilen = lenbyte
        if ilen > n - pos:
            return None
        parts.append((pos, ilen))
        pos += ilen
    out = bytearray(64)
    for k, (ipos, ilen) in enumerate(parts):
        while ilen > 0 and sig[ipos] == 0:
            ilen -= 1
            ipos += 1
        if ilen > 32:
            return _ZERO64
        out[32 * k + 32 - ilen : 32 * k + 32] = sig[ipos : ipos + ilen]
    r = int.from_bytes(out[:32], "big")
    s = int.from_bytes(out[32:], "big")
    if r >= SECP256K1_ORDER or s >= SECP256K1_ORDER:
        return _ZERO64
    return bytes(out)


def ecdsa_verify(pub: bytes, der_sig: bytes, msg32: bytes) -> bool:
    """Mirror of CPubKey::Verify: lax DER, normalise S (high S accepted), verify."""
    if not pubkey_size_ok(pub):
        return False
    compact = parse_der_lax(der_sig)
    if compact is None:
        return False
    return ecdsa_verify_compact(pub, compact, msg32)


def ecdsa_verify_compact(pub: bytes, compact64: bytes, msg32: bytes) -> bool:
    """Verify a 64-byte r||s signature (S normalised first) against a serialized pubkey."""
    pk = parsed_pubkey(pub)
    if pk is None:
        return False
    sg = _new("secp256k1_ecdsa_signature *")
    if not _sig_parse_compact(_CTX, sg, compact64):
        return False
    _sig_normalize(_CTX, sg, sg)
    return bool(_ecdsa_verify(_CTX, sg, msg32, pk))


# --- memos of public keys ---
# Parsing a compressed key costs a field square root (about 4 us, a sixth of a
# verification) and hashing it for a P2PKH/P2WPKH match about 1.5 us. Keys recur
# (address reuse, change), so both are memoised per serialized key, apart: the fast paths
# need the hashes where the scripts run, the parsed key is needed where the signature is
# verified, which with -par is often another process. The memos only save work: an entry
# is exactly what parsing or hashing that key again would give.
# Bounded; cleared whole when full (cheaper than tracking recency).
PUBKEY_MEMO_SIZE = 16384
_pubkey_memo: dict[bytes, tuple[int, bytes, bytes, bytes]] = {}
_parsed_memo: dict[bytes, Any] = {}
_xonly_memo: dict[bytes, Any] = {}

#: ``pubkey_entry``'s first item: the key's encoding by its size and header byte
KEY_BAD, KEY_COMPRESSED, KEY_FULL = 0, 1, 2


def pubkey_entry(pub: bytes) -> tuple[int, bytes, bytes, bytes]:
    """(``KEY_COMPRESSED`` for 33 bytes starting 2 or 3, ``KEY_FULL`` for 65 bytes starting
    4, 6 or 7, else ``KEY_BAD``; the HASH160 of the serialized key; the P2WPKH script and
    the P2PKH script paying to that hash). A key of a good shape may still fail to parse
    (not on the curve): ``parsed_pubkey`` tells."""
    entry = _pubkey_memo.get(pub)
    if entry is None:
        n = len(pub)
        h = pub[0] if n else 0
        if n == 33 and (h == 2 or h == 3):
            kind = KEY_COMPRESSED
        elif n == 65 and (h == 4 or h == 6 or h == 7):
            kind = KEY_FULL
        else:
            kind = KEY_BAD
        h160 = ripemd160(_sha256(pub).digest())
        entry = (kind, h160, b"\x00\x14" + h160, b"\x76\xa9\x14" + h160 + b"\x88\xac")
        if len(_pubkey_memo) >= PUBKEY_MEMO_SIZE:
            _pubkey_memo.clear()
        _pubkey_memo[pub] = entry
    return entry


def parsed_pubkey(pub: bytes) -> Any:
    """The key parsed by libsecp256k1 (for ``ecdsa_verify_parsed``), None if it does not
    parse (Core's CPubKey::IsFullyValid fails)."""
    pk = _parsed_memo.get(pub)
    if pk is None:
        pk = _new("secp256k1_pubkey *")
        if not _pubkey_parse(_CTX, pk, pub, len(pub)):
            return None
        if len(_parsed_memo) >= PUBKEY_MEMO_SIZE:
            _parsed_memo.clear()
        _parsed_memo[pub] = pk
    return pk


def _xonly_parsed(xonly32: bytes) -> Any:
    pk = _xonly_memo.get(xonly32)
    if pk is None:
        pk = _new("secp256k1_xonly_pubkey *")
        if not _xonly_parse(_CTX, pk, xonly32):
            return None
        if len(_xonly_memo) >= PUBKEY_MEMO_SIZE:
            _xonly_memo.clear()
        _xonly_memo[xonly32] = pk
    return pk


def ecdsa_verify_parsed(
    pk: Any, der_sig: bytes, msg32: bytes, strict_der: int, require_low_s: int
) -> bool:
    """Verify with a key from ``parsed_pubkey``. ``strict_der`` (nonzero) says the caller
    checked ``is_strict_der(der_sig)``, so libsecp256k1's DER parser gives what the lax one
    would; with ``require_low_s`` a high-S signature is refused (False) instead of normalised."""
    sg = _new("secp256k1_ecdsa_signature *")
    return _verify_with(sg, pk, der_sig, len(der_sig), msg32, strict_der, require_low_s)


def _verify_with(
    sg: Any, pk: Any, sig: bytes, n: int, msg32: bytes, strict_der: int, require_low_s: int
) -> bool:
    """``ecdsa_verify_parsed`` of the DER signature ``sig[:n]`` (no copy is made) with the
    signature buffer ``sg`` supplied."""
    if strict_der:
        if not _sig_parse_der(_CTX, sg, sig, n):
            return False
    else:
        compact = parse_der_lax(sig[:n])
        if compact is None or not _sig_parse_compact(_CTX, sg, compact):
            return False
    if _sig_normalize(_CTX, sg, sg) and require_low_s:
        return False
    return bool(_ecdsa_verify(_CTX, sg, msg32, pk))


def first_failing(checks: Iterable[tuple[Any, ...]], strict_der: int, require_low_s: int) -> int:
    """Position of the first of ``checks`` that fails, -1 when all pass. A check is ``(_,
    serialized key, signature with its hash-type byte, msg32)`` for ECDSA (the key has 33
    or 65 bytes; verified as ``ecdsa_verify_parsed`` with ``strict_der`` and
    ``require_low_s``, the same for all of them), ``(_, x-only key, signature, msg)`` for
    ``schnorr_verify`` (the key has 32 bytes) or ``(_, output key, parity, internal key,
    tweak)`` for ``xonly_tweak_add_check``. One signature buffer serves every check,
    which saves about 1 us a check."""
    sg = _new("secp256k1_ecdsa_signature *")
    memo_get = _parsed_memo.get
    verify = _verify_with
    i = -1
    for check in checks:
        i += 1
        if len(check) == 4:
            _, key, sig, msg = check
            if len(key) != 32:
                pk = memo_get(key) or parsed_pubkey(key)
                if pk is None or not verify(sg, pk, sig, len(sig) - 1, msg, strict_der,
                                            require_low_s):  # fmt: skip
                    return i
            elif not schnorr_verify(key, sig, msg):
                return i
        elif not xonly_tweak_add_check(check[1], check[2], check[3], check[4]):
            return i
    return -1


def pubkey_parses(pub: bytes) -> bool:
    pk = _new("secp256k1_pubkey *")
    return bool(_pubkey_parse(_CTX, pk, pub, len(pub)))


def schnorr_verify(xonly32: bytes, sig64: bytes, msg: bytes) -> bool:
    """BIP340 verification (XOnlyPubKey::VerifySchnorr)."""
    if len(sig64) != 64 or len(xonly32) != 32:
        return False
    pk = _xonly_parsed(xonly32)
    if pk is None:
        return False
    return bool(_schnorr_verify(_CTX, sig64, msg, len(msg), pk))


def xonly_tweak_add_check(output32: bytes, parity: int, internal32: bytes, tweak32: bytes) -> bool:
    """True if output = internal + tweak*G with the given Y parity (Core's CheckTapTweak)."""
    pk = _new("secp256k1_xonly_pubkey *")
    if not _xonly_parse(_CTX, pk, internal32):
        return False
    return bool(lib.secp256k1_xonly_pubkey_tweak_add_check(_CTX, output32, parity, pk, tweak32))


def xonly_tweak_add(internal32: bytes, tweak32: bytes) -> tuple[bytes, int] | None:
    """Return (x-only output key, parity) of internal + tweak*G, or None if invalid."""
    pk = _new("secp256k1_xonly_pubkey *")
    if not _xonly_parse(_CTX, pk, internal32):
        return None
    full = _new("secp256k1_pubkey *")
    if not lib.secp256k1_xonly_pubkey_tweak_add(_CTX, full, pk, tweak32):
        return None
    out = _new("secp256k1_xonly_pubkey *")
    parity = _new("int *")
    lib.secp256k1_xonly_pubkey_from_pubkey(_CTX, out, parity, full)
    ser = _new("unsigned char[32]")
    lib.secp256k1_xonly_pubkey_serialize(_CTX, ser, out)
    return bytes(ffi.buffer(ser, 32)), int(parity[0])


def xonly_pubkey_valid(xonly32: bytes) -> bool:
    pk = _new("secp256k1_xonly_pubkey *")
    return len(xonly32) == 32 and bool(_xonly_parse(_CTX, pk, xonly32))


# --- signing (tests, tools and the wallet; not on any validation path) ---


def pubkey_from_secret(secret32: bytes, compressed: bool = True) -> bytes:
    return bytes(PrivateKey(secret32).public_key.format(compressed=compressed))


def xonly_from_secret(secret32: bytes) -> bytes:
    return bytes(PrivateKey(secret32).public_key.format(compressed=True))[1:]


def ecdsa_sign(secret32: bytes, msg32: bytes) -> bytes:
    """RFC6979 deterministic, low-S, strict DER signature."""
    return bytes(PrivateKey(secret32).sign(msg32, hasher=None))


def schnorr_sign(secret32: bytes, msg: bytes, aux32: bytes | None = None) -> bytes:
    """BIP340 signature of a message of any length (aux32: 32 bytes of auxiliary randomness)."""
    keypair = _new("secp256k1_keypair *")
    if not lib.secp256k1_keypair_create(_CTX, keypair, secret32):
        raise ValueError("invalid secret key")
    params = _new("secp256k1_schnorrsig_extraparams *")
    params.magic = [0xDA, 0x6F, 0xB3, 0x8C]
    params.noncefp = ffi.NULL
    aux = _new("unsigned char[32]", aux32) if aux32 is not None else ffi.NULL
    params.ndata = aux
    sig = _new("unsigned char[64]")
    if not lib.secp256k1_schnorrsig_sign_custom(_CTX, sig, msg, len(msg), keypair, params):
        raise ValueError("schnorr signing failed")
    return bytes(ffi.buffer(sig, 64))


def seckey_tweak_add(secret32: bytes, tweak32: bytes) -> bytes:
    return bytes(PrivateKey(secret32).add(tweak32).secret)


def seckey_negate_if_odd_y(secret32: bytes) -> bytes:
    """Negate the secret key if its public key has odd Y (BIP340 key normalisation)."""
    pub = pubkey_from_secret(secret32)
    if pub[0] == 3:
        return (SECP256K1_ORDER - int.from_bytes(secret32, "big")).to_bytes(32, "big")
    return secret32


def taproot_tweak_seckey(secret32: bytes, tweak32: bytes) -> bytes:
    """BIP341 taproot_tweak_seckey: normalise to even Y, then add the tweak."""
    return seckey_tweak_add(seckey_negate_if_odd_y(secret32), tweak32)


def is_valid_signature_encoding(sig: bytes) -> bool:
    """BIP66 strict DER for a signature with its sighash byte at the end (Core's
    IsValidSignatureEncoding)."""
    n = len(sig)
    if n < 9 or n > 73:
        return False
    if sig[0] != 0x30 or sig[1] != n - 3:
        return False
    len_r = sig[3]
    if 5 + len_r >= n:
        return False
    len_s = sig[5 + len_r]
    if len_r + len_s + 7 != n:
        return False
    if sig[2] != 0x02 or len_r == 0 or sig[4] & 0x80:
        return False
    if len_r > 1 and sig[4] == 0 and not (sig[5] & 0x80):
        return False
    if sig[len_r + 4] != 0x02 or len_s == 0 or sig[len_r + 6] & 0x80:
        return False
    return not (len_s > 1 and sig[len_r + 6] == 0 and not (sig[len_r + 7] & 0x80))


def is_strict_der(sig: bytes) -> bool:
    """BIP66 strict DER for a bare signature (no sighash byte)."""
    return is_valid_signature_encoding(sig + b"\x01")


def is_low_s(der_sig: bytes) -> bool:
    """True if the (laxly parsed) signature's S is at most half the group order."""
    compact = parse_der_lax(der_sig)
    if compact is None:
        return False
    return int.from_bytes(compact[32:], "big") <= HALF_ORDER


def ecdsa_verify_strict(pub: bytes, der_sig: bytes, msg32: bytes) -> bool:
    """Strict DER, low S and a valid signature: Bitcoin's standardness rules for ECDSA."""
    return is_strict_der(der_sig) and is_low_s(der_sig) and ecdsa_verify(pub, der_sig, msg32)
