"""Decode a raw block and verify the scripts of all its inputs.

    python -m pyrite.tools.verify_block BLOCK.raw --undo SPENT.raw [--flags P2SH,WITNESS,...]

``--undo`` is a file of the outputs each non-coinbase input spends, in block order
(bcoin's test layout: int64 value, compact-size script length, script). Exit code 0 when
every input verifies, 1 otherwise.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from pyrite.consensus.merkle import block_merkle_root
from pyrite.encoding.bytes import ByteReader
from pyrite.errors import DecodeError
from pyrite.primitives import Block, TxOut
from pyrite.script.errors import ScriptError
from pyrite.script.flags import parse_flags
from pyrite.script.sighash import PrecomputedTx
from pyrite.script.verify import verify_tx_input


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="verify_block", description=__doc__.split("\n\n")[0])
    ap.add_argument("block", type=Path)
    ap.add_argument("--undo", type=Path, required=True, help="spent outputs, in block order")
    ap.add_argument("--flags", default="P2SH,DERSIG,NULLDUMMY,CHECKLOCKTIMEVERIFY,"
                    "CHECKSEQUENCEVERIFY,WITNESS,TAPROOT")  # fmt: skip
    args = ap.parse_args(argv)
    try:
        block = Block.from_bytes(args.block.read_bytes())
        r = ByteReader(args.undo.read_bytes())
        spent = [[TxOut.read(r) for _ in tx.vin] for tx in block.txs[1:]]
        r.done()
        flags = int(parse_flags(args.flags))
    except (OSError, DecodeError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    root, mutated = block_merkle_root(block)
    print(f"block {block.hash_hex()}")
    print(f"  {len(block.txs)} transactions, {block.size:,} bytes, weight {block.weight:,}")
    ok_root = root == block.header.merkle_root and not mutated
    print(f"  merkle root {'matches' if ok_root else 'MISMATCH'}")
    t = time.perf_counter()
    failures = 0
    n = 0
    for tx, outs in zip(block.txs[1:], spent, strict=True):
        pre = PrecomputedTx(tx, outs)
        for k, out in enumerate(outs):
            n += 1
            try:
                verify_tx_input(pre, k, out.script_pubkey, out.value, flags)
            except ScriptError as e:
                failures += 1
                print(f"  input {tx.txid_hex()}:{k} fails: {e.code}")
    dt = time.perf_counter() - t
    print(f"  {n - failures}/{n} inputs verify ({dt:.2f} s, {n / dt if dt else 0:,.0f} inputs/s)")
    return 0 if failures == 0 and ok_root else 1


if __name__ == "__main__":
    sys.exit(main())
