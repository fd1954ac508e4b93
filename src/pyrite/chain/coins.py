"""The UTXO set: ``Coin``, its compact codec, ``CoinsDB`` on a KVStore and ``CoinsCache``.

Mirrors Bitcoin Core's coins.h/coins.cpp (Coin, CCoinsViewCache), txdb.cpp
(CCoinsViewDB) and compressor.cpp (CTxOutCompressor, ScriptCompression), and
the VARINT of serialize.h. The on-disk coin record is byte-for-byte Core's:
``VARINT(height*2 + coinbase) || VARINT(CompressAmount(value)) || script``
where the script is compressed to 21 or 33 bytes for P2PKH, P2SH and P2PK
(uncompressed keys only when they are on the curve) and otherwise stored as
``VARINT(len + 6) || script``. Keys are ``'C' || txid || VARINT(n)``.

Layers, as in Core's ConnectBlock::

    CoinsDB (LMDB)  <-  CoinsCache "tip" (dbcache)  <-  CoinsCache(tip) per block

* ``CoinsCache(parent)`` works over a ``CoinsDB`` or over another cache.
  Entries carry Core's flags: DIRTY (differs from the parent) and FRESH (the
  parent has no unspent version, so if it is spent here it is simply dropped:
  a coin created and spent between two flushes never reaches the parent).
* ``flush()`` pushes the DIRTY entries and the best block into the parent
  in one ``batch_write``; for a ``CoinsDB`` that is one atomic, fsynced store
  batch holding the coin changes and the best-block marker together, so after
  any crash the set on disk matches exactly the block named by ``best_block()``.

Using it to connect a block (the chainstate manager's job): make
``view = CoinsCache(tip)``; for every transaction spend its inputs with
``view.spend_coin`` (keeping the returned coins as undo data, see
``undo.update_coins``) and add its outputs with ``add_coins``; then
``view.set_best_block(block_hash)`` and ``view.flush()`` into the tip. On a
failure drop ``view``: the tip is untouched. The genesis block's outputs
are never added (as in Core). Disconnecting is the reverse
(``undo.apply_coin_undo``). Flush the tip to disk only after the block and
undo files were fsynced and the block index was written (see
``chain/blockstore.py``).

``compute_utxo_stats`` scans the flushed set for ``gettxoutsetinfo``.

Performance: coins are immutable ``__slots__`` objects shared between layers,
and a cache is two plain dicts keyed by ``OutPoint``; no per-access objects
are created.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Final, Protocol

from pyrite.chain.kvstore import CHAINSTATE_BEST_BLOCK, CHAINSTATE_COIN, KVStore
from pyrite.encoding.bytes import ByteReader, compact_size
from pyrite.errors import DecodeError, PyriteError, StorageError
from pyrite.primitives.tx import NULL_HASH, OutPoint, Tx, TxOut

MAX_SCRIPT_SIZE = 10_000
U32_MAX = 0xFFFFFFFF
U64_MAX = 0xFFFFFFFFFFFFFFFF
_N_SPECIAL_SCRIPTS = 6
_P = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEFFFFFC2F  # secp256k1 field
_U32 = struct.Struct("<I")
_I64 = struct.Struct("<q")
_MAX_MONEY = 21_000_000 * 100_000_000
_POW10: tuple[int, ...] = tuple(10**i for i in range(10))
#: the script lengths ScriptCompression may store in a special form (P2PKH, P2SH, P2PK)
_SPECIAL_SCRIPT_SIZES: Final = frozenset((25, 23, 35, 67))


class CoinsLogicError(PyriteError):
    """A caller broke a cache invariant (Core throws std::logic_error for these)."""


# ---------------------------------------------------------------------------
# VARINT (serialize.h, VarIntMode::DEFAULT): MSB base-128 with the "+1" trick
# so every value has exactly one encoding.


def varint(n: int) -> bytes:
    """Encode a non-negative integer as Core's VARINT (mirrors WriteVarInt)."""
    if n < 0x80:
        if n < 0:
            raise ValueError("VARINT of a negative number")
        return _VARINT1[n]
    # A k-byte VARINT holds n - (128 + 128**2 + ... + 128**(k-1)) in base 128, big-endian,
    # 0x80 set on every byte but the last; the digits are spread into bytes in one go.
    if n < 0x4080:
        m = n - 0x80
        return bytes(((m >> 7) | 0x80, m & 0x7F))
    if n < 0x204080:
        m = n - 0x4080
        return (0x808000 | (m << 2) & 0x7F0000 | (m << 1) & 0x7F00 | m & 0x7F).to_bytes(3, "big")
    if n < 0x10204080:
        m = n - 0x204080
        return (
            0x80808000 | (m << 3) & 0x7F000000 | (m << 2) & 0x7F0000 | (m << 1) & 0x7F00 | m & 0x7F
        ).to_bytes(4, "big")
    if n < 0x810204080:
        m = n - 0x10204080
        return (
            0x8080808000
            | (m << 4) & 0x7F00000000
            | (m << 3) & 0x7F000000
            | (m << 2) & 0x7F0000
            | (m << 1) & 0x7F00
            | m & 0x7F
        ).to_bytes(5, "big")
    # Longer: built last byte first into an integer.
    acc = n & 0x7F
    shift = 8
    while True:
        n = (n >> 7) - 1
        acc |= ((n & 0x7F) | 0x80) << shift
        shift += 8
        if n <= 0x7F:
            return acc.to_bytes(shift >> 3, "big")


