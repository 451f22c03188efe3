"""Reading a server's JSON defensively: a FHIR element that should be an object or an
array may arrive as anything (a string, a number, null). A wrong shape reads as absent,
so one odd resource is quarantined by the mapping instead of crashing the page; text
no store can hold is mended as it is parsed."""

from __future__ import annotations

import json
import re
from typing import Any

# A \uD800-\uDFFF escape: JSON lets a server write half a UTF-16 pair, which Python
# keeps as a lone surrogate that no UTF-8 store (SQLite, PostgreSQL) accepts.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


def obj(value: Any) -> dict[str, Any]:
    """``value`` if it is a JSON object, else an empty one."""
    return value if isinstance(value, dict) else {}


def items(value: Any) -> list[Any]:
    """``value`` if it is a JSON array, else an empty one."""
    return value if isinstance(value, list) else []


def parse_json(content: bytes) -> Any:
    """JSON text as Python values, lone surrogates replaced by U+FFFD (only looked for
    when the text has such an escape, so the common case costs one regex scan)."""
    body = json.loads(content)
    return _mend(body) if _SURROGATE_ESCAPE.search(content) else body


def _mend(value: Any) -> Any:
    if isinstance(value, str):
        return value.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    if isinstance(value, list):
        return [_mend(v) for v in value]
    if isinstance(value, dict):
        return {_mend(k): _mend(v) for k, v in value.items()}
    return value
