"""Build, sign and solve regtest blocks against an in-process ``Chainstate``.

``ChainBuilder`` owns a regtest ``Chainstate`` in a directory of its own, driven by a
deterministic clock, and knows one private key whose P2WPKH, P2PKH and P2TR (key
path) scripts it can spend. Typical use::

    cb = ChainBuilder(tmp_path)
    cb.mine(101)                                   # coinbases pay cb.key.p2wpkh
    coin = cb.coinbase_outpoint(1)                 # mature now
    tx = cb.spend(coin, to_script=cb.key.p2pkh)    # signed, fee DEFAULT_FEE
    block = cb.next_block(txs=[tx])                # finalized and solved
    assert cb.submit(block) is None                # accepted and connected

Block times are ``genesis.time + BLOCK_SPACING * height`` unless given, so they
increase strictly along a chain; the clock stays one spacing ahead of the newest
default-timed block built. Every built block gets a fresh extra nonce in its coinbase,
so two blocks built on the same parent never collide.

Blocks are finalized (witness commitment, merkle root) before ``mutate`` runs and
solved after it, so a mutation is kept as is: use :func:`with_txs` / :func:`finalize`
inside it to recompute what should stay consistent, or :meth:`ChainBuilder.solve` to
grind a block changed after the fact. (Blocks are assembled here rather than with
``pyrite.mining.assembler.build_block``, whose witness commitment is hashed twice.)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Self

from pyrite.chain.chainstate import Chainstate
from pyrite.chain.index import BlockIndexEntry
from pyrite.chain.utxostats import UtxoStats, compute_utxo_stats
from pyrite.consensus.merkle import block_merkle_root, block_witness_merkle_root
from pyrite.consensus.params import ChainParams, get_params
from pyrite.consensus.pow import check_proof_of_work
from pyrite.consensus.subsidy import get_block_subsidy
from pyrite.consensus.validation import (
    MINIMUM_WITNESS_COMMITMENT,
    WITNESS_COMMITMENT_HEADER,
    coinbase_height_script,
    witness_commitment_script,
)
from pyrite.crypto.hashes import hash160, sha256
from pyrite.crypto.secp import (
    ecdsa_sign,
    pubkey_from_secret,
    schnorr_sign,
    taproot_tweak_seckey,
    xonly_from_secret,
    xonly_tweak_add,
)
from pyrite.encoding.bytes import compact_size
from pyrite.mining.assembler import solve as _grind
from pyrite.primitives import Block, BlockHeader, OutPoint, Tx, TxIn, TxOut
from pyrite.primitives.tx import NULL_HASH, SEQUENCE_FINAL
from pyrite.script.interpreter import taptweak_hash
from pyrite.script.script import push_data, push_int
from pyrite.script.sighash import (
    SIGHASH_ALL,
    SIGHASH_DEFAULT,
    PrecomputedTx,
    bip143_sighash,
    legacy_sighash,
    taproot_sighash,
)

__all__ = [
    "BLOCK_SPACING",
    "BLOCK_VERSION",
    "DEFAULT_FEE",
    "DEFAULT_SECRET",
    "OP_CHECKMULTISIG",
    "OP_CHECKSIG",
    "OP_RETURN",
    "OP_TRUE",
    "ChainBuilder",
    "Key",
    "block_hashes",
    "corrupt_signature",
    "finalize",
    "op_return_script",
    "p2sh_script",
    "p2wsh_script",
    "replace_tx",
    "roundtrip",
    "spent_outpoints",
    "unsolve",
    "with_header",
    "with_txs",
]

BLOCK_SPACING = 600
BLOCK_VERSION = 0x20000000
DEFAULT_FEE = 1_000
DEFAULT_SECRET = sha256(b"pyrite integration tests: chainutil key")
WITNESS_NONCE = bytes(32)

OP_TRUE = 0x51
OP_RETURN = 0x6A
OP_CHECKSIG = 0xAC
OP_CHECKMULTISIG = 0xAE
_OP_DUP, _OP_HASH160, _OP_EQUAL, _OP_EQUALVERIFY = 0x76, 0xA9, 0x87, 0x88


# --------------------------------------------------------------------------- scripts


def p2sh_script(redeem_script: bytes) -> bytes:
    return bytes((_OP_HASH160, 20)) + hash160(redeem_script) + bytes((_OP_EQUAL,))


def p2wsh_script(witness_script: bytes) -> bytes:
    return b"\x00\x20" + sha256(witness_script)


def op_return_script(data: bytes) -> bytes:
    return bytes((OP_RETURN,)) + push_data(data)


class Key:
    """A secp256k1 key and the scripts paying to it."""

    def __init__(self, secret: bytes = DEFAULT_SECRET) -> None:
        self.secret = secret
        self.pubkey = pubkey_from_secret(secret)
        h = hash160(self.pubkey)
        self.p2wpkh = b"\x00\x14" + h
        self.p2pkh = bytes((_OP_DUP, _OP_HASH160, 20)) + h + bytes((_OP_EQUALVERIFY, OP_CHECKSIG))
        internal = xonly_from_secret(secret)
        self.tap_tweak = taptweak_hash(internal, None)
        tweaked = xonly_tweak_add(internal, self.tap_tweak)
        assert tweaked is not None
        self.p2tr = b"\x51\x20" + tweaked[0]
        self.tap_secret = taproot_tweak_seckey(secret, self.tap_tweak)

    def scripts(self) -> tuple[bytes, ...]:
        return (self.p2wpkh, self.p2pkh, self.p2tr)


# --------------------------------------------------------------------------- block surgery


def with_header(block: Block, **changes: int | bytes) -> Block:
    """The block with some header fields replaced (the header hash is recomputed)."""
    header = dataclasses.replace(block.header, hash=b"", **changes)  # type: ignore[arg-type]
    return Block(header, block.txs)


def with_txs(block: Block, txs: Iterable[Tx], *, update_merkle: bool = True) -> Block:
    """The block with other transactions; the merkle root follows unless told not to.

    The witness commitment is left alone (see :func:`finalize`).
    """
    new = Block(block.header, tuple(txs))
    if not update_merkle:
        return new
    root, _ = block_merkle_root(new)
    return with_header(new, merkle_root=root)


def replace_tx(block: Block, index: int, tx: Tx, *, update_merkle: bool = True) -> Block:
    txs = list(block.txs)
    txs[index] = tx
    return with_txs(block, txs, update_merkle=update_merkle)


def _is_commitment(out: TxOut) -> bool:
    spk = out.script_pubkey
    return len(spk) >= MINIMUM_WITNESS_COMMITMENT and spk[:6] == WITNESS_COMMITMENT_HEADER


def finalize(block: Block, *, witness_commitment: bool = True) -> Block:
    """Recompute the coinbase's witness commitment and the header's merkle root.

    Every commitment-shaped output of the coinbase is dropped; with
    ``witness_commitment`` a fresh one is appended, made with the coinbase's witness
    reserved value when it has a single 32-byte one (else with 32 zero bytes). The
    nonce is reset to 0: solve the block again afterwards.
    """
    txs = list(block.txs)
    if txs and txs[0].vin:
        cb = txs[0]
        outs = [o for o in cb.vout if not _is_commitment(o)]
        if witness_commitment:
            wit = cb.vin[0].witness
            nonce = wit[0] if len(wit) == 1 and len(wit[0]) == 32 else WITNESS_NONCE
            root = block_witness_merkle_root(Block(block.header, tuple(txs)))
            outs.append(TxOut(0, witness_commitment_script(root, nonce)))
        txs[0] = Tx(cb.version, cb.vin, tuple(outs), cb.locktime)
    return with_header(with_txs(block, txs), nonce=0)


def unsolve(block: Block, params: ChainParams) -> Block:
    """The block with the first nonce (from its current one) whose hash misses the target."""
    nonce = block.header.nonce
    while True:
        nonce = (nonce + 1) & 0xFFFFFFFF
        candidate = with_header(block, nonce=nonce)
        if not check_proof_of_work(candidate.hash, candidate.header.bits, params):
            return candidate


def roundtrip(block: Block) -> Block:
    """The block as a peer (or submitblock) would hand it over: serialized and parsed."""
    return Block.from_bytes(block.serialize())


def corrupt_signature(tx: Tx, input_index: int = 0) -> Tx:
    """Flip one bit of the ``s`` value of the input's ECDSA signature (DER stays valid).

    The signature is the first witness item, or the first push of the scriptSig.
    """
    txin = tx.vin[input_index]
    if txin.witness:
        sig = bytearray(txin.witness[0])
        sig[-2] ^= 1
        new_in = txin._replace(witness=(bytes(sig), *txin.witness[1:]))
    else:
        ss = bytearray(txin.script_sig)
        n = ss[0]
        ss[n - 1] ^= 1  # last byte of s: byte n is the sighash type, n-1 the end of s
        new_in = txin._replace(script_sig=bytes(ss))
    vin = list(tx.vin)
    vin[input_index] = new_in
    return Tx(tx.version, tuple(vin), tx.vout, tx.locktime)


# --------------------------------------------------------------------------- the builder


class ChainBuilder:
    """A regtest Chainstate plus everything needed to extend it with hand-made blocks."""

    def __init__(
        self,
        datadir: str | Path,
        params: ChainParams | None = None,
        *,
        key: Key | None = None,
        dbcache_bytes: int = 16 << 20,
        open_now: bool = True,
    ) -> None:
        self.datadir = Path(datadir)
        self.params = params or get_params("regtest")
        self.key = key or Key()
        self.dbcache_bytes = dbcache_bytes
        self.coinbase_script = self.key.p2wpkh
        genesis = self.params.genesis
        self.genesis_time = genesis.header.time
        self.clock_time = self.genesis_time + BLOCK_SPACING
        #: every block this builder made, by hash
        self.blocks: dict[bytes, Block] = {genesis.hash: genesis}
        #: hash -> (height, time, parent hash) for every block made (and genesis)
        self._meta: dict[bytes, tuple[int, int, bytes]] = {
            genesis.hash: (0, genesis.header.time, NULL_HASH)
        }
        #: outputs of every transaction made, to sign spends and compute fees
        self.outputs: dict[OutPoint, TxOut] = {}
        #: P2SH / P2WSH script pubkey -> the script it commits to (see register_script)
        self.scripts: dict[bytes, bytes] = {}
        self._extra_nonce = 0
        self.cs = self._new_chainstate()
        self._open = False
        if open_now:
            self.open()

    # ------------------------------------------------------------------ lifecycle
    def _new_chainstate(self) -> Chainstate:
        return Chainstate(
            self.datadir, self.params, dbcache_bytes=self.dbcache_bytes, clock=self.now
        )

    def open(self) -> None:
        self.cs.open()
        self._open = True

    def close(self) -> None:
        if self._open:
            self.cs.close()
            self._open = False

    def reopen(self) -> None:
        """Close the Chainstate and open a fresh one on the same directory (a restart)."""
        self.close()
        self.cs = self._new_chainstate()
        self.open()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ clock and queries
    def now(self) -> int:
        return self.clock_time

    def advance_clock(self, seconds: int) -> None:
        self.clock_time += seconds

    def block_time(self, height: int) -> int:
        """The default time of a block at ``height``."""
        return self.genesis_time + BLOCK_SPACING * height

    @property
    def tip(self) -> BlockIndexEntry:
        return self.cs.tip()

    def entry(self, block: Block | BlockIndexEntry | bytes) -> BlockIndexEntry:
        """The current block index entry of a block (entries are new objects after reopen)."""
        h = block if isinstance(block, bytes) else block.hash
        e = self.cs.lookup(h)
        if e is None:
            raise KeyError(f"block {h[::-1].hex()} is not in the block index")
        return e

    def active_block(self, height: int) -> Block:
        """The block at ``height`` on the active chain."""
        e = self.cs.chain[height]
        if e is None:
            raise KeyError(f"no active block at height {height}")
        return self.blocks.get(e.hash) or self.cs.read_block(e)

    def coinbase_outpoint(self, height_or_block: int | Block) -> OutPoint:
        """Outpoint of output 0 of the coinbase at a height of the active chain (or of a block)."""
        block = (
            height_or_block
            if isinstance(height_or_block, Block)
            else self.active_block(height_or_block)
        )
        return OutPoint(block.txs[0].txid, 0)

    def mature_coinbases(self, script_pubkey: bytes | None = None) -> list[OutPoint]:
        """Unspent coinbase outputs of the active chain a block on the tip may spend,
        oldest first, optionally only those paying ``script_pubkey``."""
        last = self.cs.height() + 1 - self.params.coinbase_maturity
        found = []
        for height in range(1, last + 1):
            op = self.coinbase_outpoint(height)
            coin = self.cs.get_coin(op)
            if coin is None or (script_pubkey is not None and coin.script_pubkey != script_pubkey):
                continue
            found.append(op)
        return found

    def spendable(self, script_pubkey: bytes | None = None) -> list[OutPoint]:
        """Outputs made here that a block on the tip may spend, oldest first.

        Only unspent outputs paying ``script_pubkey`` (default: any of the key's
        scripts) count, coinbase outputs only once mature.
        """
        wanted = self.key.scripts() if script_pubkey is None else (script_pubkey,)
        last_mature = self.cs.height() + 1 - self.params.coinbase_maturity
        found = []
        for op, out in self.outputs.items():
            if out.script_pubkey not in wanted:
                continue
            coin = self.cs.get_coin(op)
            if coin is None or (coin.is_coinbase and coin.height > last_mature):
                continue
            found.append((coin.height, op.txid, op.n))
        found.sort()
        return [OutPoint(txid, n) for _, txid, n in found]

    def height_of(self, block_hash: bytes) -> int:
        meta = self._meta.get(block_hash)
        if meta is not None:
            return meta[0]
        return self.entry(block_hash).height

    def _times_back(self, block_hash: bytes, n: int) -> list[int]:
        times: list[int] = []
        h = block_hash
        while len(times) < n and h != NULL_HASH:
            meta = self._meta.get(h)
            if meta is None:
                e = self.entry(h)
                meta = (e.height, e.time, e.prev_hash)
            times.append(meta[1])
            h = meta[2]
        return times

    def median_time_past(self, block_hash: bytes) -> int:
        times = sorted(self._times_back(block_hash, 11))
        return times[len(times) // 2]

    def coin_out(self, outpoint: OutPoint) -> TxOut | None:
        """The output an outpoint names: from transactions made here, else the UTXO set."""
        out = self.outputs.get(outpoint)
        if out is not None:
            return out
        coin = self.cs.get_coin(outpoint)
        return coin.txout if coin is not None else None

    def fee_of(self, tx: Tx) -> int:
        """Inputs minus outputs when every input is known and the result is positive, else 0."""
        total_in = 0
        for txin in tx.vin:
            out = self.coin_out(txin.prevout)
            if out is None:
                return 0
            total_in += out.value
        return max(0, total_in - sum(o.value for o in tx.vout))

    def utxo_stats(self) -> UtxoStats:
        """Flush and scan the UTXO set (gettxoutsetinfo's figures)."""
        self.cs.flush()
        return compute_utxo_stats(self.cs.coins_db)

    # ------------------------------------------------------------------ transactions
    def register_script(self, script: bytes) -> tuple[bytes, bytes]:
        """Remember ``script`` as a redeem/witness script; returns (P2SH spk, P2WSH spk).

        Spends of such outputs by :meth:`spend` push the script (P2SH) or put it last on
        the witness stack (P2WSH) after ``extra_witness`` items: nothing else is signed.
        """
        sh, wsh = p2sh_script(script), p2wsh_script(script)
        self.scripts[sh] = script
        self.scripts[wsh] = script
        return sh, wsh

    def _record(self, tx: Tx) -> None:
        for n, out in enumerate(tx.vout):
            self.outputs[OutPoint(tx.txid, n)] = out

    def spend(
        self,
        outpoints: OutPoint | Sequence[OutPoint],
        value: int | None = None,
        to_script: bytes | None = None,
        *,
        outputs: Sequence[TxOut] | None = None,
        fee: int = DEFAULT_FEE,
        version: int = 2,
        locktime: int = 0,
        sequence: int | Sequence[int] = SEQUENCE_FINAL,
        hash_type: int | None = None,
        spent_outputs: Sequence[TxOut] | None = None,
        extra_witness: Sequence[bytes] = (),
        annex: bytes | None = None,
        sign: bool = True,
    ) -> Tx:
        """A transaction spending ``outpoints``, signed for the builder's key.

        Pays ``outputs`` if given, else one output of ``value`` (default: the inputs
        minus ``fee``) to ``to_script`` (default: the key's P2WPKH). The spent outputs
        are looked up (see :meth:`coin_out`) unless ``spent_outputs`` is given, which
        also allows spending outpoints that do not exist. P2WPKH inputs are signed with
        BIP143, P2PKH with the legacy sighash, P2TR key path with BIP341 (plus the
        ``annex``, if any), all SIGHASH_ALL (taproot: SIGHASH_DEFAULT) unless
        ``hash_type`` says otherwise; P2SH/P2WSH of registered scripts and bare OP_TRUE
        need no signature.
        """
        ops = [outpoints] if isinstance(outpoints, OutPoint) else list(outpoints)
        if spent_outputs is None:
            spent: list[TxOut] = []
            for op in ops:
                out = self.coin_out(op)
                if out is None:
                    raise KeyError(f"unknown outpoint {op}; pass spent_outputs")
                spent.append(out)
        else:
            spent = list(spent_outputs)
        if outputs is None:
            if value is None:
                value = sum(o.value for o in spent) - fee
            outputs = [TxOut(value, to_script if to_script is not None else self.key.p2wpkh)]
        seqs = [sequence] * len(ops) if isinstance(sequence, int) else list(sequence)
        vin = tuple(TxIn(op, b"", s) for op, s in zip(ops, seqs, strict=True))
        tx = Tx(version, vin, tuple(outputs), locktime)
        if sign:
            tx = self.sign(tx, spent, hash_type=hash_type, extra_witness=extra_witness,
                           annex=annex)  # fmt: skip
        self._record(tx)
        return tx

    def sign(
        self,
        tx: Tx,
        spent_outputs: Sequence[TxOut],
        *,
        hash_type: int | None = None,
        extra_witness: Sequence[bytes] = (),
        annex: bytes | None = None,
    ) -> Tx:
        """Fill every input's scriptSig/witness (see :meth:`spend`); other fields are kept."""
        pre = PrecomputedTx(tx, spent_outputs)
        key = self.key
        vin = []
        for i, (txin, out) in enumerate(zip(tx.vin, spent_outputs, strict=True)):
            spk = out.script_pubkey
            script_sig, witness = b"", tuple[bytes, ...]()
            if spk == key.p2wpkh:
                ht = SIGHASH_ALL if hash_type is None else hash_type
                code = key.p2pkh  # BIP143 script code of P2WPKH
                sig = ecdsa_sign(key.secret, bip143_sighash(code, tx, i, ht, out.value, pre))
                witness = (sig + bytes((ht,)), key.pubkey)
            elif spk == key.p2pkh:
                ht = SIGHASH_ALL if hash_type is None else hash_type
                sig = ecdsa_sign(key.secret, legacy_sighash(spk, tx, i, ht, pre))
                script_sig = push_data(sig + bytes((ht,))) + push_data(key.pubkey)
            elif spk == key.p2tr:
                ht = SIGHASH_DEFAULT if hash_type is None else hash_type
                annex_hash = None
                if annex is not None:
                    annex_hash = sha256(compact_size(len(annex)) + annex)
                msg = taproot_sighash(pre, i, ht, annex_hash)
                assert msg is not None, "taproot signature hash undefined for this hash type"
                sig = schnorr_sign(key.tap_secret, msg, bytes(32))
                witness = (sig if ht == SIGHASH_DEFAULT else sig + bytes((ht,)),)
                if annex is not None:
                    witness = (*witness, annex)
            elif spk in self.scripts and spk[0] == _OP_HASH160:
                script_sig = push_data(self.scripts[spk])
            elif spk in self.scripts:
                witness = (*extra_witness, self.scripts[spk])
            elif spk == bytes((OP_TRUE,)):
                pass
            else:
                raise ValueError(f"cannot sign for script {spk.hex()}")
            vin.append(TxIn(txin.prevout, script_sig, txin.sequence, witness))
        return Tx(tx.version, tuple(vin), tx.vout, tx.locktime)

    # ------------------------------------------------------------------ blocks
    def make_coinbase(
        self,
        height: int,
        value: int,
        *,
        script_pubkey: bytes | None = None,
        script_sig: bytes | None = None,
        witness_nonce: bool = True,
    ) -> Tx:
        """A coinbase with the BIP34 height and a fresh extra nonce (no commitment yet)."""
        if script_sig is None:
            self._extra_nonce += 1
            script_sig = coinbase_height_script(height) + push_int(self._extra_nonce)
        spk = self.coinbase_script if script_pubkey is None else script_pubkey
        txin = TxIn(OutPoint(NULL_HASH, 0xFFFFFFFF), script_sig, SEQUENCE_FINAL,
                    (WITNESS_NONCE,) if witness_nonce else ())  # fmt: skip
        return Tx(2, (txin,), (TxOut(value, spk),), 0)

    def next_block(
        self,
        parent: BlockIndexEntry | Block | bytes | None = None,
        txs: Sequence[Tx] = (),
        *,
        coinbase_value: int | None = None,
        coinbase_script: bytes | None = None,
        coinbase_script_sig: bytes | None = None,
        time: int | None = None,
        version: int = BLOCK_VERSION,
        bits: int | None = None,
        witness_commitment: bool = True,
        mutate: Callable[[Block], Block] | None = None,
        solve: bool = True,
    ) -> Block:
        """A block on ``parent`` (default: the tip) holding ``txs`` after its coinbase.

        The coinbase pays ``coinbase_value`` (default: subsidy plus the fees of ``txs``
        as far as :meth:`fee_of` knows them) to ``coinbase_script`` (default: the
        builder's ``coinbase_script``). The block is finalized, given to ``mutate``,
        then solved and remembered; with ``solve=False`` it is returned unsolved and
        unrecorded (pass it to :meth:`solve` later). Nothing is submitted.
        """
        if parent is None:
            parent_hash = self.tip.hash
        elif isinstance(parent, bytes):
            parent_hash = parent
        else:
            parent_hash = parent.hash
        height = self.height_of(parent_hash) + 1
        if coinbase_value is None:
            coinbase_value = get_block_subsidy(height, self.params)
            coinbase_value += sum(self.fee_of(tx) for tx in txs)
        coinbase = self.make_coinbase(
            height,
            coinbase_value,
            script_pubkey=coinbase_script,
            script_sig=coinbase_script_sig,
            witness_nonce=witness_commitment,
        )
        if time is None:
            time = max(self.block_time(height), self.median_time_past(parent_hash) + 1)
            self.clock_time = max(self.clock_time, time + BLOCK_SPACING)
        header = BlockHeader(
            version,
            parent_hash,
            NULL_HASH,
            time,
            self.params.genesis.header.bits if bits is None else bits,
            0,
        )
        block = finalize(Block(header, (coinbase, *txs)), witness_commitment=witness_commitment)
        if mutate is not None:
            block = mutate(block)
        if solve:
            block = self.solve(block)  # remembers it
        return block

    def remember(self, block: Block) -> None:
        """Record a block (and its outputs) made or changed outside :meth:`next_block`."""
        self.blocks[block.hash] = block
        prev = block.header.prev_hash
        if prev in self._meta or self.cs.lookup(prev) is not None:
            self._meta[block.hash] = (self.height_of(prev) + 1, block.header.time, prev)
        for tx in block.txs:
            self._record(tx)

    def solve(self, block: Block) -> Block:
        """Grind the nonce of ``block`` as it is (its merkle root is not recomputed)."""
        solved = _grind(block, self.params)
        if solved is None:
            raise RuntimeError("no nonce solves this block")
        self.remember(solved)
        return solved

    def refinalize(self, block: Block, *, witness_commitment: bool = True) -> Block:
        """:func:`finalize` then :meth:`solve`: make a changed block consistent again."""
        return self.solve(finalize(block, witness_commitment=witness_commitment))

    def submit(self, block: Block) -> str | None:
        """process_new_block's result: None when accepted and connected, else the reason."""
        return self.cs.process_new_block(block).result

    def build_chain(
        self, n: int, parent: BlockIndexEntry | Block | bytes | None = None, **kw: object
    ) -> list[Block]:
        """``n`` blocks in a row on ``parent`` (default: the tip), none submitted."""
        blocks: list[Block] = []
        prev: BlockIndexEntry | Block | bytes | None = parent
        for _ in range(n):
            block = self.next_block(prev, **kw)  # type: ignore[arg-type]
            blocks.append(block)
            prev = block
        return blocks

    def mine(
        self,
        n: int,
        parent: BlockIndexEntry | Block | bytes | None = None,
        *,
        expect: str | None = None,
        **kw: object,
    ) -> list[Block]:
        """Build and submit ``n`` blocks in a row; each must get the result ``expect``
        (None: connected; use "inconclusive" for a side branch with no more work)."""
        blocks: list[Block] = []
        prev: BlockIndexEntry | Block | bytes | None = parent
        for _ in range(n):
            block = self.next_block(prev, **kw)  # type: ignore[arg-type]
            result = self.submit(block)
            if result != expect:
                raise AssertionError(
                    f"block {block.hash_hex()} got {result!r}, expected {expect!r}"
                )
            blocks.append(block)
            prev = block
        return blocks


def block_hashes(blocks: Iterable[Block]) -> list[bytes]:
    return [b.hash for b in blocks]


def spent_outpoints(block: Block) -> list[OutPoint]:
    """Every outpoint the non-coinbase transactions of ``block`` spend."""
    return [txin.prevout for tx in block.txs[1:] for txin in tx.vin]
