"""A longer fuzzing campaign than the test suite's hypothesis properties (run by hand):

    python -m tests.fuzz --seconds 300

Feeds mutated real transactions and blocks (from the vectors) and random bytes to every
parser, and mutated spends and random scripts to the interpreter; any exception other than
our own error types is a failure and stops the run with the input that caused it, and so is
a transaction that the one-pass reader and the general one read differently.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import random
import time
from collections import Counter

from pyrite.encoding import address, base58, bech32
from pyrite.errors import DecodeError
from pyrite.primitives import Block, BlockHeader, Tx
from pyrite.script.errors import ScriptError
from pyrite.script.flags import CONSENSUS_FLAGS
from pyrite.script.verify import verify_script
from tests.conftest import VECTORS

ADDRESSES = (
    b"bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080",
    b"1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2",
    b"bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0",
)


def _mutate(rng: random.Random, data: bytes) -> bytes:
    b = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        op = rng.randrange(4)
        if not b:
            b += rng.randbytes(rng.randint(1, 8))
        elif op == 0:
            b[rng.randrange(len(b))] ^= 1 << rng.randrange(8)
        elif op == 1:
            i = rng.randrange(len(b))
            del b[i : i + rng.randint(1, 8)]
        elif op == 2:
            i = rng.randrange(len(b) + 1)
            b[i:i] = rng.randbytes(rng.randint(1, 8))
        else:
            b[rng.randrange(len(b))] = rng.choice((0x00, 0xFD, 0xFE, 0xFF, 0x4C, 0x4D, 0x4E))
    return bytes(b)


def _outcome(data: bytes | bytearray) -> tuple[object, ...] | str:
    try:
        tx = Tx.from_bytes(data)
    except DecodeError as e:
        return f"DecodeError: {e}"
    return (tx, tx.txid, tx.wtxid, tx.raw, tx.size, tx.base_size, tx.outputs_at)


def _tx_readers_agree(data: bytes) -> None:
    """``Tx.from_bytes`` on bytes (one pass where the shape allows) and on a bytearray
    (the general reader) must give the same transaction or the same error."""
    fast, general = _outcome(data), _outcome(bytearray(data))
    if fast != general:
        raise AssertionError(f"readers disagree on {data.hex()}: {fast!r} vs {general!r}")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    corpus = json.loads((VECTORS / "pyrite-taproot" / "taproot_corpus.json").read_text())["cases"]
    spends = [(bytes.fromhex(c["tx"]), c["index"], [(a, bytes.fromhex(s)) for a, s in c["spent"]])
              for c in corpus]  # fmt: skip
    block = (VECTORS / "bcoin" / "test" / "data" / "block1087400.raw").read_bytes()
    runs: Counter[str] = Counter()
    deadline = time.monotonic() + args.seconds
    flags = int(CONSENSUS_FLAGS)
    while time.monotonic() < deadline:
        for _ in range(200):
            kind = rng.randrange(6)
            if kind == 0:
                raw, index, spent = rng.choice(spends)
                data = _mutate(rng, raw)
                runs["tx parser (one-pass and general readers agree)"] += 1
                _tx_readers_agree(data)
            elif kind == 1:
                raw, index, spent = rng.choice(spends)
                data = _mutate(rng, raw) if rng.random() < 0.7 else raw
                amount, spk = spent[index]
                if rng.random() < 0.3:
                    spk = _mutate(rng, spk)
                runs["verify_script (mutated spends)"] += 1
                with contextlib.suppress(ScriptError, DecodeError, ValueError):
                    verify_script(spk, amount, data, index, flags, spent)
            elif kind == 2:
                runs["block parser"] += 1
                data = _mutate(rng, block) if rng.random() < 0.5 else rng.randbytes(90)
                with contextlib.suppress(DecodeError):
                    Block.from_bytes(data)
            elif kind == 3:
                runs["header parser"] += 1
                with contextlib.suppress(DecodeError):
                    BlockHeader.from_bytes(_mutate(rng, block[:80]))
            else:
                runs["address/base58/bech32 decoders"] += 1
                s = _mutate(rng, rng.choice(ADDRESSES))
                text = s.decode("latin-1")
                with contextlib.suppress(DecodeError):
                    base58.decode_check(text)
                with contextlib.suppress(DecodeError):
                    bech32.decode(text)
                with contextlib.suppress(DecodeError):
                    address.address_to_script(text, "main")
    total = sum(runs.values())
    print(f"fuzzed {total:,} inputs in {args.seconds:.0f} s, no unexpected exception:")
    for k, v in sorted(runs.items()):
        print(f"  {k}: {v:,}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
