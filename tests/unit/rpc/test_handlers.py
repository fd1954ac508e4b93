"""The blockchain, mining and control RPCs against a real regtest Chainstate, over HTTP.

Each test gets a fresh chainstate in its own directory and an RPCServer on 127.0.0.1 (port
0) running on an event loop in a background thread; calls go through http.client with
JSON-RPC 2.0 and Basic auth, so named parameters and error replies take the real path.
"""

from __future__ import annotations

import asyncio
import base64
import http.client
import json
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import pytest

from pyrite.chain.chainstate import Chainstate
from pyrite.consensus.merkle import block_merkle_root
from pyrite.consensus.params import get_params
from pyrite.crypto.hashes import hash160
from pyrite.encoding.address import (
    address_to_script,
    p2pkh_script,
    p2tr_script,
    p2wpkh_script,
    script_to_address,
)
from pyrite.mining.assembler import solve
from pyrite.primitives import Block, BlockHeader, OutPoint, Tx, TxIn, TxOut
from pyrite.rpc.blockchain import settle
from pyrite.rpc.context import CLIENT_VERSION, Clock, NodeContext
from pyrite.rpc.handlers import register_all
from pyrite.rpc.mining import DescriptorError, parse_descriptor
from pyrite.rpc.server import RPCServer
from pyrite.rpc.util import (
    descriptor_checksum,
    get_difficulty,
    infer_descriptor,
    script_to_asm,
    solve_script,
)

T = TypeVar("T")
TIMEOUT = 30.0
REGTEST = get_params("regtest")
GENESIS = REGTEST.genesis_hash[::-1].hex()
ADDR_WPKH = "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080"
ADDR_P2PKH = script_to_address(p2pkh_script(bytes(20)), "regtest") or ""
ADDR_OTHER = script_to_address(p2wpkh_script(bytes(range(20))), "regtest") or ""
OP_TRUE_DESC = f"raw(51)#{descriptor_checksum('raw(51)')}"
BTC = Decimal("0.00000001")


class RPCFailure(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class Node:
    """A chainstate plus RPC server on a background event loop."""

    def __init__(self, tmp_path: Path, mocktime: int = 0) -> None:
        self.clock = Clock(mocktime)
        self.cs = Chainstate(tmp_path / "regtest", REGTEST, clock=self.clock.now)
        self.cs.open()
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._tasks: set[asyncio.Task[None]] = set()

        async def run_chain(fn: Callable[[], Any]) -> Any:
            return await asyncio.to_thread(fn)

        self.ctx = NodeContext(
            chainstate=self.cs,
            params=REGTEST,
            chain_name="regtest",
            datadir=tmp_path,
            net_datadir=tmp_path / "regtest",
            clock=self.clock,
            start_time=self.clock.now(),
            run_chain=run_chain,
            uacomments=["testnode0"],
        )
        self.cs.tip_listeners.append(self._on_tip)
        self.server = RPCServer([("127.0.0.1", 0)], rpcuser="user", rpcpassword="pass")
        register_all(self.server, self.ctx)
        self._thread.start()
        self.run(self.server.start())
        self.port = self.server.addresses[0][1]
        self.auth = "Basic " + base64.b64encode(b"user:pass").decode()

    def _on_tip(self, entry: object) -> None:
        self.loop.call_soon_threadsafe(self._notify)

    def _notify(self) -> None:
        async def notify() -> None:
            async with self.ctx.tip_changed:
                self.ctx.tip_changed.notify_all()

        task = self.loop.create_task(notify())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(TIMEOUT)

    def close(self) -> None:
        try:
            self.run(self.server.stop(grace=2.0))
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(TIMEOUT)
            self.loop.close()
            self.cs.close()

    def call(self, method: str, *args: Any, **named: Any) -> Any:
        params: Any = list(args)
        if named:
            params = {"args": params, **named} if args else named
        body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params})
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=TIMEOUT)
        try:
            conn.request("POST", "/", body, {"Authorization": self.auth})
            response = conn.getresponse()
            reply = json.loads(response.read(), parse_float=Decimal)
        finally:
            conn.close()
        if "error" in reply:
            raise RPCFailure(reply["error"]["code"], reply["error"]["message"])
        return reply["result"]

    def __getattr__(self, method: str) -> Callable[..., Any]:
        return lambda *args, **named: self.call(method, *args, **named)


