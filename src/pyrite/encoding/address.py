"""Addresses and WIF private keys for each chain, plus standard output-script templates.

Chains are named as in Bitcoin Core: ``main``, ``test`` (testnet3), ``testnet4``,
``signet`` and ``regtest``. The three public test networks share every prefix.
Scripts are handled as plain byte patterns; nothing here depends on the script
layer.
"""

from __future__ import annotations

from dataclasses import dataclass

from pyrite.crypto.secp import SECP256K1_ORDER
from pyrite.encoding import base58, bech32
from pyrite.errors import DecodeError

OP_0 = 0x00
OP_1 = 0x51
OP_16 = 0x60
OP_DUP = 0x76
OP_HASH160 = 0xA9
OP_EQUAL = 0x87
OP_EQUALVERIFY = 0x88
OP_CHECKSIG = 0xAC


@dataclass(frozen=True, slots=True)
class AddressParams:
    """Per-chain address prefixes (Core's CChainParams base58 prefixes and bech32 hrp)."""

    name: str
    pubkey_prefix: int  # base58 version byte of P2PKH addresses
    script_prefix: int  # base58 version byte of P2SH addresses
    secret_prefix: int  # WIF version byte
    hrp: str  # bech32 human-readable part


_MAIN = AddressParams("main", 0, 5, 128, "bc")
_TEST = AddressParams("test", 111, 196, 239, "tb")

CHAINS: dict[str, AddressParams] = {
    "main": _MAIN,
    "test": _TEST,
    "testnet4": AddressParams("testnet4", 111, 196, 239, "tb"),
    "signet": AddressParams("signet", 111, 196, 239, "tb"),
    "regtest": AddressParams("regtest", 111, 196, 239, "bcrt"),
}


def params(chain: str) -> AddressParams:
    """Prefixes of ``chain``; an unknown name raises ``DecodeError``."""
    try:
        return CHAINS[chain]
    except (KeyError, TypeError):
        raise DecodeError(f"unknown chain {chain!r}") from None


# --- script templates ---


def _push(data: bytes) -> bytes:
    return bytes((len(data),)) + data


def p2pkh_script(h160: bytes) -> bytes:
    """OP_DUP OP_HASH160 <20 bytes> OP_EQUALVERIFY OP_CHECKSIG."""
    if len(h160) != 20:
        raise DecodeError("P2PKH needs a 20-byte hash")
    return bytes((OP_DUP, OP_HASH160)) + _push(h160) + bytes((OP_EQUALVERIFY, OP_CHECKSIG))


def p2sh_script(h160: bytes) -> bytes:
    """OP_HASH160 <20 bytes> OP_EQUAL."""
    if len(h160) != 20:
        raise DecodeError("P2SH needs a 20-byte hash")
    return bytes((OP_HASH160,)) + _push(h160) + bytes((OP_EQUAL,))


def witness_script(version: int, program: bytes) -> bytes:
    """OP_n <program>: a witness program output (version 0..16, program 2..40 bytes)."""
    if not 0 <= version <= 16:
        raise DecodeError(f"invalid witness version {version}")
    if not 2 <= len(program) <= 40:
        raise DecodeError(f"invalid witness program length {len(program)}")
    op = OP_0 if version == 0 else OP_1 + version - 1
    return bytes((op,)) + _push(program)


def p2wpkh_script(h160: bytes) -> bytes:
    """OP_0 <20-byte key hash>."""
    if len(h160) != 20:
        raise DecodeError("P2WPKH needs a 20-byte hash")
    return witness_script(0, h160)


def p2wsh_script(h256: bytes) -> bytes:
    """OP_0 <32-byte script hash>."""
    if len(h256) != 32:
        raise DecodeError("P2WSH needs a 32-byte hash")
    return witness_script(0, h256)


def p2tr_script(xonly32: bytes) -> bytes:
    """OP_1 <32-byte x-only output key>."""
    if len(xonly32) != 32:
        raise DecodeError("P2TR needs a 32-byte x-only key")
    return witness_script(1, xonly32)


