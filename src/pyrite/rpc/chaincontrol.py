"""Chain-management RPCs: commands that steer or check the active chain, and those that wait
on its tip.

Mirrors Bitcoin Core's ``rpc/blockchain.cpp`` for invalidateblock, reconsiderblock,
preciousblock and verifychain, and for the test-support commands Core registers next to them:
waitfornewblock, waitforblock, waitforblockheight and syncwithvalidationinterfacequeue. Same
parameter names, results and error messages as Core. Chainstate work runs in the chain worker
through ``NodeContext.run_chain``; the waits block only on ``NodeContext.tip_changed``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any, Final

from pyrite.chain.chainstate import Chainstate
from pyrite.chain.index import BlockIndexEntry as Entry
from pyrite.errors import PyriteError
from pyrite.rpc.blockchain import lookup
from pyrite.rpc.context import ChainHandlers, NodeContext
from pyrite.rpc.errors import RPC_DATABASE_ERROR, RPC_MISC_ERROR, RPCError
from pyrite.rpc.jsonrpc import RequestContext
from pyrite.rpc.server import RPCServer
from pyrite.rpc.util import Arg, get_int, hash_hex, opt_int, param, parse_hash, register

log = logging.getLogger(__name__)

DEFAULT_CHECKLEVEL: Final = 3
DEFAULT_CHECKBLOCKS: Final = 6
WAIT_SLICE: Final = 1.0  # seconds between checks of shutdown while a waitfor* call blocks


class ChainControlRPC(ChainHandlers):
    """The chain-management handlers; each reads ``ctx.chainstate`` at call time."""

    # -- chain control -----------------------------------------------------------------------

    async def verifychain(self, p: list[Any], req: RequestContext) -> bool:
        level = max(0, min(4, opt_int(param(p, 0), DEFAULT_CHECKLEVEL)))
        depth = opt_int(param(p, 1), DEFAULT_CHECKBLOCKS)
        cs = self.cs
        ok: bool = await self.chain(lambda: cs.verify_chain(depth, level))
        return ok

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
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_ms / 1000 if timeout_ms else None
        cond = ctx.tip_changed
        async with cond:
            while True:
                # Read the tip while holding the condition: a tip change after this read
                # notifies only once we wait, so it cannot be missed. (The settled tip:
                # asking the chain thread would cut an import step short.)
                tip: Entry = await self.settled_tip()
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
            current = (await self.settled_tip()).hash
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


def register_chaincontrol(server: RPCServer, ctx: NodeContext) -> None:
    """Register the chain-management and tip-waiting RPCs on ``server``."""
    rpc = ChainControlRPC(ctx)
    hash_arg = Arg("blockhash", "string", True)
    table: list[tuple[str, list[Arg], Any]] = [
        ("verifychain", [Arg("checklevel", "number"), Arg("nblocks", "number")], rpc.verifychain),
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
    ]
    for name, args, func in table:
        register(server, name, args, "blockchain", func)
    register(
        server,
        "syncwithvalidationinterfacequeue",
        [],
        "hidden",
        rpc.syncwithvalidationinterfacequeue,
    )
