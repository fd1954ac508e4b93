"""Helpers shared by the RPC handler modules: argument checks, hashes, scripts, JSON shapes.

Mirrors the parts of Bitcoin Core's ``rpc/util.cpp`` (RPCHelpMan's argument type check,
ParseHashV), ``univalue`` (getInt/get_bool/get_str and their error texts), ``core_write.cpp``
(ScriptToAsmStr, ScriptToUniv, TxToUniv), ``script/solver.cpp`` (Solver), the descriptor
checksum and InferDescriptor of ``script/descriptor.cpp`` (for scripts without keys we know),
and the block/header JSON of ``rpc/blockchain.cpp`` (blockheaderToJSON, blockToJSON,
GetDifficulty, GetTarget).

Nothing here touches the chainstate on its own: callers run these functions inside
``NodeContext.run_chain`` when they need block or undo data.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Final

from pyrite.chain.index import BlockIndexEntry
from pyrite.chain.undo import BlockUndo, TxUndo
from pyrite.consensus.pow import set_compact
from pyrite.crypto import secp
from pyrite.encoding.address import script_to_address
from pyrite.primitives import Block, Tx
from pyrite.rpc.errors import (
    RPC_INVALID_ADDRESS_OR_KEY,
    RPC_INVALID_PARAMETER,
    RPC_MISC_ERROR,
    RPC_TYPE_ERROR,
    RPCError,
)
from pyrite.rpc.jsonrpc import RequestContext
from pyrite.rpc.jsonutil import value_from_amount
from pyrite.rpc.server import RPCServer
from pyrite.script.errors import ScriptError
from pyrite.script.flags import STRICTENC
from pyrite.script.interpreter import check_signature_encoding
from pyrite.script.opcodes import op_name
from pyrite.script.script import (
    ScriptParseError,
    check_minimal_push,
    get_op,
    is_push_only,
    witness_program,
)

Handler = Callable[[list[Any], RequestContext], Any]

INT32_MIN: Final = -(1 << 31)
INT32_MAX: Final = (1 << 31) - 1
UINT32_MAX: Final = (1 << 32) - 1
INT64_MIN: Final = -(1 << 63)
INT64_MAX: Final = (1 << 63) - 1
UINT64_MAX: Final = (1 << 64) - 1

_OP_PUSHDATA4: Final = 0x4E
_OP_1: Final = 0x51
_OP_16: Final = 0x60
_OP_RETURN: Final = 0x6A
_OP_DUP: Final = 0x76
_OP_HASH160: Final = 0xA9
_OP_EQUALVERIFY: Final = 0x88
_OP_CHECKSIG: Final = 0xAC
_OP_CHECKMULTISIG: Final = 0xAE
_MAX_PUBKEYS_PER_MULTISIG: Final = 20
_SIGHASH_NAMES: Final = {
    0x01: "ALL",
    0x81: "ALL|ANYONECANPAY",
    0x02: "NONE",
    0x82: "NONE|ANYONECANPAY",
    0x03: "SINGLE",
    0x83: "SINGLE|ANYONECANPAY",
}


# --------------------------------------------------------------------------------------------
# Arguments (RPCHelpMan's type check and UniValue's accessors)
# --------------------------------------------------------------------------------------------


def json_type_name(value: object) -> str:
    """UniValue's uvTypeName of a decoded JSON value."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float | Decimal):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


@dataclass(frozen=True, slots=True)
class Arg:
    """One RPC parameter: Core's name (``"a|b"`` for aliases), the JSON type RPCHelpMan checks
    (None: no check, as Core's ``skip_type_check``/AMOUNT/RANGE) and whether it is required."""

    name: str
    type: str | None
    required: bool = False


def check_args(params: list[Any], args: Sequence[Arg]) -> None:
    """Reject wrongly typed parameters like RPCHelpMan::HandleRequest (error -3)."""
    mismatch: dict[str, str] = {}
    for i, arg in enumerate(args):
        value = params[i] if i < len(params) else None
        if arg.type is None or (value is None and not arg.required):
            continue
        got = json_type_name(value)
        if got != arg.type:
            mismatch[f"Position {i + 1} ({arg.name})"] = (
                f"JSON value of type {got} is not of expected type {arg.type}"
            )
    if mismatch:
        raise RPCError(RPC_TYPE_ERROR, "Wrong type passed:\n" + json.dumps(mismatch, indent=4))


