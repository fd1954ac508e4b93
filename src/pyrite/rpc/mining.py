"""Mining RPCs: regtest block generation, block/header submission and mining figures.

Mirrors Bitcoin Core's ``rpc/mining.cpp`` (generatetoaddress, generatetodescriptor,
generateblock, submitblock, submitheader, getmininginfo, getnetworkhashps) with the same
parameter names, results and error codes. Output descriptors for the ``generate*`` calls are
parsed here for the key-only forms (``addr``, ``raw``, ``pk``, ``pkh``, ``wpkh``, ``sh``,
``wsh``, ``multi``, ``sortedmulti``, ``combo``, ``tr`` without scripts, ``rawtr``), with
Core's BIP380 checksum rules; extended keys and miniscript are refused with error -5.

Building, grinding and submitting a block happen in one chain-worker call under the
chainstate lock, so the template is never stale when it is submitted.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any, Final

from pyrite.chain.chainstate import Chainstate
from pyrite.chain.coins import CoinsCache
from pyrite.chain.index import BlockIndexEntry
from pyrite.consensus import validation as rules
from pyrite.consensus.params import ChainParams
from pyrite.consensus.pow import get_next_work_required
from pyrite.crypto import secp
from pyrite.crypto.hashes import hash160, sha256
from pyrite.encoding.address import (
    address_to_script,
    decode_wif,
    p2pkh_script,
    p2sh_script,
    p2tr_script,
    p2wpkh_script,
    p2wsh_script,
)
from pyrite.encoding.bytes import ByteReader
from pyrite.errors import BlockValidationError, DecodeError
from pyrite.mining.assembler import TemplateContext, build_block, solve
from pyrite.primitives import Block, BlockHeader, Tx, TxIn
from pyrite.rpc.context import ChainHandlers, NodeContext
from pyrite.rpc.errors import (
    RPC_DESERIALIZATION_ERROR,
    RPC_INVALID_ADDRESS_OR_KEY,
    RPC_INVALID_PARAMETER,
    RPC_MISC_ERROR,
    RPC_VERIFY_ERROR,
    RPCError,
)
from pyrite.rpc.jsonrpc import RequestContext
from pyrite.rpc.server import RPCServer
from pyrite.rpc.util import (
    UINT64_MAX,
    Arg,
    descriptor_checksum,
    get_difficulty,
    get_int,
    get_str,
    hash_hex,
    is_hex,
    opt_bool,
    opt_int,
    param,
    real,
    register,
    target_hex,
)
from pyrite.script.interpreter import taptweak_hash
from pyrite.script.script import push_data, push_int

log = logging.getLogger(__name__)

DEFAULT_MAX_TRIES: Final = 1_000_000
_OP_CHECKSIG: Final = 0xAC
_OP_CHECKMULTISIG: Final = 0xAE
_MAX_PUBKEYS_PER_MULTISIG: Final = 20


# --------------------------------------------------------------------------------------------
# Output descriptors (the subset generate* needs)
# --------------------------------------------------------------------------------------------


class DescriptorError(Exception):
    """A descriptor that Core's Parse() would refuse; the message is Core's where we know it."""


def split_checksum(text: str) -> str:
    """Core's CheckChecksum (checksum optional): the descriptor without ``#checksum``."""
    parts = text.split("#")
    if len(parts) > 2:
        raise DescriptorError("Multiple '#' symbols")
    body = parts[0]
    if len(parts) == 2 and len(parts[1]) != 8:
        raise DescriptorError(f"Expected 8 character checksum, not {len(parts[1])} characters")
    computed = descriptor_checksum(body)
    if not computed:
        raise DescriptorError("Invalid characters in payload")
    if len(parts) == 2 and parts[1] != computed:
        raise DescriptorError(
            f"Provided checksum '{parts[1]}' does not match computed checksum '{computed}'"
        )
    return body


def _call(expr: str, name: str) -> str | None:
    """The argument text of ``name(...)`` when ``expr`` is exactly that call."""
    if expr.startswith(name + "(") and expr.endswith(")"):
        return expr[len(name) + 1 : -1]
    return None