_VARINT1: Final = tuple(bytes((i,)) for i in range(0x80))


def varint_at(data: bytes | memoryview, pos: int, max_value: int = U64_MAX) -> tuple[int, int]:
    """Decode a VARINT at ``data[pos]``; returns (value, next position). Mirrors ReadVarInt."""
    n = 0
    end = len(data)
    while True:
        if pos >= end:
            raise DecodeError("truncated VARINT")
        ch = data[pos]
        pos += 1
        if n > (max_value >> 7):
            raise DecodeError("ReadVarInt(): size too large")
        n = (n << 7) | (ch & 0x7F)
        if ch & 0x80:
            if n == max_value:
                raise DecodeError("ReadVarInt(): size too large")
            n += 1
        else:
            return n, pos


def read_varint(r: ByteReader, max_value: int = U64_MAX) -> int:
    """Read a VARINT from a ByteReader (mirrors ReadVarInt)."""
    n, r.pos = varint_at(r.buf, r.pos, max_value)
    return n


# ---------------------------------------------------------------------------
# Amount and script compression (compressor.cpp)


def compress_amount(value: int) -> int:
    """Mirrors CompressAmount (the value is taken as a uint64)."""
    n = value & U64_MAX
    if n == 0:
        return 0
    e = 0
    while n % 10 == 0 and e < 9:
        n //= 10
        e += 1
    if e < 9:
        d = n % 10
        n //= 10
        return (1 + (n * 9 + d - 1) * 10 + e) & U64_MAX
    return (1 + (n - 1) * 10 + 9) & U64_MAX


def decompress_amount(x: int) -> int:
    """Mirrors DecompressAmount, returning the int64 Core would store in nValue."""
    if x == 0:
        return 0
    x -= 1
    e = x % 10
    x //= 10
    if e < 9:
        d = x % 9 + 1
        x //= 9
        n = x * 10 + d
    else:
        n = x + 1
    n = (n * _POW10[e]) & U64_MAX
    return n - (1 << 64) if n >> 63 else n


def _uncompressed_key_valid(script: bytes) -> bool:
    """IsFullyValid for a 65-byte 0x04 key at script[1:66]: coordinates below p, on the curve."""
    x = int.from_bytes(script[2:34], "big")
    y = int.from_bytes(script[34:66], "big")
    return x < _P and y < _P and (y * y - x * x * x - 7) % _P == 0


