"""libbitcoinkernel (Bitcoin Core's own validation engine, via py-bitcoinkernel) as the
judge: every block of the invalid-block suite must be refused by the kernel too (its tip
does not move), and every block that sits exactly on a limit must be accepted by both.

The kernel follows the same chain as pyrite: before each case it is given every block
pyrite has connected since. One case is left out: time-too-new is judged against the
clock, and the kernel uses the real time while these chains live in 2011 (pyrite's
suite tests it with its own clock).
"""

from __future__ import annotations

import contextlib
import ctypes
from collections.abc import Iterator
from pathlib import Path

import pbk
import pytest

from pyrite.primitives import Block
from tests.integration.chainutil import roundtrip
from tests.integration.test_invalid_blocks import (
    CASES,
    VALID_CASES,
    Case,
    Env,
    _connect_valid_block_after,
    build_env,
)

JUDGED = [c for c in CASES if c.reason != "time-too-new"]


class Kernel:
    def __init__(self, datadir: Path) -> None:
        self.ctx = pbk.make_context(pbk.ChainType.REGTEST)
        opts = pbk.ChainstateManagerOptions(self.ctx, str(datadir), str(datadir / "blocks"))
        self.cm = pbk.ChainstateManager(opts)
        self.fed = 0  # pyrite heights already given to the kernel

    def tip_hash(self) -> bytes:
        chain = self.cm.get_active_chain()
        entry = chain.block_tree_entries[chain.height]
        return bytes(entry.block_hash)

    def submit(self, raw: bytes) -> None:
        block = pbk.Block.__new__(pbk.Block)
        buf = (ctypes.c_ubyte * len(raw)).from_buffer_copy(raw)
        super(pbk.Block, block).__init__(buf, len(raw))
        # an invalid block may raise ProcessBlockException; we judge by the tip
        with contextlib.suppress(Exception):
            self.cm.process_block(block)

    def follow(self, env: Env) -> None:
        """Give the kernel every block of pyrite's active chain it has not seen yet."""
        cs = env.cb.cs
        for height in range(self.fed + 1, cs.height() + 1):
            entry = cs.chain[height]
            assert entry is not None
            self.submit(cs.read_block_bytes(entry))
            self.fed = height
        assert self.tip_hash() == cs.tip().hash, "kernel and pyrite disagree on the chain"


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    built = build_env(tmp_path_factory.mktemp("judged-chain"))
    yield built
    built.cb.close()


@pytest.fixture(scope="module")
def kernel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kernel]:
    yield Kernel(tmp_path_factory.mktemp("kernel"))


def _raw(block: Block) -> bytes:
    return roundtrip(block).serialize()


@pytest.mark.parametrize("case", JUDGED, ids=[c.id for c in JUDGED])
def test_kernel_refuses_what_pyrite_refuses(env: Env, kernel: Kernel, case: Case) -> None:
    kernel.follow(env)
    before = kernel.tip_hash()
    block = case.build(env)
    kernel.submit(_raw(block))
    assert kernel.tip_hash() == before, f"the kernel accepted {case.id}"
    assert env.cb.submit(roundtrip(block)) == case.reason
    _connect_valid_block_after(env, block)


@pytest.mark.parametrize("build", [b for _, b in VALID_CASES], ids=[i for i, _ in VALID_CASES])
def test_kernel_accepts_what_pyrite_accepts(env: Env, kernel: Kernel, build: object) -> None:
    kernel.follow(env)
    block = build(env)  # type: ignore[operator]
    kernel.submit(_raw(block))
    assert kernel.tip_hash() == block.hash, "the kernel refused a block pyrite accepts"
    assert env.cb.submit(roundtrip(block)) is None
