"""ConnectBlock and DisconnectBlock: a block applied to the UTXO set, and taken back.

``BlockConnector`` is the part of ``Chainstate`` (its base class) that mirrors Core's
Chainstate::ConnectBlock and DisconnectBlock: contextual block checks, BIP30, each
transaction's inputs, sequence locks, sigops and fees, the script checks (handed to a
``ScriptChecker`` session, possibly deferred), and the undo data that lets a block be
disconnected. Choosing which chain to connect, storage and flushing stay in
``chainstate``.
"""

from __future__ import annotations

import logging
from operator import itemgetter

from pyrite.chain.coins import Coin, CoinsCache
from pyrite.chain.index import BlockIndexEntry, BlockTree
from pyrite.chain.scriptcheck import ScriptChecker, ScriptSession
from pyrite.chain.undo import BlockUndo, TxUndo, apply_coin_undo, update_coins
from pyrite.consensus import validation as rules
from pyrite.consensus.params import ChainParams
from pyrite.consensus.pow import block_proof_equivalent_time
from pyrite.consensus.sigops import tx_sigop_cost
from pyrite.errors import BlockValidationError, StorageError, TxValidationError
from pyrite.primitives import Block, OutPoint, Tx

log = logging.getLogger("pyrite.validation")
#: a TxIn's outpoint (its first field), in C
_PREVOUT = itemgetter(0)

#: how far (in equivalent time of work) a block must lie below the best header for
#: -assumevalid to skip its scripts (Core's TWO_WEEKS_IN_SECONDS)
TWO_WEEKS_IN_SECONDS = 60 * 60 * 24 * 7 * 2


