"""Blockchain RPCs: chain queries, block/header/transaction JSON, UTXO queries, tip waiting,
manual chain control (invalidate/reconsider/precious) and the (still empty) mempool queries.

Mirrors Bitcoin Core's ``rpc/blockchain.cpp`` and the read-only part of ``rpc/mempool.cpp``:
the same parameter names (so named parameters work), result fields and error codes/messages.
Every chainstate access runs in the chain worker through ``NodeContext.run_chain``; only the
JSON assembly of a result that needs no lock happens there too, never on the event loop.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from decimal import Decimal
from typing import Any, Final

from pyrite.chain.chainstate import Chainstate
from pyrite.chain.compressor import is_unspendable
from pyrite.chain.index import BLOCK_FAILED_MASK, BLOCK_VALID_SCRIPTS, BLOCK_VALID_TREE
from pyrite.chain.index import BlockIndexEntry as Entry
from pyrite.chain.utxostats import compute_utxo_stats
from pyrite.consensus.subsidy import get_block_subsidy
from pyrite.consensus.validation import is_bip30_repeat
from pyrite.encoding.bytes import compact_size
from pyrite.errors import PyriteError
from pyrite.primitives import OutPoint
from pyrite.primitives.tx import MAX_MONEY
from pyrite.rpc.context import NodeContext
from pyrite.rpc.errors import (
    RPC_DATABASE_ERROR,
    RPC_INVALID_PARAMETER,
    RPC_MISC_ERROR,
    RPCError,
)
from pyrite.rpc.jsonrpc import RequestContext
from pyrite.rpc.jsonutil import value_from_amount
from pyrite.rpc.server import RPCServer
from pyrite.rpc.util import (
    UINT32_MAX,
    Arg,
    block_not_found,
    block_to_json,
    get_difficulty,
    get_int,
    get_str,
    hash_hex,
    header_to_json,
    opt_bool,
    opt_int,
    param,
    parse_hash,
    real,
    register,
    script_pubkey_to_json,
    target_hex,
)

log = logging.getLogger(__name__)

DEFAULT_CHECKLEVEL: Final = 3
DEFAULT_CHECKBLOCKS: Final = 6
PER_UTXO_OVERHEAD: Final = 36 + 4 + 1  # COutPoint + height/coinbase + flag, as Core counts
WITNESS_SCALE_FACTOR: Final = 4
MAX_BLOCK_SERIALIZED_SIZE: Final = 4_000_000
WAIT_SLICE: Final = 1.0  # seconds between checks of shutdown while a waitfor* call blocks
DEFAULT_MAX_MEMPOOL: Final = 300_000_000
DEFAULT_MIN_RELAY_FEE: Final = 1000  # sat/kvB
DEFAULT_INCREMENTAL_RELAY_FEE: Final = 1000
DEFAULT_DATACARRIER_SIZE: Final = 83


def parse_verbosity(value: object, default: int) -> int:
    """ParseVerbosity(allow_bool=true): a bool counts as 0/1."""
    if value is None:
        return default
    if isinstance(value, bool):
        return int(value)
    return get_int(value)


def lookup(cs: Chainstate, block_hash: bytes) -> Entry:
    entry = cs.lookup(block_hash)
    if entry is None:
        raise block_not_found()
    return entry


def check_have_data(entry: Entry, undo: bool = False) -> None:
    """CheckBlockDataAvailability (we never prune)."""
    if undo and not entry.have_undo():
        raise RPCError(RPC_MISC_ERROR, "Undo data not available")
    if not undo and not entry.have_data():
        raise RPCError(RPC_MISC_ERROR, "Block not available (not fully downloaded)")


def blocks_size_on_disk(cs: Chainstate) -> int:
    """CalculateCurrentUsage: bytes of block and undo data in the flat files."""
    store = cs.blockstore
    total = 0
    for n in range(store.last_file + 1):
        info = store.file_info(n)
        if info is not None:
            total += info.size + info.undo_size
    return total


def verification_progress(cs: Chainstate, tip: Entry, now: int) -> float:
    """A rough GuessVerificationProgress: 1.0 when caught up (always on regtest), else the
    share of the time since genesis that the tip covers (we carry no chainTxData)."""
    if cs.params.min_chain_work == 0 or tip.time >= now - 3600:
        return 1.0
    genesis_time = cs.params.genesis.header.time
    return max(0.0, min(1.0, (tip.time - genesis_time) / max(1, now - genesis_time)))


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


def chain_tips(cs: Chainstate) -> list[dict[str, Any]]:
    """getchaintips: the active tip plus every block not in the active chain that has no
    such child, highest first."""
    with cs.lock:
        chain = cs.chain
        orphans = [e for e in cs.tree if not chain.contains(e)]
        prevs = {e.prev for e in orphans}
        tips = [e for e in orphans if e not in prevs]
        tips.append(cs.tip())
        tips.sort(key=lambda e: (-e.height, e.hash))
        result = []
        for e in tips:
            fork = chain.find_fork(e)
            if chain.contains(e):
                status = "active"
            elif e.status & BLOCK_FAILED_MASK:
                status = "invalid"
            elif not e.chain_tx:
                status = "headers-only"
            elif e.is_valid(BLOCK_VALID_SCRIPTS):
                status = "valid-fork"
            elif e.is_valid(BLOCK_VALID_TREE):
                status = "valid-headers"
            else:
                status = "unknown"
            result.append(
                {
                    "height": e.height,
                    "hash": hash_hex(e.hash),
                    "branchlen": e.height - (fork.height if fork is not None else 0),
                    "status": status,
                }
            )
        return result


class BlockchainRPC:
    """The handlers; each reads ``ctx.chainstate`` at call time."""

    def __init__(self, ctx: NodeContext) -> None:
        self.ctx = ctx

    @property
    def cs(self) -> Chainstate:
        return self.ctx.chainstate

    async def chain(self, fn: Callable[[], Any]) -> Any:
        return await self.ctx.run_chain(fn)

    # -- simple queries ----------------------------------------------------------------------

    async def getblockcount(self, p: list[Any], req: RequestContext) -> int:
        cs = self.cs
        height: int = await self.chain(lambda: cs.height())
        return height

    async def getbestblockhash(self, p: list[Any], req: RequestContext) -> str:
        cs = self.cs
        tip: Entry = await self.chain(lambda: cs.tip())
        return hash_hex(tip.hash)

    async def getdifficulty(self, p: list[Any], req: RequestContext) -> Decimal:
        cs = self.cs
        tip: Entry = await self.chain(lambda: cs.tip())
        return real(get_difficulty(tip.bits))

    async def getblockhash(self, p: list[Any], req: RequestContext) -> str:
        height = get_int(p[0])
        cs = self.cs
        entry: Entry | None = await self.chain(lambda: cs.chain[height] if height >= 0 else None)
        if entry is None:
            raise RPCError(RPC_INVALID_PARAMETER, "Block height out of range")
        return hash_hex(entry.hash)

    async def getblockheader(self, p: list[Any], req: RequestContext) -> Any:
        block_hash = parse_hash(p[0], "hash")
        verbose = opt_bool(param(p, 1), True)
        cs = self.cs

        def work() -> Any:
            with cs.lock:
                entry = lookup(cs, block_hash)
                tip = cs.tip()
            if not verbose:
                return entry.header().serialize().hex()
            return header_to_json(tip, entry)

        return await self.chain(work)

    async def getblock(self, p: list[Any], req: RequestContext) -> Any:
        block_hash = parse_hash(p[0], "blockhash")
        verbosity = parse_verbosity(param(p, 1), 1)
        cs = self.cs
        chain_name = self.ctx.chain_name

        def work() -> Any:
            with cs.lock:
                entry = lookup(cs, block_hash)
                check_have_data(entry)
                tip = cs.tip()
                if verbosity <= 0:
                    return cs.read_block_bytes(entry).hex()
                block = cs.read_block(entry)
                undo = None
                if verbosity >= 2 and entry.height > 0 and entry.have_undo():
                    undo = cs.read_undo(entry)
            return block_to_json(block, tip, entry, chain_name, verbosity, undo)

        return await self.chain(work)

    async def getblockchaininfo(self, p: list[Any], req: RequestContext) -> dict[str, Any]:
        cs = self.cs
        ctx = self.ctx

        def work() -> dict[str, Any]:
            with cs.lock:
                tip = cs.tip()
                best = cs.tree.best_header
                ibd = cs.is_initial_block_download()
                size = blocks_size_on_disk(cs)
            info: dict[str, Any] = {
                "chain": ctx.chain_name,
                "blocks": tip.height,
                "headers": best.height if best is not None else -1,
                "bestblockhash": hash_hex(tip.hash),
                "bits": f"{tip.bits:08x}",
                "target": target_hex(tip.bits),
                "difficulty": real(get_difficulty(tip.bits)),
                "time": tip.time,
                "mediantime": tip.median_time_past(),
                "verificationprogress": real(verification_progress(cs, tip, ctx.clock.now())),
                "initialblockdownload": ibd,
                "chainwork": f"{tip.chain_work:064x}",
                "size_on_disk": size,
                "pruned": False,
            }
            if ctx.params.signet_challenge is not None:
                info["signet_challenge"] = ctx.params.signet_challenge.hex()
            # pyrite extension: the -assumevalid block in force (null when every script is
            # checked), so users can see which ancestors' scripts were skipped
            av = cs.assumevalid
            info["assumevalid"] = hash_hex(av) if av is not None else None
            info["warnings"] = []
            return info

        result: dict[str, Any] = await self.chain(work)
        return result

    async def getchaintips(self, p: list[Any], req: RequestContext) -> list[dict[str, Any]]:
        cs = self.cs
        result: list[dict[str, Any]] = await self.chain(lambda: chain_tips(cs))
        return result

    # -- UTXO set ----------------------------------------------------------------------------

    async def gettxout(self, p: list[Any], req: RequestContext) -> Any:
        txid = parse_hash(p[0], "txid")
        n = get_int(p[1], 0, UINT32_MAX)
        opt_bool(param(p, 2), True)  # include_mempool: there is no mempool yet
        cs = self.cs
        chain_name = self.ctx.chain_name

        def work() -> Any:
            with cs.lock:
                coin = cs.get_coin(OutPoint(txid, n))
                tip = cs.tip()
            if coin is None:
                return None
            return {
                "bestblock": hash_hex(tip.hash),
                "confirmations": tip.height - coin.height + 1,
                "value": value_from_amount(coin.value),
                "scriptPubKey": script_pubkey_to_json(coin.script_pubkey, chain_name),
                "coinbase": coin.is_coinbase,
            }

        return await self.chain(work)

    async def gettxoutsetinfo(self, p: list[Any], req: RequestContext) -> dict[str, Any]:
        hash_type = "hash_serialized_3" if param(p, 0) is None else get_str(p[0])
        if hash_type not in ("hash_serialized_3", "muhash", "none"):
            raise RPCError(RPC_INVALID_PARAMETER, f"'{hash_type}' is not a valid hash_type")
        opt_bool(param(p, 2), True)  # use_index: there is no coinstatsindex
        if param(p, 1) is not None:
            raise RPCError(
                RPC_INVALID_PARAMETER, "Querying specific block heights requires coinstatsindex"
            )
        if hash_type == "muhash":
            raise RPCError(RPC_INVALID_PARAMETER, "hash_type 'muhash' is not supported")
        cs = self.cs

        def work() -> dict[str, Any]:
            with cs.lock:
                cs.flush()
                stats = compute_utxo_stats(cs.coins_db)
                entry = lookup(cs, stats.best_block)
            result: dict[str, Any] = {
                "height": entry.height,
                "bestblock": hash_hex(stats.best_block),
                "txouts": stats.txouts,
                "bogosize": stats.bogosize,
            }
            if hash_type == "hash_serialized_3":
                result["hash_serialized_3"] = hash_hex(stats.hash_serialized)
            result["total_amount"] = value_from_amount(stats.total_amount)
            result["transactions"] = stats.transactions
            result["disk_size"] = stats.disk_size
            return result

        result: dict[str, Any] = await self.chain(work)
        return result

    async def verifychain(self, p: list[Any], req: RequestContext) -> bool:
        level = max(0, min(4, opt_int(param(p, 0), DEFAULT_CHECKLEVEL)))
        depth = opt_int(param(p, 1), DEFAULT_CHECKBLOCKS)
        cs = self.cs
        ok: bool = await self.chain(lambda: cs.verify_chain(depth, level))
        return ok

    # -- statistics --------------------------------------------------------------------------

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

    # -- chain control -----------------------------------------------------------------------

    async def _chain_action(self, p: list[Any], act: Callable[[Chainstate, Entry], None]) -> None:
        block_hash = parse_hash(p[0], "blockhash")
        cs = self.cs

        def work() -> None:
            with cs.lock:
                entry = lookup(cs, block_hash)
                try:
                    act(cs, entry)
                except PyriteError as e:
                    raise RPCError(RPC_DATABASE_ERROR, str(e)) from e

        await self.chain(work)

    async def invalidateblock(self, p: list[Any], req: RequestContext) -> None:
        await self._chain_action(p, lambda cs, e: cs.invalidate_block(e))

    async def reconsiderblock(self, p: list[Any], req: RequestContext) -> None:
        await self._chain_action(p, lambda cs, e: cs.reconsider_block(e))

    async def preciousblock(self, p: list[Any], req: RequestContext) -> None:
        await self._chain_action(p, lambda cs, e: cs.precious_block(e))

    def syncwithvalidationinterfacequeue(self, p: list[Any], req: RequestContext) -> None:
        return None  # tip notifications are delivered synchronously

    # -- waiting for the tip -----------------------------------------------------------------

    async def _wait_tip(
        self, req: RequestContext, timeout_ms: int, done: Callable[[Entry], bool]
    ) -> dict[str, Any]:
        """Wait until ``done(tip)``, the timeout (0: none) or shutdown; return the tip then."""
        if timeout_ms < 0:
            raise RPCError(RPC_MISC_ERROR, "Negative timeout")
        ctx = self.ctx
        cs = self.cs
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_ms / 1000 if timeout_ms else None
        cond = ctx.tip_changed
        async with cond:
            while True:
                # Read the tip while holding the condition: a tip change after this read
                # notifies only once we wait, so it cannot be missed.
                tip: Entry = await self.chain(lambda: cs.tip())
                if done(tip) or ctx.shutdown.is_set() or req.stopping.is_set():
                    break
                step = WAIT_SLICE
                if deadline is not None:
                    remaining = deadline - loop.time()
                    if remaining <= 0:
                        break
                    step = min(step, remaining)
                try:
                    async with asyncio.timeout(step):
                        await cond.wait()
                except TimeoutError:
                    pass
        return {"hash": hash_hex(tip.hash), "height": tip.height}

    async def waitfornewblock(self, p: list[Any], req: RequestContext) -> dict[str, Any]:
        timeout = opt_int(param(p, 0), 0)
        current = None if param(p, 1) is None else parse_hash(p[1], "current_tip")
        if current is None:
            cs = self.cs
            current = (await self.chain(lambda: cs.tip())).hash
        start = current
        return await self._wait_tip(req, timeout, lambda tip: tip.hash != start)

    async def waitforblock(self, p: list[Any], req: RequestContext) -> dict[str, Any]:
        block_hash = parse_hash(p[0], "blockhash")
        timeout = opt_int(param(p, 1), 0)
        return await self._wait_tip(req, timeout, lambda tip: tip.hash == block_hash)

    async def waitforblockheight(self, p: list[Any], req: RequestContext) -> dict[str, Any]:
        height = get_int(p[0])
        timeout = opt_int(param(p, 1), 0)
        return await self._wait_tip(req, timeout, lambda tip: tip.height >= height)

    # -- mempool (empty until the mempool exists) --------------------------------------------

    def getmempoolinfo(self, p: list[Any], req: RequestContext) -> dict[str, Any]:
        return {
            "loaded": self.ctx.loaded.is_set(),
            "size": 0,
            "bytes": 0,
            "usage": 0,
            "total_fee": value_from_amount(0),
            "maxmempool": DEFAULT_MAX_MEMPOOL,
            "mempoolminfee": value_from_amount(DEFAULT_MIN_RELAY_FEE),
            "minrelaytxfee": value_from_amount(DEFAULT_MIN_RELAY_FEE),
            "incrementalrelayfee": value_from_amount(DEFAULT_INCREMENTAL_RELAY_FEE),
            "unbroadcastcount": 0,
            "fullrbf": True,
            "permitbaremultisig": True,
            "maxdatacarriersize": DEFAULT_DATACARRIER_SIZE,
        }

    def getrawmempool(self, p: list[Any], req: RequestContext) -> Any:
        verbose = opt_bool(param(p, 0), False)
        sequence = opt_bool(param(p, 1), False)
        if verbose:
            if sequence:
                raise RPCError(
                    RPC_INVALID_PARAMETER, "Verbose results cannot contain mempool sequence values."
                )
            return {}
        if sequence:
            return {"txids": [], "mempool_sequence": 1}
        return []


def register_blockchain(server: RPCServer, ctx: NodeContext) -> None:
    """Register the blockchain (and read-only mempool) RPCs on ``server``."""
    rpc = BlockchainRPC(ctx)
    hash_arg = Arg("blockhash", "string", True)
    table: list[tuple[str, list[Arg], Any]] = [
        ("getblockcount", [], rpc.getblockcount),
        ("getbestblockhash", [], rpc.getbestblockhash),
        ("getdifficulty", [], rpc.getdifficulty),
        ("getblockhash", [Arg("height", "number", True)], rpc.getblockhash),
        ("getblockheader", [hash_arg, Arg("verbose", "bool")], rpc.getblockheader),
        ("getblock", [hash_arg, Arg("verbosity|verbose", None)], rpc.getblock),
        ("getblockchaininfo", [], rpc.getblockchaininfo),
        ("getchaintips", [], rpc.getchaintips),
        (
            "gettxout",
            [Arg("txid", "string", True), Arg("n", "number", True), Arg("include_mempool", "bool")],
            rpc.gettxout,
        ),
        (
            "gettxoutsetinfo",
            [Arg("hash_type", "string"), Arg("hash_or_height", None), Arg("use_index", "bool")],
            rpc.gettxoutsetinfo,
        ),
        ("verifychain", [Arg("checklevel", "number"), Arg("nblocks", "number")], rpc.verifychain),
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
        ("invalidateblock", [hash_arg], rpc.invalidateblock),
        ("reconsiderblock", [hash_arg], rpc.reconsiderblock),
        ("preciousblock", [hash_arg], rpc.preciousblock),
        (
            "waitfornewblock",
            [Arg("timeout", "number"), Arg("current_tip", "string")],
            rpc.waitfornewblock,
        ),
        ("waitforblock", [hash_arg, Arg("timeout", "number")], rpc.waitforblock),
        (
            "waitforblockheight",
            [Arg("height", "number", True), Arg("timeout", "number")],
            rpc.waitforblockheight,
        ),
        ("getmempoolinfo", [], rpc.getmempoolinfo),
        (
            "getrawmempool",
            [Arg("verbose", "bool"), Arg("mempool_sequence", "bool")],
            rpc.getrawmempool,
        ),
    ]
    for name, args, func in table:
        category = "mempool" if name in ("getmempoolinfo", "getrawmempool") else "blockchain"
        register(server, name, args, category, func)
    register(
        server,
        "syncwithvalidationinterfacequeue",
        [],
        "hidden",
        rpc.syncwithvalidationinterfacequeue,
    )
