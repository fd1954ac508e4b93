"""Context-free transaction checks (mirrors Core's CheckTransaction)."""

from __future__ import annotations

from operator import itemgetter

from pyrite.errors import TxValidationError
from pyrite.primitives.tx import MAX_MONEY, NULL_HASH, NULL_OUTPOINT, Tx

_prevout = itemgetter(0)  # a TxIn's outpoint (its first item: cheaper than by name)

MAX_BLOCK_WEIGHT = 4_000_000
WITNESS_SCALE_FACTOR = 4


def check_transaction(tx: Tx) -> None:
    """Raise TxValidationError with Core's reject reason if ``tx`` fails CheckTransaction."""
    vin = tx.vin
    if not vin:
        raise TxValidationError("bad-txns-vin-empty")
    if not tx.vout:
        raise TxValidationError("bad-txns-vout-empty")
    if tx.base_size * WITNESS_SCALE_FACTOR > MAX_BLOCK_WEIGHT:
        raise TxValidationError("bad-txns-oversize")
    total = 0
    for value, _ in tx.vout:
        if value < 0:
            raise TxValidationError("bad-txns-vout-negative")
        if value > MAX_MONEY:
            raise TxValidationError("bad-txns-vout-toolarge")
        total += value
        if total > MAX_MONEY:
            raise TxValidationError("bad-txns-txouttotal-toolarge")
    if len(vin) == 1:  # no duplicates possible; a null prevout makes it the coinbase
        prevout = vin[0].prevout
        if prevout.n == 0xFFFFFFFF and prevout.txid == NULL_HASH:
            n = len(vin[0].script_sig)
            if n < 2 or n > 100:
                raise TxValidationError("bad-cb-length")
        return
    prevouts = set(map(_prevout, vin))
    if len(prevouts) != len(vin):
        raise TxValidationError("bad-txns-inputs-duplicate")
    # not a coinbase (more than one input): no input may spend the null prevout
    if NULL_OUTPOINT in prevouts:
        raise TxValidationError("bad-txns-prevout-null")
