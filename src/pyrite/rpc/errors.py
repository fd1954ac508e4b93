"""RPC error codes and the exception handlers raise to report them.

The numbers are Bitcoin Core's (``src/rpc/protocol.h``): clients match on them, so they never
change. Handlers raise :class:`RPCError`; the server turns it into the JSON ``error`` object.
"""

from __future__ import annotations

from typing import Final

# -- HTTP status codes the RPC server uses -------------------------------------------------------
HTTP_OK: Final = 200
HTTP_NO_CONTENT: Final = 204
HTTP_BAD_REQUEST: Final = 400
HTTP_UNAUTHORIZED: Final = 401
HTTP_FORBIDDEN: Final = 403
HTTP_NOT_FOUND: Final = 404
HTTP_BAD_METHOD: Final = 405
HTTP_PAYLOAD_TOO_LARGE: Final = 413
HTTP_INTERNAL_SERVER_ERROR: Final = 500
HTTP_SERVICE_UNAVAILABLE: Final = 503

# -- Standard JSON-RPC 2.0 errors ----------------------------------------------------------------
# RPC_INVALID_REQUEST maps to HTTP 400 and RPC_METHOD_NOT_FOUND to HTTP 404 in legacy (1.0)
# replies; neither is meant for application-level failures.
RPC_INVALID_REQUEST: Final = -32600
RPC_METHOD_NOT_FOUND: Final = -32601
RPC_INVALID_PARAMS: Final = -32602
RPC_INTERNAL_ERROR: Final = -32603
RPC_PARSE_ERROR: Final = -32700

# -- General application errors ------------------------------------------------------------------
RPC_MISC_ERROR: Final = -1  # an unexpected exception while handling the command
RPC_FORBIDDEN_BY_SAFE_MODE: Final = -2  # reserved, unused
RPC_TYPE_ERROR: Final = -3  # a parameter has the wrong JSON type
RPC_INVALID_ADDRESS_OR_KEY: Final = -5
RPC_OUT_OF_MEMORY: Final = -7
RPC_INVALID_PARAMETER: Final = -8  # invalid, missing or duplicate parameter
RPC_DATABASE_ERROR: Final = -20
RPC_DESERIALIZATION_ERROR: Final = -22  # raw data (tx, block, psbt...) does not decode
RPC_VERIFY_ERROR: Final = -25  # generic failure while submitting a tx or block
RPC_VERIFY_REJECTED: Final = -26  # rejected by consensus or policy rules
RPC_VERIFY_ALREADY_IN_CHAIN: Final = -27
RPC_IN_WARMUP: Final = -28  # the node is still starting
RPC_METHOD_DEPRECATED: Final = -32

# Older names kept by Core for the same numbers.
RPC_TRANSACTION_ERROR: Final = RPC_VERIFY_ERROR
RPC_TRANSACTION_REJECTED: Final = RPC_VERIFY_REJECTED
RPC_TRANSACTION_ALREADY_IN_CHAIN: Final = RPC_VERIFY_ALREADY_IN_CHAIN

# -- P2P client errors ---------------------------------------------------------------------------
RPC_CLIENT_NOT_CONNECTED: Final = -9
RPC_CLIENT_IN_INITIAL_DOWNLOAD: Final = -10
RPC_CLIENT_NODE_ALREADY_ADDED: Final = -23
RPC_CLIENT_NODE_NOT_ADDED: Final = -24
RPC_CLIENT_NODE_NOT_CONNECTED: Final = -29
RPC_CLIENT_INVALID_IP_OR_SUBNET: Final = -30
RPC_CLIENT_P2P_DISABLED: Final = -31
RPC_CLIENT_MEMPOOL_DISABLED: Final = -33
RPC_CLIENT_NODE_CAPACITY_REACHED: Final = -34

# -- Wallet errors -------------------------------------------------------------------------------
RPC_WALLET_ERROR: Final = -4
RPC_WALLET_INSUFFICIENT_FUNDS: Final = -6
RPC_WALLET_INVALID_LABEL_NAME: Final = -11
RPC_WALLET_KEYPOOL_RAN_OUT: Final = -12
RPC_WALLET_UNLOCK_NEEDED: Final = -13
RPC_WALLET_PASSPHRASE_INCORRECT: Final = -14
RPC_WALLET_WRONG_ENC_STATE: Final = -15
RPC_WALLET_ENCRYPTION_FAILED: Final = -16
RPC_WALLET_ALREADY_UNLOCKED: Final = -17
RPC_WALLET_NOT_FOUND: Final = -18
RPC_WALLET_NOT_SPECIFIED: Final = -19
RPC_WALLET_ALREADY_LOADED: Final = -35
RPC_WALLET_ALREADY_EXISTS: Final = -36
RPC_WALLET_INVALID_ACCOUNT_NAME: Final = RPC_WALLET_INVALID_LABEL_NAME


class RPCError(Exception):
    """An error reply: ``code`` is one of the constants above, ``message`` the text clients see.

    Raising it from a handler produces ``{"code": code, "message": message}`` in the reply.
    """

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def to_json(self) -> dict[str, object]:
        """The JSON-RPC ``error`` object (mirrors Core's JSONRPCError)."""
        return {"code": self.code, "message": self.message}

    def __repr__(self) -> str:
        return f"RPCError({self.code}, {self.message!r})"
