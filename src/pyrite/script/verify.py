"""The public one-input entry point, shaped like libbitcoinkernel's script verification."""

from __future__ import annotations

from collections.abc import Sequence

from pyrite.primitives.tx import Tx, TxOut
from pyrite.script.errors import ScriptError
from pyrite.script.fastpath import SigCheck, try_fast_path, try_multisig
from pyrite.script.flags import ALL_FLAGS, TAPROOT, ScriptFlags
from pyrite.script.interpreter import Checker, check_flag_combination, verify_input
from pyrite.script.sighash import PrecomputedTx

_UNKNOWN_BITS = ~int(ALL_FLAGS)


def verify_script(
    script_pubkey: bytes,
    amount: int,
    tx: bytes,
    input_index: int,
    flags: int,
    spent_outputs: Sequence[tuple[int, bytes]] | None = None,
) -> None:
    """Verify input ``input_index`` of the serialized transaction ``tx``.

    Returns on success; raises ``ScriptError`` (``.code`` is Core's error name) when
    the scripts fail. Raises ``pyrite.errors.DecodeError`` if ``tx`` does not parse and
    ``ValueError`` for bad arguments: an index out of range, unknown flag bits, a
    flag combination Core forbids, or TAPROOT without ``spent_outputs`` (one
    ``(amount, script_pubkey)`` per input, as libbitcoinkernel requires).
    """
    parsed = Tx.from_bytes(tx)
    spent = None
    if spent_outputs is not None:
        spent = [TxOut(a, s) for a, s in spent_outputs]
    pre = PrecomputedTx(parsed, spent)
    verify_tx_input(pre, input_index, script_pubkey, amount, flags)


def verify_tx_input(
    pre: PrecomputedTx, input_index: int, script_pubkey: bytes, amount: int, flags: int
) -> None:
    """Like ``verify_script`` for an already parsed transaction and its precomputed data."""
    tx = pre.tx
    if not 0 <= input_index < len(tx.vin):
        raise ValueError(f"input index {input_index} out of range ({len(tx.vin)} inputs)")
    if flags & _UNKNOWN_BITS:
        raise ValueError(f"unknown script flag bits {flags & _UNKNOWN_BITS:#x}")
    check_flag_combination(flags)
    if pre.spent_outputs is not None and len(pre.spent_outputs) != len(tx.vin):
        raise ValueError("spent_outputs must list one output per input")
    if flags & TAPROOT and pre.spent_outputs is None:
        raise ValueError("spent_outputs are required with the TAPROOT flag")
    if try_fast_path(pre, input_index, script_pubkey, amount, flags):
        return
    verify_input_slow(pre, input_index, script_pubkey, amount, flags)


def verify_input_slow(
    pre: PrecomputedTx, input_index: int, script_pubkey: bytes, amount: int, flags: int
) -> None:
    """The script interpreter alone on one input (no fast path, no argument checks);
    raises ``ScriptError`` when the scripts fail."""
    txin = pre.tx.vin[input_index]
    checker = Checker(pre.tx, input_index, amount, pre)
    verify_input(txin.script_sig, script_pubkey, txin.witness, flags, checker)


def verify_tx_inputs(
    pre: PrecomputedTx,
    flags: int,
    checks: list[SigCheck] | None = None,
    slow: list[int] | None = None,
) -> tuple[int, str] | None:
    """Verify every input of ``pre.tx`` against ``pre.spent_outputs`` (block validation's
    loop, with the argument checks done once). Returns ``(input index, Core error name)``
    for the first input that fails, None when all verify.

    With ``checks`` the signature checks of standard spends are left there (see
    ``fastpath.try_fast_path``); only the other inputs are verified here, or with ``slow``
    not even those: their indexes are listed there, for ``verify_input_slow`` elsewhere."""
    tx = pre.tx
    spent = pre.spent_outputs
    if spent is None or len(spent) != len(tx.vin):
        raise ValueError("spent_outputs must list one output per input")
    if flags & _UNKNOWN_BITS:
        raise ValueError(f"unknown script flag bits {flags & _UNKNOWN_BITS:#x}")
    check_flag_combination(flags)
    fast = try_fast_path
    for k, out in enumerate(spent):
        value = out[0]  # (by position: an output's fields by name cost a call each)
        spk = out[1]
        if fast(pre, k, spk, value, flags, checks):
            continue
        if slow is not None:
            slow.append(k)
            continue
        if checks is not None and try_multisig(pre, k, spk, value, flags):
            continue  # (without checks try_fast_path tried it)
        try:
            verify_input_slow(pre, k, spk, value, flags)
        except ScriptError as e:
            return k, e.code
    return None


__all__ = [
    "ScriptError",
    "ScriptFlags",
    "verify_input_slow",
    "verify_script",
    "verify_tx_input",
    "verify_tx_inputs",
]
