"""Blockchain statistics RPCs: getblockstats (one block) and getchaintxstats (a window).

Mirrors the statistics part of Bitcoin Core's ``rpc/blockchain.cpp``: getblockstats computes
every figure of one block from the block and its undo data (CalculateTruncatedMedian,
CalculatePercentilesByWeight), getchaintxstats the transaction rate over a window of the
active chain. Field names, rounding and error messages are Core's. The work runs in the chain
worker through ``NodeContext.run_chain``.
"""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any, Final

from pyrite.chain.chainstate import Chainstate
from pyrite.chain.compressor import is_unspendable
from pyrite.chain.index import BlockIndexEntry as Entry
from pyrite.consensus.subsidy import get_block_subsidy
from pyrite.consensus.validation import is_bip30_repeat
from pyrite.encoding.bytes import compact_size
from pyrite.primitives.tx import MAX_MONEY
from pyrite.rpc.blockchain import check_have_data, lookup
from pyrite.rpc.context import ChainHandlers, NodeContext
from pyrite.rpc.errors import RPC_INVALID_PARAMETER, RPCError
from pyrite.rpc.jsonrpc import RequestContext
from pyrite.rpc.server import RPCServer
from pyrite.rpc.util import Arg, get_int, get_str, hash_hex, param, parse_hash, real, register

log = logging.getLogger(__name__)

PER_UTXO_OVERHEAD: Final = 36 + 4 + 1  # COutPoint + height/coinbase + flag, as Core counts
WITNESS_SCALE_FACTOR: Final = 4
MAX_BLOCK_SERIALIZED_SIZE: Final = 4_000_000


