"""The tapscript fast path (a leaf of one key, inscription envelopes allowed) gives the
interpreter's answer, and libbitcoinkernel's, on generated spends and their mutations."""

from __future__ import annotations

import random

import pbk
from pbk.script import PrecomputedTransactionData

from pyrite.crypto import secp
from pyrite.primitives.tx import OutPoint, Tx, TxIn, TxOut
from pyrite.script.fastpath import SigCheck, check_options, try_fast_path
from pyrite.script.flags import ALL_FLAGS, CONSENSUS_FLAGS, STANDARD_FLAGS
from pyrite.script.script import push_data
from pyrite.script.sighash import PrecomputedTx, taproot_sighash
from pyrite.script.witness import tapbranch_hash, tapleaf_hash, taptweak_hash
from tests.unit.script.test_fastpath import api_result, interpreter_result

OP_0, OP_IF, OP_ENDIF, OP_CHECKSIG = b"\x00", b"\x63", b"\x68", b"\xac"


def envelope(rng: random.Random, size: int) -> bytes:
    """An ordinals-style inscription: OP_0 OP_IF "ord" OP_1 <type> OP_0 <data...> OP_ENDIF,
    the data in pushes of at most 520 bytes (direct and PUSHDATA1/2 ones)."""
    body = push_data(b"ord") + b"\x51" + push_data(b"text/plain;charset=utf-8") + OP_0
    data = rng.randbytes(size)
    for i in range(0, len(data), 520):
        body += push_data(data[i : i + 520])
    return OP_0 + OP_IF + body + OP_ENDIF


def make_leaf_spend(rng: random.Random, tail: bytes) -> tuple[Tx, list[TxOut], bytes]:
    """A 2-input transaction whose input 0 spends, by script path, a leaf
    ``<key> OP_CHECKSIG <tail>`` among 0 to 3 other leaves; returns its leaf secret too."""
    secret = rng.randbytes(32)
    script = b"\x20" + secp.xonly_from_secret(secret) + OP_CHECKSIG + tail
    leaf = tapleaf_hash(0xC0, script)
    path = [rng.randbytes(32) for _ in range(rng.randrange(4))]
    root = leaf
    for node in path:
        root = tapbranch_hash(root, node)
    internal = secp.xonly_from_secret(rng.randbytes(32))
    out = secp.xonly_tweak_add(internal, taptweak_hash(internal, root))
    assert out is not None
    output_key, parity = out
    control = bytes((0xC0 | parity,)) + internal + b"".join(path)
    amount = rng.randrange(1000, 10**8)
    spent = [TxOut(amount, b"\x51\x20" + output_key), TxOut(5000, b"\x00\x14" + bytes(20))]
    vin = (
        TxIn(OutPoint(rng.randbytes(32), rng.randrange(4)), b"", 0xFFFFFFFD),
        TxIn(OutPoint(rng.randbytes(32), 1), b"", 0xFFFFFFFF),
    )
    vout = (TxOut(amount - 1000, b"\x00\x14" + rng.randbytes(20)), TxOut(1, b"\x6a"))
    unsigned = Tx(2, vin, vout, 0)
    hash_type = rng.choice([0, 0, 0, 1, 2, 3, 0x81, 0x82, 0x83])
    h = taproot_sighash(PrecomputedTx(unsigned, spent), 0, hash_type, None, leaf)
    assert h is not None
    sig = secp.schnorr_sign(secret, h, rng.randbytes(32)) + (
        bytes((hash_type,)) if hash_type else b""
    )
    txin = vin[0]._replace(witness=(sig, script, control))
    return Tx(2, (txin, vin[1]), vout, 0), spent, secret


def _tails(rng: random.Random) -> list[tuple[str, bytes]]:
    """Leaf tails after ``<key> OP_CHECKSIG``: envelopes the fast path takes, and shapes it
    must leave to the interpreter (some of them valid, some not)."""
    big = rng.randbytes(521)
    return [
        ("none", b""),
        ("envelope", envelope(rng, rng.randrange(0, 2000))),
        ("two envelopes", envelope(rng, 30) + envelope(rng, 700)),
        ("empty envelope", OP_0 + OP_IF + OP_ENDIF),
        ("pushdata4", OP_0 + OP_IF + b"\x4e\x03\x00\x00\x00abc" + OP_ENDIF),
        ("push of 521", OP_0 + OP_IF + b"\x4d\x09\x02" + big + OP_ENDIF),
        ("no endif", OP_0 + OP_IF + push_data(b"ord")),
        ("truncated push", OP_0 + OP_IF + b"\x4c\x10abc"),
        ("op_success inside", OP_0 + OP_IF + b"\x50" + OP_ENDIF),
        ("op_success 0xbb", OP_0 + OP_IF + b"\xbb" + OP_ENDIF),
        ("true branch", b"\x51" + OP_IF + push_data(b"x") + b"\x75" + OP_ENDIF),
        ("nested if", OP_0 + OP_IF + OP_0 + OP_IF + OP_ENDIF + OP_ENDIF),
        ("verify after", b"\x69"),
        ("drop after", b"\x75"),
        ("codeseparator", b"\xab"),
        ("disabled op in branch", OP_0 + OP_IF + b"\x7e" + OP_ENDIF),
        ("op_verif in branch", OP_0 + OP_IF + b"\x65" + OP_ENDIF),
    ]


