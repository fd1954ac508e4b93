"""Fuzzing the interpreter and the public entry point: any input gives a result or a
ScriptError/DecodeError/ValueError, never another exception or a hang."""

from __future__ import annotations

import contextlib

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pyrite.errors import DecodeError
from pyrite.primitives.tx import OutPoint, Tx, TxIn, TxOut
from pyrite.script import flags as F
from pyrite.script.errors import SCRIPT_ERROR_NAMES, ScriptError
from pyrite.script.interpreter import Checker, verify_input
from pyrite.script.sighash import PrecomputedTx
from pyrite.script.verify import verify_script

# Scripts built mostly from opcodes and small pushes, so execution goes deep.
_op = st.integers(0, 255).map(lambda b: bytes((b,)))
_push = st.binary(max_size=80).map(lambda d: bytes((len(d),)) + d if len(d) < 76 else b"\x4c"
                                   + bytes((len(d),)) + d)  # fmt: skip
_script = st.lists(st.one_of(_op, _op, _push), max_size=40).map(b"".join)
_flags = st.integers(0, (1 << 21) - 1).map(
    lambda f: f | F.P2SH | F.WITNESS if f & F.CLEANSTACK else (f | F.P2SH if f & F.WITNESS else f)
)
_witness = st.lists(st.one_of(st.binary(max_size=70), _script), max_size=4).map(tuple)

RUNS = {"interpreter": 0, "api": 0}


@settings(max_examples=3000, deadline=None, suppress_health_check=list(HealthCheck))
@given(script_sig=_script, spk=st.one_of(_script, st.binary(max_size=42)), witness=_witness,
       flags=_flags, amount=st.integers(0, 21 * 10**14))  # fmt: skip
def test_interpreter_never_crashes(
    script_sig: bytes, spk: bytes, witness: tuple[bytes, ...], flags: int, amount: int
) -> None:
    RUNS["interpreter"] += 1
    tx = Tx(2, (TxIn(OutPoint(b"\x11" * 32, 0), script_sig, 0xFFFFFFFE, witness),),
            (TxOut(amount, b"\x51"),), 0)  # fmt: skip
    pre = PrecomputedTx(tx, [TxOut(amount, spk)])
    try:
        verify_input(script_sig, spk, witness, flags, Checker(tx, 0, amount, pre))
    except ScriptError as e:
        assert e.code in SCRIPT_ERROR_NAMES


@settings(max_examples=1500, deadline=None, suppress_health_check=list(HealthCheck))
@given(spk=st.binary(max_size=60), tx=st.binary(max_size=300), index=st.integers(-1, 3),
       flags=st.integers(-1, (1 << 22)), amount=st.integers(-1, 10**9))  # fmt: skip
def test_verify_script_never_crashes(
    spk: bytes, tx: bytes, index: int, flags: int, amount: int
) -> None:
    RUNS["api"] += 1
    with contextlib.suppress(ScriptError, DecodeError, ValueError):
        verify_script(spk, amount, tx, index, flags, None)


def test_report_fuzz_counts() -> None:
    print(f"fuzzed inputs: {RUNS}")
