"""BIP325 signet block solutions: built and signed here, checked like Core's
CheckSignetBlockSolution (the solution is removed from the coinbase before hashing)."""

from __future__ import annotations

from dataclasses import replace

from pyrite.consensus.merkle import block_merkle_root
from pyrite.consensus.params import get_params
from pyrite.consensus.signet import SIGNET_HEADER, check_signet_solution, signet_txs
from pyrite.consensus.validation import coinbase_height_script, witness_commitment_script
from pyrite.crypto import secp
from pyrite.encoding.bytes import compact_size
from pyrite.primitives import Block, BlockHeader, OutPoint, Tx, TxIn, TxOut
from pyrite.primitives.tx import NULL_HASH
from pyrite.script.script import push_data
from pyrite.script.sighash import legacy_sighash

SECRET = bytes(31) + b"\x07"
PUB = secp.pubkey_from_secret(SECRET)
CHALLENGE = push_data(PUB) + b"\xac"  # <pubkey> OP_CHECKSIG


def _block(extra: bytes, params_prev: bytes = b"\x11" * 32) -> Block:
    commitment = witness_commitment_script(bytes(32)) + extra
    coinbase = Tx(
        2,
        (TxIn(OutPoint(NULL_HASH, 0xFFFFFFFF), coinbase_height_script(5) + b"\x00", 0xFFFFFFFF,
              (bytes(32),)),),
        (TxOut(50 * 10**8, b"\x51"), TxOut(0, commitment)),
        0,
    )  # fmt: skip
    draft = Block(BlockHeader(0x20000000, params_prev, NULL_HASH, 1_700_000_000, 0x1E0377AE, 0),
                  (coinbase,))  # fmt: skip
    root, _ = block_merkle_root(draft)
    h = draft.header
    return Block(BlockHeader(h.version, h.prev_hash, root, h.time, h.bits, 0), (coinbase,))


def _solution(script_sig: bytes, witness: tuple[bytes, ...] = ()) -> bytes:
    out = compact_size(len(script_sig)) + script_sig + compact_size(len(witness))
    for item in witness:
        out += compact_size(len(item)) + item
    return out


def _signed_block(challenge: bytes) -> Block:
    unsigned = _block(push_data(SIGNET_HEADER))
    txs = signet_txs(unsigned, challenge)
    assert txs is not None
    _to_spend, to_sign = txs
    sig = secp.ecdsa_sign(SECRET, legacy_sighash(challenge, to_sign, 0, 1)) + b"\x01"
    return _block(push_data(SIGNET_HEADER + _solution(push_data(sig))))


def test_valid_and_invalid_solutions() -> None:
    params = replace(get_params("signet"), signet_challenge=CHALLENGE)
    good = _signed_block(CHALLENGE)
    assert check_signet_solution(good, params)
    # flip a byte of the signature inside the coinbase: the solution no longer verifies
    spk = good.txs[0].vout[1].script_pubkey
    bad_spk = spk[:-10] + bytes((spk[-10] ^ 1,)) + spk[-9:]
    cb = good.txs[0]
    bad = Block(good.header, (Tx(cb.version, cb.vin, (cb.vout[0], TxOut(0, bad_spk)), 0),))
    assert not check_signet_solution(bad, params)
    # no solution at all fails a signature challenge
    assert not check_signet_solution(_block(b""), params)
    # trailing bytes after the solution are rejected
    assert not check_signet_solution(
        _block(push_data(SIGNET_HEADER + _solution(b"") + b"\x00")), params
    )


def test_trivial_challenge_and_missing_commitment() -> None:
    params = replace(get_params("signet"), signet_challenge=b"\x51")  # OP_TRUE
    assert check_signet_solution(_block(b""), params)
    no_commitment = _block(b"")
    cb = no_commitment.txs[0]
    stripped = Block(no_commitment.header, (Tx(cb.version, cb.vin, cb.vout[:1], 0),))
    assert not check_signet_solution(stripped, params)
    default = get_params("signet")
    assert check_signet_solution(default.genesis, default)
