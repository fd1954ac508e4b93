"""The pyrite-taproot corpus: 1,998 taproot spends judged by libbitcoinkernel."""

from __future__ import annotations

import json

from pyrite.crypto import secp
from pyrite.errors import DecodeError
from pyrite.primitives.tx import Tx, TxOut
from pyrite.script.errors import ScriptError
from pyrite.script.fastpath import SigCheck, check_options, try_fast_path
from pyrite.script.flags import CONSENSUS_FLAGS
from pyrite.script.sighash import PrecomputedTx
from pyrite.script.verify import verify_input_slow, verify_script
from tests.conftest import vector_path


def test_taproot_corpus_all_cases() -> None:
    data = json.loads(vector_path("pyrite-taproot", "taproot_corpus.json").read_text())
    assert data["flags"] == "ALL"
    cases = data["cases"]
    failures = []
    valid = 0
    for c in cases:
        spent = [(a, bytes.fromhex(s)) for a, s in c["spent"]]
        amount, spk = spent[c["index"]]
        try:
            verify_script(spk, amount, bytes.fromhex(c["tx"]), c["index"], int(CONSENSUS_FLAGS),
                          spent)  # fmt: skip
            ok, why = True, "OK"
        except (ScriptError, DecodeError) as e:
            ok, why = False, str(e)
        valid += ok
        if ok != c["valid"]:
            failures.append(f"{c['id']}: expected {c['valid']}, got {why} ({c['desc']})")
    print(f"taproot_corpus.json: {len(cases)} cases ({valid} valid), {len(failures)} failures")
    assert len(cases) == 1998
    assert not failures, f"{len(failures)} failures:\n" + "\n".join(failures[:40])


def test_taproot_corpus_through_deferred_checks() -> None:
    """Every case as block validation with script-check workers runs it: the fast paths
    leave their EC checks in a list (verified afterwards by ``secp.first_failing``), and
    whatever they do not take goes to the interpreter."""
    data = json.loads(vector_path("pyrite-taproot", "taproot_corpus.json").read_text())
    flags = int(CONSENSUS_FLAGS)
    failures = []
    deferred = script_path = 0
    for c in data["cases"]:
        spent = [TxOut(a, bytes.fromhex(s)) for a, s in c["spent"]]
        try:
            tx = Tx.from_bytes(bytes.fromhex(c["tx"]))
        except DecodeError:
            assert not c["valid"]
            continue
        k = c["index"]
        pre = PrecomputedTx(tx, spent)
        checks: list[SigCheck] = []
        if try_fast_path(pre, k, spent[k].script_pubkey, spent[k].value, flags, checks):
            ok = secp.first_failing(checks, *check_options(flags)) < 0
            deferred += 1
            script_path += len(tx.vin[k].witness) > 1
        else:
            try:
                verify_input_slow(pre, k, spent[k].script_pubkey, spent[k].value, flags)
                ok = True
            except ScriptError:
                ok = False
        if ok != c["valid"]:
            failures.append(f"{c['id']}: expected {c['valid']}, got {ok} ({c['desc']})")
    print(f"taproot_corpus.json, deferred checks: {len(data['cases'])} cases, {deferred} by "
          f"fast paths ({script_path} script-path spends), {len(failures)} failures")  # fmt: skip
    assert not failures, f"{len(failures)} failures:\n" + "\n".join(failures[:40])
    assert script_path > 300
