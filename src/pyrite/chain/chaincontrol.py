"""Operator commands on the active chain: Core's InvalidateBlock, ReconsiderBlock,
PreciousBlock and VerifyDB (the invalidateblock, reconsiderblock, preciousblock and
verifychain RPCs).

Cold-path functions taking the ``Chainstate`` explicitly; its ``invalidate_block``,
``reconsider_block``, ``precious_block`` and ``verify_chain`` delegate here. Each takes
the chainstate's lock, and those that change the chain end with ``activate_best_chain``.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from pyrite.chain.coins import CoinsCache
from pyrite.chain.index import (
    BLOCK_FAILED_CHILD,
    BLOCK_FAILED_VALID,
    BLOCK_VALID_TRANSACTIONS,
    BlockIndexEntry,
)
from pyrite.consensus import validation as rules
from pyrite.errors import BlockValidationError

if TYPE_CHECKING:  # chainstate imports this module
    from pyrite.chain.chainstate import Chainstate

log = logging.getLogger("pyrite.validation")


def invalidate_block(cs: Chainstate, entry: BlockIndexEntry) -> None:
    """Core's InvalidateBlock (the caller then runs activate_best_chain)."""
    with cs.changing():
        # As Core, mark each disconnected block as it goes (FAILED_VALID on the newest
        # disconnected one, FAILED_CHILD on its descendants), so a crash half-way keeps
        # the node from reconnecting them on restart.
        marked: BlockIndexEntry | None = None
        while cs.chain.contains(entry):
            walk = cs.tip()
            cs._disconnect_tip()
            walk.status |= BLOCK_FAILED_VALID
            cs.tree.mark_dirty(walk)
            cs.candidates.discard(walk)
            if marked is not None:
                marked.status = (marked.status & ~BLOCK_FAILED_VALID) | BLOCK_FAILED_CHILD
                cs.tree.mark_dirty(marked)
            marked = walk
        cs._mark_invalid(entry)
        cs._rebuild_candidates()
        log.info("InvalidateBlock: marked %s invalid", entry.hash[::-1].hex())
        cs.activate_best_chain()


def reconsider_block(cs: Chainstate, entry: BlockIndexEntry) -> None:
    """Core's ReconsiderBlock: clear failure flags here, below and above; reactivate."""
    with cs.changing():
        cs.tree.clear_failure(entry)
        cs._rebuild_candidates()
        cs.activate_best_chain()


def precious_block(cs: Chainstate, entry: BlockIndexEntry) -> None:
    """Core's PreciousBlock: treat ``entry`` as if it had been received first."""
    with cs.changing():
        tip = cs.tip()
        if entry.chain_work < tip.chain_work:
            return
        if tip.chain_work > cs._last_precious_work:
            cs._reverse_sequence = -1
        cs._last_precious_work = tip.chain_work
        cs.tree.mark_dirty(entry)
        entry.sequence_id = cs._reverse_sequence
        if cs._reverse_sequence > -(1 << 31):
            cs._reverse_sequence -= 1
        if entry.is_valid(BLOCK_VALID_TRANSACTIONS) and entry.chain_tx:
            cs.candidates.add(entry)
        cs.activate_best_chain()


def verify_chain(cs: Chainstate, depth: int = 6, level: int = 3) -> bool:
    """Core's VerifyDB (levels 0-3): re-check recent blocks and their undo data."""
    with cs.lock:
        tip = cs.tip()
        if depth <= 0 or depth > tip.height:
            depth = tip.height
        view = CoinsCache(cs.coins)
        entry: BlockIndexEntry | None = tip
        checked = 0
        while entry is not None and entry.prev is not None and checked < depth:
            block = cs.read_block(entry)
            if level >= 1:
                try:
                    rules.check_block(block, cs.params)
                except BlockValidationError as e:
                    log.info("Verification error: %s at %d: %s", entry.hash[::-1].hex(),
                             entry.height, e.reason)  # fmt: skip
                    return False
            if level >= 2:
                undo = cs.read_undo(entry)
                if level >= 3 and not cs.disconnect_block(block, entry, undo, view):
                    log.info("Verification error: unclean disconnect at %d", entry.height)
                    return False
            checked += 1
            entry = entry.prev
        log.info("Verification: No coin database inconsistencies in last %d blocks", checked)
        return True
