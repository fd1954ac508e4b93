"""The standard-template fast paths give the interpreter's answer in every case."""

from __future__ import annotations

import hashlib
import random

import pytest

from pyrite.crypto import secp
from pyrite.crypto.hashes import hash160
from pyrite.primitives.tx import OutPoint, Tx, TxIn, TxOut
from pyrite.script import flags as F
from pyrite.script.errors import ScriptError
from pyrite.script.fastpath import SigCheck, check_options, try_fast_path, try_multisig
from pyrite.script.flags import ALL_FLAGS, CONSENSUS_FLAGS, STANDARD_FLAGS
from pyrite.script.interpreter import Checker, taptweak_hash, verify_input
from pyrite.script.script import push_data
from pyrite.script.sighash import PrecomputedTx, bip143_sighash, legacy_sighash, taproot_sighash
from pyrite.script.verify import verify_tx_input


def interpreter_result(pre: PrecomputedTx, k: int, spk: bytes, amount: int, flags: int) -> str:
    txin = pre.tx.vin[k]
    try:
        verify_input(txin.script_sig, spk, txin.witness, flags, Checker(pre.tx, k, amount, pre))
    except ScriptError as e:
        return e.code
    return "OK"


def api_result(pre: PrecomputedTx, k: int, spk: bytes, amount: int, flags: int) -> str:
    try:
        verify_tx_input(pre, k, spk, amount, flags)
    except ScriptError as e:
        return e.code
    return "OK"


def make_spend(rng: random.Random, kind: str) -> tuple[Tx, list[TxOut]]:
    """A 2-input transaction whose input 0 is a valid ``kind`` spend."""
    secret = rng.randbytes(32)
    compressed = rng.random() < 0.9 or kind not in ("p2pkh", "p2sh-p2wpkh", "p2pk")
    pub = secp.pubkey_from_secret(secret, compressed=compressed)
    amount = rng.randrange(1, 10**8)
    if kind == "p2pkh":
        spk = b"\x76\xa9\x14" + hash160(pub) + b"\x88\xac"
    elif kind == "p2wpkh":
        spk = b"\x00\x14" + hash160(pub)
    elif kind == "p2sh-p2wpkh":
        spk = b"\xa9\x14" + hash160(b"\x00\x14" + hash160(pub)) + b"\x87"
    elif kind == "p2pk":
        spk = push_data(pub) + b"\xac"
    else:
        internal = secp.xonly_from_secret(secret)
        tweak = taptweak_hash(internal, None)
        out = secp.xonly_tweak_add(internal, tweak)
        assert out is not None
        spk = b"\x51\x20" + out[0]
        secret = secp.taproot_tweak_seckey(secret, tweak)
    other = TxOut(5000, b"\x00\x14" + bytes(20))
    spent = [TxOut(amount, spk), other]
    vin = (
        TxIn(OutPoint(rng.randbytes(32), rng.randrange(4)), b"", 0xFFFFFFFD),
        TxIn(OutPoint(rng.randbytes(32), 1), b"", 0xFFFFFFFF),
    )
    vout = (TxOut(amount - 1000, b"\x00\x14" + rng.randbytes(20)), TxOut(1, b"\x6a"))
    unsigned = Tx(2, vin, vout, 0)
    pre = PrecomputedTx(unsigned, spent)
    hash_type = rng.choice([1, 1, 1, 2, 3, 0x81, 0x83])
    if kind == "p2pkh":
        sig = secp.ecdsa_sign(secret, legacy_sighash(spk, unsigned, 0, hash_type, pre))
        txin = vin[0]._replace(script_sig=push_data(sig + bytes((hash_type,))) + push_data(pub))
    elif kind == "p2pk":
        sig = secp.ecdsa_sign(secret, legacy_sighash(spk, unsigned, 0, hash_type, pre))
        txin = vin[0]._replace(script_sig=push_data(sig + bytes((hash_type,))))
    elif kind in ("p2wpkh", "p2sh-p2wpkh"):
        code = b"\x76\xa9\x14" + hash160(pub) + b"\x88\xac"
        sig = secp.ecdsa_sign(secret, bip143_sighash(code, unsigned, 0, hash_type, amount, pre))
        txin = vin[0]._replace(witness=(sig + bytes((hash_type,)), pub))
        if kind == "p2sh-p2wpkh":
            txin = txin._replace(script_sig=push_data(b"\x00\x14" + hash160(pub)))
    else:
        ht = rng.choice([0, 0, 1, 2, 3, 0x81, 0x82, 0x83])
        h = taproot_sighash(pre, 0, ht)
        assert h is not None
        sig = secp.schnorr_sign(secret, h, rng.randbytes(32))
        txin = vin[0]._replace(witness=(sig + (bytes((ht,)) if ht else b""),))
    return Tx(2, (txin, vin[1]), vout, 0), spent


