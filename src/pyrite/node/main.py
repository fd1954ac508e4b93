"""pyrited: the daemon. Parses bitcoind's options, lays out the datadir like bitcoind, opens
the chainstate, serves JSON-RPC and imports -loadblock files; stops on `stop` or SIGTERM.

This module is the only place that knows every layer and wires them together.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import fcntl
import gc
import logging
import os
import signal
import string
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import IO, Any

from pyrite.chain.chainstate import Chainstate
from pyrite.chain.index import BlockIndexEntry
from pyrite.chain.scriptcheck import ParallelScriptChecker, ScriptChecker, SerialScriptChecker
from pyrite.compiled import build_description
from pyrite.consensus.params import ChainParams, get_params
from pyrite.errors import PyriteError
from pyrite.node import importer
from pyrite.node.config import Config, ConfigError
from pyrite.node.logs import setup_logging
from pyrite.rpc.blockchain import settle
from pyrite.rpc.context import CLIENT_VERSION_STRING, Clock, NodeContext
from pyrite.rpc.handlers import register_all
from pyrite.rpc.http import rpc_bind_endpoints
from pyrite.rpc.server import RPCServer

log = logging.getLogger("pyrite.node")

#: options pyrited acts on; anything else that is set is accepted and logged as ignored
SUPPORTED = {
    "datadir", "conf", "regtest", "testnet", "testnet4", "signet", "chain", "rpcport", "rpcbind",
    "rpcallowip", "rpcuser", "rpcpassword", "rpcauth", "rpccookiefile", "dbcache", "loadblock",
    "reindex", "reindex-chainstate", "printtoconsole", "debug", "debugexclude", "debuglogfile",
    "uacomment", "server", "mocktime", "logtimemicros", "logthreadnames", "logsourcelocations",
    "rpcservertimeout", "assumevalid", "pid", "includeconf", "daemon", "daemonwait", "par",
    "stopafterblockimport", "minimumchainwork", "stopatheight",
}  # fmt: skip


class StartupError(Exception):
    """A problem that stops startup; printed as ``Error: <message>``."""


def main() -> None:
    sys.exit(run(sys.argv[1:]))


def run(argv: list[str]) -> int:
    try:
        config = Config.load(argv)
    except ConfigError as e:
        print(f"Error: {e.message}", file=sys.stderr)
        return 1
    if config.get_bool("version") or config.get_bool("help") or config.is_set("?"):
        print(f"Pyrite daemon version v{CLIENT_VERSION_STRING} ({build_description()})")
        if not config.get_bool("version"):
            print("Usage: pyrited [options]   Start the pyrite daemon (bitcoind's options)")
        return 0
    _tune_gc()
    lock_file: IO[str] | None = None
    try:
        netdir = config.net_datadir
        for sub in ("", "blocks", "wallets"):
            (netdir / sub).mkdir(parents=True, exist_ok=True)
        lock_file = _lock_datadir(netdir)
        warnings = _setup_logging(config, netdir)
        # script-check worker processes are forked now, while this is the only thread
        checker = _script_checker(config)
        try:
            return asyncio.run(_node(config, netdir, warnings, checker))
        finally:
            checker.close()
    except StartupError as e:
        print(f"Error: {e}", file=sys.stderr)
        logging.getLogger("pyrite").error("Error: %s", e)
        return 1
    except OSError as e:
        print(f"Error: {e}", file=sys.stderr)
        return 1
    finally:
        if lock_file is not None:
            lock_file.close()


def _tune_gc() -> None:
    """Validation allocates millions of short-lived, acyclic objects (transactions, coins);
    CPython's default thresholds then spend about 10% of an import in cycle collection.
    Collect the youngest generation every 100,000 allocations instead of 700, and keep
    the modules and objects loaded at startup out of every collection."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(100_000, 50, 1000)


def _lock_datadir(netdir: Path) -> IO[str]:
    f = open(netdir / ".lock", "a")  # noqa: SIM115 - held open for the process lifetime
    try:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        f.close()
        raise StartupError(
            f"Cannot obtain a lock on data directory {netdir}. Pyrite is probably already running."
        ) from None
    return f


def _setup_logging(config: Config, netdir: Path) -> list[str]:
    log_path: Path | None = None
    if not config.is_negated("debuglogfile"):
        log_path = config.abs_path_for_config_val(config.path_arg("debuglogfile", "debug.log"))
    return setup_logging(
        log_path,
        config.get_bool("printtoconsole", False),
        config.get_all("debug"),
        config.get_all("debugexclude"),
        micros=config.get_bool("logtimemicros"),
        thread_names=config.get_bool("logthreadnames"),
        source_locations=config.get_bool("logsourcelocations"),
    )


