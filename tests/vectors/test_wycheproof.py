"""Wycheproof ECDSA secp256k1/SHA-256, Bitcoin variant (strict DER + low S).

Each message is hashed once with SHA-256 and checked with
``ecdsa_verify_strict``. "valid" must verify and "invalid" must not. The file
holds no "acceptable" results; if one ever appears it is counted and reported
(either outcome is allowed for it).
"""

from __future__ import annotations

import json

from pyrite.crypto.hashes import sha256
from pyrite.crypto.secp import ecdsa_verify_strict
from tests.conftest import vector_path


def test_wycheproof_ecdsa_bitcoin() -> None:
    path = "bitcoin-core/src/secp256k1/src/wycheproof/ecdsa_secp256k1_sha256_bitcoin_test.json"
    data = json.loads(vector_path(path).read_text())
    failures: list[str] = []
    n = 0
    counts = {"valid": 0, "invalid": 0, "acceptable": 0}
    acceptable: list[str] = []
    for group in data["testGroups"]:
        assert group["sha"] == "SHA-256", f"unexpected hash {group['sha']}"
        pub = bytes.fromhex(group["publicKey"]["uncompressed"])
        for t in group["tests"]:
            n += 1
            cid = f"tcId {t['tcId']} ({t['comment']})"
            result = t["result"]
            counts[result] += 1
            try:
                ok = ecdsa_verify_strict(
                    pub, bytes.fromhex(t["sig"]), sha256(bytes.fromhex(t["msg"]))
                )
            except Exception as e:
                failures.append(f"{cid}: raised {type(e).__name__}: {e}")
                continue
            if result == "valid" and not ok:
                failures.append(f"{cid}: valid signature rejected")
            elif result == "invalid" and ok:
                failures.append(f"{cid}: invalid signature accepted")
            elif result == "acceptable":
                acceptable.append(f"{cid}: {'accepted' if ok else 'rejected'}")
    print(f"wycheproof ecdsa bitcoin: {n} tests {counts}")
    if acceptable:
        print("acceptable results:\n" + "\n".join(acceptable))
    assert n == data["numberOfTests"] == 463, f"expected 463 tests, ran {n}"
    assert not failures, f"{len(failures)} of {n} tests failed:\n" + "\n".join(failures)
