"""Core's tx_valid.json and tx_invalid.json with the flag semantics of transaction_tests.cpp."""

from __future__ import annotations

import json

from pyrite.consensus.tx_check import check_transaction
from pyrite.errors import DecodeError, TxValidationError
from pyrite.primitives.tx import OutPoint, Tx, TxOut
from pyrite.script.asm import parse_asm
from pyrite.script.errors import ScriptError
from pyrite.script.flags import ALL_FLAGS, ScriptFlags, parse_flags
from pyrite.script.interpreter import Checker, verify_input
from pyrite.script.sighash import PrecomputedTx
from pyrite.script.verify import verify_tx_input
from tests.conftest import vector_path
from tests.vectors.script_helpers import fill_flags, trim_flags

ALL = int(ALL_FLAGS)


def load(name: str) -> list[tuple[int, list[list[object]], str, str]]:
    rows = json.loads(vector_path("bitcoin-core", "src", "test", "data", name).read_text())
    return [(i, r[0], r[1], r[2]) for i, r in enumerate(rows) if isinstance(r[0], list)]


def prevout_map(prevouts: list[list[object]]) -> dict[OutPoint, TxOut]:
    out = {}
    for p in prevouts:
        txid = bytes.fromhex(str(p[0]))[::-1]
        n = int(str(p[1]))
        amount = int(str(p[3])) if len(p) > 3 else 0
        out[OutPoint(txid, n & 0xFFFFFFFF)] = TxOut(amount, parse_asm(str(p[2])))
    return out


def scripts_ok(tx: Tx, prev: dict[OutPoint, TxOut], flags: int, public: bool = False) -> str | None:
    """None if every input verifies, else '<input>: <error>' for the first failure; with
    ``public`` through ``verify_tx_input`` (the fast paths first) instead of the
    interpreter alone."""
    spent = [prev.get(i.prevout) for i in tx.vin]
    have_all = all(s is not None for s in spent)
    pre = PrecomputedTx(tx, [s for s in spent if s is not None] if have_all else None)
    for k, txin in enumerate(tx.vin):
        coin = prev.get(txin.prevout)
        if coin is None:
            return f"{k}: missing prevout"
        try:
            if public:
                verify_tx_input(pre, k, coin.script_pubkey, coin.value, flags)
            else:
                verify_input(txin.script_sig, coin.script_pubkey, txin.witness, flags,
                             Checker(tx, k, coin.value, pre))  # fmt: skip
        except ScriptError as e:
            return f"{k}: {e.code}"
    return None


def flag_bits() -> list[int]:
    return [int(f) for f in ScriptFlags if f and f.name]


def test_tx_valid() -> None:
    cases = load("tx_valid.json")
    failures = []
    for idx, prevouts, tx_hex, flag_text in cases:
        excluded = int(parse_flags(flag_text))
        tx = Tx.from_hex(tx_hex)
        prev = prevout_map(prevouts)
        try:
            check_transaction(tx)
        except TxValidationError as e:
            failures.append(f"row {idx}: CheckTransaction failed: {e.reason}")
            continue
        err = scripts_ok(tx, prev, ALL & ~excluded)
        if err:
            failures.append(f"row {idx}: failed with flags ALL-{flag_text}: {err}")
            continue
        for bit in flag_bits():  # removing any further flag keeps it valid
            err = scripts_ok(tx, prev, trim_flags(ALL & ~(excluded | bit)))
            if err:
                failures.append(f"row {idx}: removing flag {bit:#x} made it fail: {err}")
        for bit in flag_bits():  # the exclusion list is minimal
            if excluded & bit:
                if scripts_ok(tx, prev, ALL & ~(excluded & ~bit)) is None:
                    failures.append(f"row {idx}: excluded flag {bit:#x} is not needed")
    print(f"tx_valid.json: {len(cases)} cases, {len(failures)} failures")
    assert len(cases) == 121
    assert not failures, "\n".join(failures)


def test_tx_invalid() -> None:
    cases = load("tx_invalid.json")
    failures = []
    badtx = 0
    for idx, prevouts, tx_hex, flag_text in cases:
        try:
            tx = Tx.from_hex(tx_hex)
        except DecodeError as e:
            failures.append(f"row {idx}: does not parse: {e}")
            continue
        prev = prevout_map(prevouts)
        if flag_text == "BADTX":
            badtx += 1
            try:
                check_transaction(tx)
            except TxValidationError:
                continue
            failures.append(f"row {idx}: BADTX passed CheckTransaction")
            continue
        try:
            check_transaction(tx)
        except TxValidationError as e:
            failures.append(f"row {idx}: unexpected CheckTransaction failure {e.reason}")
            continue
        flags = int(parse_flags(flag_text))
        if scripts_ok(tx, prev, flags) is None:
            failures.append(f"row {idx}: passed with flags {flag_text}")
            continue
        for bit in flag_bits():  # adding flags keeps it invalid
            if scripts_ok(tx, prev, fill_flags(flags | bit)) is None:
                failures.append(f"row {idx}: adding flag {bit:#x} made it pass")
    print(f"tx_invalid.json: {len(cases)} cases ({badtx} BADTX), {len(failures)} failures")
    assert len(cases) == 93
    assert not failures, "\n".join(failures)


def test_tx_vectors_through_the_fast_paths() -> None:
    """tx_valid and tx_invalid again through the public entry point, whose fast paths
    (standard templates, multisig) must give the same verdict as the interpreter and as
    the file. BADTX rows test CheckTransaction, not scripts (see test_tx_invalid)."""
    failures = []
    checked = badtx = 0
    for name, valid in (("tx_valid.json", True), ("tx_invalid.json", False)):
        for idx, prevouts, tx_hex, flag_text in load(name):
            if flag_text == "BADTX":
                badtx += 1
                continue
            tx = Tx.from_hex(tx_hex)
            prev = prevout_map(prevouts)
            flags = ALL & ~int(parse_flags(flag_text)) if valid else int(parse_flags(flag_text))
            fast = scripts_ok(tx, prev, flags, public=True)
            slow = scripts_ok(tx, prev, flags)
            checked += 1
            if fast != slow or (fast is None) != valid:
                failures.append(f"{name} row {idx}: public path {fast}, interpreter {slow}")
    print(f"tx vectors through verify_tx_input: {checked} cases ({badtx} BADTX rows apart), "
          f"{len(failures)} failures")  # fmt: skip
    assert checked + badtx == 121 + 93
    assert not failures, "\n".join(failures)