def _split_args(text: str) -> list[str]:
    """Split on top-level commas."""
    out: list[str] = []
    depth = 0
    start = 0
    for i, ch in enumerate(text):
        if ch in "({":
            depth += 1
        elif ch in ")}":
            depth -= 1
        elif ch == "," and depth == 0:
            out.append(text[start:i])
            start = i + 1
    out.append(text[start:])
    return out


def parse_key(text: str, chain: str, ctx: str) -> bytes:
    """A key expression (hex public key or WIF) as a serialized public key; 32 bytes in tr().

    ``ctx`` is the script context (top, sh, wpkh, wsh, tr); uncompressed keys are allowed only
    at top level and inside sh().
    """
    if "/" in text or "[" in text or text[:4] in ("xpub", "tpub", "xprv", "tprv"):
        raise DescriptorError(f"key '{text}' is not supported by this node (extended keys)")
    if is_hex(text):
        data = bytes.fromhex(text)
        if len(data) == 32 and ctx == "tr":
            if secp.xonly_pubkey_valid(data):
                return data
        elif secp.pubkey_size_ok(data):
            if data[0] in (6, 7):
                raise DescriptorError("Hybrid public keys are not allowed")
            if secp.pubkey_parses(data):
                if len(data) == 65 and ctx not in ("top", "sh"):
                    raise DescriptorError("Uncompressed keys are not allowed")
                return data[1:] if ctx == "tr" else data
        raise DescriptorError(f"Pubkey '{text}' is invalid")
    try:
        secret, compressed = decode_wif(text, chain)
    except DecodeError:
        raise DescriptorError(f"key '{text}' is not valid") from None
    if not compressed and ctx not in ("top", "sh"):
        raise DescriptorError("Uncompressed keys are not allowed")
    pub = secp.pubkey_from_secret(secret, compressed)
    return pub[1:] if ctx == "tr" else pub


def multisig_script(required: int, keys: Sequence[bytes]) -> bytes:
    """GetScriptForMultisig."""
    body = b"".join(push_data(k) for k in keys)
    return push_int(required) + body + push_int(len(keys)) + bytes((_OP_CHECKMULTISIG,))


def _parse_multi(args: str, chain: str, ctx: str, sort: bool) -> bytes:
    items = _split_args(args)
    if not items[0].isdigit() or int(items[0]) < 1:
        raise DescriptorError(f"Multi threshold '{items[0]}' is not valid")
    required = int(items[0])
    keys = [parse_key(k, chain, ctx) for k in items[1:] if k]
    if required > len(keys):
        raise DescriptorError(
            "Multisig threshold cannot be larger than the number of keys; threshold is "
            f"{required} but only {len(keys)} keys specified"
        )
    if len(keys) > _MAX_PUBKEYS_PER_MULTISIG:
        raise DescriptorError(
            f"Cannot have {len(keys)} keys in multisig; must have between 1 and 20 keys, inclusive"
        )
    if sort:
        keys.sort()
    return multisig_script(required, keys)


def _parse_inner(expr: str, chain: str, ctx: str) -> bytes:
    """A script expression inside sh() or wsh()."""
    if (arg := _call(expr, "pk")) is not None:
        return push_data(parse_key(arg, chain, ctx)) + bytes((_OP_CHECKSIG,))
    if (arg := _call(expr, "pkh")) is not None:
        return p2pkh_script(hash160(parse_key(arg, chain, ctx)))
    for name in ("multi", "sortedmulti"):
        if (arg := _call(expr, name)) is not None:
            return _parse_multi(arg, chain, ctx, name == "sortedmulti")
    if (arg := _call(expr, "wpkh")) is not None:
        if ctx != "sh":
            raise DescriptorError("Can only have wpkh() at top level or inside sh()")
        return p2wpkh_script(hash160(parse_key(arg, chain, "wpkh")))
    if (arg := _call(expr, "wsh")) is not None:
        if ctx != "sh":
            raise DescriptorError("Can only have wsh() at top level or inside sh()")
        return p2wsh_script(sha256(_parse_inner(arg, chain, "wsh")))
    for name in ("addr", "raw", "sh", "combo", "tr", "rawtr"):
        if _call(expr, name) is not None:
            raise DescriptorError(f"Can only have {name}() at top level")
    raise DescriptorError(f"'{expr}' is not supported by this node (scripts, miniscript)")


