"""BIP32 hierarchical deterministic keys.

An ``ExtKey`` holds either a private key (32 bytes) or a compressed public key
(33 bytes) with its chain code and position in the tree. Keys are derived from
a seed, walked down with ``derive`` / ``derive_path``, and serialized to the
Base58Check ``xprv``/``xpub`` (mainnet) or ``tprv``/``tpub`` (every test chain)
forms. Parsing applies every check in the BIP's list of invalid keys and raises
``DecodeError`` on failure.
"""

from __future__ import annotations

import hmac
import re
from dataclasses import dataclass

from coincurve import PublicKey

from pyrite.crypto.hashes import hash160
from pyrite.crypto.secp import SECP256K1_ORDER, pubkey_from_secret, pubkey_parses
from pyrite.encoding import base58
from pyrite.errors import DecodeError

HARDENED = 0x80000000
SERIALIZED_SIZE = 78
MIN_SEED_SIZE = 16
MAX_SEED_SIZE = 64

# (private version, public version) by network kind
VERSIONS: dict[str, tuple[int, int]] = {
    "main": (0x0488ADE4, 0x0488B21E),  # xprv / xpub
    "test": (0x04358394, 0x043587CF),  # tprv / tpub
}
_BY_VERSION: dict[int, tuple[str, bool]] = {}
for _net, (_prv, _pub) in VERSIONS.items():
    _BY_VERSION[_prv] = (_net, True)
    _BY_VERSION[_pub] = (_net, False)

_TEST_CHAINS = frozenset({"test", "testnet3", "testnet4", "signet", "regtest"})
_PATH_ITEM = re.compile(r"([0-9]{1,10})(['hH]?)")


def network_of(chain: str) -> str:
    """Version family for a chain name: "main" for mainnet, "test" for every test chain."""
    if chain == "main":
        return "main"
    if chain in _TEST_CHAINS:
        return "test"
    raise DecodeError(f"unknown chain {chain!r}")


def _hmac512(key: bytes, msg: bytes) -> bytes:
    return hmac.digest(key, msg, "sha512")


def _valid_secret(secret: bytes) -> bool:
    return len(secret) == 32 and 0 < int.from_bytes(secret, "big") < SECP256K1_ORDER


