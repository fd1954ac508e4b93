"""Signature hashes: legacy (with Core's quirks), BIP143 (segwit v0), BIP341 (taproot).

``PrecomputedTx`` mirrors Core's PrecomputedTransactionData: the per-transaction
hashes are computed once, lazily, and shared by every input's check.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Callable, Sequence
from operator import itemgetter

from pyrite.crypto.hashes import sha256_short, sha256d, tagged_hasher
from pyrite.encoding.bytes import compact_size
from pyrite.primitives.tx import Tx, TxOut, io_layout
from pyrite.script.script import remove_codeseparators

SIGHASH_DEFAULT = 0
SIGHASH_ALL = 1
SIGHASH_NONE = 2
SIGHASH_SINGLE = 3
SIGHASH_ANYONECANPAY = 0x80

ONE_HASH = (1).to_bytes(32, "little")
_TAPSIGHASH_TAG = hashlib.sha256(b"TapSighash").digest() * 2
_sha256 = hashlib.sha256
_U32 = struct.Struct("<I")
_I32 = struct.Struct("<i")
_Q = struct.Struct("<q")
_EMPTY_OUT = _Q.pack(-1) + b"\x00"
_ALL = b"\x01\x00\x00\x00"
_BLANK = struct.Struct("<32sIxI")  # an input with an empty script: outpoint, 0x00, sequence
_HASH_TYPE_BYTE = tuple(bytes((i,)) for i in range(256))
_VALUE = itemgetter(0)  # an output's value (by position: cheaper than by name)
_COUNT_SIZE = {0xFD: 3, 0xFE: 5, 0xFF: 9}  # a compact size's length by its first byte


_SIZE1 = tuple(bytes((i,)) for i in range(0xFD))


def _var_bytes(b: bytes) -> bytes:
    n = len(b)
    return (_SIZE1[n] if n < 0xFD else compact_size(n)) + b


#: the SHA256 and double SHA256 of the sequences of a transaction's inputs, by those
#: sequences: most transactions give every input the same sequence (final, or one of a
#: few conventional values), so these few hashes recur; cleared whole when full
_SEQUENCE_HASHES: dict[bytes, tuple[bytes, bytes]] = {}
_SEQUENCE_HASHES_SIZE = 1024


def _sequence_hashes(sequences: bytes) -> tuple[bytes, bytes]:
    """The memo's entry for ``sequences`` (not in it yet): computed, then kept."""
    single = _sha256(sequences).digest()
    hashes = (single, sha256_short(single).digest())
    if len(_SEQUENCE_HASHES) >= _SEQUENCE_HASHES_SIZE:
        _SEQUENCE_HASHES.clear()
    _SEQUENCE_HASHES[sequences] = hashes
    return hashes


#: struct unpackers cutting n blank inputs into their outpoints and sequences, by n
_CUTS: dict[int, Callable[[bytes], tuple[bytes, ...]]] = {}


def _cut_inputs(n: int) -> Callable[[bytes], tuple[bytes, ...]]:
    """An unpacker for ``_CUTS`` (kept for up to 64 inputs): two to three times as fast as
    slicing each input out."""
    cut = struct.Struct("36sx4s" * n).unpack
    if n <= 64:
        _CUTS[n] = cut
    return cut


def _ser_out(o: TxOut) -> bytes:
    return _Q.pack(o.value) + _var_bytes(o.script_pubkey)