def register(
    server: RPCServer, name: str, args: Sequence[Arg], category: str, func: Handler
) -> None:
    """Register ``func`` under ``name`` with Core's parameter names, count and type checks."""
    required = max((i + 1 for i, a in enumerate(args) if a.required), default=0)
    specs = tuple(args)

    def handler(params: list[Any], req: RequestContext) -> Any:
        check_args(params, specs)
        return func(params, req)

    server.register(name, handler, [a.name for a in specs], category, required=required)


def param(params: list[Any], i: int) -> Any:
    """The i-th positional parameter, None when absent (a JSON null counts as absent)."""
    return params[i] if i < len(params) else None


def _type_error(value: object, expected: str) -> RPCError:
    # UniValue's checkType throws std::runtime_error, which Core reports as RPC_MISC_ERROR.
    got = json_type_name(value)
    return RPCError(RPC_MISC_ERROR, f"JSON value of type {got} is not of expected type {expected}")


def get_int(value: object, lo: int = INT32_MIN, hi: int = INT32_MAX) -> int:
    """UniValue::getInt<T>: an integral JSON number within [lo, hi]."""
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise _type_error(value, "number")
    if not isinstance(value, int) or not lo <= value <= hi:
        raise RPCError(RPC_MISC_ERROR, "JSON integer out of range")
    return value


def get_bool(value: object) -> bool:
    if not isinstance(value, bool):
        raise _type_error(value, "bool")
    return value


def get_str(value: object) -> str:
    if not isinstance(value, str):
        raise _type_error(value, "string")
    return value


def opt_int(value: object, default: int, lo: int = INT32_MIN, hi: int = INT32_MAX) -> int:
    return default if value is None else get_int(value, lo, hi)


def opt_bool(value: object, default: bool) -> bool:
    return default if value is None else get_bool(value)


def is_hex(text: str) -> bool:
    """Core's IsHex: non-empty, even length, only hex digits."""
    return bool(text) and len(text) % 2 == 0 and all(c in "0123456789abcdefABCDEF" for c in text)


def parse_hash(value: object, name: str) -> bytes:
    """ParseHashV: a 64-digit hex hash as internal-order bytes, else error -8."""
    text = get_str(value)
    if len(text) != 64:
        raise RPCError(
            RPC_INVALID_PARAMETER,
            f"{name} must be of length 64 (not {len(text)}, for '{text}')",
        )
    if not is_hex(text):
        raise RPCError(RPC_INVALID_PARAMETER, f"{name} must be hexadecimal string (not '{text}')")
    return bytes.fromhex(text)[::-1]


def block_not_found() -> RPCError:
    return RPCError(RPC_INVALID_ADDRESS_OR_KEY, "Block not found")


# --------------------------------------------------------------------------------------------
# Numbers
# --------------------------------------------------------------------------------------------


def real(x: float) -> Decimal:
    """A double as UniValue prints it (16 significant digits), exact for the JSON encoder."""
    return Decimal(format(x, ".16g"))


def get_difficulty(bits: int) -> float:
    """Core's GetDifficulty: how many times harder than difficulty 1 the target of ``bits`` is."""
    shift = (bits >> 24) & 0xFF
    mantissa = bits & 0x00FFFFFF
    if mantissa == 0:
        return 0.0
    diff = 0x0000FFFF / mantissa
    while shift < 29:
        diff *= 256.0
        shift += 1
    while shift > 29:
        diff /= 256.0
        shift -= 1
    return diff


def target_hex(bits: int) -> str:
    """GetTarget as 64 hex digits."""
    return f"{set_compact(bits)[0]:064x}"


def hash_hex(h: bytes) -> str:
    return h[::-1].hex()


# --------------------------------------------------------------------------------------------
# Scripts
# --------------------------------------------------------------------------------------------


def _script_num(data: bytes) -> int:
    """CScriptNum(vch, false).getint() for pushes of at most four bytes."""
    if not data:
        return 0
    value = int.from_bytes(data, "little")
    if data[-1] & 0x80:
        return -(value & ~(0x80 << (8 * (len(data) - 1))))
    return value


