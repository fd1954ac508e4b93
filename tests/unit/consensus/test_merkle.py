"""Merkle roots, the CVE-2012-2459 ``mutated`` flag, branches and witness commitments."""

from __future__ import annotations

from functools import cache

import pytest

from pyrite.consensus.merkle import (
    block_merkle_root,
    block_witness_merkle_root,
    merkle_branch,
    merkle_root,
    merkle_root_from_branch,
)
from pyrite.crypto.hashes import sha256d
from pyrite.primitives import Block
from tests.conftest import vector_path

WITNESS_COMMITMENT_PREFIX = bytes.fromhex("6a24aa21a9ed")


@cache
def load_block(*parts: str) -> Block:
    return Block.from_bytes(vector_path(*parts).read_bytes())


def block_413567() -> Block:
    return load_block("bitcoin-core", "src", "bench", "data", "block413567.raw")


def bcoin_block(name: str) -> Block:
    return load_block("bcoin", "test", "data", f"block{name}.raw")


def leaves(n: int) -> list[bytes]:
    return [sha256d(i.to_bytes(4, "little")) for i in range(n)]


def reference_root(hashes: list[bytes]) -> bytes:
    """Textbook recursive definition, written independently of the module under test."""
    if not hashes:
        return bytes(32)
    if len(hashes) == 1:
        return hashes[0]
    padded = [*hashes, hashes[-1]] if len(hashes) % 2 else hashes
    return reference_root([sha256d(padded[i] + padded[i + 1]) for i in range(0, len(padded), 2)])


def witness_commitment(block: Block) -> bytes | None:
    """Core's GetWitnessCommitmentIndex: the last matching coinbase output wins."""
    found = None
    for out in block.txs[0].vout:
        spk = out.script_pubkey
        if len(spk) >= 38 and spk.startswith(WITNESS_COMMITMENT_PREFIX):
            found = spk[6:38]
    return found


# --------------------------------------------------------------------------- basics


def test_empty_and_single() -> None:
    assert merkle_root([]) == (bytes(32), False)
    h = sha256d(b"x")
    assert merkle_root([h]) == (h, False)


def test_two_leaves() -> None:
    a, b = leaves(2)
    assert merkle_root([a, b]) == (sha256d(a + b), False)


@pytest.mark.parametrize("n", range(34))
def test_matches_reference(n: int) -> None:
    hs = leaves(n)
    root, mutated = merkle_root(hs)
    assert root == reference_root(hs)
    assert not mutated


def test_input_not_modified() -> None:
    hs = leaves(5)
    copy = list(hs)
    merkle_root(hs)
    assert hs == copy


# --------------------------------------------------------------------------- real blocks


def test_block_413567_root() -> None:
    block = block_413567()
    assert block.hash_hex() == "0000000000000000025aff8be8a55df8f89c77296db6198f272d6577325d4069"
    assert len(block.txs) == 1557
    root, mutated = block_merkle_root(block)
    assert root == block.header.merkle_root
    assert not mutated


@pytest.mark.parametrize(
    "name", ["300025", "1", "426884", "482683", "898352", "928828", "928927", "1087400"]
)
def test_bcoin_block_roots(name: str) -> None:
    block = bcoin_block(name)
    root, mutated = block_merkle_root(block)
    assert root == block.header.merkle_root
    assert not mutated


# --------------------------------------------------------------------------- mutation


def test_duplicated_last_two_txs_is_mutated() -> None:
    # Six leaves: the second level has three nodes, so its last node is paired with
    # itself. Repeating the last two leaves rebuilds exactly that pairing.
    hs = [tx.txid for tx in block_413567().txs[:6]]
    root, mutated = merkle_root(hs)
    assert not mutated
    forged = [*hs, hs[4], hs[5]]
    forged_root, forged_mutated = merkle_root(forged)
    assert forged_root == root
    assert forged_mutated


