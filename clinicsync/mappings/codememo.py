"""The memos a generated mapping function calls (codegen.py): what is a pure function of a
source value (a conversion of a text, a status word's lookup, a duration's timedelta, a
patient's or practitioner's fields built from one source value), kept per mapping load and
bounded, so a repeated value costs one dict lookup and memory stays flat over a million rows."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import orjson

from clinicsync.common.memo import kept
from clinicsync.mappings.transforms import TransformError, clean_text

MEMO_LIMIT = 65_536  # distinct values kept per memo; the memo starts over past that
# Date-times change with every slot and a source lists them roughly in order, so their memos
# only need the recent ones; a memo of 65,536 of them held ~10 MB each at a million rows
# (M1's peak is a goal). Phones and emails repeat across the whole file: they keep MEMO_LIMIT.
DATETIME_MEMO_LIMIT = 8_192
SHORT_MEMO_KINDS = frozenset({"datetime", "date", "time"})


class Memo(dict[Any, tuple[bool | None, Any]]):
    """A conversion's memo and how many distinct values it keeps before it starts over."""

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit


def remember(memo: Memo, convert: Callable[[Any], Any], key: Any) -> tuple[bool | None, Any]:
    """``convert(key)`` or its TransformError's message, kept in ``memo``."""
    try:
        known: tuple[bool | None, Any] = (True, convert(key))
    except TransformError as exc:
        known = (False, str(exc))
    return kept(memo, key, known, memo.limit)


# A raw text that is blank (``raw.strip()`` empty): no value, not seen (see remember_raw).
_BLANK: tuple[None, None] = (None, None)


def remember_raw(memo: Memo, convert: Callable[[Any], Any], raw: str) -> tuple[bool | None, Any]:
    """What one reader's raw text (exactly ``str``) converts to, kept in ``memo`` under the raw
    text itself: ``_BLANK`` for a blank text, else ``convert`` of the text (cleaned of control
    characters when it is not printable) or its TransformError's message. Why keyed by the raw
    text: the generated code then looks the memo up before any test of the text, so a repeated
    value (a slot's start, a duration, a zone) costs one ``dict.get``, not a strip and an
    ``isprintable`` first. Every entry is a pure function of its key, so a hit gives
    what the tests and the conversion would."""
    if not raw.strip():
        return kept(memo, raw, _BLANK, memo.limit)
    try:
        known: tuple[bool | None, Any] = (True, convert(raw if raw.isprintable() else clean_text(raw)))
    except TransformError as exc:
        known = (False, str(exc))
    return kept(memo, raw, known, memo.limit)


def status_of(memo: dict[str, str], lookup: Callable[[Any], str], word: Any) -> str:
    """The mapping's status for ``word``, remembered per text (an unknown word raises anew)."""
    status = lookup(word)
    if type(word) is str:
        kept(memo, word, status, MEMO_LIMIT)
    return status


def span_of(memo: dict[int, timedelta], minutes: Any) -> timedelta:
    """``timedelta(minutes=minutes)``, kept in ``memo`` when ``minutes`` is an ``int`` (the
    generated code looks it up there first). Why: a duration repeats on most rows (15, 30,
    60 minutes) and timedelta's keyword constructor costs ~4,000 instructions a row (by
    callgrind); a kept one is the same value. Its errors (OverflowError, TypeError) are the
    constructor's own, raised where they were; nothing that fails is kept."""
    span = timedelta(minutes=minutes)
    if type(minutes) is int:
        kept(memo, minutes, span, MEMO_LIMIT)
    return span


_KEY_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_PASSTHROUGH_SUBCLASS


def group_key(value: Any) -> bytes | None:
    """The JSON text of ``value`` (it tells 1, 1.0 and true apart), or None for what is not
    plain JSON data (a str or dict subclass, a date, an object …), which is never remembered.
    A tuple and a NaN are written as a list and as null: an entry is used only for a value
    equal to the one it was made from (see _group)."""
    try:
        return orjson.dumps(value, option=_KEY_OPTIONS)
    except TypeError:
        return None


# A group's memo keeps each distinct source value (a patient resource) for the equality test:
# it starts over past this much key text too (JSON text or column text), about 20-40 MB of
# Python objects for patient resources.
GROUP_TEXT_LIMIT = 8_000_000


class GroupMemo(dict[Any, list[Any]]):
    """A group's entries by key, with the length of key text they hold and how many lookups
    found an entry since it last started over."""

    text = 0
    hits = 0


# A group memo that has kept this many entries without one of them found again starts over: its
# key holds something that differs on every record (a Cal.com webhook's group is keyed by the
# whole ``payload``, uid and times included), so each entry (~15 KB of key and parsed payload)
# only costs memory: ~50 MB at GROUP_TEXT_LIMIT, ~4 MB at this (measured). One hit lets it grow.
GROUP_TRIAL = 256


def keep_group(memo: GroupMemo, key: Any, entry: list[Any]) -> None:
    size = len(memo)
    if size >= MEMO_LIMIT or memo.text >= GROUP_TEXT_LIMIT or (size >= GROUP_TRIAL and not memo.hits):
        memo.clear()
        memo.text = memo.hits = 0
    if type(key) is bytes:
        # orjson's result keeps the buffer it wrote into: ~16 KB behind a 2.5 KB Cal.com payload,
        # so the memo held six times the text it counted (~100 MB at the limit for one
        # webhook source). Kept, it is copied to its own size; a lookup still uses the original.
        key = bytes(memoryview(key))
    memo[key] = entry
    memo.text += len(key) if type(key) is bytes else sum(map(len, filter(None, key)))  # parts: text or None