def parse_descriptor(text: str, chain: str) -> bytes:
    """The output script of a single-script, key-only descriptor (what generate* mines to).

    Raises DescriptorError with Core's message for an invalid descriptor, or a clear one for
    descriptor forms this node does not implement.
    """
    expr = split_checksum(text)
    if (arg := _call(expr, "addr")) is not None:
        try:
            return address_to_script(arg, chain)
        except DecodeError:
            raise DescriptorError("Address is not valid") from None
    if (arg := _call(expr, "raw")) is not None:
        if not is_hex(arg):
            raise DescriptorError("Raw script is not hex")
        return bytes.fromhex(arg)
    if (arg := _call(expr, "wpkh")) is not None:
        return p2wpkh_script(hash160(parse_key(arg, chain, "wpkh")))
    if (arg := _call(expr, "sh")) is not None:
        return p2sh_script(hash160(_parse_inner(arg, chain, "sh")))
    if (arg := _call(expr, "wsh")) is not None:
        return p2wsh_script(sha256(_parse_inner(arg, chain, "wsh")))
    if (arg := _call(expr, "combo")) is not None:
        key = parse_key(arg, chain, "top")
        # Core mines to the P2WPKH script of a compressed key, else to P2PKH.
        if len(key) == 33:
            return p2wpkh_script(hash160(key))
        return p2pkh_script(hash160(key))
    if (arg := _call(expr, "rawtr")) is not None:
        return p2tr_script(parse_key(arg, chain, "tr"))
    if (arg := _call(expr, "tr")) is not None:
        if "," in arg:
            raise DescriptorError("tr() with script paths is not supported by this node")
        internal = parse_key(arg, chain, "tr")
        tweaked = secp.xonly_tweak_add(internal, taptweak_hash(internal, None))
        if tweaked is None:
            raise DescriptorError(f"Pubkey '{arg}' is invalid")
        return p2tr_script(tweaked[0])
    if any(_call(expr, name) is not None for name in ("pk", "pkh", "multi", "sortedmulti")):
        return _parse_inner(expr, chain, "top")
    name = expr.split("(", 1)[0]
    if "(" in expr and name.isalnum():
        raise DescriptorError(f"'{name}()' descriptors are not supported by this node")
    raise DescriptorError(f"'{expr}' is not a valid descriptor function")


# --------------------------------------------------------------------------------------------
# Block building (call with the chainstate lock held, in the chain worker)
# --------------------------------------------------------------------------------------------


def _ancestor(tip: BlockIndexEntry) -> Any:
    def lookup(height: int) -> BlockIndexEntry:
        entry = tip.get_ancestor(height)
        assert entry is not None
        return entry

    return lookup


def next_block_bits(tip: BlockIndexEntry, time: int, params: ChainParams) -> int:
    return get_next_work_required(tip, time, params, _ancestor(tip))


def new_block(
    cs: Chainstate, now: int, script: bytes, txs: Sequence[Tx] = (), extra_nonce: int = 0
) -> Block:
    """An unsolved block on the tip: time max(MTP+1, now), the required nBits."""
    tip = cs.tip()
    mtp = tip.median_time_past()
    block_time = max(mtp + 1, now)
    bits = next_block_bits(tip, block_time, cs.params)
    template = TemplateContext(tip.hash, tip.height + 1, mtp, bits)
    return build_block(template, cs.params, script, txs, 0, block_time, extra_nonce)


