"""Content hashes: the one way clinicsync decides whether something changed."""

from __future__ import annotations

import hashlib
from typing import Any

import orjson


def content_hash(value: Any) -> str:
    """A stable 128-bit hex digest of dataclasses, dicts, datetimes (orjson-serializable)."""
    return content_hash_bytes(orjson.dumps(value, option=orjson.OPT_SORT_KEYS))


def content_hash_bytes(data: bytes) -> str:
    """The digest of already serialized data (what ``content_hash`` computes of its JSON)."""
    return hashlib.blake2b(data, digest_size=16).hexdigest()
