"""Bech32 / Bech32m strings and segwit addresses against the BIP173 and BIP350 vectors.

BIP350 supersedes BIP173 for witness versions 1..16: the BIP173 "valid" v1+
addresses (flag ``valid_after_bip350`` false) must still be valid Bech32 strings
but must be rejected as segwit addresses.
"""

from __future__ import annotations

import json
from typing import Any

from pyrite.encoding import bech32
from pyrite.encoding.bech32 import Spec
from pyrite.errors import DecodeError
from tests.conftest import vector_path

HRPS = ("bc", "tb", "bcrt")


def _check_valid_string(cid: str, s: str, spec: Spec, failures: list[str]) -> None:
    try:
        hrp, data, got_spec = bech32.decode(s)
    except DecodeError as e:
        failures.append(f"{cid}: decode raised {e}")
        return
    if got_spec is not spec:
        failures.append(f"{cid}: decoded as {got_spec.name}, want {spec.name}")
    try:
        again = bech32.encode(hrp, data, spec)
    except DecodeError as e:
        failures.append(f"{cid}: re-encode raised {e}")
        return
    if again != s.lower():
        failures.append(f"{cid}: re-encoded to {again!r}")
    # one flipped data character must break the checksum
    pos = s.rfind("1") + 1
    c = s[pos].lower()
    swapped = bech32.CHARSET[(bech32.CHARSET.index(c) + 1) % 32]
    if s.isupper():
        swapped = swapped.upper()
    mutated = s[:pos] + swapped + s[pos + 1 :]
    try:
        bech32.decode(mutated)
    except DecodeError:
        pass
    else:
        failures.append(f"{cid}: mutated {mutated!r} still decoded")


def _check_invalid_string(cid: str, s: str, failures: list[str]) -> None:
    try:
        got = bech32.decode(s)
    except DecodeError:
        return
    failures.append(f"{cid}: decoded to {got!r}")


def _check_valid_address(cid: str, case: dict[str, Any], ok: bool, failures: list[str]) -> None:
    addr = case["address"]
    script = bytes.fromhex(case["scriptPubKey"])
    hrp = addr[: addr.rfind("1")].lower()
    if not ok:
        # still a well-formed Bech32 string, only no longer a valid segwit address
        try:
            got_spec = bech32.decode(addr)[2]
        except DecodeError as e:
            failures.append(f"{cid}: no longer decodes as a Bech32 string: {e}")
        else:
            if got_spec is not Spec.BECH32:
                failures.append(f"{cid}: decoded as {got_spec.name}, want BECH32")
    try:
        version, program = bech32.segwit_decode(hrp, addr)
    except DecodeError as e:
        if ok:
            failures.append(f"{cid}: segwit_decode raised {e}")
        return
    if not ok:
        failures.append(f"{cid}: accepted, but it is invalid after BIP350")
        return
    if version != case["witness_version"]:
        failures.append(f"{cid}: version {version}, want {case['witness_version']}")
    op = 0 if version == 0 else 0x50 + version
    got_script = bytes((op, len(program))) + program
    if got_script != script:
        failures.append(f"{cid}: script {got_script.hex()}, want {script.hex()}")
    try:
        again = bech32.segwit_encode(hrp, version, program)
    except DecodeError as e:
        failures.append(f"{cid}: segwit_encode raised {e}")
        return
    if again != addr.lower():
        failures.append(f"{cid}: re-encoded to {again!r}")
    for other in HRPS:
        if other == hrp:
            continue
        try:
            bech32.segwit_decode(other, addr)
        except DecodeError:
            continue
        failures.append(f"{cid}: accepted with hrp {other!r}")


def _check_invalid_address(cid: str, addr: str, failures: list[str]) -> None:
    for hrp in HRPS:
        try:
            got = bech32.segwit_decode(hrp, addr)
        except DecodeError:
            continue
        failures.append(f"{cid}: accepted with hrp {hrp!r} as {got!r}")


def _run(name: str, spec: Spec) -> tuple[int, list[str], dict[str, int]]:
    data = json.loads(vector_path("bips/extracted", name).read_text())
    failures: list[str] = []
    counts: dict[str, int] = {}
    label = "bech32" if spec is Spec.BECH32 else "bech32m"
    for i, s in enumerate(data[f"valid_{label}"]):
        _check_valid_string(f"{name} valid_{label}[{i}] {s!r}", s, spec, failures)
    counts[f"valid_{label}"] = len(data[f"valid_{label}"])
    for i, case in enumerate(data[f"invalid_{label}"]):
        s = case["string"]
        _check_invalid_string(f"{name} invalid_{label}[{i}] {s!r} ({case['reason']})", s, failures)
    counts[f"invalid_{label}"] = len(data[f"invalid_{label}"])
    for i, case in enumerate(data["valid_segwit_addresses"]):
        ok = case.get("valid_after_bip350", True)
        cid = f"{name} valid_segwit_addresses[{i}] {case['address']!r}"
        _check_valid_address(cid, case, ok, failures)
    counts["valid_segwit_addresses"] = len(data["valid_segwit_addresses"])
    for i, case in enumerate(data["invalid_segwit_addresses"]):
        addr = case["address"]
        cid = f"{name} invalid_segwit_addresses[{i}] {addr!r} ({case['reason']})"
        _check_invalid_address(cid, addr, failures)
    counts["invalid_segwit_addresses"] = len(data["invalid_segwit_addresses"])
    return sum(counts.values()), failures, counts


def test_bip173_vectors() -> None:
    n, failures, counts = _run("bip173_vectors.json", Spec.BECH32)
    print(f"bip173_vectors.json: {n} cases {counts}")
    assert n == 7 + 12 + 6 + 10, f"expected 35 cases, ran {n}"
    assert not failures, f"{len(failures)} failures over {n} cases:\n" + "\n".join(failures)


def test_bip350_vectors() -> None:
    n, failures, counts = _run("bip350_vectors.json", Spec.BECH32M)
    print(f"bip350_vectors.json: {n} cases {counts}")
    assert n == 7 + 14 + 8 + 15, f"expected 44 cases, ran {n}"
    assert not failures, f"{len(failures)} failures over {n} cases:\n" + "\n".join(failures)


def test_convertbits_padding_rules() -> None:
    assert bech32.convertbits([0xFF], 8, 5, True) == [31, 28]
    for bad in ([31, 29], [0, 0, 0]):  # non-zero padding; 7 padding bits
        try:
            bech32.convertbits(bad, 5, 8, False)
        except DecodeError:
            continue
        raise AssertionError(f"convertbits accepted {bad}")
    try:
        bech32.convertbits([32], 5, 8, True)
    except DecodeError:
        pass
    else:
        raise AssertionError("convertbits accepted a 6-bit value")
