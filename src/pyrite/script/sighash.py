"""Signature hashes: legacy (with Core's quirks), BIP143 (segwit v0), BIP341 (taproot).

``PrecomputedTx`` mirrors Core's PrecomputedTransactionData: the per-transaction
hashes are computed once, lazily, and shared by every input's check.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Sequence

from pyrite.crypto.hashes import sha256d, tagged_hasher
from pyrite.encoding.bytes import compact_size
from pyrite.primitives.tx import Tx, TxOut
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
_OUTPOINT = struct.Struct("<32sI")
_I32 = struct.Struct("<i")
_Q = struct.Struct("<q")
_EMPTY_OUT = _Q.pack(-1) + b"\x00"
_ALL = b"\x01\x00\x00\x00"


_SIZE1 = tuple(bytes((i,)) for i in range(0xFD))


def _var_bytes(b: bytes) -> bytes:
    n = len(b)
    return (_SIZE1[n] if n < 0xFD else compact_size(n)) + b


def _ser_out(o: TxOut) -> bytes:
    return _Q.pack(o.value) + _var_bytes(o.script_pubkey)


class PrecomputedTx:
    """Per-transaction data for signature checks (Core's PrecomputedTransactionData).

    ``spent_outputs`` (one TxOut per input) is needed for taproot signature hashes.
    """

    __slots__ = (
        "_amounts",
        "_h143",
        "_h143_all",
        "_legacy_all",
        "_legacy_parts",
        "_outputs",
        "_prevouts",
        "_scripts",
        "_sequences",
        "_ser_outputs",
        "_tap_prefix",
        "spent_outputs",
        "tx",
    )

    def __init__(self, tx: Tx, spent_outputs: Sequence[TxOut] | None = None) -> None:
        self.tx = tx
        self.spent_outputs = tuple(spent_outputs) if spent_outputs is not None else None
        self._prevouts: bytes | None = None
        self._sequences: bytes | None = None
        self._outputs: bytes | None = None
        self._amounts: bytes | None = None
        self._scripts: bytes | None = None
        self._h143: tuple[bytes, bytes, bytes] | None = None
        self._ser_outputs: list[bytes] | None = None
        self._legacy_parts: tuple[bytes, list[bytes], list[bytes], bytes] | None = None
        self._legacy_all: tuple[bytes, list[bytes], list[bytes], list[bytes], bytes] | None = None
        self._h143_all: tuple[bytes, bytes] | None = None
        self._tap_prefix: dict[int, bytes] = {}

    # single-SHA256 building blocks (BIP341); BIP143 uses their double hashes
    def sha_prevouts(self) -> bytes:
        if self._prevouts is None:
            self._prevouts = _sha256(b"".join(self.legacy_parts()[1])).digest()
        return self._prevouts

    def sha_sequences(self) -> bytes:
        if self._sequences is None:
            vin = self.tx.vin
            seqs = struct.pack(f"<{len(vin)}I", *[i.sequence for i in vin])
            self._sequences = _sha256(seqs).digest()
        return self._sequences

    def serialized_outputs(self) -> list[bytes]:
        if self._ser_outputs is None:
            self._ser_outputs = [_ser_out(o) for o in self.tx.vout]
        return self._ser_outputs

    def sha_outputs(self) -> bytes:
        if self._outputs is None:
            self._outputs = _sha256(b"".join(self.serialized_outputs())).digest()
        return self._outputs

    def sha_amounts(self) -> bytes:
        if self._amounts is None:
            spent = self.spent_outputs
            assert spent is not None
            values = struct.pack(f"<{len(spent)}q", *[o.value for o in spent])
            self._amounts = _sha256(values).digest()
        return self._amounts

    def sha_scriptpubkeys(self) -> bytes:
        if self._scripts is None:
            assert self.spent_outputs is not None
            self._scripts = _sha256(
                b"".join([_var_bytes(o.script_pubkey) for o in self.spent_outputs])
            ).digest()
        return self._scripts

    def bip143_hashes(self) -> tuple[bytes, bytes, bytes]:
        if self._h143 is None:
            self._h143 = (
                _sha256(self.sha_prevouts()).digest(),
                _sha256(self.sha_sequences()).digest(),
                _sha256(self.sha_outputs()).digest(),
            )
        return self._h143

    def bip143_all_parts(self) -> tuple[bytes, bytes]:
        """For SIGHASH_ALL: the BIP143 preimage's bytes before the outpoint (version,
        hashPrevouts, hashSequence) and after the sequence (hashOutputs, locktime, hash type)."""
        if self._h143_all is None:
            hp, hs, ho = self.bip143_hashes()
            self._h143_all = (
                _I32.pack(self.tx.version) + hp + hs,
                ho + _U32.pack(self.tx.locktime) + b"\x01\x00\x00\x00",
            )
        return self._h143_all

    def taproot_keypath_prefix(self, hash_type: int) -> bytes:
        """For a key-path spend without annex and hash type DEFAULT or ALL: the tagged
        SigMsg up to the input index, the same for every input of the transaction."""
        prefix = self._tap_prefix.get(hash_type)
        if prefix is None:
            tx = self.tx
            prefix = b"".join(
                (
                    _TAPSIGHASH_TAG,
                    b"\x00",
                    bytes((hash_type,)),
                    _I32.pack(tx.version),
                    _U32.pack(tx.locktime),
                    self.sha_prevouts(),
                    self.sha_amounts(),
                    self.sha_scriptpubkeys(),
                    self.sha_sequences(),
                    self.sha_outputs(),
                    b"\x00",
                )
            )
            self._tap_prefix[hash_type] = prefix
        return prefix

    def legacy_all_parts(self) -> tuple[bytes, list[bytes], list[bytes], list[bytes], bytes]:
        """For legacy SIGHASH_ALL: (version and input count, each input with an empty
        script, each prevout, each sequence, the outputs with locktime and hash type)."""
        if self._legacy_all is None:
            version, prevouts, sequences, locktime = self.legacy_parts()
            tx = self.tx
            self._legacy_all = (
                version + compact_size(len(tx.vin)),
                [p + b"\x00" + q for p, q in zip(prevouts, sequences, strict=True)],
                prevouts,
                sequences,
                b"".join((compact_size(len(tx.vout)), *self.serialized_outputs(), locktime, _ALL)),
            )
        return self._legacy_all

    def legacy_parts(self) -> tuple[bytes, list[bytes], list[bytes], bytes]:
        """(version, per-input prevout bytes, per-input sequence bytes, locktime)."""
        if self._legacy_parts is None:
            tx = self.tx
            pack_op = _OUTPOINT.pack
            pack_u32 = _U32.pack
            self._legacy_parts = (
                _I32.pack(tx.version),
                [pack_op(*i.prevout) for i in tx.vin],
                [pack_u32(i.sequence) for i in tx.vin],
                pack_u32(tx.locktime),
            )
        return self._legacy_parts


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
        head, blanks, prevouts, sequences, tail = pre.legacy_all_parts()
        return sha256d(
            b"".join(
                (
                    head,
                    *blanks[:n_in],
                    prevouts[n_in],
                    code_ser,
                    sequences[n_in],
                    *blanks[n_in + 1 :],
                    tail,
                )
            )
        )
    version, prevouts, sequences, locktime = pre.legacy_parts()
    parts = [version]
    if anyone:
        parts += [b"\x01", prevouts[n_in], code_ser, sequences[n_in]]
    else:
        parts.append(compact_size(len(tx.vin)))
        zero_seq = single or none
        for k in range(len(tx.vin)):
            parts.append(prevouts[k])
            if k == n_in:
                parts.append(code_ser)
                parts.append(sequences[k])
            else:
                parts.append(b"\x00")
                parts.append(b"\x00\x00\x00\x00" if zero_seq else sequences[k])
    if none:
        parts.append(b"\x00")
    elif single:
        parts.append(compact_size(n_in + 1))
        parts.extend([_EMPTY_OUT] * n_in)
        parts.append(pre.serialized_outputs()[n_in])
    else:
        parts.append(compact_size(len(tx.vout)))
        parts.extend(pre.serialized_outputs())
    parts.append(locktime)
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