def script_to_asm(script: bytes, sighash_decode: bool = False) -> str:
    """Core's ScriptToAsmStr; ``sighash_decode`` shows a signature's hash type as ``[ALL]``."""
    parts: list[str] = []
    pc = 0
    unspendable = bool(script) and script[0] == _OP_RETURN
    while pc < len(script):
        try:
            op, data, pc = get_op(script, pc)
        except ScriptParseError:
            parts.append("[error]")
            break
        if op > _OP_PUSHDATA4:
            parts.append(op_name(op))
            continue
        push = data or b""
        if len(push) <= 4:
            parts.append(str(_script_num(push)))
            continue
        suffix = ""
        if sighash_decode and not unspendable and len(script) <= 10_000:
            try:
                check_signature_encoding(push, STRICTENC)
            except ScriptError:
                pass
            else:
                name = _SIGHASH_NAMES.get(push[-1])
                if name is not None:
                    suffix = f"[{name}]"
                    push = push[:-1]
        parts.append(push.hex() + suffix)
    return " ".join(parts)


def _valid_pubkey_size(data: bytes) -> bool:
    return secp.pubkey_size_ok(data)


def _small_int(op: int, data: bytes | None, lo: int, hi: int) -> int | None:
    """GetScriptNumber as MatchMultisig uses it: OP_1..OP_16 or a minimal number push."""
    if _OP_1 <= op <= _OP_16:
        count = op - _OP_1 + 1
    elif 0 < op <= _OP_PUSHDATA4 and data is not None:
        if len(data) > 4 or not check_minimal_push(data, op):
            return None
        if data and not data[-1] & 0x7F and (len(data) == 1 or not data[-2] & 0x80):
            return None  # CScriptNum with fRequireMinimal
        count = _script_num(data)
    else:
        return None
    return count if lo <= count <= hi else None


def _match_multisig(script: bytes) -> tuple[int, list[bytes]] | None:
    if not script or script[-1] != _OP_CHECKMULTISIG:
        return None
    try:
        op, data, pc = get_op(script, 0)
        required = _small_int(op, data, 1, _MAX_PUBKEYS_PER_MULTISIG)
        if required is None:
            return None
        keys: list[bytes] = []
        while True:
            op, data, pc = get_op(script, pc)
            if data is None or not _valid_pubkey_size(data):
                break
            keys.append(data)
    except ScriptParseError:
        return None
    count = _small_int(op, data, required, _MAX_PUBKEYS_PER_MULTISIG)
    if count is None or count != len(keys) or pc + 1 != len(script):
        return None
    return required, keys


def solve_script(script: bytes) -> tuple[str, list[bytes]]:
    """Core's Solver: the output type name (as GetTxnOutputType) and its solutions."""
    n = len(script)
    if n == 23 and script[0] == _OP_HASH160 and script[1] == 20 and script[22] == 0x87:
        return "scripthash", [script[2:22]]
    wp = witness_program(script)
    if wp is not None:
        version, program = wp
        if version == 0 and len(program) == 20:
            return "witness_v0_keyhash", [program]
        if version == 0 and len(program) == 32:
            return "witness_v0_scripthash", [program]
        if version == 1 and len(program) == 32:
            return "witness_v1_taproot", [program]
        if version == 1 and program == b"\x4e\x73":
            return "anchor", []
        if version != 0:
            return "witness_unknown", [bytes((version,)), program]
        return "nonstandard", []
    if n >= 1 and script[0] == _OP_RETURN and is_push_only(script[1:]):
        return "nulldata", []
    for size in (33, 65):
        if n == size + 2 and script[0] == size and script[-1] == _OP_CHECKSIG:
            key = script[1 : size + 1]
            if _valid_pubkey_size(key):
                return "pubkey", [key]
    if (
        n == 25
        and script[:3] == bytes((_OP_DUP, _OP_HASH160, 20))
        and script[23:] == bytes((_OP_EQUALVERIFY, _OP_CHECKSIG))
    ):
        return "pubkeyhash", [script[3:23]]
    multisig = _match_multisig(script)
    if multisig is not None:
        required, keys = multisig
        return "multisig", [bytes((required,)), *keys, bytes((len(keys),))]
    return "nonstandard", []


