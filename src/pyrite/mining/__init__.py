"""Block assembly and proof-of-work search (regtest generation; getblocktemplate later).

Builds blocks from the chain tip's data and a list of transactions; knows consensus
rules (through ``pyrite.consensus``) but not storage or the network.
"""
