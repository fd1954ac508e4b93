"""Base58 (no checksum) against Bitcoin Core's base58_encode_decode.json."""

from __future__ import annotations

import json

from pyrite.encoding import base58
from pyrite.errors import DecodeError
from tests.conftest import vector_path


def test_base58_encode_decode() -> None:
    cases = json.loads(
        vector_path("bitcoin-core/src/test/data/base58_encode_decode.json").read_text()
    )
    failures: list[str] = []
    n = 0
    for idx, case in enumerate(cases):
        hex_data, text = case
        n += 1
        data = bytes.fromhex(hex_data)
        got = base58.encode(data)
        if got != text:
            failures.append(f"case {idx} ({hex_data!r}): encode gave {got!r}, want {text!r}")
        try:
            back = base58.decode(text)
        except DecodeError as e:
            failures.append(f"case {idx} ({text!r}): decode raised {e}")
            continue
        if back != data:
            failures.append(f"case {idx} ({text!r}): decode gave {back.hex()}, want {hex_data}")
    print(f"base58_encode_decode.json: {n} cases")
    assert n == 21, f"expected 21 cases, ran {n}"
    assert not failures, f"{len(failures)} failures over {n} cases:\n" + "\n".join(failures)


def test_base58_rejects_bad_text() -> None:
    """Core's rules: bad characters and inner whitespace fail, outer whitespace is skipped."""
    bad = ["invalid0", "l", "I", "O", "0", "3SEo3LW LoPntC", "3SEo3LWLo\tPntC", "\u00e9", "skip x"]
    for s in bad:
        try:
            base58.decode(s)
        except DecodeError:
            continue
        raise AssertionError(f"decode accepted {s!r}")
    assert base58.decode(" \t\n\v\f\r 3SEo3LWLoPntC \r\f\v\n\t ") == bytes.fromhex(
        "bf4f89001e670274dd"
    )
    assert base58.decode(" \t\n ") == b""


def test_base58check() -> None:
    payload = bytes.fromhex("00eb15231dfceb60925886b67d065299925915aeb1")
    s = base58.encode_check(payload)
    assert base58.decode_check(s) == payload
    # flip the last character: checksum must fail
    bad = s[:-1] + ("2" if s[-1] != "2" else "3")
    for text in (bad, "", "1", "111"):
        try:
            base58.decode_check(text)
        except DecodeError:
            continue
        raise AssertionError(f"decode_check accepted {text!r}")
    try:
        base58.decode_check(s, max_len=20)
    except DecodeError:
        pass
    else:
        raise AssertionError("decode_check ignored max_len")
