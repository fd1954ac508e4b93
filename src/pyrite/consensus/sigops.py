"""Signature-operation counting for blocks (Core's GetTransactionSigOpCost and friends).

The common templates (P2PKH, P2SH, P2WPKH, P2WSH, P2TR scriptPubKeys and push-only
scriptSigs) are recognised without a generic walk over the script's operations; the
counts are always those of Core's GetSigOpCount, GetP2SHSigOpCount and
CountWitnessSigOps.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from pyrite.primitives.tx import Tx
from pyrite.script.flags import P2SH, WITNESS
from pyrite.script.script import is_p2sh, p2sh_sigop_count, witness_sigop_count

WITNESS_SCALE_FACTOR = 4
MAX_BLOCK_SIGOPS_COST = 80_000

_OP_PUSHDATA1 = 0x4C
_OP_PUSHDATA2 = 0x4D
_OP_PUSHDATA4 = 0x4E
_OP_CHECKSIGVERIFY = 0xAD
_OP_CHECKMULTISIGVERIFY = 0xAF
_MAX_PUBKEYS_PER_MULTISIG = 20

_set_memo: Callable[[Tx, int], None] = vars(Tx)["legacy_sigops_memo"].__set__


class SpentOutput(Protocol):
    """What sigop counting needs of a spent output: a ``TxOut`` or a UTXO ``Coin``."""

    @property
    def script_pubkey(self) -> bytes: ...


def script_legacy_sigops(script: bytes) -> int:
    """Core's CScript::GetSigOpCount(false): OP_CHECKSIG(VERIFY) counts 1, OP_CHECKMULTISIG
    (VERIFY) counts 20; counting stops where a push runs past the end of the script."""
    n = 0
    pc = 0
    end = len(script)
    while pc < end:
        op = script[pc]
        pc += 1
        if op < _OP_PUSHDATA1:
            pc += op  # past the end: GetOp fails and counting stops, as the loop does
        elif op <= _OP_PUSHDATA4:
            if op == _OP_PUSHDATA1:
                if pc + 1 > end:
                    break
                pc += 1 + script[pc]
            elif op == _OP_PUSHDATA2:
                if pc + 2 > end:
                    break
                pc += 2 + (script[pc] | (script[pc + 1] << 8))
            else:
                if pc + 4 > end:
                    break
                pc += 4 + int.from_bytes(script[pc : pc + 4], "little")
        elif op >= 0xAC:
            if op <= _OP_CHECKSIGVERIFY:
                n += 1
            elif op <= _OP_CHECKMULTISIGVERIFY:
                n += _MAX_PUBKEYS_PER_MULTISIG
    return n


def legacy_sigop_count(tx: Tx) -> int:
    """Core's GetLegacySigOpCount: inaccurate counting over scriptSigs and scriptPubKeys.

    The count is remembered on the transaction (it depends only on its scripts), so
    CheckBlock and ConnectBlock count each transaction once.
    """
    n = tx.legacy_sigops_memo
    if n >= 0:
        return n
    n = _count_legacy_sigops(tx)
    _set_memo(tx, n)
    return n


def _count_legacy_sigops(tx: Tx) -> int:
    n = 0
    for txin in tx.vin:
        ss = txin.script_sig
        if ss:
            # Direct pushes (opcodes below OP_PUSHDATA1) count nothing; walk them inline
            # and hand the script to the generic counter only if something else shows up.
            pc = 0
            end = len(ss)
            while pc < end:
                op = ss[pc]
                if op >= _OP_PUSHDATA1:
                    n += script_legacy_sigops(ss)
                    break
                pc += op + 1
    for out in tx.vout:
        spk = out.script_pubkey
        ln = len(spk)
        if ln == 22:
            if spk[0] == 0 and spk[1] == 20:  # P2WPKH: OP_0, a 20-byte push
                continue
        elif ln == 25:
            if spk[0] == 0x76 and spk[24] == 0xAC and spk[23] == 0x88 and spk[1] == 0xA9:
                if spk[2] == 20:  # P2PKH: one OP_CHECKSIG
                    n += 1
                    continue
        elif ln == 34:
            if spk[1] == 32 and (spk[0] == 0 or spk[0] == 0x51):  # P2WSH, P2TR
                continue
        elif ln == 23:
            if spk[0] == 0xA9 and spk[1] == 20 and spk[22] == 0x87:  # P2SH
                continue
        if ln:
            n += script_legacy_sigops(spk)
    return n


def p2sh_sigops(tx: Tx, spent: Sequence[SpentOutput]) -> int:
    """Core's GetP2SHSigOpCount (``spent`` lists the output spent by each input)."""
    if tx.is_coinbase():
        return 0
    n = 0
    for txin, prev in zip(tx.vin, spent, strict=True):
        if is_p2sh(prev.script_pubkey):
            n += p2sh_sigop_count(prev.script_pubkey, txin.script_sig)
    return n


def tx_sigop_cost(tx: Tx, spent: Sequence[SpentOutput], flags: int) -> int:
    """Core's GetTransactionSigOpCost (``spent`` lists the output spent by each input)."""
    cost = legacy_sigop_count(tx) * WITNESS_SCALE_FACTOR
    if tx.is_coinbase():
        return cost
    p2sh = flags & P2SH
    witness = flags & WITNESS
    if not (p2sh or witness):
        return cost
    for txin, prev in zip(tx.vin, spent, strict=True):
        spk = prev.script_pubkey
        ln = len(spk)
        # Templates that are neither P2SH nor a version-0 witness program count nothing
        # here; P2WPKH counts one witness sigop.
        if ln == 22:
            if spk[0] == 0 and spk[1] == 20:  # P2WPKH
                if witness:
                    cost += 1
                continue
        elif ln == 34:
            if spk[0] == 0x51 and spk[1] == 32:  # P2TR: witness v1 counts nothing
                continue
        elif ln == 25:
            if spk[0] == 0x76:  # not P2SH, not a witness program
                continue
        if p2sh and is_p2sh(spk):
            cost += p2sh_sigop_count(spk, txin.script_sig) * WITNESS_SCALE_FACTOR
        if witness:
            cost += witness_sigop_count(txin.script_sig, spk, txin.witness)
    return cost
