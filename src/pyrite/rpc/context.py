"""What RPC handlers may use of the running node, wired in by ``pyrite.node``."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from pyrite.chain.chainstate import Chainstate
from pyrite.chain.index import BlockIndexEntry
from pyrite.consensus.params import ChainParams

T = TypeVar("T")

CLIENT_VERSION = 10000  # pyrite 0.1.0, encoded like Core's CLIENT_VERSION (MMmmpp)
CLIENT_NAME = "pyrite"
CLIENT_VERSION_STRING = "0.1.0"
PROTOCOL_VERSION = 70016


class Clock:
    """Wall clock with Core's mock time (``-mocktime``, ``setmocktime``): integer seconds."""

    def __init__(self, mocktime: int = 0) -> None:
        self.mocktime = mocktime

    def now(self) -> int:
        return self.mocktime if self.mocktime else int(time.time())

    def set_mocktime(self, t: int) -> None:
        self.mocktime = t


@dataclass(frozen=True, slots=True)
class SettledChain:
    """What tip queries need, read in the chain thread at the end of a piece of chain work
    (when every script verdict is in): the tip, the best header, and the bytes of block
    and undo files (with the last file's size, to tell when to count again)."""

    tip: BlockIndexEntry
    best_header: BlockIndexEntry | None
    size_on_disk: int
    last_file: tuple[int, int]


@dataclass
class NodeContext:
    """Shared by every handler. Chainstate work must go through ``run_chain`` so it runs in
    the chain worker thread and never blocks the event loop."""

    chainstate: Chainstate
    params: ChainParams
    chain_name: str  # "main", "test", "testnet4", "signet" or "regtest"
    datadir: Path
    net_datadir: Path
    clock: Clock
    start_time: int
    run_chain: Callable[[Callable[[], Any]], Awaitable[Any]]
    uacomments: list[str] = field(default_factory=list)
    #: notified (notify_all) after every tip change; waitfor* RPCs wait on it
    tip_changed: asyncio.Condition = field(default_factory=asyncio.Condition)
    shutdown: asyncio.Event = field(default_factory=asyncio.Event)
    #: set once startup (block index load, -loadblock import) is complete
    loaded: asyncio.Event = field(default_factory=asyncio.Event)
    importing: bool = False
    #: the chain as the last piece of chain work left it, kept by the node's ``run_chain``
    #: (see ``blockchain.settle``): getblockcount, getbestblockhash and getblockchaininfo
    #: answer from it at once rather than wait for the chain thread (up to one import
    #: step, about 2 s). None: ask the chain thread.
    settled: SettledChain | None = None

    @property
    def subversion(self) -> str:
        comments = f"({'; '.join(self.uacomments)})" if self.uacomments else ""
        return f"/{CLIENT_NAME}:{CLIENT_VERSION_STRING}{comments}/"


class ChainHandlers:
    """Base of the RPC handler classes: the node context, its chainstate (looked up at call
    time) and ``chain`` to run chainstate work in the chain worker thread."""

    def __init__(self, ctx: NodeContext) -> None:
        self.ctx = ctx

    @property
    def cs(self) -> Chainstate:
        return self.ctx.chainstate

    async def chain(self, fn: Callable[[], Any]) -> Any:
        return await self.ctx.run_chain(fn)

    async def settled_tip(self) -> BlockIndexEntry:
        """The tip as the last piece of chain work left it (every script verdict in), at
        once where the node keeps it (``NodeContext.settled``), else from the chain thread."""
        settled = self.ctx.settled
        if settled is not None:
            return settled.tip
        cs = self.cs
        tip: BlockIndexEntry = await self.chain(lambda: cs.tip())
        return tip
