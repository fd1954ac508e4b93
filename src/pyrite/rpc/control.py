"""Control, network-status and utility RPCs.

Mirrors Bitcoin Core's ``rpc/server.cpp`` (uptime), ``rpc/node.cpp`` (setmocktime, logging,
getindexinfo, echo, echojson), ``rpc/net.cpp`` (getnetworkinfo, getconnectioncount,
getpeerinfo, getnettotals, ping) and getdeploymentinfo from ``rpc/blockchain.cpp``. Until the
P2P layer exists the network answers describe a node with no peers.
"""

from __future__ import annotations

import logging
import time
from typing import Any, Final

from pyrite.chain.index import BlockIndexEntry
from pyrite.consensus.params import ChainParams
from pyrite.log_categories import CATEGORY_LOGGERS, LOG_CATEGORIES
from pyrite.rpc.context import CLIENT_VERSION, PROTOCOL_VERSION, NodeContext
from pyrite.rpc.errors import RPC_INVALID_PARAMETER, RPC_MISC_ERROR, RPCError
from pyrite.rpc.jsonrpc import RequestContext
from pyrite.rpc.jsonutil import value_from_amount
from pyrite.rpc.server import RPCServer
from pyrite.rpc.util import (
    INT64_MAX,
    INT64_MIN,
    Arg,
    block_not_found,
    get_int,
    get_str,
    hash_hex,
    param,
    parse_hash,
    register,
)

log = logging.getLogger(__name__)

MAX_MOCKTIME: Final = 9_223_372_036  # seconds in std::chrono::nanoseconds::max()
LOCAL_SERVICES: Final = 0x409  # NODE_NETWORK | NODE_WITNESS | NODE_NETWORK_LIMITED
LOCAL_SERVICE_NAMES: Final = ("NETWORK", "WITNESS", "NETWORK_LIMITED")
RELAY_FEE: Final = 1000  # sat/kvB, -minrelaytxfee default
INCREMENTAL_FEE: Final = 1000
NETWORKS: Final = (
    ("ipv4", True),
    ("ipv6", True),
    ("onion", False),
    ("i2p", False),
    ("cjdns", False),
)
MAX_OUTBOUND_TIMEFRAME: Final = 86400

#: Core's debug categories (BCLog), in Core's order.


def deployment_info(params: ChainParams, entry: BlockIndexEntry) -> dict[str, Any]:
    """Core's DeploymentInfo: is each soft fork enforced for the block after ``entry``?"""
    next_height = entry.height + 1
    out: dict[str, Any] = {}
    buried = (
        ("bip34", params.bip34_height),
        ("bip66", params.bip66_height),
        ("bip65", params.bip65_height),
        ("csv", params.csv_height),
        ("segwit", params.segwit_height),
    )
    for name, height in buried:
        out[name] = {"type": "buried", "active": next_height >= height, "height": height}
    if params.taproot_height == 0:
        # ALWAYS_ACTIVE BIP9 deployment (regtest, testnet4, signet), reported as Core does.
        out["taproot"] = {
            "type": "bip9",
            "height": 0,
            "active": True,
            "bip9": {
                "start_time": -1,
                "timeout": INT64_MAX,
                "min_activation_height": 0,
                "status": "active",
                "since": 0,
                "status_next": "active",
            },
        }
    else:
        out["taproot"] = {
            "type": "buried",
            "active": next_height >= params.taproot_height,
            "height": params.taproot_height,
        }
    return out


