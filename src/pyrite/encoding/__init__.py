"""Byte-level encodings: readers and writers, compact size, base58, bech32, addresses.

Knows nothing of scripts or consensus; every decoder raises ``DecodeError``.
"""
