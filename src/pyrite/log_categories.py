"""Bitcoin Core's logging categories and the pyrite loggers behind each (shared by the
node's log setup and the ``logging`` RPC). No imports: any layer may use it."""

from __future__ import annotations

from typing import Final

_CATEGORY_NAMES: Final = (
    "net tor mempool http bench zmq walletdb rpc estimatefee addrman selectcoins reindex "
    "cmpctblock rand prune proxy mempoolrej libevent coindb qt leveldb validation i2p ipc lock "
    "blockstorage txreconciliation scan txpackages mining"
)
#: every category name Core accepts in -debug / -debugexclude / the logging RPC
LOG_CATEGORIES: Final = tuple(_CATEGORY_NAMES.split())
#: our loggers behind a category; categories not listed here have no pyrite logger yet
CATEGORY_LOGGERS: Final = {
    "net": ("pyrite.p2p",),
    "mempool": ("pyrite.mempool",),
    "http": ("pyrite.rpc.http",),
    "rpc": ("pyrite.rpc",),
    "validation": ("pyrite.validation", "pyrite.chain"),
    "bench": ("pyrite.bench",),
    "blockstorage": ("pyrite.chain.blockstore",),
    "coindb": ("pyrite.chain.coins", "pyrite.chain.kvstore"),
    "reindex": ("pyrite.node.importer",),
    "mining": ("pyrite.mining",),
}