class ControlRPC:
    def __init__(self, ctx: NodeContext) -> None:
        self.ctx = ctx
        #: categories switched on or off by this RPC; the others follow the loggers
        self.log_overrides: dict[str, bool] = {}

    def uptime(self, p: list[Any], req: RequestContext) -> int:
        # Core computes GetTime() - GetStartupTime(): both follow mock time.
        return self.ctx.clock.now() - self.ctx.start_time

    def setmocktime(self, p: list[Any], req: RequestContext) -> None:
        if self.ctx.chain_name != "regtest":
            raise RPCError(
                RPC_MISC_ERROR, "setmocktime is for regression testing (-regtest mode) only"
            )
        timestamp = get_int(p[0], INT64_MIN, INT64_MAX)
        if not 0 <= timestamp <= MAX_MOCKTIME:
            raise RPCError(
                RPC_INVALID_PARAMETER,
                f"Mocktime must be in the range [0, {MAX_MOCKTIME}], not {timestamp}.",
            )
        self.ctx.clock.set_mocktime(timestamp)

    def getnetworkinfo(self, p: list[Any], req: RequestContext) -> dict[str, Any]:
        return {
            "version": CLIENT_VERSION,
            "subversion": self.ctx.subversion,
            "protocolversion": PROTOCOL_VERSION,
            "localservices": f"{LOCAL_SERVICES:016x}",
            "localservicesnames": list(LOCAL_SERVICE_NAMES),
            "localrelay": True,
            "timeoffset": 0,
            "networkactive": True,
            "connections": 0,
            "connections_in": 0,
            "connections_out": 0,
            "networks": [
                {
                    "name": name,
                    "limited": not reachable,
                    "reachable": reachable,
                    "proxy": "",
                    "proxy_randomize_credentials": False,
                }
                for name, reachable in NETWORKS
            ],
            "relayfee": value_from_amount(RELAY_FEE),
            "incrementalfee": value_from_amount(INCREMENTAL_FEE),
            "localaddresses": [],
            "warnings": [],
        }

    def getconnectioncount(self, p: list[Any], req: RequestContext) -> int:
        return 0

    def getpeerinfo(self, p: list[Any], req: RequestContext) -> list[Any]:
        return []

    def getnettotals(self, p: list[Any], req: RequestContext) -> dict[str, Any]:
        return {
            "totalbytesrecv": 0,
            "totalbytessent": 0,
            "timemillis": int(time.time() * 1000),
            "uploadtarget": {
                "timeframe": MAX_OUTBOUND_TIMEFRAME,
                "target": 0,
                "target_reached": False,
                "serve_historical_blocks": True,
                "bytes_left_in_cycle": 0,
                "time_left_in_cycle": 0,
            },
        }

    def ping(self, p: list[Any], req: RequestContext) -> None:
        return None

    def _toggle(self, names: object, enable: bool) -> None:
        if not isinstance(names, list):
            return
        for item in names:
            category = get_str(item)
            if category in ("", "1", "all"):
                chosen = set(LOG_CATEGORIES)
            elif category in ("0", "none"):
                chosen = set()
            elif category in LOG_CATEGORIES:
                chosen = {category}
            else:
                raise RPCError(RPC_INVALID_PARAMETER, f"unknown logging category {category}")
            for name in chosen:
                self.log_overrides[name] = enable
                for logger in CATEGORY_LOGGERS.get(name, ()):
                    logging.getLogger(logger).setLevel(logging.DEBUG if enable else logging.NOTSET)

    def logging(self, p: list[Any], req: RequestContext) -> dict[str, bool]:
        self._toggle(param(p, 0), True)
        self._toggle(param(p, 1), False)
        return {name: self._log_enabled(name) for name in sorted(LOG_CATEGORIES)}

    def _log_enabled(self, category: str) -> bool:
        if category in self.log_overrides:
            return self.log_overrides[category]
        # Unmapped categories follow "validation", which -debug (all) switches on.
        loggers = CATEGORY_LOGGERS.get(category, CATEGORY_LOGGERS["validation"])
        return any(logging.getLogger(n).isEnabledFor(logging.DEBUG) for n in loggers)

    def getindexinfo(self, p: list[Any], req: RequestContext) -> dict[str, Any]:
        return {}  # no optional indexes (txindex, blockfilterindex, coinstatsindex) yet

    async def getdeploymentinfo(self, p: list[Any], req: RequestContext) -> dict[str, Any]:
        block_hash = None if param(p, 0) is None else parse_hash(p[0], "blockhash")
        cs = self.ctx.chainstate

        def pick() -> BlockIndexEntry | None:
            return cs.tip() if block_hash is None else cs.lookup(block_hash)

        entry: BlockIndexEntry | None = await self.ctx.run_chain(pick)
        if entry is None:
            raise block_not_found()
        return {
            "hash": hash_hex(entry.hash),
            "height": entry.height,
            "deployments": deployment_info(self.ctx.params, entry),
        }

    def echo(self, p: list[Any], req: RequestContext) -> list[Any]:
        return p


def register_control(server: RPCServer, ctx: NodeContext) -> None:
    """Register the control, network and utility RPCs on ``server``."""
    rpc = ControlRPC(ctx)
    register(server, "uptime", [], "control", rpc.uptime)
    register(server, "setmocktime", [Arg("timestamp", "number", True)], "hidden", rpc.setmocktime)
    register(
        server,
        "logging",
        [Arg("include", "array"), Arg("exclude", "array")],
        "control",
        rpc.logging,
    )
    register(server, "getindexinfo", [Arg("index_name", "string")], "util", rpc.getindexinfo)
    register(
        server,
        "getdeploymentinfo",
        [Arg("blockhash", "string")],
        "blockchain",
        rpc.getdeploymentinfo,
    )
    for name in ("getnetworkinfo", "getconnectioncount", "getpeerinfo", "getnettotals", "ping"):
        register(server, name, [], "network", getattr(rpc, name))
    echo_args = [Arg(f"arg{i}", None) for i in range(10)]
    register(server, "echo", echo_args, "hidden", rpc.echo)
    register(server, "echojson", echo_args, "hidden", rpc.echo)
