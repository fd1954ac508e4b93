"""Transaction rules that need context: finality, BIP68 sequence locks, spent coins.

Mirrors Bitcoin Core's ``consensus/tx_verify.cpp`` (IsFinalTx,
CalculateSequenceLocks, EvaluateSequenceLocks, SequenceLocks,
Consensus::CheckTxInputs) and the per-transaction bookkeeping of
``ConnectBlock`` in ``validation.cpp`` (accumulated fees, the sigop-cost
budget, the reject text of a failed script).

Everything here is pure. The chain layer supplies what Core reads from its
block index and coins view: the heights of the coins being spent, a
``get_mtp_at_height`` callback for median-time-past of ancestors, and the
spent coins themselves (anything with ``value``, ``script_pubkey``,
``height`` and ``is_coinbase``, such as ``pyrite.chain.coins.Coin``).

How a caller connecting a block uses these, in Core's order, per transaction
(``i`` is its position in the block, ``height`` the block's height)::

    total_fees = total_sigops = 0
    for tx in block.txs:
        if not tx.is_coinbase():
            try:
                fee = check_tx_inputs(tx, coins, height)
            except TxValidationError as err:
                raise tx_error_in_block(err, tx) from err
            total_fees = accumulate_fees(total_fees, fee)
            check_sequence_locks(tx, lock_flags, [c.height for c in coins], height,
                                 prev_mtp, get_mtp_at_height)
        cost = tx_sigop_cost(tx, [c.txout for c in coins], script_flags)
        total_sigops = accumulate_sigops_cost(total_sigops, cost)
        ... verify scripts; on failure raise script_failure_error(code, tx, n)
    check_coinbase_amount(block, total_fees, height, params)   # block_rules
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from operator import itemgetter
from typing import Final, Protocol, cast

from pyrite.consensus.params import COINBASE_MATURITY
from pyrite.consensus.sigops import MAX_BLOCK_SIGOPS_COST
from pyrite.errors import BlockValidationError, TxValidationError
from pyrite.primitives.tx import COIN, MAX_MONEY, SEQUENCE_FINAL, Tx
from pyrite.script.errors import SCRIPT_ERROR_STRINGS
from pyrite.script.script import LOCKTIME_THRESHOLD

__all__ = [
    "LOCKTIME_VERIFY_SEQUENCE",
    "NO_SEQUENCE_LOCKS",
    "REASON_ACCUMULATED_FEE",
    "REASON_BLK_SIGOPS",
    "REASON_FEE_OUT_OF_RANGE",
    "REASON_INPUTS_MISSING",
    "REASON_INPUT_VALUES",
    "REASON_IN_BELOW_OUT",
    "REASON_NONFINAL",
    "REASON_PREMATURE_COINBASE",
    "SEQUENCE_LOCKTIME_DISABLE_FLAG",
    "SEQUENCE_LOCKTIME_GRANULARITY",
    "SEQUENCE_LOCKTIME_MASK",
    "SEQUENCE_LOCKTIME_TYPE_FLAG",
    "TX_KIND_CONSENSUS",
    "TX_KIND_MISSING_INPUTS",
    "TX_KIND_PREMATURE_SPEND",
    "SequenceLocks",
    "SpentCoin",
    "accumulate_fees",
    "accumulate_sigops_cost",
    "calculate_sequence_locks",
    "check_sequence_locks",
    "check_tx_inputs",
    "evaluate_sequence_locks",
    "format_money",
    "is_final_tx",
    "money_range",
    "script_failure_debug",
    "script_failure_error",
    "script_failure_reason",
    "sequence_locks_disabled",
    "sequence_locks_ok",
    "tx_error_in_block",
]

#: consensus.h: lock-time flag that turns on BIP68 (set once CSV is active).
LOCKTIME_VERIFY_SEQUENCE: Final = 1 << 0

#: CTxIn constants (primitives/transaction.h) for BIP68 relative lock-times.
SEQUENCE_LOCKTIME_DISABLE_FLAG: Final = 1 << 31
SEQUENCE_LOCKTIME_TYPE_FLAG: Final = 1 << 22
SEQUENCE_LOCKTIME_MASK: Final = 0x0000FFFF
SEQUENCE_LOCKTIME_GRANULARITY: Final = 9

# TxValidationResult categories this module produces (the ``kind`` of the error).
TX_KIND_CONSENSUS: Final = "CONSENSUS"
TX_KIND_MISSING_INPUTS: Final = "MISSING_INPUTS"
TX_KIND_PREMATURE_SPEND: Final = "PREMATURE_SPEND"

# Core's reject reasons.
REASON_INPUTS_MISSING: Final = "bad-txns-inputs-missingorspent"
REASON_PREMATURE_COINBASE: Final = "bad-txns-premature-spend-of-coinbase"
REASON_INPUT_VALUES: Final = "bad-txns-inputvalues-outofrange"
REASON_IN_BELOW_OUT: Final = "bad-txns-in-belowout"
REASON_FEE_OUT_OF_RANGE: Final = "bad-txns-fee-outofrange"
REASON_ACCUMULATED_FEE: Final = "bad-txns-accumulated-fee-outofrange"
REASON_NONFINAL: Final = "bad-txns-nonfinal"
REASON_BLK_SIGOPS: Final = "bad-blk-sigops"

_value = itemgetter(0)  # a TxOut's value (a tuple's first item: cheaper than by name)

SequenceLocks = tuple[int, int]
"""``(min_height, min_time)``: the last height and median time at which the
transaction is still locked (nLockTime semantics); ``-1`` means no lock."""

#: the locks of a transaction none of whose inputs is locked
NO_SEQUENCE_LOCKS: Final[SequenceLocks] = (-1, -1)


class SpentCoin(Protocol):
    """What the input checks need to know about the output an input spends."""

    @property
    def value(self) -> int: ...

    @property
    def script_pubkey(self) -> bytes: ...

    @property
    def height(self) -> int: ...

    @property
    def is_coinbase(self) -> bool: ...


def money_range(value: int) -> bool:
    """Core's MoneyRange: ``0 <= value <= MAX_MONEY``."""
    return 0 <= value <= MAX_MONEY