def _script_checker(config: Config) -> ScriptChecker:
    """-par as Core: the number of script-check processes; 0 = all cores, -N = leave N free."""
    par = config.get_int("par", 0)
    if par <= 0:
        par += _usable_cores()
    par = max(1, min(par, 16))
    return ParallelScriptChecker(par - 1) if par > 1 else SerialScriptChecker()


def _user_hex(value: str) -> int | None:
    """Core's uint256::FromUserHex: up to 64 hex digits after an optional ``0x``, as a
    number (short values are padded with zeros on the left); None when not that."""
    digits = value.removeprefix("0x")
    if len(digits) > 64 or not all(c in string.hexdigits for c in digits):
        return None
    return int(digits, 16) if digits else 0


def _chain_params(config: Config) -> ChainParams:
    """The network's parameters, with -minimumchainwork in place of its minimum chain work."""
    params = get_params(config.chain_name)
    if config.is_set("minimumchainwork"):
        raw = config.get_str("minimumchainwork", "") or ""
        work = _user_hex(raw)
        if work is None:
            raise StartupError(f"Invalid minimum work specified ({raw}), must be up to 64 hex "
                               "digits")  # fmt: skip
        default = params.min_chain_work
        params = dataclasses.replace(params, min_chain_work=work)
        if work < default:
            log.info("Warning: nMinimumChainWork set below default value of %064x", default)
    log.info("Setting nMinimumChainWork=%064x", params.min_chain_work)
    return params


def _assume_valid(config: Config, params: ChainParams) -> bytes | None:
    """-assumevalid as Core reads it (zero, empty or negated: verify every script); unset,
    the network's default block."""
    assumevalid = params.default_assume_valid
    if config.is_set("assumevalid"):
        raw = "0" if config.is_negated("assumevalid") else config.get_str("assumevalid", "") or ""
        number = _user_hex(raw)
        if number is None:
            raise StartupError(f"Invalid assumevalid block hash specified ({raw}), must be up "
                               "to 64 hex digits (or 0 to disable)")  # fmt: skip
        assumevalid = number.to_bytes(32, "little") if number else None
    if assumevalid is not None:
        log.info("Assuming ancestors of block %s have valid signatures.", assumevalid[::-1].hex())
    else:
        log.info("Validating signatures for all blocks.")
    return assumevalid