class PrecomputedTx:
    """Per-transaction data for signature checks (Core's PrecomputedTransactionData).

    ``spent_outputs`` (one TxOut per input) is needed for taproot signature hashes.
    Most pieces are cut straight from the transaction's serialization (``tx.raw``).
    """

    __slots__ = (
        "_amounts",
        "_h143_all",
        "_in_hashes",
        "_legacy_all",
        "_outputs",
        "_parts",
        "_scripts",
        "_ser_outputs",
        "_tap_prefix",
        "spent_outputs",
        "tx",
    )

    def __init__(self, tx: Tx, spent_outputs: Sequence[TxOut] | None = None) -> None:
        self.tx = tx
        # kept as given when a list or tuple (the caller does not change it afterwards)
        if spent_outputs is not None and type(spent_outputs) is not list:
            spent_outputs = tuple(spent_outputs)
        self.spent_outputs: Sequence[TxOut] | None = spent_outputs
        self._parts: tuple[bytes, bytes] | None = None
        self._in_hashes: tuple[bytes, bytes, bytes] | None = None
        self._outputs: bytes | None = None
        self._amounts: bytes | None = None
        self._scripts: bytes | None = None
        self._ser_outputs: list[bytes] | None = None
        self._legacy_all: tuple[bytes, bytes, bytes] | None = None
        self._h143_all: tuple[bytes, bytes, bytes, tuple[bytes, bytes, bytes]] | None = None
        self._tap_prefix: bytes | None = None

    def _tx_parts(self) -> tuple[bytes, bytes]:
        """(``blanks()``, the outputs serialized with their count in front)."""
        parts = self._parts
        if parts is None:
            tx = self.tx
            raw = tx.raw
            n_in = len(tx.vin)
            outputs_at = tx.outputs_at
            # io_layout's arithmetic for a parsed transaction, inline: the call measured
            # about 6% of this precomputation; io_layout covers everything else
            if n_in < 0xFD and outputs_at >= 0:
                witness = tx.size != tx.base_size
                start = 7 if witness else 5
                end = tx.base_size - 2 if witness else tx.base_size - 4
            else:
                start, outputs_at, end = io_layout(tx)
            if outputs_at - start == 41 * n_in:  # no input has a script
                blanks = raw[start:outputs_at]
            else:
                pack = _BLANK.pack
                blanks = b"".join([pack(op[0], op[1], seq) for op, _, seq, _ in tx.vin])
            parts = self._parts = (blanks, raw[outputs_at:end])
        return parts

    def blanks(self) -> bytes:
        """Every input serialized with an empty script, back to back (41 bytes each:
        outpoint, 0x00, sequence). When no input has a script these are the very bytes
        of the transaction."""
        return self._tx_parts()[0]

    def _input_hashes(self) -> tuple[bytes, bytes, bytes]:
        """SHA256 of the outpoints and of the sequences, both cut from ``blanks()``, and
        the double SHA256 of the sequences (BIP143's hashSequence)."""
        hashes = self._in_hashes
        if hashes is None:
            b = (self._parts or self._tx_parts())[0]
            n = len(b) // 41
            if n == 1:
                prevouts, sequences = b[:36], b[37:]
            else:
                cut = _CUTS.get(n) or _cut_inputs(n)
                pieces = cut(b)  # outpoint, sequence, outpoint, sequence, ...
                prevouts = b"".join(pieces[0::2])
                sequences = b"".join(pieces[1::2])
            hashes = self._in_hashes = (
                _sha256(prevouts).digest(),
                *(_SEQUENCE_HASHES.get(sequences) or _sequence_hashes(sequences)),
            )
        return hashes

    # single-SHA256 building blocks (BIP341); BIP143 uses their double hashes
    def sha_prevouts(self) -> bytes:
        return self._input_hashes()[0]

    def sha_sequences(self) -> bytes:
        return self._input_hashes()[1]

    def serialized_outputs(self) -> list[bytes]:
        if self._ser_outputs is None:
            self._ser_outputs = [_ser_out(o) for o in self.tx.vout]
        return self._ser_outputs

    def sha_outputs(self) -> bytes:
        h = self._outputs
        if h is None:
            counted = (self._parts or self._tx_parts())[1]  # skip the count
            h = self._outputs = _sha256(counted[_COUNT_SIZE.get(counted[0], 1) :]).digest()
        return h

    def sha_amounts(self) -> bytes:
        h = self._amounts
        if h is None:
            spent = self.spent_outputs
            assert spent is not None
            values = struct.pack(f"<{len(spent)}q", *map(_VALUE, spent))
            h = self._amounts = _sha256(values).digest()
        return h

    def sha_scriptpubkeys(self) -> bytes:
        h = self._scripts
        if h is None:
            spent = self.spent_outputs
            assert spent is not None
            hasher = _sha256()
            update = hasher.update
            for o in spent:  # fed piece by piece: no joined copy (and no call per script)
                script = o[1]
                n = len(script)
                update(_SIZE1[n] if n < 0xFD else compact_size(n))
                update(script)
            h = self._scripts = hasher.digest()
        return h

    def bip143_hashes(self) -> tuple[bytes, bytes, bytes]:
        """hashPrevouts, hashSequence and hashOutputs (for every hash type but SINGLE/NONE)."""
        return self.bip143_all_parts()[3]

    def bip143_all_parts(self) -> tuple[bytes, bytes, bytes, tuple[bytes, bytes, bytes]]:
        """For SIGHASH_ALL: the BIP143 preimage's bytes before the outpoint (version,
        hashPrevouts, hashSequence), ``blanks()`` (which holds each input's outpoint
        and sequence), the bytes after the sequence (hashOutputs, locktime, hash type)
        and the three hashes."""
        parts = self._h143_all
        if parts is None:
            sp, _, hs = self._in_hashes or self._input_hashes()
            hp = sha256_short(sp).digest()
            ho = sha256_short(self._outputs or self.sha_outputs()).digest()
            raw = self.tx.raw
            parts = self._h143_all = (
                b"".join((raw[:4], hp, hs)),
                (self._parts or self._tx_parts())[0],
                b"".join((ho, raw[-4:], _ALL)),
                (hp, hs, ho),
            )
        return parts

    def taproot_keypath_prefix(self, hash_type: int) -> bytes:
        """For a key-path spend without annex and hash type DEFAULT or ALL: the tagged
        SigMsg up to the input index, the same for every input of the transaction."""
        prefix = self._tap_prefix
        if prefix is None or prefix[65] != hash_type:
            raw = self.tx.raw
            sp, ss, _ = self._in_hashes or self._input_hashes()
            prefix = b"".join(
                (
                    _TAPSIGHASH_TAG,
                    b"\x00",
                    _HASH_TYPE_BYTE[hash_type],
                    raw[:4],  # version
                    raw[-4:],  # locktime
                    sp,
                    self._amounts or self.sha_amounts(),
                    self._scripts or self.sha_scriptpubkeys(),
                    ss,
                    self._outputs or self.sha_outputs(),
                    b"\x00",
                )
            )
            self._tap_prefix = prefix
        return prefix

    def legacy_all_parts(self) -> tuple[bytes, bytes, bytes]:
        """For legacy SIGHASH_ALL: (version and input count, ``blanks()``, the outputs
        with their count, locktime and hash type)."""
        parts = self._legacy_all
        if parts is None:
            tx = self.tx
            raw = tx.raw
            blanks, outputs = self._tx_parts()
            n_in = len(tx.vin)
            parts = self._legacy_all = (
                raw[:4] + (_SIZE1[n_in] if n_in < 0xFD else compact_size(n_in)),
                blanks,
                outputs + raw[-4:] + _ALL,
            )
        return parts