# --- output descriptors (BIP380 checksum, InferDescriptor without keys) -----------------------

_DESC_INPUT_CHARSET: Final = (
    "0123456789()[],'/*abcdefgh@:$%{}"
    "IJKLMNOPQRSTUVWXYZ&+-.;<=>?!^_|~"
    'ijklmnopqrstuvwxyzABCDEFGH`#"\\ '
)
_DESC_CHECKSUM_CHARSET: Final = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
_DESC_GENERATOR: Final = (0xF5DEE51989, 0xA9FDCA3312, 0x1BAB10E32D, 0x3706B1677A, 0x644D626FFD)


def _desc_polymod(c: int, val: int) -> int:
    c0 = c >> 35
    c = ((c & 0x7FFFFFFFF) << 5) ^ val
    for i, gen in enumerate(_DESC_GENERATOR):
        if (c0 >> i) & 1:
            c ^= gen
    return c


def descriptor_checksum(desc: str) -> str:
    """Core's DescriptorChecksum: 8 characters, or "" when ``desc`` has a character outside
    the descriptor alphabet."""
    c = 1
    cls = 0
    clscount = 0
    for ch in desc:
        pos = _DESC_INPUT_CHARSET.find(ch)
        if pos < 0:
            return ""
        c = _desc_polymod(c, pos & 31)
        cls = cls * 3 + (pos >> 5)
        clscount += 1
        if clscount == 3:
            c = _desc_polymod(c, cls)
            cls = 0
            clscount = 0
    if clscount:
        c = _desc_polymod(c, cls)
    for _ in range(8):
        c = _desc_polymod(c, 0)
    c ^= 1
    return "".join(_DESC_CHECKSUM_CHARSET[(c >> (5 * (7 - j))) & 31] for j in range(8))


def add_checksum(desc: str) -> str:
    return f"{desc}#{descriptor_checksum(desc)}"


def _non_hybrid(key: bytes) -> bool:
    return key[0] in (2, 3, 4)


def infer_descriptor(script: bytes, chain: str) -> str:
    """InferDescriptor(script, no keys) with its checksum: pk(), multi(), rawtr(), addr()
    or raw()."""
    kind, sol = solve_script(script)
    if kind == "pubkey" and _non_hybrid(sol[0]):
        return add_checksum(f"pk({sol[0].hex()})")
    if kind == "multisig" and all(_non_hybrid(k) for k in sol[1:-1]):
        keys = ",".join(k.hex() for k in sol[1:-1])
        return add_checksum(f"multi({sol[0][0]},{keys})")
    if kind == "witness_v1_taproot" and secp.xonly_pubkey_valid(sol[0]):
        return add_checksum(f"rawtr({sol[0].hex()})")
    address = script_to_address(script, chain)
    if address is not None:
        return add_checksum(f"addr({address})")
    return add_checksum(f"raw({script.hex()})")


def script_pubkey_to_json(script: bytes, chain: str) -> dict[str, Any]:
    """ScriptToUniv(include_hex=true, include_address=true): asm, desc, hex, address, type."""
    kind, _ = solve_script(script)
    out: dict[str, Any] = {
        "asm": script_to_asm(script),
        "desc": infer_descriptor(script, chain),
        "hex": script.hex(),
    }
    if kind != "pubkey":
        address = script_to_address(script, chain)
        if address is not None:
            out["address"] = address
    out["type"] = kind
    return out


# --------------------------------------------------------------------------------------------
# Transactions and blocks
# --------------------------------------------------------------------------------------------

VERBOSITY_TXID: Final = 1
VERBOSITY_DETAILS: Final = 2
VERBOSITY_PREVOUT: Final = 3


