"""Core's script_tests.json: every case, with Core's exact error name."""

from __future__ import annotations

import json

from pyrite.primitives.tx import TxOut
from pyrite.script.errors import ScriptError
from pyrite.script.flags import ALL_FLAGS, ScriptFlags
from pyrite.script.interpreter import Checker, verify_input
from pyrite.script.sighash import PrecomputedTx
from pyrite.script.verify import verify_tx_input
from tests.conftest import vector_path
from tests.vectors.script_helpers import (
    build_script_test,
    crediting_tx,
    fill_flags,
    spending_tx,
    trim_flags,
)

EXPECTED_CASES = 1222


def run_case(sig: bytes, spk: bytes, wit: tuple[bytes, ...], amount: int, flags: int) -> str:
    credit = crediting_tx(spk, amount)
    spend = spending_tx(credit, sig, wit, amount)
    pre = PrecomputedTx(spend, [TxOut(amount, spk)])
    try:
        verify_input(sig, spk, wit, flags, Checker(spend, 0, amount, pre))
    except ScriptError as e:
        return e.code
    return "OK"


def load_cases() -> list[tuple[int, list[object]]]:
    rows = json.loads(vector_path("bitcoin-core", "src", "test", "data", "script_tests.json")
                      .read_text())  # fmt: skip
    out = []
    for idx, row in enumerate(rows):
        body = row[1:] if isinstance(row[0], list) else row
        if len(body) < 4:
            continue  # comment row
        out.append((idx, row))
    return out


def test_script_tests_all_cases() -> None:
    cases = load_cases()
    failures = []
    for idx, row in cases:
        sig, spk, wit, amount, flags, expected = build_script_test(row)
        got = run_case(sig, spk, wit, amount, flags)
        if got != expected:
            failures.append(f"row {idx}: expected {expected}, got {got}: {row}")
    print(f"script_tests.json: {len(cases)} cases, {len(failures)} failures")
    assert len(cases) == EXPECTED_CASES
    assert not failures, f"{len(failures)}/{len(cases)} failed:\n" + "\n".join(failures[:50])


def test_script_tests_flag_monotonicity() -> None:
    """As Core checks: a passing case passes with any one flag removed, a failing case still
    fails with any one flag added (after TrimFlags / FillFlags)."""
    failures = []
    checks = 0
    for idx, row in load_cases():
        sig, spk, wit, amount, flags, expected = build_script_test(row)
        for bit in ScriptFlags:
            if not bit or bit & ~ALL_FLAGS:
                continue
            if expected == "OK":
                if not flags & bit:
                    continue
                f2 = trim_flags(flags & ~bit)
                got = run_case(sig, spk, wit, amount, f2)
                ok = got == "OK"
            else:
                if flags & bit:
                    continue
                f2 = fill_flags(flags | bit)
                got = run_case(sig, spk, wit, amount, f2)
                ok = got != "OK"
            checks += 1
            if not ok:
                failures.append(f"row {idx} flags {f2:#x} ({bit.name}): got {got}")
    print(f"script_tests.json monotonicity: {checks} flag variations")
    assert not failures, "\n".join(failures[:50])


def test_script_tests_through_the_fast_paths() -> None:
    """Every case again through the public entry point, whose standard-template and
    multisig fast paths must give Core's expected result too. (A flag combination that
    Core's VerifyScript would not accept, which that entry point refuses with ValueError
    before any script runs, is counted apart.)"""
    failures = []
    refused = 0
    cases = load_cases()
    for idx, row in cases:
        sig, spk, wit, amount, flags, expected = build_script_test(row)
        credit = crediting_tx(spk, amount)
        spend = spending_tx(credit, sig, wit, amount)
        try:
            verify_tx_input(PrecomputedTx(spend, [TxOut(amount, spk)]), 0, spk, amount, flags)
            got = "OK"
        except ScriptError as e:
            got = e.code
        except ValueError:
            refused += 1
            continue
        if got != expected:
            failures.append(f"row {idx}: expected {expected}, got {got}: {row}")
    print(f"script_tests.json through verify_tx_input: {len(cases) - refused} cases, "
          f"{refused} flag combinations refused, {len(failures)} failures")  # fmt: skip
    assert refused < len(cases) // 10
    assert not failures, "\n".join(failures[:50])
