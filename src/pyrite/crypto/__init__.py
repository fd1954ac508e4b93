"""Hashes and elliptic-curve operations (libsecp256k1 through coincurve).

Pure functions over bytes; no I/O. Signature *policy* (which encodings a script
accepts) lives in ``pyrite.script``; this layer only parses and verifies.
"""
