"""Signature-operation counting for blocks (Core's GetTransactionSigOpCost and friends)."""

from __future__ import annotations

import re
from collections.abc import Sequence

from pyrite.primitives.tx import Tx, TxOut
from pyrite.script.flags import P2SH, WITNESS
from pyrite.script.script import is_p2sh, p2sh_sigop_count, sigop_count, witness_sigop_count

WITNESS_SCALE_FACTOR = 4
#: a script without any of these bytes cannot contain a signature opcode
_could_count = re.compile(b"[\\xac-\\xaf]").search
MAX_BLOCK_SIGOPS_COST = 80_000


def legacy_sigop_count(tx: Tx) -> int:
    """Core's GetLegacySigOpCount: inaccurate counting over scriptSigs and scriptPubKeys."""
    n = 0
    for i in tx.vin:
        ss = i.script_sig
        if ss and _could_count(ss):
            n += sigop_count(ss, False)
    for o in tx.vout:
        spk = o.script_pubkey
        if len(spk) == 25 and spk[0] == 0x76 and spk[24] == 0xAC and spk[23] == 0x88:
            n += 1  # P2PKH
        elif spk and _could_count(spk):
            n += sigop_count(spk, False)
    return n


def p2sh_sigops(tx: Tx, spent: Sequence[TxOut]) -> int:
    """Core's GetP2SHSigOpCount (``spent`` lists the output spent by each input)."""
    if tx.is_coinbase():
        return 0
    n = 0
    for txin, prev in zip(tx.vin, spent, strict=True):
        if is_p2sh(prev.script_pubkey):
            n += p2sh_sigop_count(prev.script_pubkey, txin.script_sig)
    return n


def tx_sigop_cost(tx: Tx, spent: Sequence[TxOut], flags: int) -> int:
    """Core's GetTransactionSigOpCost."""
    cost = legacy_sigop_count(tx) * WITNESS_SCALE_FACTOR
    if tx.is_coinbase():
        return cost
    if flags & P2SH:
        cost += p2sh_sigops(tx, spent) * WITNESS_SCALE_FACTOR
    if flags & WITNESS:
        for txin, prev in zip(tx.vin, spent, strict=True):
            cost += witness_sigop_count(txin.script_sig, prev.script_pubkey, txin.witness)
    return cost
