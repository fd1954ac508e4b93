"""Transaction merkle trees, as Bitcoin Core builds them.

Leaves and roots are 32-byte hashes in internal byte order (the order
``sha256d`` returns). A level with an odd number of nodes pairs its last node
with itself. That rule makes two different transaction lists produce the same
root when one of them repeats a trailing run of transactions (CVE-2012-2459),
so :func:`merkle_root` also reports ``mutated``: true when some level holds
two equal nodes side by side, which is how Core's ``ComputeMerkleRoot``
detects the ambiguity. A block with a mutated tree must be rejected as
``bad-txns-duplicate`` without marking its hash invalid.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from hashlib import sha256 as _sha256
from operator import eq

from pyrite.crypto.hashes import sha256_short, sha256d
from pyrite.primitives import Block

__all__ = [
    "block_merkle_root",
    "block_witness_merkle_root",
    "merkle_branch",
    "merkle_root",
    "merkle_root_from_branch",
]

_ZERO = bytes(32)


def _next_level(level: list[bytes]) -> list[bytes]:
    if len(level) & 1:
        level.append(level[-1])
    h = _sha256
    s = sha256_short
    pairs = iter(level)  # zip(pairs, pairs): (0, 1), (2, 3), ... without copying the level
    return [s(h(a + b).digest()).digest() for a, b in zip(pairs, pairs)]  # noqa: B905


_set_merkle_memo: Callable[[Block, tuple[bytes, bool]], None] = vars(Block)["merkle_memo"].__set__


def merkle_root(hashes: Sequence[bytes]) -> tuple[bytes, bool]:
    """Return ``(root, mutated)`` for the given leaves (Core's ComputeMerkleRoot).

    An empty list gives the all-zero hash. A single leaf is its own root.
    ``mutated`` is true when any level contains an adjacent equal pair at an
    even position, i.e. the list could be shortened without changing the root.
    """
    level = list(hashes)
    mutated = False
    while len(level) > 1:
        if not mutated:
            # pairs (0, 1), (2, 3), ...; a lone last node has no partner yet
            mutated = any(map(eq, level[0::2], level[1::2]))
        level = _next_level(level)
    if not level:
        return _ZERO, mutated
    return level[0], mutated


def block_merkle_root(block: Block) -> tuple[bytes, bool]:
    """Merkle root over the block's txids, plus Core's ``mutated`` flag (computed once
    per block object)."""
    memo = block.merkle_memo
    if memo is None:
        memo = merkle_root([tx.txid for tx in block.txs])
        _set_merkle_memo(block, memo)
    return memo


def block_witness_merkle_root(block: Block) -> bytes:
    """BIP141 witness root: the merkle root of the wtxids, the coinbase's taken as zero.

    Like Core's BlockWitnessMerkleRoot, the duplicate check is not reported here:
    a witness tree can only repeat what the txid tree already repeats.
    """
    leaves = [_ZERO] + [tx.wtxid for tx in block.txs[1:]] if block.txs else []
    return merkle_root(leaves)[0]


def merkle_branch(hashes: Sequence[bytes], index: int) -> list[bytes]:
    """The sibling hashes that connect leaf ``index`` to the root, bottom level first.

    Levels are padded exactly as in :func:`merkle_root`, so the sibling of a
    lone last node is that node itself.
    """
    if not 0 <= index < len(hashes):
        raise IndexError(f"leaf index {index} outside 0..{len(hashes) - 1}")
    level = list(hashes)
    branch: list[bytes] = []
    pos = index
    while len(level) > 1:
        sibling = pos ^ 1
        branch.append(level[sibling] if sibling < len(level) else level[pos])
        level = _next_level(level)
        pos >>= 1
    return branch


def merkle_root_from_branch(leaf: bytes, branch: Sequence[bytes], index: int) -> bytes:
    """Fold ``leaf`` up through ``branch``; bit ``k`` of ``index`` says which side it is on."""
    if index < 0:
        raise ValueError("leaf index must not be negative")
    node = leaf
    for sibling in branch:
        node = sha256d(sibling + node) if index & 1 else sha256d(node + sibling)
        index >>= 1
    return node