@pytest.fixture
def node(tmp_path: Path) -> Iterator[Node]:
    n = Node(tmp_path)
    try:
        yield n
    finally:
        n.close()


def assert_rpc_error(code: int, text: str, fn: Callable[..., Any], *args: Any, **kw: Any) -> None:
    with pytest.raises(RPCFailure) as info:
        fn(*args, **kw)
    assert info.value.code == code, info.value
    assert text in info.value.message, info.value.message


def spend_op_true(outpoint: OutPoint, value: int, fee: int) -> Tx:
    """Spend a bare OP_TRUE output (empty scriptSig) to another OP_TRUE output."""
    return Tx(2, (TxIn(outpoint, b"", 0xFFFFFFFF),), (TxOut(value - fee, b"\x51"),), 0)


def resolve(block: Block, coinbase: Tx | None = None, prev: bytes | None = None) -> Block:
    """Replace the coinbase and/or parent, fix the merkle root and grind again."""
    txs = block.txs if coinbase is None else (coinbase, *block.txs[1:])
    h = block.header
    root, _ = block_merkle_root(Block(h, txs))
    header = BlockHeader(h.version, prev or h.prev_hash, root, h.time, h.bits, 0)
    solved = solve(Block(header, txs), REGTEST, 1 << 20)
    assert solved is not None
    return solved


# -- chain queries ----------------------------------------------------------------------------


def test_generate_and_block_queries(node: Node) -> None:
    hashes = node.generatetoaddress(101, ADDR_WPKH)
    assert len(hashes) == 101 and len(set(hashes)) == 101
    assert node.getblockcount() == 101
    assert node.getbestblockhash() == hashes[-1]
    assert node.getblockhash(0) == GENESIS
    assert node.getblockhash(101) == hashes[-1]

    header = node.getblockheader(hashes[0])
    assert header["hash"] == hashes[0]
    assert header["confirmations"] == 101
    assert header["height"] == 1
    assert header["previousblockhash"] == GENESIS
    assert header["nextblockhash"] == hashes[1]
    assert header["bits"] == "207fffff"
    assert header["target"] == "7fffff" + "0" * 58
    assert header["versionHex"] == "20000000"
    assert header["nTx"] == 1
    assert header["chainwork"] == f"{4:064x}"
    assert isinstance(header["time"], int) and isinstance(header["mediantime"], int)
    assert header["difficulty"] == Decimal("4.656542373906925E-10")
    assert "nextblockhash" not in node.getblockheader(hashes[-1])
    assert "previousblockhash" not in node.getblockheader(GENESIS)
    raw_header = node.getblockheader(hashes[0], False)
    assert BlockHeader.from_bytes(bytes.fromhex(raw_header)).hash_hex() == hashes[0]

    raw = node.getblock(hashes[5], 0)
    assert Block.from_bytes(bytes.fromhex(raw)).hash_hex() == hashes[5]
    b1 = node.getblock(hashes[5])
    assert b1["height"] == 6 and len(b1["tx"]) == 1 and isinstance(b1["tx"][0], str)
    assert b1["size"] == len(raw) // 2
    assert b1["strippedsize"] < b1["size"] and b1["weight"] == 3 * b1["strippedsize"] + b1["size"]
    b2 = node.getblock(hashes[5], 2)
    coinbase = b2["tx"][0]
    assert coinbase["txid"] == b1["tx"][0]
    assert "coinbase" in coinbase["vin"][0] and coinbase["vin"][0]["txinwitness"] == ["00" * 32]
    assert "fee" not in coinbase
    payout = coinbase["vout"][0]
    assert payout["value"] == Decimal("50.00000000")
    assert payout["scriptPubKey"]["address"] == ADDR_WPKH
    assert payout["scriptPubKey"]["type"] == "witness_v0_keyhash"
    assert payout["scriptPubKey"]["desc"].startswith(f"addr({ADDR_WPKH})#")
    assert coinbase["vout"][1]["scriptPubKey"]["type"] == "nulldata"
    assert Tx.from_hex(coinbase["hex"]).txid_hex() == coinbase["txid"]
    assert node.getblock(blockhash=hashes[5], verbose=True)["tx"] == b1["tx"]
    assert node.getblock(hashes[5], False) == raw

    legacy = node.generatetoaddress(1, ADDR_P2PKH)
    spk = node.getblock(legacy[0], 2)["tx"][0]["vout"][0]["scriptPubKey"]
    assert spk["type"] == "pubkeyhash" and spk["address"] == ADDR_P2PKH
    assert spk["asm"].startswith("OP_DUP OP_HASH160 ") and spk["asm"].endswith("OP_CHECKSIG")


