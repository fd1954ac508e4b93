"""Opening and closing a ``Chainstate``'s stores (Core's LoadChainstate and shutdown).

``open_chainstate`` wipes what -reindex / -reindex-chainstate rebuild, opens the block
index and UTXO LMDB stores and the block files, loads the block index and reconnects to
the best chain; ``finish_reindex`` clears the persistent reindex flag once the blk files
have been read again; ``close_chainstate`` flushes and closes the stores. ``Chainstate``'s
``open``, ``finish_reindex`` and ``close`` delegate here; the storage layout and flush order
are described in ``chainstate``.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from pyrite.chain.blockstore import BlockStore
from pyrite.chain.coins import CoinsCache, CoinsDB
from pyrite.chain.index import BlockIndexEntry, BlockTree
from pyrite.chain.indexdb import BlockIndexDB
from pyrite.chain.kvstore import LmdbStore
from pyrite.consensus.pow import block_proof
from pyrite.errors import StorageError
from pyrite.primitives.tx import NULL_HASH

if TYPE_CHECKING:  # chainstate imports this module
    from pyrite.chain.chainstate import Chainstate

log = logging.getLogger("pyrite.validation")


def open_chainstate(
    cs: Chainstate, reindex: bool = False, reindex_chainstate: bool = False
) -> None:
    """Open (or create) the stores, load the block index and reconnect to the best chain."""
    with cs.changing():
        blocks_dir = cs.netdir / "blocks"
        chainstate_dir = cs.netdir / "chainstate"
        if reindex:
            _wipe_dir(blocks_dir / "index")
        if reindex or reindex_chainstate:
            _wipe_dir(chainstate_dir)
        blocks_dir.mkdir(parents=True, exist_ok=True)
        cs._index_store = LmdbStore(blocks_dir / "index")
        cs._coins_store = LmdbStore(chainstate_dir)
        cs.index_db = BlockIndexDB(cs._index_store)
        cs.coins_db = CoinsDB(cs._coins_store)
        cs.coins = CoinsCache(cs.coins_db)
        cs.blockstore = BlockStore(
            blocks_dir,
            cs.params.message_start,
            file_infos=cs.index_db.read_file_infos(),
            last_file=cs.index_db.read_last_file() or 0,
        )
        cs.tree = BlockTree.load(cs.index_db, block_proof)
        cs.reindexing = reindex or cs.index_db.is_reindexing()
        if reindex:
            cs.index_db.set_reindexing(True)
        if not len(cs.tree) and not cs.reindexing:
            cs._init_genesis()
        best = cs.coins_db.best_block()
        if best != NULL_HASH:
            entry = cs.tree.get(best)
            if entry is None:
                raise StorageError(
                    "the chainstate's best block is not in the block index; restart with -reindex"
                )
            cs.chain.set_tip(entry)
            # as Core since PR #29640: the loaded tip's chain sorts before any other
            # branch of equal work, so a restart keeps the same tip
            walk: BlockIndexEntry | None = entry
            while walk is not None:
                walk.sequence_id = 0
                walk = walk.prev
        cs._rebuild_candidates()
        tip = cs.chain.tip()
        log.info(
            "Loaded best chain: hashBestChain=%s height=%d",
            tip.hash[::-1].hex() if tip else "none",
            tip.height if tip else -1,
        )
        cs.activate_best_chain()


def finish_reindex(cs: Chainstate) -> None:
    """The blk files have all been read again: clear the persistent reindex flag."""
    with cs.changing():
        if not len(cs.tree):
            cs._init_genesis()
        cs.activate_best_chain()
        cs.flush(force=True)
        cs.index_db.set_reindexing(False)
        cs.reindexing = False


def close_chainstate(cs: Chainstate) -> None:
    with cs.lock:
        if cs._coins_store is None:
            return
        if cs.failure is None:
            cs.flush(force=True)
        else:  # what is in memory may be inconsistent: the stores keep the last flush
            log.info("Not writing the chain state to disk after the error (%r): the next "
                     "start resumes from the last flush", cs.failure)  # fmt: skip
        cs.blockstore.close()
        assert cs._index_store is not None
        cs._index_store.close()
        cs._coins_store.close()
        cs._coins_store = None


def _wipe_dir(path: Path) -> None:
    if not path.exists():
        return
    for child in sorted(path.rglob("*"), reverse=True):
        if child.is_dir():
            child.rmdir()
        else:
            child.unlink()
    path.rmdir()
