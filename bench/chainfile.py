"""Reader for the shared benchmark chain (../shared/bench/regtest-chain-v1.bin)."""

from __future__ import annotations

import os
import struct
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT_CHAIN = (
    Path(os.environ.get("PYRITE_SHARED", REPO.parent / "shared")) / "bench" / "regtest-chain-v1.bin"
)


def read_chain(path: Path = DEFAULT_CHAIN) -> list[bytes]:
    """Raw blocks at heights 1..n (genesis not included)."""
    data = path.read_bytes()
    if data[:8] != b"PYRCHN01":
        raise SystemExit(f"{path}: not a PYRCHN01 chain file")
    (n,) = struct.unpack_from("<I", data, 8)
    off = 12
    blocks = []
    for _ in range(n):
        (ln,) = struct.unpack_from("<I", data, off)
        blocks.append(data[off + 4 : off + 4 + ln])
        off += 4 + ln
    return blocks


REGTEST_MAGIC = bytes.fromhex("fabfb5da")


def write_blk_file(blocks: list[bytes], path: Path, magic: bytes = REGTEST_MAGIC) -> Path:
    """Write blocks in Core's blk*.dat layout (message start, u32 size, block)."""
    with open(path, "wb") as f:
        for raw in blocks:
            f.write(magic + struct.pack("<I", len(raw)) + raw)
    return path