def format_money(amount: int) -> str:
    """Core's FormatMoney: BTC with trailing zeros trimmed, at least two decimals."""
    sign = "-" if amount < 0 else ""
    whole, frac = divmod(abs(amount), COIN)
    digits = f"{frac:08d}".rstrip("0")
    if len(digits) < 2:
        digits = digits.ljust(2, "0")
    return f"{sign}{whole}.{digits}"


# --------------------------------------------------------------------------- finality


def is_final_tx(tx: Tx, block_height: int, block_time: int) -> bool:
    """Core's IsFinalTx: may ``tx`` appear in a block at this height and lock-time cutoff?

    ``block_time`` is the cutoff ContextualCheckBlock uses: the previous block's
    median time past once BIP113 (CSV) is active, the block's own time before.
    """
    if tx.locktime == 0:
        return True
    cutoff = block_height if tx.locktime < LOCKTIME_THRESHOLD else block_time
    if tx.locktime < cutoff:
        return True
    return all(txin.sequence == SEQUENCE_FINAL for txin in tx.vin)


# --------------------------------------------------------------------------- BIP68


def _bip68_applies(tx: Tx, flags: int) -> bool:
    # Core casts nVersion to uint32_t, so negative versions count as huge ones.
    return (tx.version & 0xFFFFFFFF) >= 2 and bool(flags & LOCKTIME_VERIFY_SEQUENCE)