def compress_script(script: bytes) -> bytes:
    """Mirrors ScriptCompression::Ser: a special 21/33-byte form or VARINT(len+6)||script."""
    n = len(script)
    if n == 25:
        if (
            script[0] == 0x76
            and script[1] == 0xA9
            and script[2] == 20
            and script[23] == 0x88
            and script[24] == 0xAC
        ):
            return b"\x00" + script[3:23]
    elif n == 23:
        if script[0] == 0xA9 and script[1] == 20 and script[22] == 0x87:
            return b"\x01" + script[2:22]
    elif n == 35:
        if script[0] == 33 and script[34] == 0xAC and script[1] in (2, 3):
            return script[1:34]
    elif n == 67:
        if (
            script[0] == 65
            and script[66] == 0xAC
            and script[1] == 4
            and _uncompressed_key_valid(script)
        ):
            return bytes((4 | (script[65] & 1),)) + script[2:34]
    n += _N_SPECIAL_SCRIPTS
    return (_VARINT1[n] if n < 0x80 else varint(n)) + script


def _decompress_special(kind: int, payload: bytes) -> bytes:
    if kind == 0:
        return b"\x76\xa9\x14" + payload + b"\x88\xac"
    if kind == 1:
        return b"\xa9\x14" + payload + b"\x87"
    if kind in (2, 3):
        return b"\x21" + bytes((kind,)) + payload + b"\xac"
    # 4, 5: an uncompressed key stored as its x coordinate and the parity of y
    x = int.from_bytes(payload, "big")
    if x >= _P:
        raise DecodeError("compressed P2PK x coordinate out of range")
    y2 = (x * x * x + 7) % _P
    y = pow(y2, (_P + 1) // 4, _P)
    if y * y % _P != y2:
        raise DecodeError("compressed P2PK key is not on the curve")
    if (y & 1) != (kind & 1):
        y = _P - y
    return b"\x41\x04" + payload + y.to_bytes(32, "big") + b"\xac"


def _read_compressed_script(data: bytes, pos: int) -> tuple[bytes, int]:
    """Mirrors ScriptCompression::Unser; returns (script, next position)."""
    size, pos = varint_at(data, pos, U32_MAX)
    if size < _N_SPECIAL_SCRIPTS:
        plen = 20 if size < 2 else 32
        end = pos + plen
        if end > len(data):
            raise DecodeError("truncated compressed script")
        return _decompress_special(size, data[pos:end]), end
    size -= _N_SPECIAL_SCRIPTS
    end = pos + size
    if end > len(data):
        raise DecodeError("truncated script")
    if size > MAX_SCRIPT_SIZE:  # Core keeps a short unspendable stand-in
        return b"\x6a", end
    return data[pos:end], end


def compress_txout(value: int, script: bytes) -> bytes:
    """Mirrors TxOutCompression: VARINT(CompressAmount(value)) || compressed script."""
    return varint(compress_amount(value)) + compress_script(script)


def write_compressed_txout(out: bytearray, value: int, script: bytes) -> None:
    """Append ``compress_txout(value, script)`` to ``out``."""
    if 0 < value <= _MAX_MONEY and value % 10:  # CompressAmount without trailing zeros
        a = 1 + (value // 10 * 9 + value % 10 - 1) * 10
    else:
        a = compress_amount(value)
    out += _VARINT1[a] if a < 0x80 else varint(a)
    n = len(script)
    if n < 0x7A and n not in _SPECIAL_SCRIPT_SIZES:  # stored as VARINT(len + 6) || script
        out += _VARINT1[n + _N_SPECIAL_SCRIPTS]
        out += script
    else:
        out += compress_script(script)


def read_compressed_txout(data: bytes, pos: int) -> tuple[int, bytes, int]:
    """Inverse of ``compress_txout`` at ``data[pos]``: (value, script, next position)."""
    amount, pos = varint_at(data, pos)
    script, pos = _read_compressed_script(data, pos)
    return decompress_amount(amount), script, pos


def is_unspendable(script: bytes) -> bool:
    """Mirrors CScript::IsUnspendable: OP_RETURN first, or longer than MAX_SCRIPT_SIZE."""
    return (len(script) > 0 and script[0] == 0x6A) or len(script) > MAX_SCRIPT_SIZE


# ---------------------------------------------------------------------------
# Coin


class Coin:
    """An unspent output with the height and coinbase flag of its transaction.

    Immutable by convention (instances are shared between cache layers).
    """

    __slots__ = ("height", "is_coinbase", "script_pubkey", "value")

    value: int
    script_pubkey: bytes
    height: int
    is_coinbase: bool

    def __init__(self, value: int, script_pubkey: bytes, height: int, is_coinbase: bool) -> None:
        self.value = value
        self.script_pubkey = script_pubkey
        self.height = height
        self.is_coinbase = is_coinbase

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Coin):
            return NotImplemented
        return (
            self.value == other.value
            and self.script_pubkey == other.script_pubkey
            and self.height == other.height
            and self.is_coinbase == other.is_coinbase
        )

    def __repr__(self) -> str:
        return (
            f"Coin(value={self.value}, script_pubkey={self.script_pubkey.hex()!r}, "
            f"height={self.height}, is_coinbase={self.is_coinbase})"
        )

    @property
    def txout(self) -> TxOut:
        return TxOut(self.value, self.script_pubkey)

    def serialize(self) -> bytes:
        """Core's Coin::Serialize (the chainstate record)."""
        code = (self.height << 1) | (1 if self.is_coinbase else 0)
        out = bytearray(_VARINT1[code] if code < 0x80 else varint(code))
        write_compressed_txout(out, self.value, self.script_pubkey)
        return bytes(out)

    @classmethod
    def deserialize(cls, data: bytes) -> Coin:
        """Parse a chainstate record; DecodeError on malformed or trailing bytes."""
        code, pos = varint_at(data, 0, U32_MAX)
        value, script, pos = read_compressed_txout(data, pos)
        if pos != len(data):
            raise DecodeError(f"{len(data) - pos} trailing bytes after coin")
        return cls(value, script, code >> 1, bool(code & 1))


# ---------------------------------------------------------------------------
# CoinsDB


def coin_key(outpoint: OutPoint) -> bytes:
    """The chainstate key of an outpoint: 'C' || txid || VARINT(n)."""
    n = outpoint.n
    return CHAINSTATE_COIN + outpoint.txid + (_VARINT1[n] if n < 0x80 else varint(n))


def _outpoint_from_key(key: bytes) -> OutPoint:
    if len(key) < 34:
        raise DecodeError("short coin key")
    n, pos = varint_at(key, 33, U32_MAX)
    if pos != len(key):
        raise DecodeError("trailing bytes in coin key")
    return OutPoint(key[1:33], n)


class CoinsView(Protocol):
    """What a CoinsCache needs from its parent (a CoinsDB or another CoinsCache)."""

    def get_coin(self, outpoint: OutPoint) -> Coin | None: ...

    def best_block(self) -> bytes: ...

    def batch_write(
        self,
        changes: Mapping[OutPoint, Coin | None],
        best_block: bytes,
        fresh: Collection[OutPoint] = (),
    ) -> None: ...


class CoinsDB:
    """The flushed UTXO set in a KVStore (mirrors CCoinsViewDB)."""

    __slots__ = ("store",)

    def __init__(self, store: KVStore) -> None:
        self.store = store

    def get_coin(self, outpoint: OutPoint) -> Coin | None:
        n = outpoint.n
        raw = self.store.get(
            CHAINSTATE_COIN + outpoint.txid + (_VARINT1[n] if n < 0x80 else varint(n))
        )
        if raw is None:
            return None
        try:
            return Coin.deserialize(raw)
        except DecodeError as e:
            raise StorageError(f"corrupt coin record for {outpoint}: {e}") from e

    def have_coin(self, outpoint: OutPoint) -> bool:
        return self.store.get(coin_key(outpoint)) is not None

    def have_any_coin(self, outpoints: Sequence[OutPoint]) -> bool:
        """``any(map(self.have_coin, outpoints))``, with one read of the store."""
        prefix = CHAINSTATE_COIN
        v1 = _VARINT1
        keys = [prefix + txid + (v1[n] if n < 0x80 else varint(n)) for txid, n in outpoints]
        return self.store.get_many(keys).count(None) != len(keys)

    def best_block(self) -> bytes:
        """Hash of the block the stored set corresponds to; 32 zero bytes for an empty store."""
        raw = self.store.get(CHAINSTATE_BEST_BLOCK)
        if raw is None:
            return NULL_HASH
        if len(raw) != 32:
            raise StorageError("corrupt best-block marker in the chainstate")
        return raw

    def batch_write(
        self,
        changes: Mapping[OutPoint, Coin | None],
        best_block: bytes,
        fresh: Collection[OutPoint] = (),
    ) -> None:
        """Write coins (None = delete) together with the best-block marker, atomically.

        ``fresh`` names coins the database is known not to hold; a fresh coin
        that is None needs no delete.
        """
        if len(best_block) != 32:
            raise ValueError("best block must be a 32-byte hash")
        puts: dict[bytes, bytes] = {}
        deletes: list[bytes] = []
        for op, coin in changes.items():
            if coin is None:
                if op not in fresh:
                    deletes.append(coin_key(op))
            else:
                puts[coin_key(op)] = coin.serialize()
        puts[CHAINSTATE_BEST_BLOCK] = best_block
        self.store.write_batch(puts, deletes)

    def iter_coins(self) -> Iterator[tuple[OutPoint, Coin]]:
        """Every stored coin in key order (txid bytes, then VARINT(n) bytes)."""
        for key, raw in self.store.iterate(CHAINSTATE_COIN):
            try:
                yield _outpoint_from_key(key), Coin.deserialize(raw)
            except DecodeError as e:
                raise StorageError(f"corrupt coin record {key.hex()}: {e}") from e


# ---------------------------------------------------------------------------
# CoinsCache

# Rough CPython footprint of one cached coin (dict slot, OutPoint, Coin, the
# ints and the script's bytes header) and of one DIRTY/FRESH flag entry,
# measured with tracemalloc; scripts' own lengths are added on top.
ENTRY_BYTES = 330
FLAG_BYTES = 60

_MISSING: Final = Coin(-1, b"", -1, False)  # sentinel: not cached
_new = tuple.__new__  # builds an OutPoint without its Python-level __new__


class CoinsCache:
    """An in-memory layer over a parent view (mirrors CCoinsViewCache).

    ``_coins`` maps cached outpoints to a Coin, or to None for a spent coin
    whose spending the parent has not seen yet. ``_flags`` holds the DIRTY
    entries; its value is True when the entry is also FRESH.
    """

    __slots__ = ("_best", "_coins", "_flags", "_parent", "_script_bytes")

    def __init__(self, parent: CoinsView) -> None:
        self._parent = parent
        self._coins: dict[OutPoint, Coin | None] = {}
        self._flags: dict[OutPoint, bool] = {}
        self._script_bytes = 0
        self._best: bytes | None = None

    @property
    def parent(self) -> CoinsView:
        return self._parent

    # --- reads ---
    def get_coin(self, outpoint: OutPoint) -> Coin | None:
        """The unspent coin at ``outpoint`` (fetched from the parent and cached), or None."""
        coin = self._coins.get(outpoint, _MISSING)
        if coin is _MISSING:
            parent = self._parent
            if type(parent) is CoinsCache:  # parent.get_coin(outpoint), inlined
                coin = parent._coins.get(outpoint, _MISSING)
                if coin is _MISSING:
                    coin = parent._parent.get_coin(outpoint)
                    if coin is None:
                        return None
                    parent._coins[outpoint] = coin
                    parent._script_bytes += len(coin.script_pubkey)
                elif coin is None:
                    return None
            else:
                coin = parent.get_coin(outpoint)
                if coin is None:
                    return None
            self._coins[outpoint] = coin
            self._script_bytes += len(coin.script_pubkey)
        return coin

    def fetch_coins(self, outpoints: Sequence[OutPoint]) -> list[Coin | None]:
        """``[self.get_coin(op) for op in outpoints]``; one pass in C when all are cached."""
        coins = list(map(self._coins.get, outpoints))
        if all(coins):  # a Coin is always true: every one is cached and unspent
            return coins
        get = self.get_coin
        return [get(op) for op in outpoints]

    def have_coin(self, outpoint: OutPoint) -> bool:
        coin = self._coins.get(outpoint, _MISSING)
        if coin is _MISSING:  # get_coin(outpoint) is not None
            return self.get_coin(outpoint) is not None
        return coin is not None

    def have_any_coin(self, outpoints: Sequence[OutPoint]) -> bool:
        """``any(map(self.have_coin, outpoints))``: when none is cached here, the parent
        is asked about all of them at once (and the loop runs only if it has one, so
        what gets cached is exactly what the loop caches)."""
        if not any(map(self._coins.__contains__, outpoints)):
            parent = self._parent
            if type(parent) is CoinsCache or type(parent) is CoinsDB:
                if not parent.have_any_coin(outpoints):
                    return False
        return any(map(self.have_coin, outpoints))

    def have_coin_in_cache(self, outpoint: OutPoint) -> bool:
        """True if an unspent coin is cached here (no parent lookup)."""
        c = self._coins.get(outpoint)
        return c is not None

    def best_block(self) -> bytes:
        if self._best is None:
            self._best = self._parent.best_block()
        return self._best

    def set_best_block(self, block_hash: bytes) -> None:
        if len(block_hash) != 32:
            raise ValueError("best block must be a 32-byte hash")
        self._best = block_hash

    # --- writes ---
    def add_coin(self, outpoint: OutPoint, coin: Coin, overwrite: bool = False) -> None:
        """Add an unspent coin (mirrors AddCoin).

        Unspendable scripts are not stored. Without ``overwrite`` it is an
        error (CoinsLogicError) to replace an unspent coin cached here; note
        that, like Core, the parent is not consulted: callers that may
        re-create an existing coin (BIP30 duplicates) pass ``overwrite=True``.
        """
        spk = coin.script_pubkey
        if (spk and spk[0] == 0x6A) or len(spk) > MAX_SCRIPT_SIZE:
            return
        coins = self._coins
        old = coins.get(outpoint, _MISSING)
        fresh = False
        if old is _MISSING:
            fresh = not overwrite
        else:
            if old is not None:
                if not overwrite:
                    raise CoinsLogicError(
                        "Attempted to overwrite an unspent coin (when possible_overwrite is false)"
                    )
                self._script_bytes -= len(old.script_pubkey)
            elif not overwrite:
                # A spent entry that is DIRTY must stay non-FRESH so its
                # spentness still reaches the parent (a reorg re-adding it).
                fresh = outpoint not in self._flags
        coins[outpoint] = coin
        self._script_bytes += len(spk)
        if fresh:
            self._flags[outpoint] = True
        else:
            self._flags.setdefault(outpoint, False)

    def spend_coin(self, outpoint: OutPoint) -> Coin | None:
        """Spend the coin at ``outpoint`` and return it (for undo data); None if there is none.

        Mirrors SpendCoin: a FRESH coin is simply forgotten, any other becomes
        a DIRTY spent entry that the next flush deletes from the parent.
        """
        coins = self._coins
        coin = coins.get(outpoint, _MISSING)
        if coin is _MISSING:
            coin = self._parent.get_coin(outpoint)
            if coin is None:
                return None
            coins[outpoint] = None
            self._flags[outpoint] = False
            return coin
        if coin is None:
            return None
        self._script_bytes -= len(coin.script_pubkey)
        flags = self._flags
        if flags.get(outpoint):
            del coins[outpoint]
            del flags[outpoint]
        else:
            coins[outpoint] = None
            flags[outpoint] = False
        return coin

    def spend_fetched(self, outpoints: Sequence[OutPoint], spent: Sequence[Coin]) -> None:
        """``spend_coin`` of each outpoint, whose coin ``get_coin`` (or ``fetch_coins``)
        has just returned (so it is cached here, unspent): ``spent[i]`` is that coin."""
        coins = self._coins
        flags = self._flags
        sb = self._script_bytes
        for op, coin in zip(outpoints, spent, strict=True):
            sb -= len(coin.script_pubkey)
            if flags.get(op):  # FRESH: the parent never saw it
                del coins[op]
                del flags[op]
            else:
                coins[op] = None
                flags[op] = False
        self._script_bytes = sb

    def uncache(self, outpoint: OutPoint) -> None:
        """Drop a clean (non-DIRTY) entry to save memory (mirrors Uncache)."""
        if outpoint not in self._flags:
            coin = self._coins.pop(outpoint, None)
            if coin is not None:
                self._script_bytes -= len(coin.script_pubkey)

    # --- child flush target ---
    def batch_write(
        self,
        changes: Mapping[OutPoint, Coin | None],
        best_block: bytes,
        fresh: Collection[OutPoint] = (),
    ) -> None:
        """Take a child cache's DIRTY entries (mirrors CCoinsViewCache::BatchWrite)."""
        self._take(changes, {op: op in fresh for op in changes}, best_block)

    def _take(
        self,
        child_coins: Mapping[OutPoint, Coin | None],
        child_flags: Mapping[OutPoint, bool],
        best_block: bytes,
    ) -> None:
        """``batch_write`` straight from a child's maps: the entries named by
        ``child_flags`` (in its order; the value is the FRESH flag) and their coins."""
        coins = self._coins
        flags = self._flags
        sb = self._script_bytes
        for op, child_fresh in child_flags.items():
            coin = child_coins[op]
            old = coins.get(op, _MISSING)
            if old is _MISSING:
                if coin is None and child_fresh:
                    continue
                coins[op] = coin
                if coin is not None:
                    sb += len(coin.script_pubkey)
                flags[op] = child_fresh
                continue
            if child_fresh and old is not None:
                self._script_bytes = sb
                raise CoinsLogicError("FRESH flag misapplied to coin that exists in parent cache")
            if old is not None:
                sb -= len(old.script_pubkey)
            if coin is None and flags.get(op):
                del coins[op]
                del flags[op]
            else:
                coins[op] = coin
                if coin is not None:
                    sb += len(coin.script_pubkey)
                flags.setdefault(op, False)
        self._script_bytes = sb
        self._best = best_block

    # --- flushing ---
    def _push(self) -> None:
        flags = self._flags
        coins = self._coins
        parent = self._parent
        if type(parent) is CoinsCache:  # hand over the entries without building the maps
            parent._take(coins, flags, self.best_block())
            return
        changes = {op: coins[op] for op in flags}
        fresh = {op for op, f in flags.items() if f}
        parent.batch_write(changes, self.best_block(), fresh)

    def flush(self) -> None:
        """Write every change and the best block to the parent in one batch, then empty."""
        self._push()
        self._coins.clear()
        self._flags.clear()
        self._script_bytes = 0

    def sync(self) -> None:
        """Like flush, but keep unspent entries cached as clean (mirrors Sync)."""
        self._push()
        coins = self._coins
        for op in self._flags:
            if coins[op] is None:
                del coins[op]
        self._flags.clear()

    # --- accounting ---
    def memory_usage(self) -> int:
        """Estimated bytes held by this cache (entries, flags and scripts)."""
        return len(self._coins) * ENTRY_BYTES + len(self._flags) * FLAG_BYTES + self._script_bytes

    def needs_flush(self, dbcache_bytes: int) -> bool:
        return self.memory_usage() > dbcache_bytes

    def __len__(self) -> int:
        """Number of cached entries (unspent, spent-but-unflushed)."""
        return len(self._coins)

    def dirty_count(self) -> int:
        return len(self._flags)


def add_coins(cache: CoinsCache, tx: Tx, height: int, check_for_overwrite: bool = False) -> None:
    """Add every output of ``tx`` (mirrors AddCoins).

    Coinbase outputs may overwrite (pre-BIP34 duplicate coinbases); with
    ``check_for_overwrite`` an output overwrites only when it already exists.
    """
    txid = tx.txid
    coinbase = tx.is_coinbase()
    if check_for_overwrite or type(cache) is not CoinsCache:
        add = cache.add_coin
        for i, out in enumerate(tx.vout):
            op = _new(OutPoint, (txid, i))
            overwrite = cache.have_coin(op) if check_for_overwrite else coinbase
            add(op, Coin(out.value, out.script_pubkey, height, coinbase), overwrite)
        return
    # CoinsCache.add_coin(op, coin, overwrite=coinbase), inlined
    coins = cache._coins
    flags = cache._flags
    sb = cache._script_bytes
    try:
        for i, (value, spk) in enumerate(tx.vout):
            if (spk and spk[0] == 0x6A) or len(spk) > MAX_SCRIPT_SIZE:
                continue  # unspendable: not stored
            op = _new(OutPoint, (txid, i))
            if op not in coins:  # the usual case: nothing cached there
                coins[op] = Coin(value, spk, height, coinbase)
                sb += len(spk)
                if coinbase:
                    flags.setdefault(op, False)
                else:
                    flags[op] = True
                continue
            old = coins[op]
            fresh = False
            if old is not None:
                if not coinbase:
                    raise CoinsLogicError(
                        "Attempted to overwrite an unspent coin (when possible_overwrite is false)"
                    )
                sb -= len(old.script_pubkey)
            elif not coinbase:
                fresh = op not in flags  # see add_coin
            coins[op] = Coin(value, spk, height, coinbase)
            sb += len(spk)
            if fresh:
                flags[op] = True
            else:
                flags.setdefault(op, False)
    finally:
        cache._script_bytes = sb


# ---------------------------------------------------------------------------
# gettxoutsetinfo


@dataclass(frozen=True, slots=True)
class UtxoStats:
    """Figures of ``gettxoutsetinfo`` (mirrors kernel::CCoinsStats, hash_type=hash_serialized_3)."""

    best_block: bytes
    transactions: int  # distinct txids with unspent outputs
    txouts: int
    total_amount: int
    bogosize: int  # Core's database-independent size figure
    disk_size: int  # bytes of our stored keys and values (not LMDB's page usage)
    hash_serialized: bytes  # internal byte order; RPC shows it reversed


def bogo_size(script_pubkey: bytes) -> int:
    """Mirrors GetBogoSize: txid, vout, height/coinbase, amount, 2-byte length, script."""
    return 32 + 4 + 4 + 8 + 2 + len(script_pubkey)


def compute_utxo_stats(db: CoinsDB) -> UtxoStats:
    """Scan the flushed set like Core's ComputeUTXOStats with HASH_SERIALIZED.

    The hash is SHA256d over, for each coin ordered by txid bytes and then
    numerically by output index, ``outpoint || u32(height*2+coinbase) ||
    CTxOut`` (Core's TxOutSer). Key order sorts the index by its VARINT bytes,
    which is not numeric order, so each txid's outputs are sorted before
    hashing, as Core does with its std::map. Flush the caches first. The scan
    is rejected (StorageError) if the best block changes while it runs.
    """
    best = db.best_block()
    h = hashlib.sha256()
    update = h.update
    transactions = txouts = total = bogo = disk = 0
    prev_txid = b""
    group: list[tuple[int, Coin]] = []

    def apply(txid: bytes) -> None:
        group.sort(key=lambda t: t[0])
        for n, c in group:
            spk = c.script_pubkey
            code = (c.height << 1) | (1 if c.is_coinbase else 0)
            update(
                txid
                + _U32.pack(n)
                + _U32.pack(code & U32_MAX)
                + _I64.pack(c.value)
                + compact_size(len(spk))
                + spk
            )

    for key, raw in db.store.iterate(CHAINSTATE_COIN):
        try:
            op = _outpoint_from_key(key)
            coin = Coin.deserialize(raw)
        except DecodeError as e:
            raise StorageError(f"corrupt coin record {key.hex()}: {e}") from e
        if op.txid != prev_txid:
            if group:
                apply(prev_txid)
                group.clear()
            transactions += 1
            prev_txid = op.txid
        group.append((op.n, coin))
        txouts += 1
        total += coin.value
        bogo += bogo_size(coin.script_pubkey)
        disk += len(key) + len(raw)
    if group:
        apply(prev_txid)
    if db.best_block() != best:
        raise StorageError("the UTXO set changed during the scan")
    return UtxoStats(
        best_block=best,
        transactions=transactions,
        txouts=txouts,
        total_amount=total,
        bogosize=bogo,
        disk_size=disk,
        hash_serialized=hashlib.sha256(h.digest()).digest(),
    )