def mine_blocks(
    cs: Chainstate, clock: Callable[[], int], script: bytes, count: int, max_tries: int
) -> list[str]:
    """Core's generateBlocks: build, grind and submit ``count`` blocks (fewer if the tries
    run out), each timed by ``clock()``. A block the chainstate does not accept is an error."""
    hashes: list[str] = []
    extra_nonce = 0
    while len(hashes) < count and max_tries > 0:
        with cs.lock:
            block = new_block(cs, clock(), script, extra_nonce=extra_nonce)
            budget = min(max_tries, 1 << 32)
            solved = solve(block, cs.params, budget)
            if solved is None:
                max_tries -= budget
                extra_nonce += 1
                continue
            max_tries -= solved.header.nonce
            result = cs.process_new_block(solved).result
        if result is not None:
            raise RPCError(RPC_MISC_ERROR, f"ProcessNewBlock, block not accepted: {result}")
        hashes.append(solved.hash_hex())
        extra_nonce = 0
    return hashes


def check_block_validity(cs: Chainstate, block: Block) -> None:
    """Core's TestBlockValidity on the tip: every check of connecting ``block``, nothing
    stored. Raises BlockValidationError."""
    prev = cs.tip()
    if block.header.prev_hash != prev.hash:
        raise BlockValidationError("inconclusive-not-best-prevblk")
    info = rules.PrevBlockInfo(
        prev.height, prev.hash, prev.time, prev.median_time_past(), prev.bits
    )
    rules.contextual_check_block_header(block.header, info, cs.params, cs.clock(), _ancestor(prev))
    rules.check_block(block, cs.params, check_pow=False, check_merkle=False)
    rules.contextual_check_block(block, info, cs.params)
    h = block.header
    entry = BlockIndexEntry(h.hash, prev, h.version, h.merkle_root, h.time, h.bits, h.nonce)
    cs.connect_block(block, entry, CoinsCache(cs.coins))


def add_witness_nonce(cs: Chainstate, block: Block) -> Block:
    """UpdateUncommittedBlockStructures: give a committed coinbase its missing 32-byte nonce."""
    prev = cs.lookup(block.header.prev_hash)
    if prev is None or prev.height + 1 < cs.params.segwit_height:
        return block
    coinbase = block.txs[0]
    if rules.get_witness_commitment_index(block) < 0 or coinbase.has_witness():
        return block
    first = coinbase.vin[0]
    vin = (TxIn(first.prevout, first.script_sig, first.sequence, (bytes(32),)), *coinbase.vin[1:])
    fixed = Tx(coinbase.version, vin, coinbase.vout, coinbase.locktime)
    return Block(block.header, (fixed, *block.txs[1:]))


def network_hashps(cs: Chainstate, lookup_blocks: int, height: int) -> Any:
    """GetNetworkHashPS: work over the time span of the last ``lookup_blocks`` blocks."""
    if lookup_blocks < -1 or lookup_blocks == 0:
        raise RPCError(RPC_INVALID_PARAMETER, "Invalid nblocks. Must be a positive number or -1.")
    if height < -1 or height > cs.height():
        raise RPCError(RPC_INVALID_PARAMETER, "Block does not exist at specified height")
    pb = cs.tip() if height < 0 else cs.chain[height]
    if pb is None or pb.height == 0:
        return 0
    if lookup_blocks == -1:
        lookup_blocks = pb.height % cs.params.difficulty_adjustment_interval + 1
    lookup_blocks = min(lookup_blocks, pb.height)
    pb0 = pb
    min_time = max_time = pb.time
    for _ in range(lookup_blocks):
        assert pb0.prev is not None
        pb0 = pb0.prev
        min_time = min(min_time, pb0.time)
        max_time = max(max_time, pb0.time)
    if min_time == max_time:
        return 0
    return real(float(pb.chain_work - pb0.chain_work) / (max_time - min_time))


# --------------------------------------------------------------------------------------------
# Handlers
# --------------------------------------------------------------------------------------------


