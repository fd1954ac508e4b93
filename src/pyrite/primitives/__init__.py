"""Transactions, blocks and headers: immutable data with their consensus codecs.

Parsing checks sizes before allocating and rejects trailing bytes. No policy,
signing or address logic lives here.
"""

from pyrite.primitives.block import Block, BlockHeader
from pyrite.primitives.tx import OutPoint, Tx, TxIn, TxOut

__all__ = ["Block", "BlockHeader", "OutPoint", "Tx", "TxIn", "TxOut"]
