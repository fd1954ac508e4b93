"""Core's sighash.json (legacy SignatureHash) and the BIP341 wallet vectors."""

from __future__ import annotations

import json

from pyrite.consensus.tx_check import check_transaction
from pyrite.crypto import secp
from pyrite.crypto.hashes import tagged_hash
from pyrite.encoding.address import script_to_address
from pyrite.primitives.tx import Tx, TxOut
from pyrite.script.interpreter import tapbranch_hash, tapleaf_hash, taptweak_hash
from pyrite.script.sighash import PrecomputedTx, legacy_sighash, taproot_sigmsg
from tests.conftest import vector_path


def test_sighash_json() -> None:
    rows = json.loads(vector_path("bitcoin-core", "src", "test", "data", "sighash.json")
                      .read_text())[1:]  # fmt: skip
    failures = []
    for idx, (raw, script_hex, n_in, hash_type, expected) in enumerate(rows, start=1):
        tx = Tx.from_hex(raw)
        check_transaction(tx)
        got = legacy_sighash(bytes.fromhex(script_hex), tx, n_in, hash_type)[::-1].hex()
        if got != expected:
            failures.append(f"row {idx}: expected {expected}, got {got}")
    print(f"sighash.json: {len(rows)} cases, {len(failures)} failures")
    assert len(rows) == 500
    assert not failures, "\n".join(failures)


def _bip341() -> dict[str, list[dict[str, object]]]:
    path = vector_path("bitcoin-core", "src", "test", "data", "bip341_wallet_vectors.json")
    data: dict[str, list[dict[str, object]]] = json.loads(path.read_text())
    return data


def _tree_hashes(tree: object, leaves: list[bytes]) -> bytes:
    """Merkle root of a BIP341 script tree given as nested lists of leaves."""
    if isinstance(tree, dict):
        h = tapleaf_hash(int(tree["leafVersion"]), bytes.fromhex(str(tree["script"])))
        leaves.append(h)
        return h
    assert isinstance(tree, list) and len(tree) == 2
    return tapbranch_hash(_tree_hashes(tree[0], leaves), _tree_hashes(tree[1], leaves))


def _control_paths(tree: object) -> list[tuple[bytes, int, list[bytes]]]:
    """(leaf hash, leaf version, merkle path) for every leaf, depth first."""
    if isinstance(tree, dict):
        v = int(tree["leafVersion"])
        return [(tapleaf_hash(v, bytes.fromhex(str(tree["script"]))), v, [])]
    assert isinstance(tree, list)
    left, right = tree
    lroot = _tree_hashes(left, [])
    rroot = _tree_hashes(right, [])
    out = [(h, v, [*p, rroot]) for h, v, p in _control_paths(left)]
    out += [(h, v, [*p, lroot]) for h, v, p in _control_paths(right)]
    return out


def test_bip341_script_pubkeys() -> None:
    cases = _bip341()["scriptPubKey"]
    failures = []
    for idx, case in enumerate(cases):
        given, inter, exp = (case[k] for k in ("given", "intermediary", "expected"))
        assert isinstance(given, dict) and isinstance(inter, dict) and isinstance(exp, dict)
        internal = bytes.fromhex(given["internalPubkey"])
        tree = given["scriptTree"]
        leaves: list[bytes] = []
        root = _tree_hashes(tree, leaves) if tree is not None else None
        if [h.hex() for h in leaves] != (inter.get("leafHashes") or []):
            failures.append(f"case {idx}: leaf hashes")
        if (root.hex() if root else None) != inter["merkleRoot"]:
            failures.append(f"case {idx}: merkle root")
        tweak = taptweak_hash(internal, root)
        if tweak.hex() != inter["tweak"]:
            failures.append(f"case {idx}: tweak")
        tweaked = secp.xonly_tweak_add(internal, tweak)
        assert tweaked is not None
        out_key, parity = tweaked
        if out_key.hex() != inter["tweakedPubkey"]:
            failures.append(f"case {idx}: tweaked key")
        spk = b"\x51\x20" + out_key
        if spk.hex() != exp["scriptPubKey"]:
            failures.append(f"case {idx}: scriptPubKey")
        if script_to_address(spk, "main") != exp["bip350Address"]:
            failures.append(f"case {idx}: address")
        if tree is not None:
            blocks = [
                (bytes((v | parity,)) + internal + b"".join(path)).hex()
                for _h, v, path in _control_paths(tree)
            ]
            if blocks != exp["scriptPathControlBlocks"]:
                failures.append(f"case {idx}: control blocks {blocks}")
    print(f"bip341 scriptPubKey: {len(cases)} cases")
    assert len(cases) == 7
    assert not failures, "\n".join(failures)


def test_bip341_key_path_spending() -> None:
    spend = _bip341()["keyPathSpending"][0]
    given, inter = spend["given"], spend["intermediary"]
    assert isinstance(given, dict) and isinstance(inter, dict)
    tx = Tx.from_hex(given["rawUnsignedTx"])
    spent = [TxOut(u["amountSats"], bytes.fromhex(u["scriptPubKey"])) for u in given["utxosSpent"]]
    pre = PrecomputedTx(tx, spent)
    assert pre.sha_amounts().hex() == inter["hashAmounts"]
    assert pre.sha_outputs().hex() == inter["hashOutputs"]
    assert pre.sha_prevouts().hex() == inter["hashPrevouts"]
    assert pre.sha_scriptpubkeys().hex() == inter["hashScriptPubkeys"]
    assert pre.sha_sequences().hex() == inter["hashSequences"]
    inputs = spend["inputSpending"]
    assert isinstance(inputs, list)
    failures = []
    for case in inputs:
        g, i, e = case["given"], case["intermediary"], case["expected"]
        n_in, hash_type = g["txinIndex"], g["hashType"]
        priv = bytes.fromhex(g["internalPrivkey"])
        internal = secp.xonly_from_secret(priv)
        if internal.hex() != i["internalPubkey"]:
            failures.append(f"input {n_in}: internal key")
        root = bytes.fromhex(g["merkleRoot"]) if g["merkleRoot"] else None
        tweak = taptweak_hash(internal, root)
        if tweak.hex() != i["tweak"]:
            failures.append(f"input {n_in}: tweak")
        tweaked_priv = secp.taproot_tweak_seckey(priv, tweak)
        if tweaked_priv.hex() != i["tweakedPrivkey"]:
            failures.append(f"input {n_in}: tweaked private key")
        msg = taproot_sigmsg(pre, n_in, hash_type)
        assert msg is not None
        if msg.hex() != i["sigMsg"]:
            failures.append(f"input {n_in}: sigMsg")
        sighash = tagged_hash("TapSighash", msg)
        if sighash.hex() != i["sigHash"]:
            failures.append(f"input {n_in}: sigHash")
        sig = secp.schnorr_sign(tweaked_priv, sighash, bytes(32))
        if hash_type:
            sig += bytes((hash_type,))
        if [sig.hex()] != e["witness"]:
            failures.append(f"input {n_in}: witness {sig.hex()}")
    print(f"bip341 keyPathSpending: {len(inputs)} inputs")
    assert len(inputs) == 7
    assert not failures, "\n".join(failures)
