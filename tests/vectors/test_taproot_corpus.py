"""The pyrite-taproot corpus: 1,998 taproot spends judged by libbitcoinkernel."""

from __future__ import annotations

import json

from pyrite.errors import DecodeError
from pyrite.script.errors import ScriptError
from pyrite.script.flags import CONSENSUS_FLAGS
from pyrite.script.verify import verify_script
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