def test_duplicated_last_tx_of_real_block_is_mutated() -> None:
    block = block_413567()
    assert len(block.txs) % 2 == 1
    forged = Block(block.header, (*block.txs, block.txs[-1]))
    root, mutated = block_merkle_root(forged)
    assert root == block.header.merkle_root
    assert mutated


def test_duplicated_last_two_txs_of_real_block_is_mutated() -> None:
    # Take a prefix of 1554 txs: the level above has 777 nodes (odd), so its last
    # node is paired with itself, which repeating the last two txids reproduces.
    txs = block_413567().txs[:1554]
    hs = [tx.txid for tx in txs]
    root, mutated = merkle_root(hs)
    assert not mutated
    forged_root, forged_mutated = merkle_root([*hs, hs[-2], hs[-1]])
    assert forged_root == root
    assert forged_mutated


def test_equal_pair_is_mutated_even_if_root_differs() -> None:
    # Core flags any equal adjacent pair, not only the ones that keep the root.
    a, b, c = leaves(3)
    _, mutated = merkle_root([a, a, b, c])
    assert mutated
    _, mutated = merkle_root([a, b, a, b])  # equal pair appears one level up
    assert mutated


def test_equal_but_not_adjacent_pair_is_not_mutated() -> None:
    a, b, c = leaves(3)
    _, mutated = merkle_root([a, b, b, c])  # b's sit at positions 1 and 2
    assert not mutated


# --------------------------------------------------------------------------- branches


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 7, 8, 9, 16, 17])
def test_branches_rebuild_root(n: int) -> None:
    hs = leaves(n)
    root, _ = merkle_root(hs)
    for i, leaf in enumerate(hs):
        branch = merkle_branch(hs, i)
        assert merkle_root_from_branch(leaf, branch, i) == root


def test_branches_on_real_block() -> None:
    block = block_413567()
    hs = [tx.txid for tx in block.txs]
    for i in (0, 1, 777, 1555, 1556):
        branch = merkle_branch(hs, i)
        assert len(branch) == 11  # ceil(log2(1557))
        assert merkle_root_from_branch(hs[i], branch, i) == block.header.merkle_root
    assert merkle_root_from_branch(hs[1], merkle_branch(hs, 0), 0) != block.header.merkle_root


def test_branch_index_out_of_range() -> None:
    with pytest.raises(IndexError):
        merkle_branch(leaves(3), 3)
    with pytest.raises(IndexError):
        merkle_branch([], 0)


# --------------------------------------------------------------------------- witness


@pytest.mark.parametrize(
    "name", ["928816", "928831", "928848", "928849", "928927", "1087400", "482683"]
)
def test_witness_commitment(name: str) -> None:
    block = bcoin_block(name)
    commitment = witness_commitment(block)
    assert commitment is not None
    nonce = block.txs[0].vin[0].witness
    assert len(nonce) == 1 and len(nonce[0]) == 32
    assert sha256d(block_witness_merkle_root(block) + nonce[0]) == commitment


def test_witness_root_uses_zero_coinbase() -> None:
    block = bcoin_block("928927")
    expected, _ = merkle_root([bytes(32)] + [tx.wtxid for tx in block.txs[1:]])
    assert block_witness_merkle_root(block) == expected
    # With the real coinbase wtxid the commitment would not match.
    wrong, _ = merkle_root([tx.wtxid for tx in block.txs])
    nonce = block.txs[0].vin[0].witness[0]
    assert sha256d(wrong + nonce) != witness_commitment(block)


def test_pre_segwit_block_has_no_commitment() -> None:
    # bcoin's block300025 is from 2014, long before BIP141: there is nothing to
    # commit to, and its txids and wtxids coincide.
    block = bcoin_block("300025")
    assert witness_commitment(block) is None
    assert all(tx.txid == tx.wtxid for tx in block.txs)
    witness_root = block_witness_merkle_root(block)
    expected, _ = merkle_root([bytes(32)] + [tx.txid for tx in block.txs[1:]])
    assert witness_root == expected