def mutate(rng: random.Random, tx: Tx, spent: list[TxOut]) -> tuple[Tx, list[TxOut]]:
    txin = tx.vin[0]
    choice = rng.randrange(8)

    def flip(b: bytes) -> bytes:
        if not b:
            return b"\x01"
        i = rng.randrange(len(b))
        return b[:i] + bytes((b[i] ^ (1 << rng.randrange(8)),)) + b[i + 1 :]

    if choice == 0 and txin.script_sig:
        txin = txin._replace(script_sig=flip(txin.script_sig))
    elif choice == 1 and txin.witness:
        k = rng.randrange(len(txin.witness))
        wit = list(txin.witness)
        wit[k] = flip(wit[k])
        txin = txin._replace(witness=tuple(wit))
    elif choice == 2:
        spent = [TxOut(spent[0].value, flip(spent[0].script_pubkey)), spent[1]]
    elif choice == 3:
        spent = [TxOut(spent[0].value ^ 1, spent[0].script_pubkey), spent[1]]
    elif choice == 4:
        txin = txin._replace(witness=(*txin.witness, rng.randbytes(rng.randrange(3))))
    elif choice == 5:
        txin = txin._replace(sequence=txin.sequence ^ 1)
    elif choice == 6:  # one more push in front (a P2SH-wrapped witness spend then fails)
        txin = txin._replace(script_sig=b"\x00" + txin.script_sig)
    else:
        wit = txin.witness[:-1] if txin.witness else (b"",)
        txin = txin._replace(witness=wit)
    return Tx(tx.version, (txin, tx.vin[1]), tx.vout, tx.locktime), spent


KINDS = ("p2pkh", "p2wpkh", "p2tr", "p2sh-p2wpkh", "p2pk")
FLAG_SETS = [int(CONSENSUS_FLAGS), int(STANDARD_FLAGS), F.P2SH, 0, F.P2SH | F.WITNESS,
             int(ALL_FLAGS)]  # fmt: skip


def test_fast_path_agrees_with_interpreter_on_random_spends() -> None:
    rng = random.Random(20261122)
    compared = fast_hits = deferred_hits = 0
    for trial in range(2500):
        kind = KINDS[trial % len(KINDS)]
        tx, spent = make_spend(rng, kind)
        variants = [(tx, spent)] + [mutate(rng, tx, spent) for _ in range(3)]
        for vtx, vspent in variants:
            pre = PrecomputedTx(vtx, vspent)
            spk, amount = vspent[0].script_pubkey, vspent[0].value
            for flags in FLAG_SETS:
                want = interpreter_result(pre, 0, spk, amount, flags)
                if try_fast_path(PrecomputedTx(vtx, vspent), 0, spk, amount, flags):
                    fast_hits += 1
                    assert want == "OK", (
                        f"trial {trial} {kind} flags {flags:#x}: fast path "
                        f"accepted what the interpreter rejects ({want})"
                    )
                got = api_result(PrecomputedTx(vtx, vspent), 0, spk, amount, flags)
                assert got == want, f"trial {trial} {kind} flags {flags:#x}: {got} != {want}"
                # the parallel checker's way: the signature check is left to the caller
                checks: list[SigCheck] = []
                if try_fast_path(PrecomputedTx(vtx, vspent), 0, spk, amount, flags, checks):
                    (check,) = checks
                    assert check[0] == 0
                    ok = secp.first_failing([check], *check_options(flags)) < 0
                    assert ok == (want == "OK"), (
                        f"trial {trial} {kind} flags {flags:#x}: deferred check disagrees "
                        f"with the interpreter ({want})"
                    )
                    deferred_hits += 1
                else:
                    assert not checks
                compared += 1
    print(f"fast path: {compared} comparisons, {fast_hits} answered by the fast path")
    assert fast_hits > 2500
    assert deferred_hits > fast_hits  # the same spends, and those whose signature fails


