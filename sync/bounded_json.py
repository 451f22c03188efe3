"""JSON from a request body, with its nesting depth checked before it is parsed.

A parser recurses once per level: a signed body of 20,000 ``[`` would otherwise end in a
RecursionError. The scan is linear, over a body whose size the server already bounds.
"""

from __future__ import annotations

from typing import Any

import orjson

MAX_DEPTH = 16
_OPEN, _CLOSE, _QUOTE, _BACKSLASH = frozenset(b"[{"), frozenset(b"]}"), ord('"'), ord("\\")


def json_depth(body: bytes) -> int:
    """The deepest nesting of arrays and objects, not counting brackets inside strings."""
    depth = deepest = 0
    in_string = escaped = False
    for byte in body:
        if in_string:
            if escaped:
                escaped = False
            elif byte == _BACKSLASH:
                escaped = True
            elif byte == _QUOTE:
                in_string = False
        elif byte == _QUOTE:
            in_string = True
        elif byte in _OPEN:
            depth += 1
            deepest = max(deepest, depth)
        elif byte in _CLOSE:
            depth -= 1
    return deepest


def load_json(body: bytes, max_depth: int = MAX_DEPTH) -> Any:
    """The parsed body; ValueError when it nests deeper than ``max_depth`` or is not JSON (UTF-8)."""
    if json_depth(body) > max_depth:
        raise ValueError(f"JSON nested deeper than {max_depth} levels")
    return orjson.loads(body)  # orjson.JSONDecodeError is a ValueError
