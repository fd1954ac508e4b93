"""Addresses and WIF keys against Bitcoin Core's key_io_valid.json / key_io_invalid.json.

Mirrors Core's key_io_tests: a valid address decodes to its script and the script
encodes back to the same string (and a case-flipped bech32 string still decodes);
a valid WIF decodes to its secret and compression flag and encodes back; an
address is never a WIF and vice versa. Invalid strings decode as neither, on
any chain.
"""

from __future__ import annotations

import json

from pyrite.encoding.address import (
    CHAINS,
    address_to_script,
    decode_wif,
    encode_wif,
    script_to_address,
)
from pyrite.errors import DecodeError
from tests.conftest import vector_path


def _try_address(s: str, chain: str) -> bytes | None:
    try:
        return address_to_script(s, chain)
    except DecodeError:
        return None


def _try_wif(s: str, chain: str) -> tuple[bytes, bool] | None:
    try:
        return decode_wif(s, chain)
    except DecodeError:
        return None


def test_key_io_valid() -> None:
    cases = json.loads(vector_path("bitcoin-core/src/test/data/key_io_valid.json").read_text())
    failures: list[str] = []
    n = 0
    n_priv = 0
    n_flip = 0
    for idx, case in enumerate(cases):
        text, payload_hex, meta = case
        chain = meta["chain"]
        cid = f"case {idx} {text!r} ({chain})"
        n += 1
        payload = bytes.fromhex(payload_hex)
        if meta["isPrivkey"]:
            n_priv += 1
            got = _try_wif(text, chain)
            if got is None:
                failures.append(f"{cid}: WIF did not decode")
            elif got != (payload, meta["isCompressed"]):
                failures.append(f"{cid}: WIF decoded to {got[0].hex()} compressed={got[1]}")
            try:
                enc = encode_wif(payload, meta["isCompressed"], chain)
            except DecodeError as e:
                failures.append(f"{cid}: encode_wif raised {e}")
            else:
                if enc != text:
                    failures.append(f"{cid}: encode_wif gave {enc!r}")
            if _try_address(text, chain) is not None:
                failures.append(f"{cid}: a private key decoded as an address")
        else:
            script = _try_address(text, chain)
            if script is None:
                failures.append(f"{cid}: address did not decode")
            elif script != payload:
                failures.append(f"{cid}: address decoded to script {script.hex()}")
            try:
                addr = script_to_address(payload, chain)
            except DecodeError as e:
                failures.append(f"{cid}: script_to_address raised {e}")
            else:
                if addr != text:
                    failures.append(f"{cid}: script_to_address gave {addr!r}")
            if meta.get("tryCaseFlip"):
                n_flip += 1
                flipped = text.swapcase()
                got_script = _try_address(flipped, chain)
                if got_script != payload:
                    failures.append(f"{cid}: case-flipped {flipped!r} did not decode to the script")
            if _try_wif(text, chain) is not None:
                failures.append(f"{cid}: an address decoded as a private key")
    print(
        f"key_io_valid.json: {n} cases ({n_priv} WIF, {n - n_priv} addresses, {n_flip} case-flip)"
    )
    assert n == 70, f"expected 70 cases, ran {n}"
    assert not failures, f"{len(failures)} failures over {n} cases:\n" + "\n".join(failures)


def test_key_io_invalid() -> None:
    cases = json.loads(vector_path("bitcoin-core/src/test/data/key_io_invalid.json").read_text())
    failures: list[str] = []
    n = 0
    for idx, case in enumerate(cases):
        (text,) = case
        n += 1
        for chain in CHAINS:
            if _try_address(text, chain) is not None:
                failures.append(f"case {idx} {text!r}: decoded as an address on {chain}")
            if _try_wif(text, chain) is not None:
                failures.append(f"case {idx} {text!r}: decoded as a WIF key on {chain}")
    print(f"key_io_invalid.json: {n} cases x {len(CHAINS)} chains")
    assert n == 70, f"expected 70 cases, ran {n}"
    assert not failures, f"{len(failures)} failures over {n} cases:\n" + "\n".join(failures)
