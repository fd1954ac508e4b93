"""The exception hierarchy shared by every layer.

Consensus code raises these; it never logs and never decides bans. Upper layers
(p2p, rpc) map them to misbehaviour scores and RPC error codes.
"""

from __future__ import annotations


class PyriteError(Exception):
    """Base of every error pyrite raises on purpose."""


class DecodeError(PyriteError, ValueError):
    """Malformed bytes or text: truncated, trailing data, non-canonical, absurd sizes."""


class ValidationError(PyriteError):
    """A consensus or policy rule was broken. ``reason`` is Bitcoin Core's exact string."""

    def __init__(self, reason: str, debug: str = "", kind: str = "CONSENSUS") -> None:
        super().__init__(f"{reason}{' (' + debug + ')' if debug else ''}")
        self.reason = reason
        self.debug = debug
        self.kind = kind


class TxValidationError(ValidationError):
    """A transaction failed a check (mirrors Core's TxValidationState)."""


class BlockValidationError(ValidationError):
    """A block or header failed a check (mirrors Core's BlockValidationState)."""


class ChainstateFailure(PyriteError):
    """The chain state refuses changes: an earlier error (not a block's invalidity) may
    have left it inconsistent. Restarting resumes from the last flush."""


class StorageError(PyriteError):
    """The on-disk state is unusable or an I/O operation failed."""