def calculate_sequence_locks(
    tx: Tx,
    flags: int,
    prev_heights: Sequence[int],
    get_mtp_at_height: Callable[[int], int],
) -> SequenceLocks:
    """Core's CalculateSequenceLocks for a block (or a would-be block) on some chain.

    ``prev_heights[i]`` is the height of the block that created the coin input
    ``i`` spends. ``get_mtp_at_height(h)`` returns the median time past of the
    block at height ``h`` on the chain being extended; a time-based lock counts
    from the MTP of the block *before* the coin's block, so it is called with
    ``max(height - 1, 0)``.

    Unlike Core, ``prev_heights`` is not modified; Core zeroes the entries of
    inputs whose lock is disabled, which only matters to the mempool's
    LockPoints bookkeeping.
    """
    if len(prev_heights) != len(tx.vin):
        raise ValueError("prev_heights must give one height per input")
    min_height = -1
    min_time = -1
    if not _bip68_applies(tx, flags):
        return min_height, min_time
    for txin, coin_height in zip(tx.vin, prev_heights, strict=True):
        seq = txin.sequence
        if seq & SEQUENCE_LOCKTIME_DISABLE_FLAG:
            continue
        value = seq & SEQUENCE_LOCKTIME_MASK
        if seq & SEQUENCE_LOCKTIME_TYPE_FLAG:
            coin_time = get_mtp_at_height(max(coin_height - 1, 0))
            # Minus one: BIP68 gives the first valid time, nLockTime the last invalid one.
            min_time = max(min_time, coin_time + (value << SEQUENCE_LOCKTIME_GRANULARITY) - 1)
        else:
            min_height = max(min_height, coin_height + value - 1)
    return min_height, min_time


def sequence_locks_disabled(tx: Tx, flags: int) -> bool:
    """True when :func:`calculate_sequence_locks` gives ``NO_SEQUENCE_LOCKS`` for ``tx``
    whatever the heights of its coins: BIP68 does not apply (version below 2, or the
    flag is unset), or every input sets SEQUENCE_LOCKTIME_DISABLE_FLAG."""
    if not flags & LOCKTIME_VERIFY_SEQUENCE or (tx.version & 0xFFFFFFFF) < 2:
        return True
    for txin in tx.vin:  # noqa: SIM110 (a plain loop is the fastest form here)
        if not txin.sequence & SEQUENCE_LOCKTIME_DISABLE_FLAG:
            return False
    return True


def evaluate_sequence_locks(block_height: int, block_prev_mtp: int, locks: SequenceLocks) -> bool:
    """Core's EvaluateSequenceLocks: are the locks satisfied in a block at ``block_height``
    whose parent has median time past ``block_prev_mtp``?"""
    min_height, min_time = locks
    return not (min_height >= block_height or min_time >= block_prev_mtp)


def sequence_locks_ok(
    tx: Tx,
    flags: int,
    prev_heights: Sequence[int],
    block_height: int,
    block_prev_mtp: int,
    get_mtp_at_height: Callable[[int], int],
) -> bool:
    """Core's SequenceLocks: calculate and evaluate in one call."""
    locks = calculate_sequence_locks(tx, flags, prev_heights, get_mtp_at_height)
    return evaluate_sequence_locks(block_height, block_prev_mtp, locks)


def check_sequence_locks(
    tx: Tx,
    flags: int,
    prev_heights: Sequence[int],
    block_height: int,
    block_prev_mtp: int,
    get_mtp_at_height: Callable[[int], int],
) -> None:
    """The BIP68 step of ConnectBlock: raise ``bad-txns-nonfinal`` if ``tx`` is still locked."""
    if not sequence_locks_ok(
        tx, flags, prev_heights, block_height, block_prev_mtp, get_mtp_at_height
    ):
        raise BlockValidationError(
            REASON_NONFINAL,
            f"contains a non-BIP68-final transaction {tx.txid_hex()}",
            "CONSENSUS",
        )


# --------------------------------------------------------------------------- inputs


