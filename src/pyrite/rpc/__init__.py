"""The JSON-RPC interface, shaped like bitcoind's so existing clients work unchanged.

``server`` speaks HTTP/1.x and JSON-RPC 1.0/2.0 exactly as Core does (authentication, the
``.cookie`` file, warm-up, batches, named parameters, reply shapes and HTTP statuses) and keeps a
registry of command handlers, built on ``http`` (listening endpoints, ``-rpcallowip``, HTTP/1.x
framing), ``jsonrpc`` (request parsing, reply shapes, the context handed to handlers) and
``jsonutil`` (JSON and BTC amount codec); ``errors`` holds Core's error codes and
:class:`RPCError`.

This package decides nothing about chain, mempool or wallet state: the handler modules receive
their collaborators from ``node/``, which also reads the configuration and starts the server.
"""