class BlockConnector:
    """ConnectBlock / DisconnectBlock for ``Chainstate``, which provides the attributes
    declared here."""

    params: ChainParams
    assumevalid: bytes | None
    script_checker: ScriptChecker
    tree: BlockTree
    #: hashes of recent blocks that passed check_block (Core's CBlock::fChecked)
    _block_checked: dict[bytes, None]
    #: inside ``Chainstate.deferred_scripts``: connected blocks whose verdict is pending
    _defer: bool
    _pending: list[BlockIndexEntry]
    #: whether the last block connected had its scripts verified (for the log)
    _script_checks_logged: bool = True

    def _enforce_bip30(self, entry: BlockIndexEntry) -> bool:
        p = self.params
        anc = entry.prev.get_ancestor(p.bip34_height) if entry.prev is not None else None
        return rules.bip30_enforced(
            entry.height, entry.hash, anc.hash if anc is not None else None, p
        )

    def _bip30_after_failure(self) -> bool:
        """Whether BIP30 may be checked only once the block has failed otherwise, which
        saves a UTXO lookup per output (0.12 s of the benchmark chain's 3.9 s of Python).

        That holds when BIP34 applies from block 1 (regtest, signet, testnet4), where Core
        still looks up every output (its BIP34 shortcut needs a known activation block).
        There no block can hold a transaction identical to one with unspent outputs
        without failing on its inputs. A coinbase carries its own height, so it never
        repeats (the genesis coinbase is not a coin). Take the first transaction that
        repeats an earlier one: each coin it spends was created by a transaction that
        has not repeated, and the original spent that coin, so the coin is gone. The
        block then fails in ``_connect_txs``, and only then is BIP30 checked. If it
        finds the repeat, the error is Core's ``bad-txns-BIP30``, which Core checks
        before every input."""
        return self.params.bip34_height <= 1

    def connect_block(self, block: Block, entry: BlockIndexEntry, view: CoinsCache) -> BlockUndo:
        """Core's ConnectBlock: apply ``block`` to ``view``; raises BlockValidationError.

        Core connects into a throwaway view over the tip's cache; here the changes go
        straight into ``view`` (the tip's cache when connecting the tip, which saves
        handing every coin over twice) and a failing block's changes are undone from the
        undo data built so far, as DisconnectBlock would, before the error is raised.
        """
        params = self.params
        height = entry.height
        if entry.prev is None:  # the genesis coinbase is not spendable
            view.set_best_block(entry.hash)
            return BlockUndo([])
        if entry.hash not in self._block_checked:  # Core's fChecked: checked on acceptance
            rules.check_block(block, params)
        txs = block.txs
        bip30 = self._enforce_bip30(entry)
        bip30_late = bip30 and self._bip30_after_failure()
        if bip30 and not bip30_late:
            rules.check_bip30_outputs(block, view.have_any_output)
        flags = rules.block_script_flags(height, entry.hash, params)
        skip_scripts = self._scripts_assumed_valid(entry)
        session = None if skip_scripts else self.script_checker.begin(flags, entry.hash)
        undo_txs: list[TxUndo] = []
        applied: list[Tx] = []
        try:
            self._connect_txs(block, entry, view, flags, session, undo_txs, applied)
            if session is not None:
                if self._defer:
                    session.defer()
                    self._pending.append(entry)
                else:
                    failure = session.finish()
                    if failure is not None:
                        tx_index, input_index, code = failure
                        raise rules.script_failure_error(code, txs[tx_index], input_index)
        except BlockValidationError:
            if session is not None:
                session.cancel()
            if applied:
                self.disconnect_block(
                    Block(block.header, tuple(applied)), entry, BlockUndo(undo_txs), view
                )
            if bip30_late:  # the view is as before the block again
                rules.check_bip30_outputs(block, view.have_any_output)
            raise
        view.set_best_block(entry.hash)
        return BlockUndo(undo_txs)

    def _connect_txs(
        self,
        block: Block,
        entry: BlockIndexEntry,
        view: CoinsCache,
        flags: int,
        session: ScriptSession | None,
        undo_txs: list[TxUndo],
        applied: list[Tx],
    ) -> None:
        """ConnectBlock's loop over the transactions (all but the script checks, which
        go to ``session``). Each transaction applied to ``view`` is appended to
        ``applied`` and its undo data (but the coinbase's) to ``undo_txs``."""
        params = self.params
        height = entry.height
        txs = block.txs
        lock_flags = rules.lock_time_flags(height, params)
        prev = entry.prev
        assert prev is not None
        prev_mtp = prev.median_time_past()
        # Whether a transaction none of whose inputs can be locked passes BIP68 here
        # (always, as heights are positive and times not negative): such transactions
        # skip collecting their coins' heights.
        unlocked_final = rules.evaluate_sequence_locks(height, prev_mtp, rules.NO_SEQUENCE_LOCKS)
        fees = 0
        sigops = 0
        fetch_coins = view.fetch_coins
        check_tx_inputs = rules.check_tx_inputs
        accumulate_fees = rules.accumulate_fees
        accumulate_sigops_cost = rules.accumulate_sigops_cost
        locks_disabled = rules.sequence_locks_disabled
        for tx_index, tx in enumerate(txs):
            if tx_index == 0:  # CheckBlock made sure the first is the only coinbase
                sigops = accumulate_sigops_cost(sigops, tx_sigop_cost(tx, (), flags))
                update_coins(view, tx, height)
                applied.append(tx)
                continue
            prevouts = list(map(_PREVOUT, tx.vin))
            coins = fetch_coins(prevouts)
            try:
                fee = check_tx_inputs(tx, coins, height)
            except TxValidationError as e:
                raise rules.tx_error_in_block(e, tx) from e
            fees = accumulate_fees(fees, fee)
            spent: list[Coin] = coins  # type: ignore[assignment]  # check_tx_inputs found all
            if not (unlocked_final and locks_disabled(tx, lock_flags)):
                rules.check_sequence_locks(
                    tx, lock_flags, [c.height for c in spent], height, prev_mtp,
                    lambda h: _mtp_at(prev, h),
                )  # fmt: skip
            sigops = accumulate_sigops_cost(sigops, tx_sigop_cost(tx, spent, flags))
            if session is not None:
                # a Coin starts with the fields of its TxOut: the coins serve as they are
                session.add(tx_index, tx, spent)  # type: ignore[arg-type]
            undo = update_coins(view, tx, height, spent, prevouts)
            assert undo is not None
            applied.append(tx)
            undo_txs.append(undo)
        rules.check_coinbase_amount(block, fees, height, params)

    def _script_check_reason(self, entry: BlockIndexEntry) -> str | None:
        """Why the scripts of ``entry`` must be verified, or None when -assumevalid lets
        them be skipped: Core's five conditions, in its order. The block must be an
        ancestor of the assumed-valid block and of the best header, the best header must
        have the network's minimum chain work, and the block must lie more than two
        weeks' worth of work (at the best header's difficulty) below the best header."""
        av = self.assumevalid
        if av is None:
            return "assumevalid=0 (always verify)"
        target = self.tree.get(av)
        if target is None:
            return "assumevalid hash not in headers"
        if target.get_ancestor(entry.height) is not entry:
            if entry.height > target.height:
                return "block height above assumevalid height"
            return "block not in assumevalid chain"
        best = self.tree.best_header
        if best is None or best.get_ancestor(entry.height) is not entry:
            return "block not in best header chain"
        if best.chain_work < self.params.min_chain_work:
            return "best header chainwork below minimumchainwork"
        equivalent = block_proof_equivalent_time(
            best.chain_work, entry.chain_work, best.bits, self.params
        )
        if equivalent <= TWO_WEEKS_IN_SECONDS:
            return "block too recent relative to best header"
        return None

    def _scripts_assumed_valid(self, entry: BlockIndexEntry) -> bool:
        """Core's -assumevalid: whether to skip the scripts of ``entry``; logs each change
        between skipping and verifying, as Core does."""
        reason = self._script_check_reason(entry)
        checks = reason is not None
        if checks != self._script_checks_logged:
            self._script_checks_logged = checks
            if checks:
                log.info("Enabling script verification at block #%d (%s): %s.",
                         entry.height, entry.hash[::-1].hex(), reason)  # fmt: skip
            else:
                log.info("Disabling script verification at block #%d (%s).",
                         entry.height, entry.hash[::-1].hex())  # fmt: skip
        return not checks

    def disconnect_block(
        self, block: Block, entry: BlockIndexEntry, undo: BlockUndo, view: CoinsCache
    ) -> bool:
        """Core's DisconnectBlock: undo ``block`` on ``view``; returns False if unclean."""
        if len(undo.txs) + 1 != len(block.txs):
            raise StorageError("block and undo data are inconsistent")
        clean = True
        enforce_bip30 = self._enforce_bip30(entry)
        for i in range(len(block.txs) - 1, -1, -1):
            tx = block.txs[i]
            coinbase = i == 0
            for n, out in enumerate(tx.vout):
                spk = out.script_pubkey
                if (spk and spk[0] == 0x6A) or len(spk) > 10_000:
                    continue
                coin = view.spend_coin(OutPoint(tx.txid, n))
                if (
                    coin is None
                    or coin.value != out.value
                    or coin.script_pubkey != spk
                    or coin.height != entry.height
                    or coin.is_coinbase != coinbase
                ) and not (coinbase and not enforce_bip30):
                    clean = False
            if i > 0:
                txundo = undo.txs[i - 1]
                if len(txundo.spent) != len(tx.vin):
                    raise StorageError("transaction and undo data are inconsistent")
                for j in range(len(tx.vin) - 1, -1, -1):
                    if not apply_coin_undo(view, tx.vin[j].prevout, txundo.spent[j]):
                        clean = False
        assert entry.prev is not None
        view.set_best_block(entry.prev.hash)
        return clean


def _mtp_at(prev: BlockIndexEntry, height: int) -> int:
    e = prev.get_ancestor(height)
    assert e is not None
    return e.median_time_past()
