"""Shared fixtures: where the external vectors live (never copied into the repo)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("PYRITE_SHARED", REPO.parent / "shared"))
VECTORS = SHARED / "vectors"
BENCH_CHAIN = SHARED / "bench" / "regtest-chain-v1.bin"


def vector_path(*parts: str) -> Path:
    """Path of a vector file; a missing file fails the test (it never skips)."""
    p = VECTORS.joinpath(*parts)
    if not p.exists():
        pytest.fail(f"vector file missing: {p} (set PYRITE_SHARED to the shared folder)")
    return p


@pytest.fixture
def vectors() -> Path:
    if not VECTORS.is_dir():
        pytest.fail(f"vectors folder missing: {VECTORS}")
    return VECTORS
