"""BIP340 Schnorr signing and verification against bip-0340/test-vectors.csv."""

from __future__ import annotations

import csv

from pyrite.crypto.secp import schnorr_sign, schnorr_verify, xonly_from_secret
from tests.conftest import vector_path


def test_bip340_vectors() -> None:
    with vector_path("bips/bip-0340/test-vectors.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    failures: list[str] = []
    n = 0
    n_sign = 0
    for row in rows:
        n += 1
        cid = f"index {row['index']}"
        pub = bytes.fromhex(row["public key"])
        msg = bytes.fromhex(row["message"])
        sig = bytes.fromhex(row["signature"])
        want = row["verification result"].strip().upper() == "TRUE"
        if row["secret key"]:
            n_sign += 1
            sk = bytes.fromhex(row["secret key"])
            aux = bytes.fromhex(row["aux_rand"])
            try:
                xonly = xonly_from_secret(sk)
                if xonly != pub:
                    failures.append(f"{cid}: pubkey {xonly.hex()} from secret, want {pub.hex()}")
                got = schnorr_sign(sk, msg, aux)
                if got != sig:
                    failures.append(f"{cid}: signature {got.hex()}, want {sig.hex()}")
            except Exception as e:  # report, don't abort the loop
                failures.append(f"{cid}: signing raised {type(e).__name__}: {e}")
        try:
            ok = schnorr_verify(pub, sig, msg)
        except Exception as e:
            failures.append(f"{cid}: verify raised {type(e).__name__}: {e}")
            continue
        if ok != want:
            failures.append(f"{cid} ({row['comment']}): verify gave {ok}, want {want}")
    print(f"bip340 test-vectors.csv: {n} rows ({n_sign} signed)")
    assert n == 19, f"expected 19 rows, ran {n}"
    assert not failures, f"{len(failures)} failures over {n} rows:\n" + "\n".join(failures)
