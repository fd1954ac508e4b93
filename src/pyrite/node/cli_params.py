"""Which RPC parameters ``pyrite-cli`` sends as JSON rather than as strings.

Core's ``vRPCConvertParams`` table from ``src/rpc/client.cpp``, looked up by method and
parameter position (``_BY_INDEX``) or name (``_BY_NAME``); :func:`pyrite.node.cli.convert_params`
and :func:`pyrite.node.cli.convert_named_params` apply it.
"""

from __future__ import annotations

from typing import Final

# Which parameters are JSON values rather than strings (Core's vRPCConvertParams).
# "idx:name" per parameter; "a|b" lists aliases; a trailing "*" means "JSON, else string".
_CONVERT_SPEC: Final = """
setmocktime 0:timestamp
mockscheduler 0:delta_time
generatetoaddress 0:nblocks 2:maxtries
generatetodescriptor 0:num_blocks 2:maxtries
generateblock 1:transactions 2:submit
getnetworkhashps 0:nblocks 1:height
sendtoaddress 1:amount 4:subtractfeefromamount 5:replaceable 6:conf_target 8:avoid_reuse
sendtoaddress 9:fee_rate 10:verbose
settxfee 0:amount
sethdseed 0:newkeypool
getreceivedbyaddress 1:minconf 2:include_immature_coinbase
getreceivedbylabel 1:minconf 2:include_immature_coinbase
listreceivedbyaddress 0:minconf 1:include_empty 2:include_watchonly 4:include_immature_coinbase
listreceivedbylabel 0:minconf 1:include_empty 2:include_watchonly 3:include_immature_coinbase
getbalance 1:minconf 2:include_watchonly 3:avoid_reuse
getblockfrompeer 1:peer_id
getblockhash 0:height
waitforblockheight 0:height 1:timeout
waitforblock 1:timeout
waitfornewblock 0:timeout
listtransactions 1:count 2:skip 3:include_watchonly
walletpassphrase 1:timeout
getblocktemplate 0:template_request
listsinceblock 1:target_confirmations 2:include_watchonly 3:include_removed 4:include_change
sendmany 1:amounts 2:minconf 4:subtractfeefrom 5:replaceable 6:conf_target 8:fee_rate 9:verbose
deriveaddresses 1:range
scanblocks 1:scanobjects 2:start_height 3:stop_height 5:options
scantxoutset 1:scanobjects
addmultisigaddress 0:nrequired 1:keys
createmultisig 0:nrequired 1:keys
listunspent 0:minconf 1:maxconf 2:addresses 3:include_unsafe 4:query_options
getblock 1:verbosity|verbose
getblockheader 1:verbose
getchaintxstats 0:nblocks
gettransaction 1:include_watchonly 2:verbose
getrawtransaction 1:verbosity|verbose
createrawtransaction 0:inputs 1:outputs 2:locktime 3:replaceable 4:version
decoderawtransaction 1:iswitness
signrawtransactionwithkey 1:privkeys 2:prevtxs
signrawtransactionwithwallet 1:prevtxs
sendrawtransaction 1:maxfeerate 2:maxburnamount
testmempoolaccept 0:rawtxs 1:maxfeerate
submitpackage 0:package 1:maxfeerate 2:maxburnamount
combinerawtransaction 0:txs
fundrawtransaction 1:options 2:iswitness
walletcreatefundedpsbt 0:inputs 1:outputs 2:locktime 3:options 4:bip32derivs 5:version
walletprocesspsbt 1:sign 3:bip32derivs 4:finalize
descriptorprocesspsbt 1:descriptors 3:bip32derivs 4:finalize
utxoupdatepsbt 1:descriptors
createpsbt 0:inputs 1:outputs 2:locktime 3:replaceable 4:version
combinepsbt 0:txs
joinpsbts 0:txs
finalizepsbt 1:extract
converttopsbt 1:permitsigdata 2:iswitness
gettxout 1:n 2:include_mempool
gettxoutproof 0:txids
gettxoutsetinfo 1:hash_or_height* 2:use_index
lockunspent 0:unlock 1:transactions 2:persistent
send 0:outputs 1:conf_target 3:fee_rate 4:options 5:version
sendall 0:recipients 1:conf_target 3:fee_rate 4:options 5:version
simulaterawtransaction 0:rawtxs 1:options
importprivkey 2:rescan
importaddress 2:rescan 3:p2sh
importpubkey 2:rescan
importmulti 0:requests 1:options
importdescriptors 0:requests
listdescriptors 0:private
verifychain 0:checklevel 1:nblocks
getblockstats 0:hash_or_height* 1:stats
pruneblockchain 0:height
keypoolrefill 0:newsize
getrawmempool 0:verbose 1:mempool_sequence
getorphantxs 0:verbosity
estimatesmartfee 0:conf_target
estimaterawfee 0:conf_target 1:threshold
prioritisetransaction 1:dummy 2:fee_delta
setban 2:bantime 3:absolute
setnetworkactive 0:state
setwalletflag 1:value
getmempoolancestors 1:verbose
getmempooldescendants 1:verbose
gettxspendingprevout 0:outputs
bumpfee 1:options
psbtbumpfee 1:options
logging 0:include 1:exclude
disconnectnode 1:nodeid
upgradewallet 0:version
gethdkeys 0:options
createwalletdescriptor 1:options
echojson 0:arg0 1:arg1 2:arg2 3:arg3 4:arg4 5:arg5 6:arg6 7:arg7 8:arg8 9:arg9
rescanblockchain 0:start_height 1:stop_height
createwallet 1:disable_private_keys 2:blank 4:avoid_reuse 5:descriptors 6:load_on_startup
createwallet 7:external_signer
restorewallet 2:load_on_startup
loadwallet 1:load_on_startup
unloadwallet 1:load_on_startup
getnodeaddresses 0:count
addpeeraddress 1:port 2:tried
addnode 2:v2transport
addconnection 2:v2transport
sendmsgtopeer 0:peer_id
getdescriptoractivity 0:blockhashes 1:scanobjects 2:include_mempool
stop 0:wait
"""


def _convert_table() -> tuple[dict[tuple[str, int], bool], dict[tuple[str, str], bool]]:
    """(method, index) and (method, name) -> "fall back to a string if not JSON"."""
    by_index: dict[tuple[str, int], bool] = {}
    by_name: dict[tuple[str, str], bool] = {}
    for line in _CONVERT_SPEC.strip().splitlines():
        method, *params = line.split()
        for param in params:
            index, _, names = param.partition(":")
            lenient = names.endswith("*")
            by_index[(method, int(index))] = lenient
            for name in names.rstrip("*").split("|"):
                by_name[(method, name)] = lenient
    return by_index, by_name


_BY_INDEX, _BY_NAME = _convert_table()