@dataclass(frozen=True, slots=True)
class ExtKey:
    """An extended private or public key.

    ``key`` is the 32-byte secret for a private key and the 33-byte compressed
    point for a public key. ``network`` is "main" or "test".
    """

    key: bytes
    chain_code: bytes
    depth: int = 0
    parent_fingerprint: bytes = b"\x00\x00\x00\x00"
    child_number: int = 0
    network: str = "main"

    @property
    def is_private(self) -> bool:
        return len(self.key) == 32

    @property
    def pubkey(self) -> bytes:
        """Compressed public key (33 bytes)."""
        return pubkey_from_secret(self.key, True) if self.is_private else self.key

    @property
    def identifier(self) -> bytes:
        return hash160(self.pubkey)

    @property
    def fingerprint(self) -> bytes:
        return self.identifier[:4]

    @classmethod
    def from_seed(cls, seed: bytes, network: str = "main") -> ExtKey:
        """Master key: HMAC-SHA512 keyed with "Bitcoin seed" over the seed."""
        if not MIN_SEED_SIZE <= len(seed) <= MAX_SEED_SIZE:
            raise DecodeError(f"seed must be {MIN_SEED_SIZE}..{MAX_SEED_SIZE} bytes")
        if network not in VERSIONS:
            raise DecodeError(f"unknown network {network!r}")
        i = _hmac512(b"Bitcoin seed", bytes(seed))
        if not _valid_secret(i[:32]):
            raise DecodeError("seed yields an invalid master key")
        return cls(i[:32], i[32:], network=network)

    def neuter(self) -> ExtKey:
        """The public extended key matching this one."""
        if not self.is_private:
            return self
        return ExtKey(
            self.pubkey,
            self.chain_code,
            self.depth,
            self.parent_fingerprint,
            self.child_number,
            self.network,
        )

    def derive(self, index: int) -> ExtKey:
        """Child ``index`` (add ``HARDENED`` for a hardened child).

        Raises ``DecodeError`` for a hardened child of a public key, an index
        outside 0..2**32-1, depth overflow, or the (astronomically rare) case
        where the BIP says the index yields no valid key.
        """
        if not 0 <= index <= 0xFFFFFFFF:
            raise DecodeError(f"child index {index} out of range")
        if self.depth >= 255:
            raise DecodeError("maximum derivation depth reached")
        ser_i = index.to_bytes(4, "big")
        if index >= HARDENED:
            if not self.is_private:
                raise DecodeError("hardened derivation needs a private key")
            data = b"\x00" + self.key + ser_i
        else:
            data = self.pubkey + ser_i
        i = _hmac512(self.chain_code, data)
        il, ir = i[:32], i[32:]
        tweak = int.from_bytes(il, "big")
        if tweak >= SECP256K1_ORDER:
            raise DecodeError(f"child {index} is invalid (IL >= n)")
        if self.is_private:
            k = (tweak + int.from_bytes(self.key, "big")) % SECP256K1_ORDER
            if k == 0:
                raise DecodeError(f"child {index} is invalid (zero key)")
            child_key = k.to_bytes(32, "big")
        else:
            try:
                point = PublicKey(self.key).add(il)
            except ValueError as e:  # tweak*G + K is the point at infinity
                raise DecodeError(f"child {index} is invalid (point at infinity)") from e
            child_key = bytes(point.format(compressed=True))
        return ExtKey(child_key, ir, self.depth + 1, self.fingerprint, index, self.network)

    def derive_path(self, path: str | list[int]) -> ExtKey:
        """Walk a path given as text ("m/0'/1/2h") or as a list of indexes."""
        indexes = parse_path(path) if isinstance(path, str) else path
        key = self
        for index in indexes:
            key = key.derive(index)
        return key

    # --- serialization ---

    def serialize(self) -> bytes:
        """The 78-byte BIP32 serialization."""
        prv_version, pub_version = VERSIONS[self.network]
        version = prv_version if self.is_private else pub_version
        keydata = b"\x00" + self.key if self.is_private else self.key
        return (
            version.to_bytes(4, "big")
            + bytes((self.depth,))
            + self.parent_fingerprint
            + self.child_number.to_bytes(4, "big")
            + self.chain_code
            + keydata
        )

    def to_string(self) -> str:
        """xprv/xpub/tprv/tpub text."""
        return base58.encode_check(self.serialize())

    def __str__(self) -> str:
        return self.to_string()

    @classmethod
    def deserialize(cls, data: bytes) -> ExtKey:
        """Parse the 78-byte serialization with every validity check of the BIP."""
        if len(data) != SERIALIZED_SIZE:
            raise DecodeError(f"extended key is {len(data)} bytes, not {SERIALIZED_SIZE}")
        version = int.from_bytes(data[0:4], "big")
        kind = _BY_VERSION.get(version)
        if kind is None:
            raise DecodeError(f"unknown extended key version {version:#010x}")
        network, private = kind
        depth = data[4]
        parent_fingerprint = data[5:9]
        child_number = int.from_bytes(data[9:13], "big")
        chain_code = data[13:45]
        keydata = data[45:78]
        if depth == 0:
            if parent_fingerprint != b"\x00\x00\x00\x00":
                raise DecodeError("zero depth with a non-zero parent fingerprint")
            if child_number != 0:
                raise DecodeError("zero depth with a non-zero child number")
        if private:
            if keydata[0] != 0:
                raise DecodeError("private extended key data must start with 0x00")
            key = keydata[1:]
            if not _valid_secret(key):
                raise DecodeError("private key not in 1..n-1")
        else:
            if keydata[0] not in (2, 3):
                raise DecodeError(f"invalid public key prefix {keydata[0]:02x}")
            if not pubkey_parses(keydata):
                raise DecodeError("public key is not on the curve")
            key = keydata
        return cls(key, chain_code, depth, parent_fingerprint, child_number, network)

    @classmethod
    def from_string(cls, text: str) -> ExtKey:
        """Parse xprv/xpub/tprv/tpub text."""
        return cls.deserialize(base58.decode_check(text, SERIALIZED_SIZE))


def parse_path(path: str) -> list[int]:
    """Indexes of a derivation path such as "m/0'/1/2h" ("m" alone is empty).

    A hardened step is marked with ``'``, ``h`` or ``H``. The leading "m" is
    optional; every step must be a decimal number below 2**31.
    """
    if not isinstance(path, str):
        raise DecodeError("path must be a str")
    parts = path.split("/")
    if parts[0] == "m":
        parts = parts[1:]
        if parts == [""]:  # "m/"
            raise DecodeError("empty path step")
    elif path == "":
        return []
    out: list[int] = []
    for part in parts:
        m = _PATH_ITEM.fullmatch(part)
        if m is None:
            raise DecodeError(f"invalid path step {part!r}")
        n = int(m.group(1))
        if n >= HARDENED:
            raise DecodeError(f"path index {n} out of range")
        out.append(n + HARDENED if m.group(2) else n)
    return out


def format_path(indexes: list[int]) -> str:
    """Text form of a list of indexes, hardened steps marked with ``'``."""
    steps = [f"{i - HARDENED}'" if i >= HARDENED else str(i) for i in indexes]
    return "/".join(["m", *steps])