def _usable_cores() -> int:
    """The cores this process may run on (its CPU affinity, which a container or taskset
    may narrow), else the machine's."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except (AttributeError, OSError):  # not on Linux
        return os.cpu_count() or 1


async def _node(config: Config, netdir: Path, warnings: list[str], checker: ScriptChecker) -> int:
    loop = asyncio.get_running_loop()
    log.info("Pyrite version v%s (%s)", CLIENT_VERSION_STRING, build_description())
    log.info("Using data directory %s", netdir)
    for line in config.log_lines():
        log.info("%s", line)
    for w in [*warnings, *config.warnings]:
        log.info("Warning: %s", w)
    for name in config.ignored_options(SUPPORTED):
        log.info("Option -%s is accepted but not supported yet; ignoring it", name)
    for name in config.unknown:
        log.info("Warning: unknown option %s ignored", name)
    params = _chain_params(config)

    clock = Clock(config.get_int("mocktime", 0))
    executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="chain")

    #: pieces of chain work submitted (counted in the event loop's thread) and started
    #: (in the chain thread): an import step yields early to work that waits
    submitted = [0]
    started = [0]

    def settled(fn: Callable[[], Any]) -> Any:
        """``fn``, then the chain it leaves published for tip queries (every script verdict
        is in at the end of a piece of chain work)."""
        started[0] += 1
        try:
            return fn()
        finally:
            ctx.settled = settle(chainstate, ctx.settled)

    async def run_chain(fn: Callable[[], Any]) -> Any:
        submitted[0] += 1
        before = ctx.settled
        try:
            return await loop.run_in_executor(executor, settled, fn)
        finally:
            if ctx.settled is not before:  # waitfor* calls watch the settled tip
                spawn_notify()

    assumevalid = _assume_valid(config, params)
    dbcache = max(config.get_int("dbcache", 450), 4) << 20
    log.info("Script verification uses %d process(es)", checker.processes)
    chainstate = Chainstate(netdir, params, dbcache_bytes=dbcache, clock=clock.now,
                            assumevalid=assumevalid, script_checker=checker)  # fmt: skip
    ctx = NodeContext(
        chainstate=chainstate,
        params=params,
        chain_name=config.chain_name,
        datadir=config.datadir,
        net_datadir=netdir,
        clock=clock,
        start_time=int(time.time()),
        run_chain=run_chain,
        uacomments=config.get_all("uacomment"),
    )
    shutdown = ctx.shutdown
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, shutdown.set)

    async def notify_tip() -> None:
        async with ctx.tip_changed:
            ctx.tip_changed.notify_all()

    pending: set[asyncio.Task[None]] = set()

    def spawn_notify() -> None:
        task = loop.create_task(notify_tip())
        pending.add(task)
        task.add_done_callback(pending.discard)

    stop_at_height = config.get_int("stopatheight", 0)
    chainstate.stop_at_height = stop_at_height

    def on_tip(entry: BlockIndexEntry) -> None:
        # (in the chain thread) mid-step, during an import, the verified chain has grown:
        # tip queries see it now; the rest of ctx.settled is read again at the step's end
        settled = ctx.settled
        if settled is not None and settled.tip is not entry:
            ctx.settled = dataclasses.replace(settled, tip=entry)
        loop.call_soon_threadsafe(spawn_notify)
        if stop_at_height and entry.height >= stop_at_height:  # as Core's blockTip
            log.info("Reached height %d, -stopatheight=%d: shutting down", entry.height,
                     stop_at_height)  # fmt: skip
            loop.call_soon_threadsafe(shutdown.set)

    chainstate.tip_listeners.append(on_tip)

    def on_failure(_: BaseException) -> None:  # as Core's AbortNode: the node shuts down
        log.info("Error: A fatal internal error occurred, see debug.log for details")
        loop.call_soon_threadsafe(shutdown.set)

    chainstate.failure_listeners.append(on_failure)

    server: RPCServer | None = None
    if config.get_bool("server", True):
        port = config.get_int("rpcport", params.rpc_port)
        password = config.get_str("rpcpassword", "") or ""
        try:
            bind = rpc_bind_endpoints(config.get_all("rpcbind"), config.is_set("rpcallowip"), port)
            server = RPCServer(
                bind,
                rpcallowip=config.get_all("rpcallowip"),
                rpcuser=config.get_str("rpcuser", "") or "",
                rpcpassword=password,
                rpcauth=config.get_all("rpcauth"),
                cookie_path=None if password else config.auth_cookie_path(),
                timeout=config.get_int("rpcservertimeout", 30),
                log_path=netdir / "debug.log",
                on_stop=shutdown.set,
            )
        except ValueError as e:
            raise StartupError(str(e)) from e
        register_all(server, ctx)
        server.set_warmup("Loading block index…")
        try:
            await server.start()
        except OSError as e:
            log.info("Unable to bind RPC: %s", e)
            raise StartupError("Unable to start HTTP server. See debug log for details.") from e
    pid_path = config.abs_path_for_config_val(config.path_arg("pid", "pyrited.pid"))
    with contextlib.suppress(OSError):
        pid_path.write_text(f"{os.getpid()}\n")
    code = 0
    try:
        reindex = config.get_bool("reindex")
        try:
            await run_chain(
                lambda: chainstate.open(
                    reindex=reindex, reindex_chainstate=config.get_bool("reindex-chainstate")
                )
            )
        except PyriteError as e:
            log.info("Error opening block database: %s", e)
            raise StartupError(f"Error opening block database: {e}") from e
        if server is not None and not chainstate.reindexing:
            server.set_warmup(None)
        tip = chainstate.chain.tip()
        log.info("block tree loaded; tip height %d", tip.height if tip else -1)
        await _import(config, chainstate, ctx, run_chain, server,
                      lambda: submitted[0] > started[0])  # fmt: skip
        ctx.loaded.set()
        log.info("init message: Done loading")
        if config.get_bool("stopafterblockimport"):
            log.info("Stopping after block import")
            shutdown.set()
        await shutdown.wait()
    except StartupError:
        code = 1
        raise
    finally:
        log.info("Shutdown: In progress...")
        shutdown.set()
        if server is not None:
            await server.stop()
        with contextlib.suppress(Exception):
            await run_chain(chainstate.close)
        executor.shutdown(wait=True)
        with contextlib.suppress(OSError):
            pid_path.unlink()
        log.info("Shutdown: done")
    return code if chainstate.failure is None else 1


async def _import(
    config: Config,
    chainstate: Chainstate,
    ctx: NodeContext,
    run_chain: Callable[[Callable[[], Any]], Any],
    server: RPCServer | None,
    others_waiting: Callable[[], bool],
) -> None:
    ctx.importing = True
    try:
        if chainstate.reindexing:
            await importer.reindex(chainstate, run_chain, ctx.shutdown, others_waiting)
            if server is not None:
                server.set_warmup(None)
        for name in config.get_all("loadblock"):
            if ctx.shutdown.is_set():
                break
            path = config.abs_path_for_config_val(name, net_specific=False)
            await importer.load_external_file(
                path, chainstate, run_chain, ctx.shutdown, None, others_waiting
            )
    finally:
        ctx.importing = False


if __name__ == "__main__":
    main()