def test_blockchaininfo(node: Node) -> None:
    info = node.getblockchaininfo()
    assert info["blocks"] == 0 and info["bestblockhash"] == GENESIS
    assert info["initialblockdownload"] is True  # the genesis block is old
    hashes = node.generatetoaddress(3, ADDR_WPKH)
    info = node.getblockchaininfo()
    assert info["chain"] == "regtest"
    assert info["blocks"] == 3 and info["headers"] == 3
    assert info["bestblockhash"] == hashes[-1]
    assert info["bits"] == "207fffff" and info["target"] == "7fffff" + "0" * 58
    assert info["difficulty"] == Decimal("4.656542373906925E-10")
    assert info["verificationprogress"] == 1
    assert info["initialblockdownload"] is False
    assert info["chainwork"] == f"{8:064x}"
    assert isinstance(info["size_on_disk"], int) and info["size_on_disk"] > 0
    assert info["pruned"] is False
    assert info["warnings"] == []
    assert isinstance(info["time"], int) and info["mediantime"] <= info["time"]
    assert node.getdifficulty() == info["difficulty"]


def test_gettxout_and_utxo_set(node: Node) -> None:
    hashes = node.generatetoaddress(101, ADDR_WPKH)
    first = node.getblock(hashes[0])["tx"][0]
    out = node.gettxout(first, 0)
    assert out["bestblock"] == hashes[-1]
    assert out["confirmations"] == 101
    assert out["value"] == Decimal("50.00000000")
    assert out["coinbase"] is True
    assert out["scriptPubKey"]["address"] == ADDR_WPKH
    assert node.gettxout(first, 1) is None  # the witness commitment is unspendable
    assert node.gettxout(txid=first, n=0, include_mempool=False)["value"] == out["value"]
    assert node.gettxout("00" * 32, 0) is None
    assert_rpc_error(-1, "JSON integer out of range", node.gettxout, first, -1)

    stats = node.gettxoutsetinfo()
    assert stats["height"] == 101 and stats["bestblock"] == hashes[-1]
    assert stats["txouts"] == 101 and stats["transactions"] == 101
    assert stats["total_amount"] == Decimal("5050.00000000")  # the genesis output is not a coin
    assert len(stats["hash_serialized_3"]) == 64
    assert stats["bogosize"] == 101 * (32 + 4 + 4 + 8 + 2 + 22)
    assert isinstance(stats["disk_size"], int)
    assert node.gettxoutsetinfo("none").keys() == stats.keys() - {"hash_serialized_3"}
    assert_rpc_error(-8, "'sha' is not a valid hash_type", node.gettxoutsetinfo, "sha")
    assert_rpc_error(-8, "requires coinstatsindex", node.gettxoutsetinfo, "none", 5)
    node.generatetoaddress(1, ADDR_WPKH)
    assert node.gettxoutsetinfo()["hash_serialized_3"] != stats["hash_serialized_3"]


def test_invalidate_reconsider_and_chaintips(node: Node) -> None:
    old = node.generatetoaddress(10, ADDR_WPKH)
    assert node.getchaintips() == [
        {"height": 10, "hash": old[-1], "branchlen": 0, "status": "active"}
    ]
    assert node.invalidateblock(old[7]) is None
    assert node.getblockcount() == 7
    assert node.getblockheader(old[9])["confirmations"] == -1
    tips = {t["hash"]: t for t in node.getchaintips()}
    assert tips[old[9]] == {"height": 10, "hash": old[9], "branchlen": 3, "status": "invalid"}
    assert tips[old[6]]["status"] == "active"

    new = node.generatetoaddress(4, ADDR_OTHER)
    assert node.getblockcount() == 11
    assert node.reconsiderblock(old[7]) is None
    assert node.getbestblockhash() == new[-1]  # the new branch has more work
    tips = {t["hash"]: t for t in node.getchaintips()}
    assert tips[old[9]]["status"] == "valid-fork" and tips[old[9]]["branchlen"] == 3
    assert tips[new[-1]]["status"] == "active"
    assert_rpc_error(-5, "Block not found", node.invalidateblock, "11" * 32)
    assert_rpc_error(-5, "Block not found", node.reconsiderblock, "11" * 32)
    assert_rpc_error(-8, "Block is not in main chain", node.getchaintxstats, 2, old[9])


