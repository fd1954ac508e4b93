"""Proof of work: compact targets, PoW checks, chain work and difficulty retargeting.

Everything here mirrors Bitcoin Core's ``arith_uint256`` (SetCompact / GetCompact)
and ``pow.cpp`` bit for bit, including 256-bit wrap-around where Core's fixed-width
arithmetic would wrap. Targets are plain non-negative ``int`` values; block hashes
are 32 bytes in internal order and compare as little-endian integers.

Retargeting needs a few facts about ancestors (height, time, nBits). Instead of a
block index, callers pass the last block's data as a :class:`PowHeader` and an
``ancestor(height)`` callback that returns the ancestor of that block at the given
height. The block index, a list of headers or a test fixture can all provide it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from pyrite.consensus.params import ChainParams

__all__ = [
    "AncestorLookup",
    "HeaderInfo",
    "PowHeader",
    "block_proof",
    "calculate_next_work_required",
    "check_proof_of_work",
    "derive_target",
    "get_compact",
    "get_next_work_required",
    "hash_to_int",
    "permitted_difficulty_transition",
    "set_compact",
    "target_to_compact",
]

_MASK256 = (1 << 256) - 1
_MASK32 = 0xFFFFFFFF


class PowHeader(Protocol):
    """What retargeting needs to know about one block of the chain."""

    @property
    def height(self) -> int: ...

    @property
    def time(self) -> int: ...

    @property
    def bits(self) -> int: ...


AncestorLookup = Callable[[int], PowHeader]
"""``ancestor(h)`` returns the block at height ``h`` on the chain being extended."""


@dataclass(frozen=True, slots=True)
class HeaderInfo:
    """A minimal :class:`PowHeader` (height, nTime, nBits)."""

    height: int
    time: int
    bits: int


# --------------------------------------------------------------------------- compact


def set_compact(compact: int) -> tuple[int, bool, bool]:
    """Decode nBits like ``arith_uint256::SetCompact``: ``(target, negative, overflow)``.

    The top byte is a size in bytes, the low 23 bits the mantissa, and bit 23 a
    sign. The returned target is the 256-bit value Core would hold (bits shifted
    past 2**256 are lost), and it ignores the sign bit; ``negative`` and
    ``overflow`` are the flags Core reports. A zero mantissa is never negative
    and never overflows.
    """
    if not 0 <= compact <= _MASK32:
        raise ValueError("compact nBits must be a 32-bit unsigned integer")
    size = compact >> 24
    word = compact & 0x007FFFFF
    if size <= 3:
        word >>= 8 * (3 - size)
        target = word
    else:
        target = (word << (8 * (size - 3))) & _MASK256
    negative = word != 0 and (compact & 0x00800000) != 0
    overflow = word != 0 and (
        size > 34 or (word > 0xFF and size > 33) or (word > 0xFFFF and size > 32)
    )
    return target, negative, overflow


def get_compact(target: int, negative: bool = False) -> int:
    """Encode a 256-bit value like ``arith_uint256::GetCompact``."""
    if not 0 <= target <= _MASK256:
        raise ValueError("target must be a 256-bit unsigned integer")
    size = (target.bit_length() + 7) // 8
    if size <= 3:
        mantissa = (target << (8 * (3 - size))) & _MASK32
    else:
        mantissa = (target >> (8 * (size - 3))) & _MASK32
    # Bit 23 is the sign, so a mantissa that would set it moves up one byte.
    if mantissa & 0x00800000:
        mantissa >>= 8
        size += 1
    compact = mantissa | (size << 24)
    if negative and mantissa & 0x007FFFFF:
        compact |= 0x00800000
    return compact


def target_to_compact(target: int) -> int:
    """Alias of :func:`get_compact` for a non-negative target."""
    return get_compact(target)


def hash_to_int(block_hash: bytes) -> int:
    """A 32-byte hash in internal order as Core's ``UintToArith256`` sees it."""
    if len(block_hash) != 32:
        raise ValueError("hash must be 32 bytes")
    return int.from_bytes(block_hash, "little")


# --------------------------------------------------------------------------- checks


def derive_target(bits: int, pow_limit: int) -> int | None:
    """Core's DeriveTarget: the target for ``bits``, or None if it is negative, zero,
    overflowing or easier than ``pow_limit``."""
    target, negative, overflow = set_compact(bits)
    if negative or target == 0 or overflow or target > pow_limit:
        return None
    return target


def check_proof_of_work(block_hash: bytes, bits: int, params: ChainParams) -> bool:
    """Core's CheckProofOfWork: ``bits`` is in range and the hash does not exceed it."""
    target = derive_target(bits, params.pow_limit)
    if target is None:
        return False
    return hash_to_int(block_hash) <= target


