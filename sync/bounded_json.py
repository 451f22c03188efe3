"""JSON from a request body, with its nesting depth checked before it is parsed.

A parser recurses once per level: a signed body of 20,000 ``[`` would otherwise end in a
RecursionError. The scan is linear, over a body whose size the server already bounds.
"""

from __future__ import annotations

import re
from typing import Any

import orjson

MAX_DEPTH = 16
# A string, to its closing quote or, unterminated, to the end of the body: it always matches
# where it starts, so the scan stays linear whatever the body (no backtracking into a failure).
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"?', re.DOTALL)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_OPEN = frozenset(b"[{")


def json_depth(body: bytes) -> int:
    """The deepest nesting of arrays and objects, not counting brackets inside strings. The
    strings and every other byte are dropped in C (re, bytes.translate) and only the brackets
    are walked in Python: a byte-by-byte loop cost ~0.5 ms of a Cal.com webhook (issue 32)."""
    depth = deepest = 0
    for byte in _STRING.sub(b"", body).translate(None, _NOT_BRACKETS):
        if byte in _OPEN:
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


def load_json(body: bytes, max_depth: int = MAX_DEPTH) -> Any:
    """The parsed body; ValueError when it nests deeper than ``max_depth`` or is not JSON (UTF-8)."""
    if json_depth(body) > max_depth:
        raise ValueError(f"JSON nested deeper than {max_depth} levels")
    return orjson.loads(body)  # orjson.JSONDecodeError is a ValueError
