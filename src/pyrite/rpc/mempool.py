"""Mempool RPCs, read-only and empty until pyrite has a mempool.

Mirrors the read-only queries of Bitcoin Core's ``rpc/mempool.cpp`` (getmempoolinfo,
getrawmempool): the same parameter names, result shapes and error messages, answering for an
empty pool with Core's default limits and fee rates.
"""

from __future__ import annotations

import logging
from typing import Any, Final

from pyrite.rpc.context import ChainHandlers, NodeContext
from pyrite.rpc.errors import RPC_INVALID_PARAMETER, RPCError
from pyrite.rpc.jsonrpc import RequestContext
from pyrite.rpc.jsonutil import value_from_amount
from pyrite.rpc.server import RPCServer
from pyrite.rpc.util import Arg, opt_bool, param, register

log = logging.getLogger(__name__)

DEFAULT_MAX_MEMPOOL: Final = 300_000_000
DEFAULT_MIN_RELAY_FEE: Final = 1000  # sat/kvB
DEFAULT_INCREMENTAL_RELAY_FEE: Final = 1000
DEFAULT_DATACARRIER_SIZE: Final = 83


class MempoolRPC(ChainHandlers):
    """The mempool handlers."""

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


def register_mempool(server: RPCServer, ctx: NodeContext) -> None:
    """Register the read-only mempool RPCs on ``server``."""
    rpc = MempoolRPC(ctx)
    table: list[tuple[str, list[Arg], Any]] = [
        ("getmempoolinfo", [], rpc.getmempoolinfo),
        (
            "getrawmempool",
            [Arg("verbose", "bool"), Arg("mempool_sequence", "bool")],
            rpc.getrawmempool,
        ),
    ]
    for name, args, func in table:
        register(server, name, args, "mempool", func)