def block_proof(bits: int) -> int:
    """Core's GetBlockProof: expected number of hashes for a block at ``bits``.

    This is ``2**256 // (target + 1)``, computed in Core's 256-bit form
    ``~target // (target + 1) + 1``; invalid encodings count as zero work.
    """
    target, negative, overflow = set_compact(bits)
    if negative or overflow or target == 0:
        return 0
    return ((_MASK256 ^ target) // (target + 1)) + 1


_INT64_MAX = (1 << 63) - 1


def block_proof_equivalent_time(
    to_work: int, from_work: int, tip_bits: int, params: ChainParams
) -> int:
    """Core's GetBlockProofEquivalentTime: the chain work from one block to another
    (``to_work - from_work``, as chain works) in seconds of blocks mined at ``tip_bits``
    at the target spacing; negative when ``to_work`` is the smaller, and clamped to the
    int64 range as Core's is."""
    if to_work > from_work:
        r, sign = to_work - from_work, 1
    else:
        r, sign = from_work - to_work, -1
    proof = block_proof(tip_bits)
    if proof == 0:  # not reachable for a valid tip; Core would divide by zero
        return sign * _INT64_MAX
    r = ((r * params.pow_target_spacing) & _MASK256) // proof
    if r.bit_length() > 63:
        return sign * _INT64_MAX
    return sign * r


# --------------------------------------------------------------------------- retarget


def _mul_u32(value: int, factor: int) -> int:
    # ``arith_uint256 *= int64`` picks the uint32_t overload: the factor is
    # truncated to 32 bits and the product wraps at 2**256.
    return (value * (factor & _MASK32)) & _MASK256


def calculate_next_work_required(
    last: PowHeader,
    first_block_time: int,
    params: ChainParams,
    ancestor: AncestorLookup | None = None,
) -> int:
    """Core's CalculateNextWorkRequired for the block after ``last`` (a retarget block).

    ``first_block_time`` is the time of the first block of the period that ends at
    ``last``. With BIP94 (testnet4) the scaled target is that first block's nBits
    rather than ``last``'s, so ``ancestor`` is required in that case.
    """
    if params.no_retargeting:
        return last.bits

    timespan = params.pow_target_timespan
    actual = last.time - first_block_time
    if actual < timespan // 4:
        actual = timespan // 4
    if actual > timespan * 4:
        actual = timespan * 4

    if params.enforce_bip94:
        if ancestor is None:
            raise ValueError("BIP94 retargeting needs the ancestor lookup")
        first_height = last.height - (params.difficulty_adjustment_interval - 1)
        base_bits = ancestor(first_height).bits
    else:
        base_bits = last.bits
    new_target, _, _ = set_compact(base_bits)

    new_target = _mul_u32(new_target, actual)
    new_target //= timespan
    if new_target > params.pow_limit:
        new_target = params.pow_limit
    return get_compact(new_target)


def get_next_work_required(
    last: PowHeader,
    new_block_time: int,
    params: ChainParams,
    ancestor: AncestorLookup,
) -> int:
    """Core's GetNextWorkRequired: the nBits the block after ``last`` must carry.

    ``new_block_time`` is the new header's nTime (only the testnet min-difficulty
    rule looks at it). ``ancestor(h)`` must return the block at height ``h`` for any
    ``0 <= h <= last.height`` on ``last``'s chain.
    """
    interval = params.difficulty_adjustment_interval
    pow_limit_bits = get_compact(params.pow_limit)

    if (last.height + 1) % interval != 0:
        if params.allow_min_difficulty_blocks:
            # Testnet: a block more than twice the target spacing after its parent
            # may use the minimum difficulty.
            if new_block_time > last.time + params.pow_target_spacing * 2:
                return pow_limit_bits
            # Otherwise use the bits of the last block that was not such a
            # min-difficulty block, stopping at the start of the period.
            block: PowHeader = last
            while (
                block.height > 0 and block.height % interval != 0 and block.bits == pow_limit_bits
            ):
                block = ancestor(block.height - 1)
            return block.bits
        return last.bits

    first_height = last.height - (interval - 1)
    if first_height < 0:
        raise ValueError("a retarget needs a full difficulty period of ancestors")
    first = ancestor(first_height)
    return calculate_next_work_required(last, first.time, params, ancestor)


def permitted_difficulty_transition(
    params: ChainParams, height: int, old_bits: int, new_bits: int
) -> bool:
    """Core's PermittedDifficultyTransition, used to sanity-check headers without context.

    On a retarget height the new target must lie within what the 4x clamp allows
    (after the same compact rounding Core applies); elsewhere nBits must not change.
    Networks that allow min-difficulty blocks accept anything.
    """
    if params.allow_min_difficulty_blocks:
        return True

    if height % params.difficulty_adjustment_interval == 0:
        timespan = params.pow_target_timespan
        observed, _, _ = set_compact(new_bits)
        old_target, _, _ = set_compact(old_bits)

        largest = _mul_u32(old_target, timespan * 4) // timespan
        largest = min(largest, params.pow_limit)
        maximum_new, _, _ = set_compact(get_compact(largest))
        if maximum_new < observed:
            return False

        smallest = _mul_u32(old_target, timespan // 4) // timespan
        smallest = min(smallest, params.pow_limit)
        minimum_new, _, _ = set_compact(get_compact(smallest))
        if minimum_new > observed:
            return False
    elif old_bits != new_bits:
        return False
    return True