def parse_witness_program(script: bytes) -> tuple[int, bytes] | None:
    """(version, program) if ``script`` is a witness program (BIP141), else None."""
    n = len(script)
    if n < 4 or n > 42:
        return None
    op = script[0]
    if op != OP_0 and not OP_1 <= op <= OP_16:
        return None
    if script[1] + 2 != n:
        return None
    return (0 if op == OP_0 else op - OP_1 + 1), bytes(script[2:])


def _is_p2pkh(s: bytes) -> bool:
    return (
        len(s) == 25
        and s[0] == OP_DUP
        and s[1] == OP_HASH160
        and s[2] == 20
        and s[23] == OP_EQUALVERIFY
        and s[24] == OP_CHECKSIG
    )


def _is_p2sh(s: bytes) -> bool:
    return len(s) == 23 and s[0] == OP_HASH160 and s[1] == 20 and s[22] == OP_EQUAL


# --- addresses ---


def script_to_address(script_pubkey: bytes, chain: str) -> str | None:
    """Address of a P2PKH, P2SH or witness-program output; None for anything else.

    A version 0 program must be 20 or 32 bytes, as in Core's ``ExtractDestination``.
    """
    p = params(chain)
    s = bytes(script_pubkey)
    if _is_p2pkh(s):
        return base58.encode_check(bytes((p.pubkey_prefix,)) + s[3:23])
    if _is_p2sh(s):
        return base58.encode_check(bytes((p.script_prefix,)) + s[2:22])
    wp = parse_witness_program(s)
    if wp is None:
        return None
    version, program = wp
    if version == 0 and len(program) not in (20, 32):
        return None
    return bech32.segwit_encode(p.hrp, version, program)


def address_to_script(addr: str, chain: str) -> bytes:
    """Output script paying to ``addr``; ``DecodeError`` if it is not valid on ``chain``.

    As in Core's ``DecodeDestination``, a string that starts with the chain's hrp
    (any case) is read only as Bech32; anything else is tried as Base58Check.
    """
    p = params(chain)
    if not isinstance(addr, str):
        raise DecodeError("address must be a str")
    if addr[: len(p.hrp)].lower() != p.hrp:
        try:
            payload: bytes | None = base58.decode_check(addr, 21)
        except DecodeError:
            payload = None
        if payload is not None:
            if len(payload) != 21:
                raise DecodeError("base58 address payload is not 21 bytes")
            if payload[0] == p.pubkey_prefix:
                return p2pkh_script(payload[1:])
            if payload[0] == p.script_prefix:
                return p2sh_script(payload[1:])
            raise DecodeError("base58 address has the wrong version byte for this chain")
    hrp, version, program = bech32.segwit_decode_any(addr)
    if hrp != p.hrp:
        raise DecodeError(f"address hrp {hrp!r} does not belong to chain {p.name!r}")
    return witness_script(version, program)


def is_valid_address(addr: str, chain: str) -> bool:
    try:
        address_to_script(addr, chain)
    except DecodeError:
        return False
    return True


# --- WIF private keys ---


def encode_wif(secret32: bytes, compressed: bool, chain: str) -> str:
    """Wallet Import Format text for a 32-byte secret key."""
    p = params(chain)
    if len(secret32) != 32:
        raise DecodeError("secret key must be 32 bytes")
    if not 0 < int.from_bytes(secret32, "big") < SECP256K1_ORDER:
        raise DecodeError("secret key out of range")
    body = bytes((p.secret_prefix,)) + bytes(secret32)
    return base58.encode_check(body + b"\x01" if compressed else body)


def decode_wif(s: str, chain: str) -> tuple[bytes, bool]:
    """(32-byte secret, compressed flag) of a WIF string valid on ``chain``."""
    p = params(chain)
    payload = base58.decode_check(s, 34)
    if len(payload) == 34:
        if payload[33] != 1:
            raise DecodeError("WIF compression flag must be 0x01")
        compressed = True
    elif len(payload) == 33:
        compressed = False
    else:
        raise DecodeError(f"WIF payload has length {len(payload)}")
    if payload[0] != p.secret_prefix:
        raise DecodeError("WIF version byte does not belong to this chain")
    secret = payload[1:33]
    if not 0 < int.from_bytes(secret, "big") < SECP256K1_ORDER:
        raise DecodeError("WIF secret key out of range")
    return secret, compressed
