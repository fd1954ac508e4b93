"""The template shortcuts of the sigop counters agree with the generic op walk (Core's
GetSigOpCount, GetP2SHSigOpCount and CountWitnessSigOps) on templates, near-templates
and random scripts."""

from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pyrite.consensus.sigops import (
    WITNESS_SCALE_FACTOR,
    legacy_sigop_count,
    p2sh_sigops,
    script_legacy_sigops,
    tx_sigop_cost,
)
from pyrite.primitives.tx import NULL_OUTPOINT, OutPoint, Tx, TxIn, TxOut
from pyrite.script.flags import P2SH, WITNESS
from pyrite.script.script import push_data, sigop_count, witness_sigop_count


def _reference_legacy(tx: Tx) -> int:
    return sum(sigop_count(i.script_sig, False) for i in tx.vin) + sum(
        sigop_count(o.script_pubkey, False) for o in tx.vout
    )


def _reference_cost(tx: Tx, spent: list[TxOut], flags: int) -> int:
    cost = _reference_legacy(tx) * WITNESS_SCALE_FACTOR
    if tx.is_coinbase():
        return cost
    if flags & P2SH:
        cost += p2sh_sigops(tx, spent) * WITNESS_SCALE_FACTOR
    if flags & WITNESS:
        for txin, prev in zip(tx.vin, spent, strict=True):
            cost += witness_sigop_count(txin.script_sig, prev.script_pubkey, txin.witness)
    return cost


_H20 = bytes(range(20))
_H32 = bytes(range(32))
_MULTISIG = b"\x52" + push_data(b"\x02" * 33) * 3 + b"\x53\xae"
TEMPLATES = [
    b"",
    b"\x76\xa9\x14" + _H20 + b"\x88\xac",  # P2PKH
    b"\xa9\x14" + _H20 + b"\x87",  # P2SH
    b"\x00\x14" + _H20,  # P2WPKH
    b"\x00\x20" + _H32,  # P2WSH
    b"\x51\x20" + _H32,  # P2TR
    b"\x21" + b"\x02" * 33 + b"\xac",  # P2PK
    _MULTISIG,
    b"\x6a\x24\xaa\x21\xa9\xed" + _H32,  # witness commitment
    b"\x51\x02\x4e\x73",  # P2A
]
# the same layouts with the opcodes (or lengths) that the shortcuts test replaced
NEAR = [
    b"\x76\xa9\x14" + _H20 + b"\x88\xad",
    b"\x76\xa9\x14" + _H20 + b"\x88\xae",
    b"\x76\xa9\x14" + _H20 + b"\xac\xac",
    b"\x76\xa9\x13" + _H20 + b"\x88\xac",
    b"\x76\xa9\x4c" + _H20 + b"\x88\xac",
    b"\xac\xa9\x14" + _H20 + b"\x88\xac",
    b"\xa9\x14" + _H20 + b"\xac",
    b"\xa9\x14" + _H20 + b"\xae",
    b"\xa9\x15" + _H20 + b"\x87",
    b"\xa9\x4c" + _H20 + b"\x87",
    b"\x00\x15" + _H20,
    b"\x00\x13" + b"\xac" * 20,
    b"\x00\x4c" + b"\xac" * 20,
    b"\xac\x14" + _H20,
    b"\x00\x20" + b"\xac" * 32,
    b"\x51\x20" + b"\xae" * 32,
    b"\x52\x20" + _H32,
    b"\x51\x21" + b"\xac" * 32,
    b"\x00\x1f" + b"\xac" * 32,
    b"\x4c\x20" + b"\xac" * 32,
    b"\x4d\x20\x00" + b"\xac" * 31,
    b"\x4e\x01\x00\x00\x00\xac\xac",
    b"\x4e\x01\x00\x00",
    b"\x4d\x01",
    b"\x4c",
    b"\x05\xac\xac",
]
SIGS = [
    b"",
    push_data(b"\x30" * 71) + push_data(b"\x02" * 33),
    push_data(b"\xac" * 72) + push_data(b"\xae" * 33),
    b"\x00" + push_data(b"\xac" * 72) + push_data(_MULTISIG),
    push_data(b"\x00\x14" + _H20),
    push_data(b"\x00\x20" + _H32),
    b"\x00\xac",
    b"\x4c\x02\xac\xac",
    b"\x4c\x02\xac",
    b"\x02\xac",
    b"\x51\xae",
    b"\xac",
]


def _tx(script_sigs: list[bytes], witnesses: list[tuple[bytes, ...]], spks: list[bytes]) -> Tx:
    vin = tuple(
        TxIn(OutPoint(bytes([k + 1]) * 32, k), ss, 0xFFFFFFFF, w)
        for k, (ss, w) in enumerate(zip(script_sigs, witnesses, strict=True))
    )
    return Tx(2, vin, tuple(TxOut(1, s) for s in spks), 0)


