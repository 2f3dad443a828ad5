"""JSON from untrusted clients: finite numbers only, and a nesting limit checked before parsing.

Python's parser is recursive (30,000 nested brackets raise RecursionError) and accepts NaN and
±Infinity, which nothing downstream can store or send back as JSON. Everything a client sends —
socket.io frames and beacons — is read through `loads` here.
"""

from __future__ import annotations

import json
from typing import Any


class UnsafeJSON(ValueError):
    """Text refused before or while parsing; the message says why, for the client's error."""


def nesting_depth(raw: str) -> int:
    """How deep JSON text nests its arrays and objects (strings skipped), without parsing it."""
    depth = deepest = 0
    in_string = escaped = False
    for ch in raw:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth -= 1
    return deepest


def _no_constant(name: str) -> Any:
    raise UnsafeJSON(f"{name} is not a finite number.")


def loads(raw: str | bytes, *, max_depth: int, **kwargs: Any) -> Any:
    """`json.loads` that refuses NaN / ±Infinity and text nesting deeper than `max_depth` (checked
    without recursion first: counting brackets is cheap, the exact scan runs only when the count
    could exceed the limit). Raises `UnsafeJSON` (a ValueError) for anything refused."""
    text = raw.decode("utf-8", "replace") if isinstance(raw, (bytes, bytearray)) else raw
    if text.count("[") + text.count("{") > max_depth and nesting_depth(text) > max_depth:
        raise UnsafeJSON(f"The JSON nests deeper than {max_depth} levels.")
    try:
        return json.loads(text, parse_constant=_no_constant, **kwargs)
    except UnsafeJSON:
        raise
    except ValueError as exc:  # invalid JSON, or an integer longer than Python converts (4,300 digits)
        raise UnsafeJSON(f"The JSON is not valid: {str(exc)[:120]}") from None
