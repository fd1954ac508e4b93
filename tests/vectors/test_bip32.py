"""BIP32 derivation and serialization against the BIP's test vectors 1-5."""

from __future__ import annotations

import json

from pyrite.errors import DecodeError
from pyrite.wallet.bip32 import ExtKey, parse_path
from tests.conftest import vector_path


def test_bip32_valid_chains() -> None:
    data = json.loads(vector_path("bips/extracted/bip32_vectors.json").read_text())
    failures: list[str] = []
    n = 0
    for vec in data["valid"]:
        master = ExtKey.from_seed(bytes.fromhex(vec["seed"]))
        for chain in vec["chains"]:
            n += 1
            cid = f"{vec['name']} {chain['path']}"
            try:
                path = parse_path(chain["path"])
                prv = master.derive_path(path)
            except DecodeError as e:
                failures.append(f"{cid}: derivation raised {e}")
                continue
            if prv.to_string() != chain["ext_prv"]:
                failures.append(f"{cid}: xprv {prv.to_string()}")
            if prv.neuter().to_string() != chain["ext_pub"]:
                failures.append(f"{cid}: xpub {prv.neuter().to_string()}")
            # public derivation: from the deepest hardened ancestor's xpub, walk the
            # trailing non-hardened steps and land on the same xpub
            k = len(path)
            while k > 0 and path[k - 1] < 0x80000000:
                k -= 1
            try:
                pub = master.derive_path(path[:k]).neuter().derive_path(path[k:])
            except DecodeError as e:
                failures.append(f"{cid}: public derivation raised {e}")
            else:
                if pub.to_string() != chain["ext_pub"]:
                    failures.append(f"{cid}: public derivation gave {pub.to_string()}")
            # both strings parse and re-serialize unchanged
            for text in (chain["ext_prv"], chain["ext_pub"]):
                try:
                    again = ExtKey.from_string(text).to_string()
                except DecodeError as e:
                    failures.append(f"{cid}: parsing {text} raised {e}")
                    continue
                if again != text:
                    failures.append(f"{cid}: {text} round-tripped to {again}")
            # a hardened child of a public key is impossible
            try:
                prv.neuter().derive(0x80000000)
            except DecodeError:
                pass
            else:
                failures.append(f"{cid}: public key derived a hardened child")
    print(f"bip32_vectors.json valid: {n} derivations")
    assert n == 17, f"expected 17 derivations, ran {n}"
    assert not failures, f"{len(failures)} failures over {n} derivations:\n" + "\n".join(failures)


def test_bip32_invalid_keys() -> None:
    data = json.loads(vector_path("bips/extracted/bip32_vectors.json").read_text())
    failures: list[str] = []
    n = 0
    for i, case in enumerate(data["invalid"]):
        n += 1
        try:
            key = ExtKey.from_string(case["key"])
        except DecodeError:
            continue
        failures.append(f"invalid[{i}] ({case['reason']}): accepted as {key!r}")
    print(f"bip32_vectors.json invalid: {n} keys")
    assert n == 16, f"expected 16 invalid keys, ran {n}"
    assert not failures, f"{len(failures)} of {n} invalid keys accepted:\n" + "\n".join(failures)


def test_parse_path() -> None:
    assert parse_path("m") == []
    assert parse_path("m/0'/1/2h/3H") == [0x80000000, 1, 0x80000002, 0x80000003]
    assert parse_path("0/1") == [0, 1]
    for bad in ("m/", "m//1", "m/x", "m/-1", "m/2147483648", "m/1'h", "m/ 1", "n/1", "m/1/"):
        try:
            parse_path(bad)
        except DecodeError:
            continue
        raise AssertionError(f"parse_path accepted {bad!r}")
