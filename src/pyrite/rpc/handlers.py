"""Registers every implemented RPC handler on an :class:`~pyrite.rpc.server.RPCServer`.

``node/`` calls :func:`register_all` once, after building the :class:`NodeContext`.
"""

from __future__ import annotations

from pyrite.rpc.blockchain import register_blockchain
from pyrite.rpc.chaincontrol import register_chaincontrol
from pyrite.rpc.chainstats import register_chainstats
from pyrite.rpc.context import NodeContext
from pyrite.rpc.control import register_control
from pyrite.rpc.mempool import register_mempool
from pyrite.rpc.mining import register_mining
from pyrite.rpc.server import RPCServer


def register_all(server: RPCServer, ctx: NodeContext) -> None:
    """Register the blockchain, mempool, mining, control and network RPCs."""
    register_blockchain(server, ctx)
    register_chainstats(server, ctx)
    register_chaincontrol(server, ctx)
    register_mempool(server, ctx)
    register_mining(server, ctx)
    register_control(server, ctx)