def _decode_block(hexdata: str) -> Block:
    """DecodeHexBlk (trailing bytes are ignored, as in Core)."""
    if not is_hex(hexdata):
        raise RPCError(RPC_DESERIALIZATION_ERROR, "Block decode failed")
    try:
        return Block.read(ByteReader(bytes.fromhex(hexdata)))
    except (DecodeError, ValueError):
        raise RPCError(RPC_DESERIALIZATION_ERROR, "Block decode failed") from None


class MiningRPC(ChainHandlers):
    async def _generate(self, script: bytes, count: int, max_tries: int) -> list[str]:
        cs = self.cs
        clock = self.ctx.clock.now
        hashes: list[str] = await self.ctx.run_chain(
            lambda: mine_blocks(cs, clock, script, count, max_tries)
        )
        return hashes

    async def generatetoaddress(self, p: list[Any], req: RequestContext) -> list[str]:
        count = get_int(p[0])
        max_tries = opt_int(param(p, 2), DEFAULT_MAX_TRIES)
        try:
            script = address_to_script(get_str(p[1]), self.ctx.chain_name)
        except DecodeError:
            raise RPCError(RPC_INVALID_ADDRESS_OR_KEY, "Error: Invalid address") from None
        return await self._generate(script, count, max_tries)

    async def generatetodescriptor(self, p: list[Any], req: RequestContext) -> list[str]:
        count = get_int(p[0])
        max_tries = opt_int(param(p, 2), DEFAULT_MAX_TRIES, 0, UINT64_MAX)
        try:
            script = parse_descriptor(get_str(p[1]), self.ctx.chain_name)
        except DescriptorError as e:
            raise RPCError(RPC_INVALID_ADDRESS_OR_KEY, str(e)) from None
        return await self._generate(script, count, max_tries)

    async def generateblock(self, p: list[Any], req: RequestContext) -> dict[str, Any]:
        output = get_str(p[0])
        chain = self.ctx.chain_name
        try:
            script = parse_descriptor(output, chain)
        except DescriptorError:
            try:
                script = address_to_script(output, chain)
            except DecodeError:
                raise RPCError(
                    RPC_INVALID_ADDRESS_OR_KEY, "Error: Invalid address or descriptor"
                ) from None
        txs: list[Tx] = []
        for item in p[1]:
            text = get_str(item)
            if len(text) == 64 and is_hex(text):
                raise RPCError(RPC_INVALID_ADDRESS_OR_KEY, f"Transaction {text} not in mempool.")
            try:
                if not is_hex(text):
                    raise DecodeError("not hex")
                txs.append(Tx.from_hex(text))
            except DecodeError:
                raise RPCError(
                    RPC_DESERIALIZATION_ERROR,
                    f"Transaction decode failed for {text}. "
                    "Make sure the tx has at least one input.",
                ) from None
        submit = opt_bool(param(p, 2), True)
        cs = self.cs
        now = self.ctx.clock.now()

        def work() -> dict[str, Any]:
            with cs.lock:
                block = solve(new_block(cs, now, script, txs), cs.params, DEFAULT_MAX_TRIES)
                if block is None:
                    raise RPCError(RPC_MISC_ERROR, "Failed to make block.")
                try:
                    check_block_validity(cs, block)
                except BlockValidationError as e:
                    detail = f"{e.reason}, {e.debug}" if e.debug else e.reason
                    raise RPCError(RPC_VERIFY_ERROR, f"TestBlockValidity failed: {detail}") from e
                if submit:
                    result = cs.process_new_block(block).result
                    if result is not None:
                        raise RPCError(
                            RPC_MISC_ERROR, f"ProcessNewBlock, block not accepted: {result}"
                        )
            out: dict[str, Any] = {"hash": block.hash_hex()}
            if not submit:
                out["hex"] = block.serialize().hex()
            return out

        result: dict[str, Any] = await self.ctx.run_chain(work)
        return result

    async def submitblock(self, p: list[Any], req: RequestContext) -> str | None:
        block = _decode_block(get_str(p[0]))
        if not block.txs or not block.txs[0].is_coinbase():
            raise RPCError(RPC_DESERIALIZATION_ERROR, "Block does not start with a coinbase")
        cs = self.cs

        def work() -> str | None:
            with cs.lock:
                return cs.process_new_block(add_witness_nonce(cs, block)).result

        result: str | None = await self.ctx.run_chain(work)
        return result

    async def submitheader(self, p: list[Any], req: RequestContext) -> None:
        hexdata = get_str(p[0])
        try:
            if not is_hex(hexdata):
                raise DecodeError("not hex")
            header = BlockHeader.read(ByteReader(bytes.fromhex(hexdata)))
        except DecodeError:
            raise RPCError(RPC_DESERIALIZATION_ERROR, "Block header decode failed") from None
        cs = self.cs

        def work() -> None:
            with cs.lock:
                if cs.lookup(header.prev_hash) is None:
                    raise RPCError(
                        RPC_VERIFY_ERROR,
                        f"Must submit previous header ({hash_hex(header.prev_hash)}) first",
                    )
                try:
                    cs.accept_block_header(header)
                except BlockValidationError as e:
                    raise RPCError(RPC_VERIFY_ERROR, e.reason) from e

        await self.ctx.run_chain(work)

    async def getnetworkhashps(self, p: list[Any], req: RequestContext) -> Any:
        nblocks = opt_int(param(p, 0), 120)
        height = opt_int(param(p, 1), -1)
        cs = self.cs
        return await self.ctx.run_chain(lambda: network_hashps(cs, nblocks, height))

    async def getmininginfo(self, p: list[Any], req: RequestContext) -> dict[str, Any]:
        cs = self.cs
        ctx = self.ctx
        now = ctx.clock.now()

        def work() -> dict[str, Any]:
            with cs.lock:
                tip = cs.tip()
                next_time = max(tip.median_time_past() + 1, now)
                next_bits = next_block_bits(tip, next_time, cs.params)
                hashps = network_hashps(cs, 120, -1)
            info: dict[str, Any] = {
                "blocks": tip.height,
                "bits": f"{tip.bits:08x}",
                "difficulty": real(get_difficulty(tip.bits)),
                "target": target_hex(tip.bits),
                "networkhashps": hashps,
                "pooledtx": 0,
                "chain": ctx.chain_name,
                "next": {
                    "height": tip.height + 1,
                    "bits": f"{next_bits:08x}",
                    "difficulty": real(get_difficulty(next_bits)),
                    "target": target_hex(next_bits),
                },
            }
            if ctx.params.signet_challenge is not None:
                info["signet_challenge"] = ctx.params.signet_challenge.hex()
            info["warnings"] = []
            return info

        result: dict[str, Any] = await ctx.run_chain(work)
        return result


