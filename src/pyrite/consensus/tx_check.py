"""Context-free transaction checks (mirrors Core's CheckTransaction)."""

from __future__ import annotations

from pyrite.errors import TxValidationError
from pyrite.primitives.tx import MAX_MONEY, Tx

MAX_BLOCK_WEIGHT = 4_000_000
WITNESS_SCALE_FACTOR = 4


def check_transaction(tx: Tx) -> None:
    """Raise TxValidationError with Core's reject reason if ``tx`` fails CheckTransaction."""
    if not tx.vin:
        raise TxValidationError("bad-txns-vin-empty")
    if not tx.vout:
        raise TxValidationError("bad-txns-vout-empty")
    if tx.base_size * WITNESS_SCALE_FACTOR > MAX_BLOCK_WEIGHT:
        raise TxValidationError("bad-txns-oversize")
    total = 0
    for out in tx.vout:
        if out.value < 0:
            raise TxValidationError("bad-txns-vout-negative")
        if out.value > MAX_MONEY:
            raise TxValidationError("bad-txns-vout-toolarge")
        total += out.value
        if total > MAX_MONEY:
            raise TxValidationError("bad-txns-txouttotal-toolarge")
    prevouts = {i.prevout for i in tx.vin}
    if len(prevouts) != len(tx.vin):
        raise TxValidationError("bad-txns-inputs-duplicate")
    if tx.is_coinbase():
        n = len(tx.vin[0].script_sig)
        if n < 2 or n > 100:
            raise TxValidationError("bad-cb-length")
    else:
        for txin in tx.vin:
            if txin.prevout.is_null():
                raise TxValidationError("bad-txns-prevout-null")