def tx_to_json(
    tx: Tx,
    chain: str,
    undo: TxUndo | None = None,
    verbosity: int = VERBOSITY_DETAILS,
    block_hash: bytes | None = None,
    include_hex: bool = True,
) -> dict[str, Any]:
    """Core's TxToUniv. With ``undo`` (the coins the inputs spent) the fee is added, and at
    ``VERBOSITY_PREVOUT`` each input shows the output it spent."""
    coinbase = tx.is_coinbase()
    vin: list[dict[str, Any]] = []
    total_in = 0
    for i, txin in enumerate(tx.vin):
        entry: dict[str, Any]
        if coinbase:
            entry = {"coinbase": txin.script_sig.hex()}
        else:
            entry = {
                "txid": hash_hex(txin.prevout.txid),
                "vout": txin.prevout.n,
                "scriptSig": {
                    "asm": script_to_asm(txin.script_sig, sighash_decode=True),
                    "hex": txin.script_sig.hex(),
                },
            }
        if txin.witness:
            entry["txinwitness"] = [item.hex() for item in txin.witness]
        if undo is not None:
            coin = undo.spent[i]
            total_in += coin.value
            if verbosity >= VERBOSITY_PREVOUT:
                entry["prevout"] = {
                    "generated": coin.is_coinbase,
                    "height": coin.height,
                    "value": value_from_amount(coin.value),
                    "scriptPubKey": script_pubkey_to_json(coin.script_pubkey, chain),
                }
        entry["sequence"] = txin.sequence
        vin.append(entry)
    vout = [
        {
            "value": value_from_amount(out.value),
            "n": n,
            "scriptPubKey": script_pubkey_to_json(out.script_pubkey, chain),
        }
        for n, out in enumerate(tx.vout)
    ]
    result: dict[str, Any] = {
        "txid": tx.txid_hex(),
        "hash": tx.wtxid_hex(),
        "version": tx.version & UINT32_MAX,
        "size": tx.size,
        "vsize": tx.vsize,
        "weight": tx.weight,
        "locktime": tx.locktime,
        "vin": vin,
        "vout": vout,
    }
    if undo is not None:
        result["fee"] = value_from_amount(total_in - sum(out.value for out in tx.vout))
    if block_hash is not None:
        result["blockhash"] = hash_hex(block_hash)
    if include_hex:
        result["hex"] = tx.serialize().hex()
    return result


def confirmations_and_next(
    tip: BlockIndexEntry, entry: BlockIndexEntry
) -> tuple[int, BlockIndexEntry | None]:
    """ComputeNextBlockAndDepth: (confirmations or -1 off the active chain, next block)."""
    following = tip.get_ancestor(entry.height + 1)
    if following is not None and following.prev is entry:
        return tip.height - entry.height + 1, following
    return (1 if entry is tip else -1), None


def header_to_json(tip: BlockIndexEntry, entry: BlockIndexEntry) -> dict[str, Any]:
    """Core's blockheaderToJSON."""
    confirmations, following = confirmations_and_next(tip, entry)
    result: dict[str, Any] = {
        "hash": hash_hex(entry.hash),
        "confirmations": confirmations,
        "height": entry.height,
        "version": entry.version,
        "versionHex": f"{entry.version & UINT32_MAX:08x}",
        "merkleroot": hash_hex(entry.merkle_root),
        "time": entry.time,
        "mediantime": entry.median_time_past(),
        "nonce": entry.nonce,
        "bits": f"{entry.bits:08x}",
        "target": target_hex(entry.bits),
        "difficulty": real(get_difficulty(entry.bits)),
        "chainwork": f"{entry.chain_work:064x}",
        "nTx": entry.n_tx,
    }
    if entry.prev is not None:
        result["previousblockhash"] = hash_hex(entry.prev.hash)
    if following is not None:
        result["nextblockhash"] = hash_hex(following.hash)
    return result


def block_to_json(
    block: Block,
    tip: BlockIndexEntry,
    entry: BlockIndexEntry,
    chain: str,
    verbosity: int,
    undo: BlockUndo | None = None,
) -> dict[str, Any]:
    """Core's blockToJSON; ``undo`` (when the block has undo data) adds fees and prevouts."""
    result = header_to_json(tip, entry)
    result["strippedsize"] = block.base_size
    result["size"] = block.size
    result["weight"] = block.weight
    if verbosity <= VERBOSITY_TXID:
        result["tx"] = [tx.txid_hex() for tx in block.txs]
        return result
    txs = []
    for i, tx in enumerate(block.txs):
        tx_undo = undo.txs[i - 1] if undo is not None and i > 0 else None
        txs.append(tx_to_json(tx, chain, tx_undo, verbosity))
    result["tx"] = txs
    return result