def test_preciousblock_and_submitblock_duplicates(node: Node) -> None:
    node.generatetoaddress(5, ADDR_WPKH)
    a = node.generateblock(ADDR_WPKH, [], False)
    b = node.generateblock(ADDR_OTHER, [], submit=False)
    assert a["hash"] != b["hash"] and node.getblockcount() == 5
    assert node.submitblock(a["hex"]) is None
    assert node.submitblock(b["hex"]) == "inconclusive"  # equal work: stays a side branch
    assert node.submitblock(a["hex"]) == "duplicate"
    assert node.getbestblockhash() == a["hash"]
    assert node.preciousblock(b["hash"]) is None
    assert node.getbestblockhash() == b["hash"]
    assert node.preciousblock(a["hash"]) is None
    assert node.getbestblockhash() == a["hash"]
    tips = {t["hash"]: t["status"] for t in node.getchaintips()}
    assert tips == {a["hash"]: "active", b["hash"]: "valid-fork"}
    assert_rpc_error(-5, "Block not found", node.preciousblock, "22" * 32)


def test_submitblock_results(node: Node) -> None:
    node.generatetoaddress(3, ADDR_WPKH)
    template = Block.from_bytes(bytes.fromhex(node.generateblock(ADDR_WPKH, [], False)["hex"]))
    cb = template.txs[0]

    bare = Tx(
        cb.version,
        (TxIn(cb.vin[0].prevout, cb.vin[0].script_sig, cb.vin[0].sequence),),
        cb.vout,
        cb.locktime,
    )
    stripped = Block(template.header, (bare, *template.txs[1:]))
    assert node.submitblock(stripped.serialize().hex()) is None  # the nonce is put back
    assert node.getbestblockhash() == template.hash_hex()

    nxt = Block.from_bytes(bytes.fromhex(node.generateblock(ADDR_WPKH, [], False)["hex"]))
    cb = nxt.txs[0]
    greedy = Tx(
        cb.version,
        cb.vin,
        (TxOut(cb.vout[0].value + 1, cb.vout[0].script_pubkey), *cb.vout[1:]),
        cb.locktime,
    )
    assert node.submitblock(resolve(nxt, coinbase=greedy).serialize().hex()) == "bad-cb-amount"
    orphan = resolve(nxt, prev=bytes(range(32)))
    assert node.submitblock(orphan.serialize().hex()) == "prev-blk-not-found"
    assert node.submitblock(hexdata=nxt.serialize().hex(), dummy="x") is None

    assert_rpc_error(-22, "Block decode failed", node.submitblock, "zz")
    assert_rpc_error(-22, "Block decode failed", node.submitblock, "00" * 40)
    headers_only = nxt.header.serialize().hex() + "00"
    assert_rpc_error(-22, "Block does not start with a coinbase", node.submitblock, headers_only)


def test_submitheader(node: Node) -> None:
    node.generatetoaddress(2, ADDR_WPKH)
    block = Block.from_bytes(bytes.fromhex(node.generateblock(ADDR_WPKH, [], False)["hex"]))
    assert node.submitheader(block.header.serialize().hex()) is None
    assert node.getblockheader(block.hash_hex())["confirmations"] == -1
    assert node.getblockchaininfo()["headers"] == 3
    tips = {t["hash"]: t["status"] for t in node.getchaintips()}
    assert tips[block.hash_hex()] == "headers-only"
    assert_rpc_error(-1, "Block not available", node.getblock, block.hash_hex())

    h = block.header
    lost = resolve(block, prev=bytes(32 * [7]))
    expected = f"Must submit previous header ({'07' * 32}) first"
    assert_rpc_error(-25, expected, node.submitheader, lost.header.serialize().hex())
    bad_bits = BlockHeader(h.version, h.prev_hash, h.merkle_root, h.time, 0x207FFFFE, 0)
    solved = solve(Block(bad_bits, block.txs), REGTEST, 1 << 20)
    assert solved is not None
    assert_rpc_error(-25, "bad-diffbits", node.submitheader, solved.header.serialize().hex())
    assert_rpc_error(-22, "Block header decode failed", node.submitheader, "00" * 79)
    assert node.submitblock(block.serialize().hex()) is None
    assert node.getblockcount() == 3