def test_first_failing_names_the_first_bad_check() -> None:
    """``secp.first_failing`` over many checks (ECDSA and BIP340 mixed, left under the
    same flags) agrees with the checks one at a time and names the position of the first
    that fails; under each set of flags, with and without strict DER and low S."""
    rng = random.Random(7)
    for flags in (int(CONSENSUS_FLAGS), int(STANDARD_FLAGS), F.P2SH | F.WITNESS | F.TAPROOT):
        options = check_options(flags)
        good: list[SigCheck] = []
        bad: list[SigCheck] = []
        for trial in range(60):
            kind = KINDS[trial % len(KINDS)]
            tx, spent = make_spend(rng, kind)
            for vtx, vspent in [(tx, spent), mutate(rng, tx, spent), mutate(rng, tx, spent)]:
                checks: list[SigCheck] = []
                spk, amount = vspent[0].script_pubkey, vspent[0].value
                if try_fast_path(PrecomputedTx(vtx, vspent), 0, spk, amount, flags, checks):
                    ok = secp.first_failing(checks, *options) < 0
                    (good if ok else bad).append(checks[0])
        assert len(good) > 20 and len(bad) > 5
        # both kinds, told apart by the key's size: 33 or 65 bytes, or 32 (x-only)
        assert {len(c[1]) == 32 for c in good} == {True, False}
        assert {len(c[1]) == 32 for c in bad} == {True, False}
        assert secp.first_failing(good, *options) == -1
        for b in bad:
            assert secp.first_failing([b], *options) == 0
            for pos in (0, len(good) // 2, len(good)):
                assert secp.first_failing([*good[:pos], b, *good[pos:], *bad], *options) == pos


def test_keys_that_do_not_parse_or_are_of_unusual_shape() -> None:
    """The fast paths match a key by its hash and leave parsing it to the signature check:
    a key of the right size that is not on the curve, a hybrid key, an uncompressed key in
    a witness and a key of a wrong size all get the interpreter's answer either way."""
    rng = random.Random(11)
    while True:  # a 33-byte key of a good shape whose x is no curve point
        off_curve = b"\x02" + rng.randbytes(32)
        if not secp.pubkey_parses(off_curve):
            break
    secret = rng.randbytes(32)
    full = secp.pubkey_from_secret(secret, compressed=False)
    hybrid = bytes((6 + (full[64] & 1),)) + full[1:]
    keys = {"off-curve": off_curve, "hybrid": hybrid, "uncompressed": full,
            "short": full[:33], "bad header": b"\x05" + off_curve[1:]}  # fmt: skip
    seen = set()
    for name, pub in keys.items():
        for kind in ("p2pkh", "p2wpkh", "p2sh-p2wpkh"):
            h = hash160(pub)
            wrapped = b"\xa9\x14" + hash160(b"\x00\x14" + h) + b"\x87"
            spk = {"p2pkh": b"\x76\xa9\x14" + h + b"\x88\xac", "p2wpkh": b"\x00\x14" + h,
                   "p2sh-p2wpkh": wrapped}[kind]  # fmt: skip
            spent = [TxOut(50_000, spk)]
            unsigned = Tx(2, (TxIn(OutPoint(rng.randbytes(32), 0), b"", 0xFFFFFFFF),),
                          (TxOut(40_000, b"\x00\x14" + bytes(20)),), 0)  # fmt: skip
            pre = PrecomputedTx(unsigned, spent)
            if kind == "p2pkh":
                digest = legacy_sighash(spk, unsigned, 0, 1, pre)
            else:
                digest = bip143_sighash(b"\x76\xa9\x14" + h + b"\x88\xac", unsigned, 0, 1,
                                        50_000, pre)  # fmt: skip
            sig = secp.ecdsa_sign(secret, digest) + b"\x01"
            txin = unsigned.vin[0]
            if kind == "p2pkh":
                txin = txin._replace(script_sig=push_data(sig) + push_data(pub))
            else:
                txin = txin._replace(witness=(sig, pub))
            if kind == "p2sh-p2wpkh":
                txin = txin._replace(script_sig=push_data(b"\x00\x14" + h))
            tx = Tx(2, (txin,), unsigned.vout, 0)
            for flags in FLAG_SETS:
                want = interpreter_result(PrecomputedTx(tx, spent), 0, spk, 50_000, flags)
                got = api_result(PrecomputedTx(tx, spent), 0, spk, 50_000, flags)
                assert got == want, f"{name} {kind} flags {flags:#x}: {got} != {want}"
                checks: list[SigCheck] = []
                if try_fast_path(PrecomputedTx(tx, spent), 0, spk, 50_000, flags, checks):
                    ok = secp.first_failing(checks, *check_options(flags)) < 0
                    assert ok == (want == "OK"), f"{name} {kind} flags {flags:#x}: {want}"
                    seen.add((name, ok))
    # the off-curve key reaches the check (and fails it); the others that parse pass
    assert ("off-curve", False) in seen and ("uncompressed", True) in seen
    assert ("hybrid", True) in seen


def make_multisig_spend(rng: random.Random, kind: str) -> tuple[Tx, list[TxOut], list[int]]:
    """A 2-input transaction whose input 0 validly spends an m-of-n multisig in P2SH
    (``p2sh-multisig``) or P2WSH, signed by a random m of the keys (in key order); also
    the hash types used."""
    n = rng.randint(1, 4)
    m = rng.randint(1, n)
    secrets = [rng.randbytes(32) for _ in range(n)]
    uncompressed = 0.05 if kind == "p2wsh-multisig" else 0.2
    pubs = [secp.pubkey_from_secret(s, compressed=rng.random() >= uncompressed)
            for s in secrets]  # fmt: skip
    script = bytes((0x50 + m,)) + b"".join(push_data(p) for p in pubs) + bytes((0x50 + n, 0xAE))
    if kind == "p2sh-multisig":
        spk = b"\xa9\x14" + hash160(script) + b"\x87"
    elif kind == "bare-multisig":
        spk = script
    else:
        spk = b"\x00\x20" + hashlib.sha256(script).digest()
    amount = rng.randrange(1, 10**8)
    spent = [TxOut(amount, spk), TxOut(5000, b"\x00\x14" + bytes(20))]
    vin = (
        TxIn(OutPoint(rng.randbytes(32), rng.randrange(4)), b"", 0xFFFFFFFD),
        TxIn(OutPoint(rng.randbytes(32), 1), b"", 0xFFFFFFFF),
    )
    vout = (TxOut(amount - 1000, b"\x00\x14" + rng.randbytes(20)), TxOut(1, b"\x6a"))
    unsigned = Tx(2, vin, vout, 0)
    pre = PrecomputedTx(unsigned, spent)
    signers = sorted(rng.sample(range(n), m))
    sigs = []
    hash_types = []
    for k in signers:
        ht = rng.choice([1, 1, 1, 2, 3, 0x81, 0x83])
        if kind != "p2wsh-multisig":
            h = legacy_sighash(script, unsigned, 0, ht, pre)
        else:
            h = bip143_sighash(script, unsigned, 0, ht, amount, pre)
        sigs.append(secp.ecdsa_sign(secrets[k], h) + bytes((ht,)))
        hash_types.append(ht)
    if kind == "p2sh-multisig":
        ss = b"\x00" + b"".join(push_data(s) for s in sigs) + push_data(script)
        txin = vin[0]._replace(script_sig=ss)
    elif kind == "bare-multisig":
        txin = vin[0]._replace(script_sig=b"\x00" + b"".join(push_data(s) for s in sigs))
    else:
        txin = vin[0]._replace(witness=(b"", *sigs, script))
    return Tx(2, (txin, vin[1]), vout, 0), spent, hash_types


def _multisig_mutations(rng: random.Random, tx: Tx, spent: list[TxOut]) -> list[Tx]:
    """Changes that matter to a multisig spend: signature order, the dummy, a missing
    signature, a high-S signature, an undefined hash type."""
    txin = tx.vin[0]
    out: list[Tx] = []

    def with_items(items: list[bytes]) -> None:
        if txin.witness:
            new = txin._replace(witness=tuple(items))
        else:
            new = txin._replace(script_sig=b"".join(push_data(i) if i else b"\x00" for i in items))
        out.append(Tx(tx.version, (new, tx.vin[1]), tx.vout, tx.locktime))

    if txin.witness:
        items = list(txin.witness)
    else:
        items = []
        pos = 0
        ss = txin.script_sig
        while pos < len(ss):
            op = ss[pos]
            if op == 0:
                items.append(b"")
                pos += 1
            elif op == 0x4C:
                items.append(ss[pos + 2 : pos + 2 + ss[pos + 1]])
                pos += 2 + ss[pos + 1]
            else:
                items.append(ss[pos + 1 : pos + 1 + op])
                pos += 1 + op
    # a bare multisig's script signature holds no script after the signatures
    tail = [] if spent[0].script_pubkey[-1] == 0xAE else items[-1:]
    sigs = items[1 : len(items) - len(tail)]
    if len(sigs) >= 2:
        with_items([items[0], sigs[1], sigs[0], *sigs[2:], *tail])
    with_items([b"\x01", *sigs, *tail])
    with_items([items[0], *sigs[:-1], *tail])
    with_items([items[0], *sigs, b"\x00", *tail])  # one item too many
    # S replaced by n - S (the same signature, high S)
    sig = sigs[0]
    der = sig[:-1]
    r_len = der[3]
    s = int.from_bytes(der[6 + r_len :], "big")
    high = (secp.SECP256K1_ORDER - s).to_bytes(33, "big").lstrip(b"\x00")
    if high[0] & 0x80:
        high = b"\x00" + high
    body = der[2 : 6 + r_len - 2] + b"\x02" + bytes((len(high),)) + high
    with_items([items[0], b"\x30" + bytes((len(body),)) + body + sig[-1:], *sigs[1:], *tail])
    with_items([items[0], sig[:-1] + b"\x04", *sigs[1:], *tail])
    return out


def test_multisig_fast_path_agrees_with_interpreter() -> None:
    rng = random.Random(2026_11_22)
    compared = hits = 0
    for trial in range(900):
        kind = ("p2sh-multisig", "p2wsh-multisig", "bare-multisig")[trial % 3]
        tx, spent, _ = make_multisig_spend(rng, kind)
        variants = [(tx, spent)] + [mutate(rng, tx, spent) for _ in range(2)]
        variants += [(v, spent) for v in _multisig_mutations(rng, tx, spent)]
        for vtx, vspent in variants:
            spk, amount = vspent[0].script_pubkey, vspent[0].value
            for flags in FLAG_SETS:
                want = interpreter_result(PrecomputedTx(vtx, vspent), 0, spk, amount, flags)
                fast = try_multisig(PrecomputedTx(vtx, vspent), 0, spk, amount, flags)
                if fast:
                    hits += 1
                    assert want == "OK", (
                        f"trial {trial} {kind} flags {flags:#x}: the multisig path accepted "
                        f"what the interpreter rejects ({want})"
                    )
                got = api_result(PrecomputedTx(vtx, vspent), 0, spk, amount, flags)
                assert got == want, f"trial {trial} {kind} flags {flags:#x}: {got} != {want}"
                # with a list for signature checks the fast path leaves multisig alone
                checks: list[SigCheck] = []
                assert not try_fast_path(PrecomputedTx(vtx, vspent), 0, spk, amount, flags,
                                         checks) and not checks  # fmt: skip
                compared += 1
    print(f"multisig: {compared} comparisons, {hits} answered by the multisig path")
    assert hits > 2200


def test_multisig_with_a_key_that_does_not_parse() -> None:
    """A key that is no curve point fails its comparisons, as in the interpreter: the
    signature moves on to the next key."""
    rng = random.Random(5)
    while True:
        off_curve = b"\x03" + rng.randbytes(32)
        if not secp.pubkey_parses(off_curve):
            break
    secret = rng.randbytes(32)
    good = secp.pubkey_from_secret(secret)
    for keys, want_ok in (([off_curve, good], True), ([good, off_curve], True),
                          ([off_curve], False)):  # fmt: skip
        n = len(keys)
        script = b"\x51" + b"".join(push_data(k) for k in keys) + bytes((0x50 + n, 0xAE))
        for kind in ("p2sh", "p2wsh"):
            if kind == "p2sh":
                spk = b"\xa9\x14" + hash160(script) + b"\x87"
            else:
                spk = b"\x00\x20" + hashlib.sha256(script).digest()
            spent = [TxOut(7000, spk)]
            unsigned = Tx(2, (TxIn(OutPoint(rng.randbytes(32), 0), b"", 0xFFFFFFFF),),
                          (TxOut(6000, b"\x00\x14" + bytes(20)),), 0)  # fmt: skip
            pre = PrecomputedTx(unsigned, spent)
            if kind == "p2sh":
                h = legacy_sighash(script, unsigned, 0, 1, pre)
            else:
                h = bip143_sighash(script, unsigned, 0, 1, 7000, pre)
            sig = secp.ecdsa_sign(secret, h) + b"\x01"
            txin = unsigned.vin[0]
            if kind == "p2sh":
                txin = txin._replace(script_sig=b"\x00" + push_data(sig) + push_data(script))
            else:
                txin = txin._replace(witness=(b"", sig, script))
            tx = Tx(2, (txin,), unsigned.vout, 0)
            flags = int(CONSENSUS_FLAGS)
            want = interpreter_result(PrecomputedTx(tx, spent), 0, spk, 7000, flags)
            assert (want == "OK") == want_ok, (keys, kind, want)
            got = try_multisig(PrecomputedTx(tx, spent), 0, spk, 7000, flags)
            assert got == want_ok, (keys, kind)


def test_sequence_hash_memo_gives_the_hashes_of_the_sequences(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The memo of sequence hashes (shared by BIP143 and BIP341) agrees with hashing the
    sequences directly, also across the memo being cleared when full."""
    import pyrite.script.sighash as sighash

    monkeypatch.setattr(sighash, "_SEQUENCE_HASHES_SIZE", 3)
    monkeypatch.setattr(sighash, "_SEQUENCE_HASHES", {})
    rng = random.Random(7)
    for i in range(40):
        n = rng.randint(1, 4)
        seqs = [rng.choice([0xFFFFFFFF, 0xFFFFFFFE, 0xFFFFFFFD, 0, i]) for _ in range(n)]
        vin = tuple(TxIn(OutPoint(bytes([i, k]) * 16, k), b"", s) for k, s in enumerate(seqs))
        tx = Tx(2, vin, (TxOut(1000, b"\x51"),), 0)
        pre = PrecomputedTx(tx, [TxOut(2000, b"\x51")] * n)
        raw = b"".join(s.to_bytes(4, "little") for s in seqs)
        assert pre.sha_sequences() == hashlib.sha256(raw).digest()
        assert pre.bip143_hashes()[1] == hashlib.sha256(hashlib.sha256(raw).digest()).digest()
        assert len(sighash._SEQUENCE_HASHES) <= 3