def register_mining(server: RPCServer, ctx: NodeContext) -> None:
    """Register the mining and generate* RPCs on ``server``."""
    rpc = MiningRPC(ctx)
    tries = Arg("maxtries", "number")
    table: list[tuple[str, list[Arg], str, Any]] = [
        ("getnetworkhashps", [Arg("nblocks", "number"), Arg("height", "number")], "mining",
         rpc.getnetworkhashps),
        ("getmininginfo", [], "mining", rpc.getmininginfo),
        ("submitblock", [Arg("hexdata", "string", True), Arg("dummy", "string")], "mining",
         rpc.submitblock),
        ("submitheader", [Arg("hexdata", "string", True)], "mining", rpc.submitheader),
        ("generatetoaddress", [Arg("nblocks", "number", True), Arg("address", "string", True),
                               tries], "generating", rpc.generatetoaddress),
        ("generatetodescriptor", [Arg("num_blocks", "number", True),
                                  Arg("descriptor", "string", True), tries], "generating",
         rpc.generatetodescriptor),
        ("generateblock", [Arg("output", "string", True), Arg("transactions", "array", True),
                           Arg("submit", "bool")], "generating", rpc.generateblock),
    ]  # fmt: skip
    for name, args, category, func in table:
        register(server, name, args, category, func)
