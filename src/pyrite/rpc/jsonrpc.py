"""What one JSON-RPC call is, independent of how it travels.

Holds the command record (:class:`RPCCommand`, mirrors CRPCCommand) with its one-line usage,
the :class:`RequestContext` handed to every handler, the mapping of named parameters onto
positions (:func:`named_to_positional`, mirrors transformNamedArguments), the parsed request
and its reply text (:class:`JSONRPCRequest`, mirrors JSONRPCRequest and JSONRPCReplyObj of
Core's ``rpc/request.cpp``) and the HTTP status that goes with an error reply
(:func:`error_status`). The command table itself and dispatch live in :mod:`pyrite.rpc.server`.
"""

from __future__ import annotations

import asyncio
import urllib.parse
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, TypeAlias

from pyrite.rpc.errors import (
    HTTP_BAD_REQUEST,
    HTTP_INTERNAL_SERVER_ERROR,
    HTTP_NOT_FOUND,
    RPC_INVALID_PARAMETER,
    RPC_INVALID_REQUEST,
    RPC_METHOD_NOT_FOUND,
    RPCError,
)
from pyrite.rpc.jsonutil import DuplicateKeys, json_dumps

WALLET_ENDPOINT: Final = "/wallet/"

Handler: TypeAlias = Callable[[list[Any], "RequestContext"], Any]


# --------------------------------------------------------------------------------------------
# Command records
# --------------------------------------------------------------------------------------------


@dataclass(slots=True)
class RequestContext:
    """What a handler may want to know about the call besides its parameters."""

    method: str
    uri: str = "/"
    auth_user: str = ""
    peer: str = ""
    json_version: int = 1
    stopping: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def wallet_name(self) -> str | None:
        """The decoded name from ``/wallet/<name>``, or None for the plain ``/`` endpoint."""
        if not self.uri.startswith(WALLET_ENDPOINT):
            return None
        return urllib.parse.unquote(self.uri[len(WALLET_ENDPOINT) :])


@dataclass(frozen=True, slots=True)
class RPCCommand:
    """A registered method. ``param_names`` entries may list aliases as ``"verbosity|verbose"``."""

    name: str
    func: Handler
    param_names: tuple[str, ...]
    category: str
    required: int
    help_text: str


def usage(name: str, param_names: Sequence[str], required: int) -> str:
    """A one-line synopsis like ``getblock blockhash ( verbosity )``."""
    names = [p.split("|")[0] for p in param_names]
    line = " ".join([name, *names[:required]])
    if len(names) > required:
        line += " ( " + " ".join(names[required:]) + " )"
    return line


def named_to_positional(command: RPCCommand, named: dict[str, Any]) -> list[Any]:
    """Map an object of named parameters onto positions (mirrors transformNamedArguments).

    Gaps before a given parameter are filled with null, trailing ones are left out; a leftover
    ``"args"`` array supplies leading positional values.
    """
    if isinstance(named, DuplicateKeys) and named.duplicates:
        raise RPCError(
            RPC_INVALID_PARAMETER, f"Parameter {named.duplicates[0]} specified multiple times"
        )
    remaining = dict(named)
    out: list[Any] = []
    hole = 0
    initial_hole = 0
    first_given: str | None = None
    for pattern in command.param_names:
        key = next((a for a in pattern.split("|") if a in remaining), None)
        if key is None:
            hole += 1
            if not out:
                initial_hole = hole
            continue
        out.extend([None] * hole)
        hole = 0
        if first_given is None:
            first_given = pattern
        out.append(remaining.pop(key))
    positional = remaining.pop("args", None) if "args" in remaining else None
    if isinstance(positional, list):
        if first_given is not None and initial_hole < len(positional):
            raise RPCError(
                RPC_INVALID_PARAMETER,
                f"Parameter {first_given} specified twice both as positional and named argument",
            )
        out = list(positional) + out[len(positional) :]
    elif positional is not None:
        remaining["args"] = positional
    if remaining:
        raise RPCError(RPC_INVALID_PARAMETER, f"Unknown named parameter {next(iter(remaining))}")
    return out


# --------------------------------------------------------------------------------------------
# JSON-RPC requests and replies
# --------------------------------------------------------------------------------------------


@dataclass(slots=True)
class JSONRPCRequest:
    """One parsed JSON-RPC request (mirrors JSONRPCRequest); filled in as parsing proceeds."""

    version: int = 1
    has_id: bool = False
    id: Any = None
    method: str = ""
    params: list[Any] | dict[str, Any] = field(default_factory=list)

    @property
    def is_notification(self) -> bool:
        return self.version == 2 and not self.has_id

    def parse(self, obj: object) -> None:
        if not isinstance(obj, dict):
            raise RPCError(RPC_INVALID_REQUEST, "Invalid Request object")
        self.has_id = "id" in obj
        self.id = obj.get("id")
        version = obj.get("jsonrpc")
        if version is not None:
            if not isinstance(version, str):
                raise RPCError(RPC_INVALID_REQUEST, "jsonrpc field must be a string")
            if version not in ("1.0", "2.0"):
                raise RPCError(RPC_INVALID_REQUEST, "JSON-RPC version not supported")
            self.version = 2 if version == "2.0" else 1
        method = obj.get("method")
        if method is None:
            raise RPCError(RPC_INVALID_REQUEST, "Missing method")
        if not isinstance(method, str):
            raise RPCError(RPC_INVALID_REQUEST, "Method must be a string")
        self.method = method
        params = obj.get("params")
        if params is None:
            self.params = []
        elif isinstance(params, list | dict):
            self.params = params
        else:
            raise RPCError(RPC_INVALID_REQUEST, "Params must be an array or object")

    def reply(self, result_json: str | None, error: RPCError | None) -> str:
        """The reply object's text (mirrors JSONRPCReplyObj): 2.0 has result xor error."""
        parts = ['"jsonrpc":"2.0"'] if self.version == 2 else []
        if error is None:
            parts.append(f'"result":{result_json}')
            if self.version == 1:
                parts.append('"error":null')
        else:
            if self.version == 1:
                parts.append('"result":null')
            parts.append(f'"error":{json_dumps(error.to_json())}')
        if self.has_id:
            parts.append(f'"id":{json_dumps(self.id)}')
        return "{" + ",".join(parts) + "}"


def error_status(code: int) -> int:
    """The HTTP status of a reply carrying this error code (as Core's JSONErrorReply)."""
    if code == RPC_INVALID_REQUEST:
        return HTTP_BAD_REQUEST
    if code == RPC_METHOD_NOT_FOUND:
        return HTTP_NOT_FOUND
    return HTTP_INTERNAL_SERVER_ERROR
