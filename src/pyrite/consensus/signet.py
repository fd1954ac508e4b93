"""BIP325 signet block solutions (mirrors Core's signet.cpp: SignetTxs, CheckSignetBlockSolution).

A signet block carries, in its coinbase's witness-commitment output, a push that starts
with SIGNET_HEADER followed by a scriptSig and a witness which must satisfy the network's
challenge script for a virtual transaction committing to the block (with the solution
itself removed from the coinbase).
"""

from __future__ import annotations

from pyrite.consensus.block_rules import get_witness_commitment_index
from pyrite.consensus.merkle import merkle_root
from pyrite.consensus.params import ChainParams
from pyrite.encoding.bytes import ByteReader
from pyrite.errors import DecodeError
from pyrite.primitives import Block, OutPoint, Tx, TxIn, TxOut
from pyrite.primitives.tx import NULL_OUTPOINT
from pyrite.script.errors import ScriptError
from pyrite.script.flags import DERSIG, NULLDUMMY, P2SH, WITNESS
from pyrite.script.interpreter import Checker, verify_input
from pyrite.script.script import ScriptParseError, get_op, push_data
from pyrite.script.sighash import PrecomputedTx

SIGNET_HEADER = bytes.fromhex("ecc7daa2")
#: Core's BLOCK_SCRIPT_VERIFY_FLAGS for the block solution
SIGNET_FLAGS = P2SH | WITNESS | DERSIG | NULLDUMMY


def _fetch_and_clear(script: bytes) -> tuple[bytes, bytes | None]:
    """Core's FetchAndClearCommitmentSection: (script without the solution, solution)."""
    out = bytearray()
    found: bytes | None = None
    pc = 0
    while pc < len(script):
        try:
            op, data, pc = get_op(script, pc)
        except ScriptParseError:
            break
        if data:
            if found is None and len(data) > len(SIGNET_HEADER) and data.startswith(SIGNET_HEADER):
                found = data[len(SIGNET_HEADER) :]
                data = SIGNET_HEADER
            out += push_data(data)
        else:
            out.append(op)
    return (bytes(out), found) if found is not None else (script, None)


def signet_txs(block: Block, challenge: bytes) -> tuple[Tx, Tx] | None:
    """Core's SignetTxs::Create: (to_spend, to_sign), or None if the block cannot carry one."""
    if not block.txs:
        return None
    cidx = get_witness_commitment_index(block)
    if cidx < 0:
        return None
    coinbase = block.txs[0]
    script, solution = _fetch_and_clear(coinbase.vout[cidx].script_pubkey)
    script_sig = b""
    witness: tuple[bytes, ...] = ()
    if solution is not None:
        try:
            r = ByteReader(solution)
            script_sig = r.var_bytes()
            n = r.compact_size()
            if n > r.remaining():
                return None
            witness = tuple(r.var_bytes() for _ in range(n))
            r.done()
        except DecodeError:
            return None
    vout = list(coinbase.vout)
    vout[cidx] = TxOut(vout[cidx].value, script)
    modified = Tx(coinbase.version, coinbase.vin, tuple(vout), coinbase.locktime)
    root, _ = merkle_root([modified.txid, *(tx.txid for tx in block.txs[1:])])
    h = block.header
    block_data = (
        h.version.to_bytes(4, "little", signed=True) + h.prev_hash + root
        + h.time.to_bytes(4, "little")
    )  # fmt: skip
    to_spend = Tx(
        0, (TxIn(NULL_OUTPOINT, b"\x00" + push_data(block_data), 0),), (TxOut(0, challenge),), 0
    )
    to_sign = Tx(
        0, (TxIn(OutPoint(to_spend.txid, 0), script_sig, 0, witness),), (TxOut(0, b"\x6a"),), 0
    )
    return to_spend, to_sign


def check_signet_solution(block: Block, params: ChainParams) -> bool:
    """Core's CheckSignetBlockSolution."""
    if block.hash == params.genesis.hash:
        return True
    challenge = params.signet_challenge or b""
    txs = signet_txs(block, challenge)
    if txs is None:
        return False
    to_spend, to_sign = txs
    spent = to_spend.vout[0]
    pre = PrecomputedTx(to_sign, [spent])
    txin = to_sign.vin[0]
    try:
        verify_input(txin.script_sig, spent.script_pubkey, txin.witness, SIGNET_FLAGS,
                     Checker(to_sign, 0, spent.value, pre))  # fmt: skip
    except ScriptError:
        return False
    return True
