"""The JSON codec of the RPC interface: bitcoind-shaped numbers in and out.

Holds :class:`BTCAmount` and :func:`value_from_amount` (satoshis printed as BTC with eight
decimals, mirrors ValueFromAmount), :func:`amount_from_value` (exact BTC-to-satoshi parsing,
mirrors AmountFromValue), and :func:`json_dumps` / :func:`json_loads`, which write compact JSON
as Core does and read request bodies the way UniValue does (fractions as :class:`Decimal`,
NaN/Infinity rejected, the first of repeated keys kept and the repeats remembered in
:class:`DuplicateKeys`). Nothing here knows about HTTP or the command table.
"""

from __future__ import annotations

import json
import re
import secrets
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Final

from pyrite.rpc.errors import RPC_TYPE_ERROR, RPCError

COIN: Final = 100_000_000
MAX_MONEY: Final = 21_000_000 * COIN


@dataclass(frozen=True, slots=True)
class BTCAmount:
    """A satoshi amount that :func:`json_dumps` prints in BTC with exactly eight decimals."""

    sats: int

    def __str__(self) -> str:
        whole, frac = divmod(abs(self.sats), COIN)
        return f"{'-' if self.sats < 0 else ''}{whole}.{frac:08d}"


def value_from_amount(sats: int) -> BTCAmount:
    """Satoshis as a JSON-ready BTC amount (mirrors ValueFromAmount)."""
    return BTCAmount(sats)


_FIXED_POINT = re.compile(r"(-?)(0|[1-9][0-9]*)(?:\.([0-9]+))?(?:[eE]([-+]?[0-9]+))?")


def amount_from_value(value: object, decimals: int = 8) -> int:
    """A JSON number or numeric string in BTC as satoshis (mirrors AmountFromValue).

    Raises RPCError(-3) for a wrong type, more than ``decimals`` decimals, or a value outside
    0..21e6 BTC. Exact: no binary floating point is involved.
    """
    if isinstance(value, bool) or not isinstance(value, int | Decimal | float | str):
        raise RPCError(RPC_TYPE_ERROR, "Amount is not a number or string")
    text = repr(value) if isinstance(value, float) else str(value)
    match = _FIXED_POINT.fullmatch(text)
    if match is None or len((match[4] or "").lstrip("+-")) > 18:
        raise RPCError(RPC_TYPE_ERROR, "Invalid amount")
    frac = match[3] or ""
    digits = (match[2] + frac).lstrip("0")
    exponent = int(match[4] or 0) - len(frac) + decimals
    units = 0
    if digits:
        significant = digits.rstrip("0")
        exponent += len(digits) - len(significant)
        if exponent < 0 or len(significant) + exponent > 18:
            raise RPCError(RPC_TYPE_ERROR, "Invalid amount")
        units = int(significant) * 10**exponent
    if match[1]:
        units = -units
    if not 0 <= units <= MAX_MONEY:
        raise RPCError(RPC_TYPE_ERROR, "Amount out of range")
    return units


def json_dumps(obj: object) -> str:
    """Compact JSON as Core writes it; BTCAmount and Decimal become plain numbers.

    The C encoder cannot print a number it did not format itself, so such values are first
    written as strings carrying a random marker, then the marker and quotes are stripped.
    """
    marker: list[str] = []

    def number(text: str) -> str:
        if not marker:
            marker.append(f"\x00{secrets.token_hex(8)}:")
        return marker[0] + text

    def default(o: object) -> object:
        if isinstance(o, BTCAmount):
            return number(str(o))
        if isinstance(o, Decimal):
            if not o.is_finite():
                raise ValueError("non-finite Decimal is not valid JSON")
            return number(format(o, "f"))
        raise TypeError(f"Object of type {type(o).__name__} is not JSON serializable")

    text = json.dumps(
        obj, default=default, ensure_ascii=False, separators=(",", ":"), allow_nan=False
    )
    if not marker:
        return text
    head, *rest = text.split('"' + json.dumps(marker[0])[1:-1])
    return head + "".join(part.replace('"', "", 1) for part in rest)


class DuplicateKeys(dict[str, Any]):
    """A JSON object that had repeated keys; the first value of each is kept, like UniValue."""

    duplicates: list[str]


def _object_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) == len(pairs):
        return obj
    dup = DuplicateKeys()
    dup.duplicates = []
    for key, value in pairs:
        if key in dup:
            dup.duplicates.append(key)
        else:
            dup[key] = value
    return dup


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def json_loads(data: bytes | str) -> Any:
    """Parse a request body: fractions become Decimal, NaN/Infinity are rejected."""
    return json.loads(
        data,
        parse_float=Decimal,
        parse_constant=_reject_constant,
        object_pairs_hook=_object_pairs,
    )