def legacy_sighash(
    script_code: bytes, tx: Tx, n_in: int, hash_type: int, pre: PrecomputedTx | None = None
) -> bytes:
    """Core's SignatureHash for SigVersion::BASE, quirks included.

    ``script_code`` is used as given except that OP_CODESEPARATORs are removed;
    FindAndDelete of the signature is the caller's job (as in Core).
    """
    if n_in >= len(tx.vin):
        return ONE_HASH
    base = hash_type & 0x1F
    anyone = bool(hash_type & SIGHASH_ANYONECANPAY)
    single = base == SIGHASH_SINGLE
    none = base == SIGHASH_NONE
    if single and n_in >= len(tx.vout):
        return ONE_HASH
    if pre is None:
        pre = PrecomputedTx(tx)
    code = remove_codeseparators(script_code)
    code_ser = compact_size(len(code)) + code
    if hash_type == SIGHASH_ALL:  # the common case: per-transaction pieces precomputed
        head, blanks, tail = pre.legacy_all_parts()
        p = 41 * n_in  # this input's outpoint, then its script instead of 0x00
        return sha256d(b"".join((head, blanks[: p + 36], code_ser, blanks[p + 37 :], tail)))
    blanks = pre.blanks()
    raw = tx.raw
    parts = [raw[:4]]  # version
    p = 41 * n_in
    if anyone:
        parts += [b"\x01", blanks[p : p + 36], code_ser, blanks[p + 37 : p + 41]]
    else:
        parts.append(compact_size(len(tx.vin)))
        zero_seq = single or none
        for k in range(len(tx.vin)):
            q = 41 * k
            if k == n_in:
                parts += [blanks[q : q + 36], code_ser, blanks[q + 37 : q + 41]]
            elif zero_seq:
                parts += [blanks[q : q + 37], b"\x00\x00\x00\x00"]
            else:
                parts.append(blanks[q : q + 41])
    if none:
        parts.append(b"\x00")
    elif single:
        parts.append(compact_size(n_in + 1))
        parts.extend([_EMPTY_OUT] * n_in)
        parts.append(pre.serialized_outputs()[n_in])
    else:
        parts.append(compact_size(len(tx.vout)))
        parts.extend(pre.serialized_outputs())
    parts.append(raw[-4:])  # locktime
    parts.append(_I32.pack(hash_type))
    return sha256d(b"".join(parts))


