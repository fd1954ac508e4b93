"""The hash helpers: the interpreter's SHA-256 used for short messages agrees with
hashlib's at every length, and the double hash matches known values."""

from __future__ import annotations

import hashlib

from pyrite.crypto.hashes import sha256_short, sha256d


def test_short_sha256_agrees_with_hashlib_at_every_length() -> None:
    for n in range(0, 300):
        data = bytes((i * 7 + n) & 0xFF for i in range(n))
        assert sha256_short(data).digest() == hashlib.sha256(data).digest(), n


def test_short_sha256_is_the_interpreters_own_when_there_is_one() -> None:
    try:
        import _sha256 as builtin  # type: ignore[import-not-found]
    except ImportError:
        try:
            import _sha2 as builtin  # type: ignore[import-not-found,no-redef]
        except ImportError:
            return
    assert sha256_short is builtin.sha256


def test_sha256d_known_values() -> None:
    assert sha256d(b"").hex() == (
        "5df6e0e2761359d30a8275058e299fcc0381534545f55cf43e41983f5d4c9456"
    )
    # the genesis block's header hashes to its well-known id (byte-reversed)
    header = bytes.fromhex(
        "01000000" + "00" * 32
        + "3ba3edfd7a7b12b27ac72c3e67768f617fc81bc3888a51323a9fb8aa4b1e5e4a"
        + "29ab5f49" + "ffff001d" + "1dac2b7c"
    )  # fmt: skip
    assert sha256d(header)[::-1].hex() == (
        "000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f"
    )
