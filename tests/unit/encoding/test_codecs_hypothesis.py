"""Property tests for the byte and text codecs.

Round trips: base58 / base58check, bech32 / bech32m, segwit addresses, script <->
address, WIF, BIP32 extended keys, CompactSize, transactions, headers and blocks.
Robustness: arbitrary input to every decoder either decodes or raises
``DecodeError``, never any other exception.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pyrite.crypto.secp import SECP256K1_ORDER
from pyrite.encoding import base58, bech32
from pyrite.encoding.address import (
    CHAINS,
    address_to_script,
    decode_wif,
    encode_wif,
    p2pkh_script,
    p2sh_script,
    script_to_address,
    witness_script,
)
from pyrite.encoding.bytes import MAX_SIZE, ByteReader, ByteWriter, compact_size, read_compact_size
from pyrite.errors import DecodeError
from pyrite.primitives import Block, BlockHeader, OutPoint, Tx, TxIn, TxOut
from pyrite.primitives.tx import io_layout
from pyrite.wallet.bip32 import ExtKey, parse_path

FAST = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SLOW = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

chains = st.sampled_from(sorted(CHAINS))
u32 = st.integers(0, 0xFFFFFFFF)
i32 = st.integers(-(2**31), 2**31 - 1)
i64 = st.integers(-(2**63), 2**63 - 1)
small_bytes = st.binary(max_size=60)


def only_decode_errors(fn: Callable[[], Any]) -> None:
    """Run ``fn``; a DecodeError is fine, any other exception fails the property."""
    with contextlib.suppress(DecodeError):
        fn()


def rejects(fn: Callable[[], Any]) -> bool:
    """True if ``fn`` raises DecodeError, False if it returns; other exceptions propagate."""
    try:
        fn()
    except DecodeError:
        return True
    return False


# --- base58 ---


@FAST
@given(st.binary(max_size=100))
def test_base58_roundtrip(data: bytes) -> None:
    text = base58.encode(data)
    assert base58.decode(text) == data
    assert base58.decode_check(base58.encode_check(data)) == data
    # leading zero bytes are exactly the leading '1's
    zeros = len(data) - len(data.lstrip(b"\x00"))
    assert len(text) - len(text.lstrip("1")) == zeros


@FAST
@given(st.binary(min_size=1, max_size=60), st.integers(0, 200), st.integers(1, 255))
def test_base58check_detects_corruption(data: bytes, pos: int, delta: int) -> None:
    raw = bytearray(base58.decode(base58.encode_check(data)))
    raw[pos % len(raw)] ^= delta
    text = base58.encode(bytes(raw))
    if not rejects(lambda: base58.decode_check(text)):
        # a 4-byte checksum can collide, but then the payload must differ from the input
        assert base58.decode_check(text) != data


@FAST
@given(st.one_of(st.text(max_size=80), st.text(alphabet=base58.ALPHABET + " 0Il\t", max_size=80)))
def test_base58_decoders_raise_only_decode_error(text: str) -> None:
    only_decode_errors(lambda: base58.decode(text))
    only_decode_errors(lambda: base58.decode(text, 21))
    only_decode_errors(lambda: base58.decode_check(text))
    only_decode_errors(lambda: base58.decode_check(text, 34))


# --- bech32 / bech32m ---

hrps = st.text(alphabet=[chr(c) for c in range(33, 127) if not chr(c).isupper()], min_size=1)
specs = st.sampled_from([bech32.Spec.BECH32, bech32.Spec.BECH32M])


@FAST
@given(hrps.filter(lambda h: len(h) <= 83), st.data(), specs)
def test_bech32_roundtrip(hrp: str, data: st.DataObject, spec: bech32.Spec) -> None:
    room = bech32.MAX_LENGTH - len(hrp) - 1 - bech32.CHECKSUM_LENGTH
    values = data.draw(st.lists(st.integers(0, 31), max_size=room))
    text = bech32.encode(hrp, values, spec)
    assert len(text) <= bech32.MAX_LENGTH
    assert bech32.decode(text) == (hrp, values, spec)
    assert bech32.decode(text.upper()) == (hrp, values, spec)
    # the two checksum constants never validate the same string
    other = bech32.Spec.BECH32M if spec is bech32.Spec.BECH32 else bech32.Spec.BECH32
    assert bech32.encode(hrp, values, other) != text


@FAST
@given(st.binary(max_size=80), st.integers(1, 8))
def test_convertbits_roundtrip(data: bytes, tobits: int) -> None:
    five = bech32.convertbits(data, 8, 5, True)
    assert bytes(bech32.convertbits(five, 5, 8, False)) == data
    regrouped = bech32.convertbits(data, 8, tobits, True)
    assert all(0 <= v < (1 << tobits) for v in regrouped)


witness_programs = st.one_of(
    st.tuples(
        st.just(0), st.sampled_from([20, 32]).flatmap(lambda n: st.binary(min_size=n, max_size=n))
    ),
    st.tuples(st.integers(1, 16), st.binary(min_size=2, max_size=40)),
)


@FAST
@given(st.sampled_from(["bc", "tb", "bcrt"]), witness_programs)
def test_segwit_address_roundtrip(hrp: str, vp: tuple[int, bytes]) -> None:
    version, program = vp
    addr = bech32.segwit_encode(hrp, version, program)
    assert bech32.segwit_decode(hrp, addr) == (version, program)
    assert bech32.segwit_decode(hrp, addr.upper()) == (version, program)
    assert bech32.segwit_decode_any(addr) == (hrp, version, program)
    # the wrong checksum variant is refused
    _, data, spec = bech32.decode(addr)
    wrong = bech32.Spec.BECH32M if spec is bech32.Spec.BECH32 else bech32.Spec.BECH32
    swapped = bech32.encode(hrp, data, wrong)
    assert rejects(lambda: bech32.segwit_decode(hrp, swapped)), f"{swapped} accepted"


bech32ish = st.text(alphabet=bech32.CHARSET + "1bcrtBCQP", max_size=95)


@FAST
@given(st.one_of(st.text(max_size=100), bech32ish, bech32ish.map(lambda s: "bc1" + s)))
def test_bech32_decoders_raise_only_decode_error(text: str) -> None:
    only_decode_errors(lambda: bech32.decode(text))
    only_decode_errors(lambda: bech32.segwit_decode_any(text))
    only_decode_errors(lambda: bech32.segwit_decode("bc", text))


# --- addresses and WIF ---

scripts_with_address = st.one_of(
    st.binary(min_size=20, max_size=20).map(p2pkh_script),
    st.binary(min_size=20, max_size=20).map(p2sh_script),
    witness_programs.map(lambda vp: witness_script(*vp)),
)


@FAST
@given(scripts_with_address, chains)
def test_script_address_roundtrip(script: bytes, chain: str) -> None:
    addr = script_to_address(script, chain)
    assert addr is not None
    assert address_to_script(addr, chain) == script


@FAST
@given(st.binary(max_size=50), chains)
def test_script_to_address_total(script: bytes, chain: str) -> None:
    addr = script_to_address(script, chain)
    if addr is not None:
        assert address_to_script(addr, chain) == script


@FAST
@given(st.integers(1, SECP256K1_ORDER - 1), st.booleans(), chains)
def test_wif_roundtrip(secret: int, compressed: bool, chain: str) -> None:
    sk = secret.to_bytes(32, "big")
    text = encode_wif(sk, compressed, chain)
    assert decode_wif(text, chain) == (sk, compressed)
    assert text[0] in ("5KL" if chain == "main" else "9c")
    assert rejects(lambda: address_to_script(text, chain)), f"WIF {text} decoded as an address"


@FAST
@given(
    st.one_of(
        st.text(max_size=100),
        st.text(alphabet=base58.ALPHABET, max_size=60),
        st.binary(min_size=20, max_size=40).map(base58.encode_check),
        bech32ish,
    ),
    chains,
)
def test_address_and_wif_decoders_raise_only_decode_error(text: str, chain: str) -> None:
    only_decode_errors(lambda: address_to_script(text, chain))
    only_decode_errors(lambda: decode_wif(text, chain))


# --- BIP32 ---


_ext_versions = st.sampled_from([0x0488ADE4, 0x0488B21E, 0x04358394, 0x043587CF]) | u32
_ext_payloads = st.builds(
    lambda v, depth, fp, child, cc, prefix, body: (
        v.to_bytes(4, "big")
        + bytes((depth,))
        + fp
        + child.to_bytes(4, "big")
        + cc
        + bytes((prefix,))
        + body
    ),
    _ext_versions,
    st.sampled_from([0, 1, 255]) | st.integers(0, 255),
    st.sampled_from([bytes(4)]) | st.binary(min_size=4, max_size=4),
    st.sampled_from([0, 0x80000000]) | u32,
    st.binary(min_size=32, max_size=32),
    st.sampled_from([0, 2, 3, 4]) | st.integers(0, 255),
    st.sampled_from([bytes(32), (SECP256K1_ORDER - 1).to_bytes(32, "big")])
    | st.binary(min_size=32, max_size=32),
)


@SLOW
@given(st.one_of(_ext_payloads, st.binary(max_size=90)))
def test_extkey_parse_raises_only_decode_error(raw: bytes) -> None:
    text = base58.encode_check(raw)
    try:
        key = ExtKey.from_string(text)
    except DecodeError:
        return
    assert key.to_string() == text


@SLOW
@given(st.binary(min_size=16, max_size=64), st.lists(u32, max_size=4))
def test_bip32_roundtrip_and_public_derivation(seed: bytes, path: list[int]) -> None:
    master = ExtKey.from_seed(seed)
    child = master.derive_path(path)
    for key in (child, child.neuter()):
        assert ExtKey.from_string(key.to_string()) == key
    # derive the trailing non-hardened part of the path from the public key
    k = len(path)
    while k > 0 and path[k - 1] < 0x80000000:
        k -= 1
    assert master.derive_path(path[:k]).neuter().derive_path(path[k:]) == child.neuter()


@FAST
@given(st.one_of(st.text(max_size=40), st.text(alphabet="m/0123456789'hH", max_size=40)))
def test_path_parser_raises_only_decode_error(text: str) -> None:
    only_decode_errors(lambda: parse_path(text))


# --- CompactSize ---


@FAST
@given(st.integers(0, 2**64 - 1))
def test_compact_size_roundtrip(n: int) -> None:
    enc = compact_size(n)
    assert len(enc) == (1 if n < 0xFD else 3 if n <= 0xFFFF else 5 if n <= 0xFFFFFFFF else 9)
    r = ByteReader(enc)
    assert r.compact_size(2**64 - 1) == n
    r.done()
    if n <= MAX_SIZE:
        assert read_compact_size(enc) == n
    else:
        assert rejects(lambda: read_compact_size(enc)), f"{n} read past MAX_SIZE"


@FAST
@given(st.binary(max_size=12))
def test_compact_size_reader_raises_only_decode_error(data: bytes) -> None:
    if rejects(lambda: read_compact_size(data, 2**64 - 1)):
        return
    w = ByteWriter()
    w.compact_size(read_compact_size(data, 2**64 - 1))
    assert w.getvalue() == data  # only canonical encodings are accepted


# --- transactions and blocks ---

outpoints = st.builds(OutPoint, st.binary(min_size=32, max_size=32), u32)
witnesses = st.lists(st.binary(max_size=80), max_size=4).map(tuple)
txins = st.builds(TxIn, outpoints, small_bytes, u32, witnesses)
txouts = st.builds(TxOut, i64, small_bytes)
txs = st.builds(
    Tx,
    i32,
    st.lists(txins, min_size=1, max_size=4).map(tuple),
    st.lists(txouts, max_size=4).map(tuple),
    u32,
)
headers = st.builds(
    BlockHeader,
    i32,
    st.binary(min_size=32, max_size=32),
    st.binary(min_size=32, max_size=32),
    u32,
    u32,
    u32,
)
blocks = st.builds(Block, headers, st.lists(txs, max_size=4).map(tuple))


def _strip_witness(tx: Tx) -> Tx:
    vin = tuple(TxIn(i.prevout, i.script_sig, i.sequence) for i in tx.vin)
    return Tx(tx.version, vin, tx.vout, tx.locktime)


@SLOW
@given(txs)
def test_tx_roundtrip(tx: Tx) -> None:
    raw = tx.serialize()
    back = Tx.from_bytes(raw)
    assert back == tx
    assert (back.txid, back.wtxid, back.size, back.base_size) == (
        tx.txid,
        tx.wtxid,
        tx.size,
        tx.base_size,
    )
    assert back.serialize() == raw
    base = tx.serialize(witness=False)
    stripped = Tx.from_bytes(base, allow_witness=False)
    assert stripped == _strip_witness(tx)
    assert stripped.txid == tx.txid
    assert Tx.from_bytes(base) == _strip_witness(tx)  # vin is non-empty: no marker ambiguity
    # what the parser notes for signature hashes matches a built transaction's layout
    assert io_layout(back) == io_layout(tx)


@SLOW
@given(headers)
def test_header_roundtrip(h: BlockHeader) -> None:
    raw = h.serialize()
    assert len(raw) == 80
    back = BlockHeader.from_bytes(raw)
    assert back == h
    assert back.hash == h.hash


@SLOW
@given(blocks)
def test_block_roundtrip(b: Block) -> None:
    raw = b.serialize()
    back = Block.from_bytes(raw)
    assert back == b
    assert back.hash == b.hash
    assert back.serialize() == raw
    assert (back.size, back.base_size, back.weight) == (b.size, b.base_size, b.weight)
    assert back.size == len(raw)


@FAST
@given(st.binary(max_size=300))
def test_primitive_parsers_raise_only_decode_error(data: bytes) -> None:
    only_decode_errors(lambda: Tx.from_bytes(data))
    only_decode_errors(lambda: Tx.from_bytes(data, allow_witness=False))
    only_decode_errors(lambda: BlockHeader.from_bytes(data))
    only_decode_errors(lambda: Block.from_bytes(data))


@SLOW
@given(txs, st.data())
def test_tx_parser_on_mutated_bytes(tx: Tx, data: st.DataObject) -> None:
    """Corrupt a valid serialization (flip, cut or insert bytes): still only DecodeError."""
    raw = bytearray(tx.serialize())
    for _ in range(data.draw(st.integers(1, 3))):
        op = data.draw(st.sampled_from(["flip", "cut", "insert"]))
        pos = data.draw(st.integers(0, max(len(raw) - 1, 0)))
        if op == "flip" and raw:
            raw[pos] ^= data.draw(st.integers(1, 255))
        elif op == "cut":
            del raw[pos:]
        else:
            raw[pos:pos] = data.draw(st.binary(min_size=1, max_size=9))
    mutated = bytes(raw)
    only_decode_errors(lambda: Tx.from_bytes(mutated))
    header = BlockHeader(1, bytes(32), bytes(32), 0, 0, 0).serialize()
    only_decode_errors(lambda: Block.from_bytes(header + b"\x01" + mutated))