def check_tx_inputs(
    tx: Tx,
    spent: Sequence[SpentCoin | None],
    spend_height: int,
    coinbase_maturity: int = COINBASE_MATURITY,
) -> int:
    """Core's Consensus::CheckTxInputs; returns the fee in satoshis.

    ``spent[i]`` is the coin input ``i`` spends, or None when the UTXO view has
    no such coin (then ``bad-txns-inputs-missingorspent``). ``spend_height`` is
    the height of the block the transaction would be in. Scripts are not
    checked here.
    """
    if len(spent) != len(tx.vin):
        raise ValueError("spent must give one coin (or None) per input")
    if not all(spent) and any(maybe is None for maybe in spent):  # (a coin is always true)
        raise TxValidationError(
            REASON_INPUTS_MISSING, "CheckTxInputs: inputs missing/spent", TX_KIND_MISSING_INPUTS
        )
    coins = cast("Sequence[SpentCoin]", spent)

    value_in = 0
    for coin in coins:
        if coin.is_coinbase and spend_height - coin.height < coinbase_maturity:
            raise TxValidationError(
                REASON_PREMATURE_COINBASE,
                f"tried to spend coinbase at depth {spend_height - coin.height}",
                TX_KIND_PREMATURE_SPEND,
            )
        value = coin.value
        value_in += value
        if not (0 <= value <= MAX_MONEY and 0 <= value_in <= MAX_MONEY):  # MoneyRange
            raise TxValidationError(REASON_INPUT_VALUES, "", TX_KIND_CONSENSUS)

    value_out: int = sum(map(_value, tx.vout))
    if value_in < value_out:
        raise TxValidationError(
            REASON_IN_BELOW_OUT,
            f"value in ({format_money(value_in)}) < value out ({format_money(value_out)})",
            TX_KIND_CONSENSUS,
        )
    fee = value_in - value_out
    if not money_range(fee):
        raise TxValidationError(REASON_FEE_OUT_OF_RANGE, "", TX_KIND_CONSENSUS)
    return fee


def tx_error_in_block(err: TxValidationError, tx: Tx) -> BlockValidationError:
    """Turn a CheckTxInputs failure into the block error ConnectBlock reports.

    The reason is kept; the debug text gets `` in transaction <txid>`` appended,
    and every such failure is a plain consensus failure of the block.
    """
    return BlockValidationError(err.reason, f"{err.debug} in transaction {tx.txid_hex()}")


# --------------------------------------------------------------------------- block totals


def accumulate_fees(total: int, fee: int) -> int:
    """Add one transaction's fee to the block total, as ConnectBlock does.

    Raises ``bad-txns-accumulated-fee-outofrange`` when the sum leaves MoneyRange.
    """
    total += fee
    if not money_range(total):
        raise BlockValidationError(
            REASON_ACCUMULATED_FEE, "accumulated fee in the block out of range"
        )
    return total


def accumulate_sigops_cost(total: int, tx_cost: int) -> int:
    """Add one transaction's sigop cost to the block's running total (ConnectBlock).

    Call it for every transaction in block order, the coinbase included, with
    ``tx_cost = sigops.tx_sigop_cost(tx, spent_outputs, script_flags)`` (the
    coinbase's spent list is empty: only its legacy sigops count). The check is
    made after each addition, so the block fails at the first transaction that
    takes the total past MAX_BLOCK_SIGOPS_COST (80,000), with ``bad-blk-sigops``.
    """
    total += tx_cost
    if total > MAX_BLOCK_SIGOPS_COST:
        raise BlockValidationError(REASON_BLK_SIGOPS, "too many sigops")
    return total


# --------------------------------------------------------------------------- scripts


def script_failure_reason(script_error_code: str, *, mempool: bool = False) -> str:
    """Core's reject reason for a failed input script.

    ``script_error_code`` is a ScriptError name such as ``"EVAL_FALSE"``; the
    text in parentheses is Core's ScriptErrorString for it. Blocks (and
    consensus-flag failures) use ``block-script-verify-flag-failed (...)``;
    with ``mempool=True`` the policy-only form
    ``mempool-script-verify-flag-failed (...)`` is returned. These replaced
    ``mandatory-``/``non-mandatory-script-verify-flag`` in Core 30.
    """
    text = SCRIPT_ERROR_STRINGS.get(script_error_code, "unknown error")
    prefix = "mempool" if mempool else "block"
    return f"{prefix}-script-verify-flag-failed ({text})"


def script_failure_debug(tx: Tx, input_index: int) -> str:
    """Core's debug text for a failed input: which input, of which tx, spending what."""
    prevout = tx.vin[input_index].prevout
    return (
        f"input {input_index} of {tx.txid_hex()} (wtxid {tx.wtxid_hex()}), "
        f"spending {prevout.txid[::-1].hex()}:{prevout.n}"
    )


def script_failure_error(script_error_code: str, tx: Tx, input_index: int) -> BlockValidationError:
    """The BlockValidationError ConnectBlock reports for a failed script in a block."""
    return BlockValidationError(
        script_failure_reason(script_error_code), script_failure_debug(tx, input_index)
    )