def truncated_median(values: list[int]) -> int:
    """CalculateTruncatedMedian."""
    if not values:
        return 0
    values.sort()
    n = len(values)
    return (values[n // 2 - 1] + values[n // 2]) // 2 if n % 2 == 0 else values[n // 2]


def percentiles_by_weight(scores: list[tuple[int, int]], total_weight: int) -> list[int]:
    """CalculatePercentilesByWeight: feerates at the 10/25/50/75/90th weight unit."""
    result = [0] * 5
    if not scores:
        return result
    scores.sort()
    marks = (
        total_weight / 10.0,
        total_weight / 4.0,
        total_weight / 2.0,
        (total_weight * 3.0) / 4.0,
        (total_weight * 9.0) / 10.0,
    )
    index = 0
    cumulative = 0
    for feerate, weight in scores:
        cumulative += weight
        while index < 5 and cumulative >= marks[index]:
            result[index] = feerate
            index += 1
    for i in range(index, 5):
        result[i] = scores[-1][0]
    return result


def _txout_size(script_pubkey: bytes) -> int:
    return 8 + len(compact_size(len(script_pubkey))) + len(script_pubkey)


def compute_block_stats(cs: Chainstate, entry: Entry) -> dict[str, Any]:
    """Every getblockstats figure of one block (Core's getblockstats with no selection)."""
    with cs.lock:
        check_have_data(entry)
        block = cs.read_block(entry)
        if entry.height > 0:
            check_have_data(entry, undo=True)
            undo = cs.read_undo(entry)
        else:
            undo = None
    bip30_repeat = is_bip30_repeat(entry.height, entry.hash)
    maxfee = maxfeerate = total_out = totalfee = 0
    minfee = minfeerate = MAX_MONEY
    inputs = outputs = maxtxsize = 0
    mintxsize = MAX_BLOCK_SERIALIZED_SIZE
    swtotal_size = swtotal_weight = swtxs = total_size = total_weight = 0
    utxos = utxo_size_inc = utxo_size_inc_actual = 0
    fees: list[int] = []
    feerates: list[tuple[int, int]] = []
    sizes: list[int] = []
    for i, tx in enumerate(block.txs):
        outputs += len(tx.vout)
        tx_total_out = 0
        for out in tx.vout:
            tx_total_out += out.value
            out_size = _txout_size(out.script_pubkey) + PER_UTXO_OVERHEAD
            utxo_size_inc += out_size
            if entry.height == 0 or (bip30_repeat and i == 0):
                continue
            if is_unspendable(out.script_pubkey):
                continue
            utxos += 1
            utxo_size_inc_actual += out_size
        if i == 0:
            continue
        inputs += len(tx.vin)
        total_out += tx_total_out
        tx_size = tx.size
        sizes.append(tx_size)
        maxtxsize = max(maxtxsize, tx_size)
        mintxsize = min(mintxsize, tx_size)
        total_size += tx_size
        weight = tx.weight
        total_weight += weight
        if tx.has_witness():
            swtxs += 1
            swtotal_size += tx_size
            swtotal_weight += weight
        assert undo is not None
        tx_total_in = 0
        for coin in undo.txs[i - 1].spent:
            tx_total_in += coin.value
            prevout_size = _txout_size(coin.script_pubkey) + PER_UTXO_OVERHEAD
            utxo_size_inc -= prevout_size
            utxo_size_inc_actual -= prevout_size
        fee = tx_total_in - tx_total_out
        fees.append(fee)
        maxfee = max(maxfee, fee)
        minfee = min(minfee, fee)
        totalfee += fee
        feerate = (fee * WITNESS_SCALE_FACTOR) // weight if weight else 0
        feerates.append((feerate, weight))
        maxfeerate = max(maxfeerate, feerate)
        minfeerate = min(minfeerate, feerate)
    ntx = len(block.txs)
    return {
        "avgfee": totalfee // (ntx - 1) if ntx > 1 else 0,
        "avgfeerate": (totalfee * WITNESS_SCALE_FACTOR) // total_weight if total_weight else 0,
        "avgtxsize": total_size // (ntx - 1) if ntx > 1 else 0,
        "blockhash": hash_hex(entry.hash),
        "feerate_percentiles": percentiles_by_weight(feerates, total_weight),
        "height": entry.height,
        "ins": inputs,
        "maxfee": maxfee,
        "maxfeerate": maxfeerate,
        "maxtxsize": maxtxsize,
        "medianfee": truncated_median(fees),
        "mediantime": entry.median_time_past(),
        "mediantxsize": truncated_median(sizes),
        "minfee": 0 if minfee == MAX_MONEY else minfee,
        "minfeerate": 0 if minfeerate == MAX_MONEY else minfeerate,
        "mintxsize": 0 if mintxsize == MAX_BLOCK_SERIALIZED_SIZE else mintxsize,
        "outs": outputs,
        "subsidy": get_block_subsidy(entry.height, cs.params),
        "swtotal_size": swtotal_size,
        "swtotal_weight": swtotal_weight,
        "swtxs": swtxs,
        "time": entry.time,
        "total_out": total_out,
        "total_size": total_size,
        "total_weight": total_weight,
        "totalfee": totalfee,
        "txs": ntx,
        "utxo_increase": outputs - inputs,
        "utxo_size_inc": utxo_size_inc,
        "utxo_increase_actual": utxos - inputs,
        "utxo_size_inc_actual": utxo_size_inc_actual,
    }


class ChainStatsRPC(ChainHandlers):
    """The statistics handlers; each reads ``ctx.chainstate`` at call time."""

    def _hash_or_height(self, value: object) -> Entry:
        """ParseHashOrHeight (call in the chain worker)."""
        cs = self.cs
        if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
            height = get_int(value)
            if height < 0:
                raise RPCError(RPC_INVALID_PARAMETER, f"Target block height {height} is negative")
            tip_height = cs.height()
            if height > tip_height:
                raise RPCError(
                    RPC_INVALID_PARAMETER,
                    f"Target block height {height} after current tip {tip_height}",
                )
            entry = cs.chain[height]
            assert entry is not None
            return entry
        return lookup(cs, parse_hash(value, "hash_or_height"))

    async def getblockstats(self, p: list[Any], req: RequestContext) -> dict[str, Any]:
        selected: list[str] = []
        if param(p, 1) is not None:
            selected = sorted({get_str(s) for s in p[1]})
        cs = self.cs
        target = p[0]

        def work() -> dict[str, Any]:
            with cs.lock:
                entry = self._hash_or_height(target)
            return compute_block_stats(cs, entry)

        stats: dict[str, Any] = await self.chain(work)
        if not selected:
            return stats
        for name in selected:
            if name not in stats:
                raise RPCError(RPC_INVALID_PARAMETER, f"Invalid selected statistic '{name}'")
        return {name: stats[name] for name in selected}

    async def getchaintxstats(self, p: list[Any], req: RequestContext) -> dict[str, Any]:
        nblocks = param(p, 0)
        blockcount = nblocks if nblocks is None else get_int(nblocks)
        block_hash = None if param(p, 1) is None else parse_hash(p[1], "blockhash")
        cs = self.cs
        spacing = self.ctx.params.pow_target_spacing

        def work() -> dict[str, Any]:
            with cs.lock:
                if block_hash is None:
                    entry = cs.tip()
                else:
                    entry = lookup(cs, block_hash)
                    if not cs.chain.contains(entry):
                        raise RPCError(RPC_INVALID_PARAMETER, "Block is not in main chain")
            if blockcount is None:
                count = max(0, min(30 * 24 * 60 * 60 // spacing, entry.height - 1))
            else:
                count = blockcount
                if count < 0 or (count > 0 and count >= entry.height):
                    raise RPCError(
                        RPC_INVALID_PARAMETER,
                        "Invalid block count: should be between 0 and the block's height - 1",
                    )
            past = entry.get_ancestor(entry.height - count)
            assert past is not None
            time_diff = entry.median_time_past() - past.median_time_past()
            result: dict[str, Any] = {"time": entry.time}
            if entry.chain_tx:
                result["txcount"] = entry.chain_tx
            result["window_final_block_hash"] = hash_hex(entry.hash)
            result["window_final_block_height"] = entry.height
            result["window_block_count"] = count
            if count > 0:
                result["window_interval"] = time_diff
                if entry.chain_tx and past.chain_tx:
                    window_tx_count = entry.chain_tx - past.chain_tx
                    result["window_tx_count"] = window_tx_count
                    if time_diff > 0:
                        result["txrate"] = real(window_tx_count / time_diff)
            return result

        result: dict[str, Any] = await self.chain(work)
        return result


def register_chainstats(server: RPCServer, ctx: NodeContext) -> None:
    """Register getblockstats and getchaintxstats on ``server``."""
    rpc = ChainStatsRPC(ctx)
    table: list[tuple[str, list[Arg], Any]] = [
        (
            "getblockstats",
            [Arg("hash_or_height", None, True), Arg("stats", "array")],
            rpc.getblockstats,
        ),
        (
            "getchaintxstats",
            [Arg("nblocks", "number"), Arg("blockhash", "string")],
            rpc.getchaintxstats,
        ),
    ]
    for name, args, func in table:
        register(server, name, args, "blockchain", func)
