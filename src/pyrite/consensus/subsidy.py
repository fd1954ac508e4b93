"""Block subsidy schedule (Core's GetBlockSubsidy)."""

from __future__ import annotations

from pyrite.consensus.params import COIN, ChainParams

__all__ = ["INITIAL_SUBSIDY", "get_block_subsidy"]

INITIAL_SUBSIDY = 50 * COIN


def get_block_subsidy(height: int, params: ChainParams) -> int:
    """New coins (in satoshis) a coinbase at ``height`` may claim, fees excluded.

    The subsidy halves every ``subsidy_halving_interval`` blocks. From the 64th
    halving on it is zero: Core special-cases that because shifting a 64-bit value
    by 64 or more is undefined in C++ (the plain shift reaches zero earlier anyway).
    """
    if height < 0:
        raise ValueError("block height must not be negative")
    halvings = height // params.subsidy_halving_interval
    if halvings >= 64:
        return 0
    return INITIAL_SUBSIDY >> halvings
