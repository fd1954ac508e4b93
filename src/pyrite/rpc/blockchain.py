"""Blockchain RPCs: the chain-state queries and the block, header and UTXO lookups.

The read-only core of Bitcoin Core's ``rpc/blockchain.cpp``: getblockcount, getbestblockhash,
getdifficulty, getblockchaininfo and getchaintips describe the active chain; getblockhash,
getblockheader, getblock, gettxout and gettxoutsetinfo look up one block or the UTXO set. Same
parameter names (so named parameters work), result fields and error codes/messages as Core.
The rest of that Core file lives in ``chainstats`` (getblockstats, getchaintxstats) and
``chaincontrol`` (invalidate/reconsider/precious, verifychain, waitfor*), which use the
:func:`lookup` and :func:`check_have_data` helpers defined here.
Every chainstate access runs in the chain worker through ``NodeContext.run_chain``; only the
JSON assembly of a result that needs no lock happens there too, never on the event loop.
"""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any

from pyrite.chain.chainstate import Chainstate
from pyrite.chain.index import BLOCK_FAILED_MASK, BLOCK_VALID_SCRIPTS, BLOCK_VALID_TREE
from pyrite.chain.index import BlockIndexEntry as Entry
from pyrite.chain.utxostats import compute_utxo_stats
from pyrite.primitives import OutPoint
from pyrite.rpc.context import ChainHandlers, NodeContext, SettledChain
from pyrite.rpc.errors import RPC_INVALID_PARAMETER, RPC_MISC_ERROR, RPCError
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
    param,
    parse_hash,
    real,
    register,
    script_pubkey_to_json,
    target_hex,
)

log = logging.getLogger(__name__)


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


def settle(cs: Chainstate, previous: SettledChain | None) -> SettledChain | None:
    """The chain as it stands (call in the chain thread, between pieces of work); the
    files' size is counted again only when the tip, the best header or the last file
    changed. None before the chainstate has a tip."""
    tip = cs.chain.tip()
    if tip is None:
        return None
    best = cs.tree.best_header
    store = cs.blockstore
    info = store.file_info(store.last_file)
    last = (store.last_file, info.size + info.undo_size if info is not None else 0)
    if (
        previous is not None
        and previous.tip is tip
        and previous.best_header is best
        and previous.last_file == last
    ):
        return previous
    return SettledChain(tip, best, blocks_size_on_disk(cs), last)


def blocks_size_on_disk(cs: Chainstate) -> int:
    """CalculateCurrentUsage: bytes of block and undo data in the flat files."""
    store = cs.blockstore
    total = 0
    for n in range(store.last_file + 1):
        info = store.file_info(n)
        if info is not None:
            total += info.size + info.undo_size
    return total


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


class BlockchainRPC(ChainHandlers):
    """The handlers; each reads ``ctx.chainstate`` at call time."""

    # -- simple queries ----------------------------------------------------------------------

    async def getblockcount(self, p: list[Any], req: RequestContext) -> int:
        return (await self.settled_tip()).height

    async def getbestblockhash(self, p: list[Any], req: RequestContext) -> str:
        return hash_hex((await self.settled_tip()).hash)

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
        settled = self.ctx.settled
        if settled is not None:  # the fields read from entries that no longer change
            return self._blockchaininfo(settled.tip, settled.best_header, settled.size_on_disk)
        cs = self.cs

        def work() -> dict[str, Any]:
            with cs.lock:
                return self._blockchaininfo(cs.tip(), cs.tree.best_header,
                                            blocks_size_on_disk(cs))  # fmt: skip

        result: dict[str, Any] = await self.chain(work)
        return result

    def _blockchaininfo(self, tip: Entry, best: Entry | None, size: int) -> dict[str, Any]:
        cs = self.cs
        ctx = self.ctx
        ibd = cs.is_initial_block_download(tip)
        progress = cs.verification_progress(tip)
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
            "verificationprogress": real(progress),
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


def register_blockchain(server: RPCServer, ctx: NodeContext) -> None:
    """Register the chain-state and block/UTXO lookup RPCs on ``server``."""
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
    ]
    for name, args, func in table:
        register(server, name, args, "blockchain", func)