def bip143_sighash(
    script_code: bytes, tx: Tx, n_in: int, hash_type: int, amount: int, pre: PrecomputedTx
) -> bytes:
    """BIP143 signature hash for segwit v0 (Core's SignatureHash, SigVersion::WITNESS_V0)."""
    base = hash_type & 0x1F
    zero = bytes(32)
    hash_prevouts = hash_sequence = hash_outputs = zero
    anyone = hash_type & SIGHASH_ANYONECANPAY
    hp, hs, ho = pre.bip143_hashes()
    if not anyone:
        hash_prevouts = hp
        if base != SIGHASH_SINGLE and base != SIGHASH_NONE:
            hash_sequence = hs
    if base != SIGHASH_SINGLE and base != SIGHASH_NONE:
        hash_outputs = ho
    elif base == SIGHASH_SINGLE and n_in < len(tx.vout):
        hash_outputs = sha256d(pre.serialized_outputs()[n_in])
    txin = tx.vin[n_in]
    data = b"".join(
        (
            _I32.pack(tx.version),
            hash_prevouts,
            hash_sequence,
            txin.prevout.txid,
            _U32.pack(txin.prevout.n),
            compact_size(len(script_code)),
            script_code,
            _Q.pack(amount),
            _U32.pack(txin.sequence),
            hash_outputs,
            _U32.pack(tx.locktime),
            _I32.pack(hash_type),
        )
    )
    return sha256d(data)


def taproot_sighash(
    pre: PrecomputedTx,
    n_in: int,
    hash_type: int,
    annex_hash: bytes | None = None,
    tapleaf_hash: bytes | None = None,
    codesep_pos: int = 0xFFFFFFFF,
) -> bytes | None:
    """BIP341/342 signature hash (Core's SignatureHashSchnorr); None where Core returns false.

    ``tapleaf_hash`` set means a tapscript (ext_flag 1) signature.
    """
    msg = taproot_sigmsg(pre, n_in, hash_type, annex_hash, tapleaf_hash, codesep_pos)
    if msg is None:
        return None
    h = tagged_hasher("TapSighash").copy()
    h.update(msg)
    return h.digest()


def taproot_sigmsg(
    pre: PrecomputedTx,
    n_in: int,
    hash_type: int,
    annex_hash: bytes | None = None,
    tapleaf_hash: bytes | None = None,
    codesep_pos: int = 0xFFFFFFFF,
) -> bytes | None:
    """The BIP341 SigMsg with the epoch byte in front: what the TapSighash tag hashes."""
    if not (hash_type <= 0x03 or 0x81 <= hash_type <= 0x83):
        return None
    tx = pre.tx
    spent = pre.spent_outputs
    assert spent is not None, "taproot signature hash needs the spent outputs"
    output_type = SIGHASH_ALL if hash_type == SIGHASH_DEFAULT else hash_type & 3
    anyone = hash_type & SIGHASH_ANYONECANPAY
    ext_flag = 1 if tapleaf_hash is not None else 0
    parts = [b"\x00", bytes((hash_type,)), _I32.pack(tx.version), _U32.pack(tx.locktime)]
    if not anyone:
        parts += [pre.sha_prevouts(), pre.sha_amounts(), pre.sha_scriptpubkeys(),
                  pre.sha_sequences()]  # fmt: skip
    if output_type == SIGHASH_ALL:
        parts.append(pre.sha_outputs())
    parts.append(bytes(((ext_flag << 1) + (1 if annex_hash is not None else 0),)))
    if anyone:
        txin = tx.vin[n_in]
        parts += [txin.prevout.txid, _U32.pack(txin.prevout.n), _ser_out(spent[n_in]),
                  _U32.pack(txin.sequence)]  # fmt: skip
    else:
        parts.append(_U32.pack(n_in))
    if annex_hash is not None:
        parts.append(annex_hash)
    if output_type == SIGHASH_SINGLE:
        if n_in >= len(tx.vout):
            return None
        parts.append(_sha256(pre.serialized_outputs()[n_in]).digest())
    if tapleaf_hash is not None:
        parts += [tapleaf_hash, b"\x00", _U32.pack(codesep_pos)]
    return b"".join(parts)