@pytest.mark.parametrize("script", TEMPLATES + NEAR + SIGS)
def test_script_legacy_sigops_matches_generic(script: bytes) -> None:
    assert script_legacy_sigops(script) == sigop_count(script, False)
    for cut in range(len(script)):
        assert script_legacy_sigops(script[:cut]) == sigop_count(script[:cut], False)


def test_templates_and_near_templates() -> None:
    scripts = TEMPLATES + NEAR
    for flags in (0, P2SH, WITNESS, P2SH | WITNESS):
        for spk in scripts:
            for ss in SIGS:
                for wit in [(), (_MULTISIG,), (b"\x30" * 71, b"\x02" * 33)]:
                    tx = _tx([ss], [wit], [spk, *scripts])
                    spent = [TxOut(5, spk)]
                    assert legacy_sigop_count(tx) == _reference_legacy(tx)
                    assert tx_sigop_cost(tx, spent, flags) == _reference_cost(tx, spent, flags)
    coinbase = Tx(2, (TxIn(NULL_OUTPOINT, b"\x01\xac\xae"),), tuple(TxOut(1, s) for s in scripts))
    assert tx_sigop_cost(coinbase, [], P2SH | WITNESS) == _reference_cost(coinbase, [], 0)


def test_random_mutations_of_templates() -> None:
    rng = random.Random(7)
    pool = TEMPLATES + NEAR + SIGS
    for _ in range(4000):
        scripts = []
        for _ in range(3):
            s = bytearray(rng.choice(pool))
            for _ in range(rng.randrange(3)):
                if s and rng.random() < 0.7:
                    s[rng.randrange(len(s))] = rng.choice((0x00, 0x14, 0x20, 0x4C, 0x4D, 0x4E,
                                                           0x51, 0x87, 0x88, 0xAC, 0xAD, 0xAE,
                                                           0xAF, rng.randrange(256)))  # fmt: skip
                else:
                    s = s[: rng.randrange(len(s) + 1)]
            scripts.append(bytes(s))
        tx = _tx([scripts[0]], [(scripts[2],)], [scripts[1], scripts[2]])
        spent = [TxOut(1, scripts[rng.randrange(3)])]
        flags = rng.choice((0, P2SH, WITNESS, P2SH | WITNESS))
        assert legacy_sigop_count(tx) == _reference_legacy(tx)
        assert tx_sigop_cost(tx, spent, flags) == _reference_cost(tx, spent, flags)


_op = st.integers(0, 255).map(lambda b: bytes((b,)))
_push = st.binary(max_size=80).map(lambda d: push_data(d))
_script = st.one_of(
    st.lists(st.one_of(_op, _op, _push), max_size=30).map(b"".join), st.binary(max_size=60)
)


@settings(max_examples=1500, deadline=None, suppress_health_check=list(HealthCheck))
@given(ss=_script, spk=_script, wit=st.lists(_script, max_size=3).map(tuple),
       flags=st.sampled_from((0, P2SH, WITNESS, P2SH | WITNESS)))  # fmt: skip
def test_random_scripts(ss: bytes, spk: bytes, wit: tuple[bytes, ...], flags: int) -> None:
    assert script_legacy_sigops(spk) == sigop_count(spk, False)
    tx = _tx([ss], [wit], [spk])
    assert legacy_sigop_count(tx) == _reference_legacy(tx)
    assert tx_sigop_cost(tx, [TxOut(0, spk)], flags) == _reference_cost(tx, [TxOut(0, spk)], flags)


def test_spent_list_must_match_inputs() -> None:
    tx = _tx([b""], [()], [b"\x51"])
    with pytest.raises(ValueError):
        tx_sigop_cost(tx, [], P2SH | WITNESS)
    assert tx_sigop_cost(tx, [], 0) == 0


def test_legacy_count_is_remembered_and_coins_count_like_txouts() -> None:
    from pyrite.chain.coins import Coin

    p2pkh = bytes.fromhex("76a914") + bytes(20) + bytes.fromhex("88ac")
    tx = _tx([b"\x01\xac"], [()], [p2pkh, _MULTISIG])
    assert tx.legacy_sigops_memo == -1
    n = legacy_sigop_count(tx)
    assert n == _reference_legacy(tx)
    assert tx.legacy_sigops_memo == n
    assert legacy_sigop_count(tx) == n
    parsed = Tx.from_bytes(tx.serialize())
    assert parsed == tx
    assert parsed.legacy_sigops_memo == -1
    assert legacy_sigop_count(parsed) == n
    for spk in TEMPLATES + NEAR:
        spent_tx = _tx([b""], [(b"\x30" * 71, b"\x02" * 33)], [b"\x51"])
        as_coin = [Coin(5, spk, 3, False)]
        for flags in (0, P2SH, WITNESS, P2SH | WITNESS):
            assert tx_sigop_cost(spent_tx, as_coin, flags) == tx_sigop_cost(
                spent_tx, [TxOut(5, spk)], flags
            )