def test_transactions_fees_and_blockstats(node: Node) -> None:
    hashes = node.generatetodescriptor(101, OP_TRUE_DESC)
    coinbase = node.getblock(hashes[0], 2)["tx"][0]
    assert coinbase["vout"][0]["scriptPubKey"]["desc"] == OP_TRUE_DESC
    assert coinbase["vout"][0]["scriptPubKey"]["type"] == "nonstandard"
    spend = spend_op_true(OutPoint(bytes.fromhex(coinbase["txid"])[::-1], 0), 50 * 10**8, 10_000)
    assert_rpc_error(
        -5, f"Transaction {'ab' * 32} not in mempool.", node.generateblock, ADDR_WPKH, ["ab" * 32]
    )
    assert_rpc_error(-22, "Transaction decode failed", node.generateblock, ADDR_WPKH, ["00"])
    block = node.generateblock(OP_TRUE_DESC, [spend.serialize().hex()])
    assert node.getbestblockhash() == block["hash"]
    assert node.gettxout(coinbase["txid"], 0) is None  # spent
    assert node.gettxout(spend.txid_hex(), 0)["confirmations"] == 1
    double = spend_op_true(spend.vin[0].prevout, 50 * 10**8, 20_000)
    assert_rpc_error(
        -25,
        "TestBlockValidity failed: bad-txns-inputs-missingorspent",
        node.generateblock,
        ADDR_WPKH,
        [double.serialize().hex()],
    )
    assert_rpc_error(
        -25,
        "TestBlockValidity failed: bad-txns-BIP30",
        node.generateblock,
        ADDR_WPKH,
        [spend.serialize().hex()],
    )

    detail = node.getblock(block["hash"], 2)["tx"][1]
    assert detail["txid"] == spend.txid_hex() and detail["fee"] == Decimal("0.00010000")
    assert detail["vin"][0]["scriptSig"] == {"asm": "", "hex": ""}
    assert "prevout" not in detail["vin"][0]
    prevout = node.getblock(block["hash"], 3)["tx"][1]["vin"][0]["prevout"]
    assert prevout["generated"] is True and prevout["height"] == 1
    assert prevout["value"] == Decimal("50.00000000")
    assert prevout["scriptPubKey"]["hex"] == "51"

    stats = node.getblockstats(102)
    assert stats == node.getblockstats(block["hash"])
    assert stats["blockhash"] == block["hash"] and stats["height"] == 102
    assert stats["txs"] == 2 and stats["ins"] == 1 and stats["outs"] == 3
    assert stats["totalfee"] == stats["avgfee"] == stats["maxfee"] == stats["minfee"] == 10_000
    assert stats["medianfee"] == 10_000
    weight = spend.weight
    assert stats["total_weight"] == weight and stats["total_size"] == spend.size
    assert stats["avgfeerate"] == 10_000 * 4 // weight
    assert stats["feerate_percentiles"] == [10_000 * 4 // weight] * 5
    assert stats["subsidy"] == 50 * 10**8 and stats["total_out"] == 50 * 10**8 - 10_000
    assert stats["utxo_increase"] == 3 - 1 and stats["utxo_increase_actual"] == 2 - 1
    assert stats["swtxs"] == 0 and stats["mediantime"] <= stats["time"]
    assert node.getblockstats(102, ["txs", "height"]) == {"height": 102, "txs": 2}
    genesis_stats = node.getblockstats(0)
    assert genesis_stats["txs"] == 1 and genesis_stats["utxo_increase_actual"] == 0
    assert_rpc_error(-8, "Invalid selected statistic 'nope'", node.getblockstats, 1, ["nope"])
    assert_rpc_error(-8, "Target block height 500 after current tip 102", node.getblockstats, 500)
    assert_rpc_error(-8, "Target block height -1 is negative", node.getblockstats, -1)
    assert_rpc_error(-5, "Block not found", node.getblockstats, "33" * 32)

    txstats = node.getchaintxstats()
    assert txstats["txcount"] == 104 and txstats["window_block_count"] == 101
    assert txstats["window_final_block_hash"] == block["hash"]
    assert txstats["window_tx_count"] == 102
    small = node.getchaintxstats(nblocks=1)
    assert small["window_block_count"] == 1 and small["window_tx_count"] == 2
    assert_rpc_error(-8, "Invalid block count", node.getchaintxstats, 102)


def test_verifychain_and_mining_info(node: Node) -> None:
    node.generatetoaddress(12, ADDR_WPKH)
    assert node.verifychain() is True
    assert node.verifychain(4, 0) is True
    info = node.getmininginfo()
    assert info["blocks"] == 12 and info["chain"] == "regtest" and info["pooledtx"] == 0
    assert info["next"]["height"] == 13 and info["next"]["bits"] == "207fffff"
    assert info["warnings"] == []
    assert node.getnetworkhashps() == info["networkhashps"]
    assert_rpc_error(-8, "Invalid nblocks", node.getnetworkhashps, 0)
    assert_rpc_error(-8, "Block does not exist at specified height", node.getnetworkhashps, 120, 99)


def test_wait_rpcs(node: Node) -> None:
    start = node.generatetoaddress(1, ADDR_WPKH)[0]
    t0 = time.monotonic()
    assert node.waitforblockheight(5, 100) == {"hash": start, "height": 1}
    assert node.waitfornewblock(50) == {"hash": start, "height": 1}
    assert time.monotonic() - t0 < 5
    assert node.waitforblock(start) == {"hash": start, "height": 1}
    assert node.waitfornewblock(timeout=1000, current_tip="44" * 32)["hash"] == start
    assert_rpc_error(-1, "Negative timeout", node.waitforblockheight, 1, -1)
    with ThreadPoolExecutor(3) as pool:
        height = pool.submit(node.waitforblockheight, 3, 20_000)
        new = pool.submit(node.waitfornewblock, 20_000, start)
        time.sleep(0.3)  # let both calls start waiting before the tip moves
        mined = node.generatetoaddress(2, ADDR_WPKH)
        assert height.result(TIMEOUT) == {"hash": mined[-1], "height": 3}
        assert new.result(TIMEOUT)["height"] in (2, 3)


def test_setmocktime_uptime_and_block_times(node: Node) -> None:
    assert isinstance(node.uptime(), int)
    future = int(time.time()) + 100_000
    assert node.setmocktime(future) is None
    assert node.uptime() >= 100_000 - 5
    block = node.generatetoaddress(1, ADDR_WPKH)[0]
    assert node.getblockheader(block)["time"] == future
    assert_rpc_error(
        -8, "Mocktime must be in the range [0, 9223372036], not -1.", node.setmocktime, -1
    )
    assert node.setmocktime(0) is None
    assert node.uptime() < 100


def test_control_and_network_info(node: Node) -> None:
    info = node.getnetworkinfo()
    assert info["subversion"] == "/pyrite:0.1.0(testnode0)/"
    assert info["version"] == CLIENT_VERSION and info["protocolversion"] == 70016
    assert info["localservicesnames"] == ["NETWORK", "WITNESS", "NETWORK_LIMITED"]
    assert info["relayfee"] == Decimal("0.00001000") and info["connections"] == 0
    assert [n["name"] for n in info["networks"]] == ["ipv4", "ipv6", "onion", "i2p", "cjdns"]
    assert node.getconnectioncount() == 0 and node.getpeerinfo() == []
    assert node.getnettotals()["uploadtarget"]["target"] == 0
    assert node.ping() is None
    assert node.getindexinfo() == {}
    assert node.echo(1, "two", [3]) == [1, "two", [3]]
    assert node.echojson(arg1={"x": 1}) == [None, {"x": 1}]
    logging_state = node.logging(["validation"])
    assert logging_state["validation"] is True
    assert node.logging([], ["all"])["validation"] is False
    assert_rpc_error(-8, "unknown logging category foo", node.logging, ["foo"])

    assert node.getmempoolinfo()["loaded"] is False
    node.ctx.loaded.set()
    pool = node.getmempoolinfo()
    assert pool["loaded"] is True and pool["size"] == 0
    assert pool["mempoolminfee"] == Decimal("0.00001000") and pool["maxmempool"] == 300_000_000
    assert node.getrawmempool() == [] and node.getrawmempool(True) == {}
    assert node.getrawmempool(False, True) == {"txids": [], "mempool_sequence": 1}
    assert_rpc_error(
        -8,
        "Verbose results cannot contain mempool sequence values.",
        node.getrawmempool,
        True,
        True,
    )

    deployments = node.getdeploymentinfo()
    assert deployments["hash"] == GENESIS and deployments["height"] == 0
    assert deployments["deployments"]["segwit"] == {"type": "buried", "active": True, "height": 0}
    assert deployments["deployments"]["bip34"]["active"] is True
    assert deployments["deployments"]["taproot"]["active"] is True
    assert_rpc_error(-5, "Block not found", node.getdeploymentinfo, "55" * 32)


def test_parameter_errors(node: Node) -> None:
    hashes = node.generatetoaddress(2, ADDR_WPKH)
    by_name = node.getblock(blockhash=hashes[0], verbosity=2)
    assert by_name["tx"][0]["txid"] == node.getblock(hashes[0])["tx"][0]
    assert node.getblockhash(height=1) == hashes[0]
    assert_rpc_error(-8, "Block height out of range", node.getblockhash, 3)
    assert_rpc_error(-8, "Block height out of range", node.getblockhash, -1)
    wrong_type = (
        'Wrong type passed:\n{\n    "Position 1 (height)": '
        '"JSON value of type string is not of expected type number"\n}'
    )
    assert_rpc_error(-3, wrong_type, node.getblockhash, "1")
    assert_rpc_error(-8, "hash must be of length 64 (not 3, for 'abc')", node.getblockheader, "abc")
    assert_rpc_error(
        -8, f"blockhash must be hexadecimal string (not '{'zz' * 32}')", node.getblock, "zz" * 32
    )
    assert_rpc_error(-5, "Block not found", node.getblock, "66" * 32)
    assert_rpc_error(-5, "Block not found", node.getblockheader, "66" * 32)
    assert_rpc_error(-3, "Position 2 (verbose)", node.getblockheader, hashes[0], 1)
    assert_rpc_error(
        -1,
        "JSON value of type string is not of expected type number",
        node.getblock,
        hashes[0],
        "2",
    )
    assert_rpc_error(-5, "Error: Invalid address", node.generatetoaddress, 1, "notanaddress")
    assert_rpc_error(
        -5,
        "Error: Invalid address",
        node.generatetoaddress,
        1,
        "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4",
    )
    assert_rpc_error(
        -5,
        "Provided checksum 'aaaaaaaa' does not match",
        node.generatetodescriptor,
        1,
        "raw(51)#aaaaaaaa",
    )
    assert_rpc_error(
        -5,
        "not supported",
        node.generatetodescriptor,
        1,
        "wpkh(tpubD6NzVbkrYh"
        "ZmL1J9pUdBYwQRmNkCzBnBgWi3iXb3w2qDuz8W1GAPRhqhEfVwYF1jx3JrNaGrfKCpWWxJA"
        "RWpNHUFrfvJMW8X1VfKyJEfwpR/0/*)",
    )
    assert_rpc_error(-5, "Error: Invalid address or descriptor", node.generateblock, "x", [])
    assert node.generatetodescriptor(1, "raw(51)") != []  # the checksum is optional
    assert node.generatetoaddress(0, ADDR_WPKH) == []


# -- helpers without a server -----------------------------------------------------------------


def test_descriptor_checksum_and_inference() -> None:
    assert descriptor_checksum("raw(deadbeef)") == "89f8spxm"
    assert descriptor_checksum("raw(\u00fc)") == ""
    genesis_out = REGTEST.genesis.txs[0].vout[0].script_pubkey
    assert infer_descriptor(genesis_out, "regtest").endswith(")#vlz6ztea")
    assert infer_descriptor(b"\x6a\x01\x01", "regtest").startswith("raw(6a0101)#")
    anchor = bytes.fromhex("51024e73")
    assert solve_script(anchor)[0] == "anchor"
    assert infer_descriptor(anchor, "regtest").startswith("addr(bcrt1pfees")
    key = bytes.fromhex("79be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798")
    assert infer_descriptor(p2tr_script(key), "main").startswith(f"rawtr({key.hex()})#")
    assert solve_script(bytes.fromhex("5120" + "00" * 32))[0] == "witness_v1_taproot"
    assert solve_script(bytes.fromhex("5220" + "00" * 32))[0] == "witness_unknown"
    assert solve_script(bytes.fromhex("0015" + "00" * 21))[0] == "nonstandard"
    assert solve_script(b"\x51")[0] == "nonstandard"
    assert get_difficulty(0x1D00FFFF) == 1.0


def test_script_asm() -> None:
    sig = bytes.fromhex(
        "3044022047ac8e878352d3ebbde1c94ce3a10d057c24175747116f8288e5d794d12d482f0220217f36a4"
        "85cae903c713331d877c1f64677e3622ad4010726870540656fe9dcb01"
    )
    pub = bytes.fromhex("02" + "11" * 32)
    script_sig = bytes((len(sig),)) + sig + bytes((33,)) + pub
    assert script_to_asm(script_sig, sighash_decode=True) == f"{sig[:-1].hex()}[ALL] {pub.hex()}"
    assert script_to_asm(script_sig) == f"{sig.hex()} {pub.hex()}"
    assert script_to_asm(bytes.fromhex("0004ffffffff4f5160")) == "0 -2147483647 -1 1 16"
    assert script_to_asm(bytes.fromhex("4c05")) == "[error]"
    assert script_to_asm(bytes.fromhex("b1b2ba")) == (
        "OP_CHECKLOCKTIMEVERIFY OP_CHECKSEQUENCEVERIFY OP_CHECKSIGADD"
    )


def test_parse_descriptor_forms() -> None:
    pub = bytes.fromhex("0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798")
    h = hash160(pub)
    assert parse_descriptor(f"pkh({pub.hex()})", "regtest") == p2pkh_script(h)
    assert parse_descriptor(f"wpkh({pub.hex()})", "regtest") == p2wpkh_script(h)
    assert parse_descriptor(f"combo({pub.hex()})", "regtest") == p2wpkh_script(h)
    assert parse_descriptor(f"pk({pub.hex()})", "regtest") == b"\x21" + pub + b"\xac"
    nested = parse_descriptor(f"sh(wpkh({pub.hex()}))", "regtest")
    assert nested == address_to_script(script_to_address(nested, "regtest") or "", "regtest")
    assert parse_descriptor(f"addr({ADDR_WPKH})", "regtest") == address_to_script(
        ADDR_WPKH, "regtest"
    )
    # BIP86's first receive address (internal key of m/86'/0'/0'/0/0).
    internal = "cc8a4bc64d897bddc5fbc2f670f7a8ba0b386779106cf1223c6fc5d7cd6fc115"
    assert script_to_address(parse_descriptor(f"tr({internal})", "main"), "main") == (
        "bc1p5cyxnuxmeuwuvkwfem96lqzszd02n6xdcjrs20cac6yqjjwudpxqkedrcr"
    )
    multi = parse_descriptor(f"multi(1,{pub.hex()})", "regtest")
    assert solve_script(multi)[0] == "multisig"
    for bad, message in (
        ("raw(5)", "Raw script is not hex"),
        ("addr(xyz)", "Address is not valid"),
        ("raw(51)#a#b", "Multiple '#' symbols"),
        ("raw(51)#abc", "Expected 8 character checksum, not 3 characters"),
        (f"wpkh(04{'00' * 64})", "is invalid"),
        ("sh(raw(51))", "Can only have raw() at top level"),
        ("foo", "is not a valid descriptor function"),
    ):
        with pytest.raises(DescriptorError, match=message.replace("(", r"\(").replace(")", r"\)")):
            parse_descriptor(bad, "regtest")


def test_tip_queries_answer_from_the_settled_chain(node: Node) -> None:
    """Where the node keeps ``settled`` (its run_chain does), getblockcount,
    getbestblockhash and getblockchaininfo answer from it without asking the chain thread,
    which may be busy with an import step, and as they would from the chain thread;
    without it they ask."""
    hashes = node.generatetoaddress(2, ADDR_WPKH)
    want = node.getblockchaininfo()
    original = node.ctx.run_chain

    async def refuse(fn: Callable[[], Any]) -> Any:
        raise RuntimeError("the chain thread is busy")

    node.ctx.settled = node.run(original(lambda: settle(node.cs, None)))
    assert node.ctx.settled is not None and node.ctx.settled.size_on_disk > 0
    node.ctx.run_chain = refuse
    try:
        assert node.getblockcount() == 2
        assert node.getbestblockhash() == hashes[-1]
        assert node.getblockchaininfo() == want
        node.ctx.settled = None
        with pytest.raises(RPCFailure):
            node.getblockcount()
    finally:
        node.ctx.run_chain = original
    assert node.getblockcount() == 2
    # unchanged chain: the same snapshot object is kept, the files not counted again
    settled = node.run(original(lambda: settle(node.cs, None)))
    assert node.run(original(lambda: settle(node.cs, settled))) is settled
    node.generatetoaddress(1, ADDR_WPKH)
    again = node.run(original(lambda: settle(node.cs, settled)))
    assert again is not settled and again is not None and again.tip.height == 3
    assert again.size_on_disk > settled.size_on_disk
