"""Option tables: which options a program knows, and how :mod:`pyrite.node.config` treats each.

``NODE_OPTIONS`` is ``pyrited``'s (every option bitcoind registers); ``pyrite-cli`` builds its
``CLI_OPTIONS`` with :func:`option_table` in :mod:`pyrite.node.cli`. Re-exported by
:mod:`pyrite.node.config`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True, slots=True)
class OptionSpec:
    """A known option. ``supported`` means pyrite acts on it; others are accepted and logged."""

    name: str
    network_only: bool = False
    supported: bool = False
    sensitive: bool = False


def option_table(
    names: str,
    *,
    supported: str = "",
    network_only: str = "",
    sensitive: str = "",
) -> dict[str, OptionSpec]:
    """Build an option table from whitespace-separated name lists."""
    acted, net, secret = set(supported.split()), set(network_only.split()), set(sensitive.split())
    return {
        n: OptionSpec(n, network_only=n in net, supported=n in acted, sensitive=n in secret)
        for n in names.split()
    }


CHAIN_OPTIONS: Final = (
    "chain regtest testnet testnet4 signet signetchallenge signetseednode testactivationheight "
    "vbparams"
)

# Every option bitcoind (Core 28-30) registers, so test harnesses never hit an unknown one.
_NODE_NAMES: Final = f"""
    ? h help help-debug version {CHAIN_OPTIONS}
    alertnotify allowignoredconf assumevalid blockfilterindex blocknotify
    blockreconstructionextratxn blocksdir blocksonly blocksxor coinstatsindex conf daemon
    daemonwait datadir dbbatchsize dbcache dbcrashratio debuglogfile forcecompactdb includeconf
    loadblock maxmempool maxorphantx mempoolexpiry minimumchainwork par persistmempool
    persistmempoolv1 pid prune reindex reindex-chainstate settings shutdownnotify startupnotify
    sysperms txindex fastprune
    addnode asmap bantime bind cjdnsreachable connect discover dns dnsseed externalip fixedseeds
    forcednsseed listen listenonion maxconnections maxreceivebuffer maxsendbuffer
    maxtimeadjustment maxuploadtarget onion i2psam i2pacceptincoming onlynet v2transport
    peerbloomfilters peerblockfilters txreconciliation port proxy proxyrandomize seednode
    networkactive timeout peertimeout torcontrol torpassword upnp natpmp whitebind whitelist
    addresstype avoidpartialspends changetype consolidatefeerate disablewallet discardfee
    fallbackfee keypool maxapsfee mintxfee paytxfee signer spendzeroconfchange
    txconfirmtarget wallet walletbroadcast walletdir walletnotify walletrbf
    walletrejectlongchains walletcrosschain unsafesqlitesync dblogsize flushwallet privdb
    swapbdbendian legacywallet
    zmqpubhashblock zmqpubhashtx zmqpubrawblock zmqpubrawtx zmqpubsequence zmqpubhashblockhwm
    zmqpubhashtxhwm zmqpubrawblockhwm zmqpubrawtxhwm zmqpubsequencehwm
    checkblocks checklevel checkblockindex checkaddrman checkmempool checkpoints deprecatedrpc
    stopafterblockimport stopatheight limitancestorcount limitancestorsize
    limitdescendantcount limitdescendantsize limitclustercount limitclustersize test
    capturemessages mocktime maxsigcachesize maxtipage printpriority uacomment
    debug debugexclude logips loglevel loglevelalways logtimestamps logthreadnames
    logsourcelocations logtimemicros logratelimit printtoconsole shrinkdebugfile
    acceptnonstdtxn incrementalrelayfee dustrelayfee acceptstalefeeestimates bytespersigop
    datacarrier datacarriersize mempoolfullrbf permitbaremultisig minrelaytxfee
    whitelistforcerelay whitelistrelay
    blockmaxweight blockreservedweight blockmintxfee blockversion
    rest rpcallowip rpcauth rpcbind rpcdoccheck rpccookiefile rpccookieperms rpcpassword
    rpcport rpcservertimeout rpcthreads rpcuser rpcwhitelist rpcwhitelistdefault rpcworkqueue
    rpcserialversion ipcbind server
    choosedatadir lang min resetguisettings splash uiplatform
"""

NODE_OPTIONS: Final[Mapping[str, OptionSpec]] = option_table(
    _NODE_NAMES,
    supported="""
        ? h help version chain regtest testnet testnet4 signet conf datadir includeconf
        daemon daemonwait server rpcport rpcbind rpcallowip rpcuser rpcpassword rpcauth
        rpccookiefile rpcservertimeout printtoconsole debug debugexclude debuglogfile
        shrinkdebugfile logtimemicros logthreadnames logsourcelocations loglevel
        logtimestamps logratelimit uacomment listen port bind connect addnode mocktime
        disablewallet txindex fallbackfee keypool unsafesqlitesync deprecatedrpc rpcdoccheck
        dnsseed discover fixedseeds listenonion upnp natpmp peertimeout v2transport
        acceptnonstdtxn minrelaytxfee persistmempool pid settings loadblock reindex
        reindex-chainstate dbcache prune assumevalid minimumchainwork par blocksonly
        maxconnections whitelist rpcthreads rpcworkqueue wallet walletdir
    """,
    network_only="addnode bind connect port rpcbind rpcport wallet walletdir",
    sensitive="rpcauth rpcpassword torpassword",
)