def _mutations(rng: random.Random, tx: Tx, spent: list[TxOut]) -> list[tuple[Tx, list[TxOut]]]:
    txin = tx.vin[0]
    sig, script, control = txin.witness

    def flip(b: bytes) -> bytes:
        i = rng.randrange(len(b))
        return b[:i] + bytes((b[i] ^ (1 << rng.randrange(8)),)) + b[i + 1 :]

    def with_witness(*wit: bytes) -> tuple[Tx, list[TxOut]]:
        return Tx(tx.version, (txin._replace(witness=wit), tx.vin[1]), tx.vout, 0), spent

    return [
        with_witness(flip(sig), script, control),
        with_witness(sig, flip(script), control),
        with_witness(sig, script, flip(control)),
        with_witness(sig, script, bytes((control[0] ^ 1,)) + control[1:]),  # parity
        with_witness(sig, script, bytes((0xC2 | control[0] & 1,)) + control[1:]),  # version
        with_witness(sig, script, control + rng.randbytes(rng.choice([1, 32]))),
        with_witness(b"", script, control),
        with_witness(sig[:64] + b"\x00", script, control),
        with_witness(sig[:64] + b"\x04", script, control),
        with_witness(sig, script, control, b"\x50" + rng.randbytes(3)),  # an annex
        with_witness(b"\x01", sig, script, control),  # one more stack item
        (tx, [TxOut(spent[0].value + 1, spent[0].script_pubkey), spent[1]]),
    ]


def _kernel_ok(tx: Tx, spent: list[TxOut]) -> bool:
    outs = [pbk.TransactionOutput(pbk.ScriptPubkey(o.script_pubkey), o.value) for o in spent]
    ktx = pbk.Transaction(tx.serialize())
    data = PrecomputedTransactionData(ktx, outs)
    spk = pbk.ScriptPubkey(spent[0].script_pubkey)
    return bool(spk.verify(spent[0].value, ktx, data, 0, int(CONSENSUS_FLAGS)))


def test_tapscript_fast_path_agrees_with_interpreter_and_kernel() -> None:
    rng = random.Random(20261122)
    compared = taken = deferred = 0
    kinds_taken: set[str] = set()
    for trial in range(120):
        for name, tail in _tails(rng):
            tx, spent, _ = make_leaf_spend(rng, tail)
            variants = [(tx, spent)] + (_mutations(rng, tx, spent) if trial % 4 == 0 else [])
            for vtx, vspent in variants:
                spk, amount = vspent[0].script_pubkey, vspent[0].value
                for flags in (int(CONSENSUS_FLAGS), int(STANDARD_FLAGS), int(ALL_FLAGS)):
                    pre = PrecomputedTx(vtx, vspent)
                    want = interpreter_result(pre, 0, spk, amount, flags)
                    if flags == CONSENSUS_FLAGS:
                        assert (want == "OK") == _kernel_ok(vtx, vspent), (
                            f"trial {trial} {name}: interpreter {want}, kernel disagrees"
                        )
                    if try_fast_path(PrecomputedTx(vtx, vspent), 0, spk, amount, flags):
                        taken += 1
                        kinds_taken.add(name)
                        assert want == "OK", f"trial {trial} {name}: fast path took {want}"
                    got = api_result(PrecomputedTx(vtx, vspent), 0, spk, amount, flags)
                    assert got == want, f"trial {trial} {name} {flags:#x}: {got} != {want}"
                    checks: list[SigCheck] = []
                    if try_fast_path(PrecomputedTx(vtx, vspent), 0, spk, amount, flags, checks):
                        assert [len(c) for c in checks] == [5, 4]
                        ok = secp.first_failing(checks, *check_options(flags)) < 0
                        assert ok == (want == "OK"), (
                            f"trial {trial} {name}: deferred checks say {ok}, interpreter {want}"
                        )
                        deferred += 1
                    else:
                        assert not checks
                    compared += 1
    print(f"tapscript fast path: {compared} comparisons, {taken} taken at once, "
          f"{deferred} deferred")  # fmt: skip
    assert kinds_taken == {"none", "envelope", "two envelopes", "empty envelope", "pushdata4"}
    assert deferred > taken > 1000
