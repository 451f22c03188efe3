"""How one field of a preset reads a raw record: its paths, ``concat``, ``date`` + ``time``
or constant as reader functions (``readers_of``) and as data for the generated code
(``sources_of``), its value map, and the memos that spare a feed's repeated phones, emails,
zones and slot times a second conversion. engine.py compiles a field from these.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, cast

from clinicsync.common.memo import kept
from clinicsync.common.timeutil import TimeError
from clinicsync.mappings.digitclock import DIGIT_CLOCKS, digit_clock
from clinicsync.mappings.model import quoted_code
from clinicsync.mappings.paths import compile_path, compile_values
from clinicsync.mappings.preset_schema import FieldSpec
from clinicsync.mappings.transforms import TransformError, combine_date_minutes, combine_date_time
from clinicsync.mappings.window import PlausibleWindow, plausible_utc

_QUOTE_LIMIT = 40


def quoted(value: Any, enabled: bool) -> str:
    """`` 'value'`` (clipped) for a field the mapping marks ``quote: true`` (its values are
    codes the source sends, such as FHIR's status or a language code), else nothing: a
    reason or note names a value only where it cannot be patient data. Even a marked field
    shows only what has a code's shape (``quoted_code``): a vendor that puts a name or a
    phone where its status belongs must not have it echoed."""
    if not enabled:
        return ""
    text = str(value).strip()
    if len(text) > _QUOTE_LIMIT:
        text = text[:_QUOTE_LIMIT - 1] + "…"
    return f" {quoted_code(text)}"


# Conversions worth remembering per distinct raw value: a feed repeats each patient's
# phone and email on every one of their appointments, and parsing a phone costs ~100 µs;
# a zone name repeats on every row.
MEMOIZED_KINDS = frozenset({"phone", "email", "timezone"})
_MEMO_LIMIT = 65_536  # distinct values kept per field; the memo starts over past that


def _remembering(convert: Callable[..., Any], failure: type[ValueError],
                 limit: int = _MEMO_LIMIT) -> Callable[..., Any]:
    """``convert`` (pure) remembered per distinct arguments, its ``failure`` included (kept as
    the message and raised anew, so no traceback grows); the memo starts over past ``limit``
    entries."""
    memo: dict[tuple[Any, ...], tuple[bool, Any]] = {}

    def remembered(*key: Any) -> Any:
        known = memo.get(key)
        if known is None:
            try:
                known = (True, convert(*key))
            except failure as exc:
                known = (False, str(exc))
            kept(memo, key, known, limit)
        if known[0]:
            return known[1]
        raise failure(known[1])

    return remembered


# Many appointments share a slot and slots come roughly in order: the recent ones will do.
_UTC_MEMO_LIMIT = 8_192


class RememberedUtc:
    """``plausible_utc(window)`` remembered per date-time, zone and UTC offset. The offset is
    in the key because two aware date-times of one instant at other offsets are equal (and
    hash alike) while their wall dates differ, and the window judges the wall date: without
    it, 2199-12-31T23:30Z seen first let 2200-01-01T00:30+01:00 (refused alone) through.
    The generated code (codegen.py) looks ``memo`` up itself and hands a miss to ``known``:
    a start and an end per row, one C lookup each instead of a call."""

    def __init__(self, window: PlausibleWindow) -> None:
        self.memo: dict[tuple[Any, str, Any], tuple[bool, Any]] = {}
        self._convert = plausible_utc(window)

    def known(self, key: tuple[Any, str, Any]) -> tuple[bool, Any]:
        """The entry for ``key`` (value, zone name, the value's UTC offset): (True, the UTC
        date-time) or (False, the TimeError's message); made and kept on a miss."""
        known = self.memo.get(key)
        if known is None:
            try:
                known = (True, self._convert(key[0], key[1]))
            except TimeError as exc:
                known = (False, str(exc))
            kept(self.memo, key, known, _UTC_MEMO_LIMIT)
        return known

    def __call__(self, value: Any, zone_name: str) -> datetime:
        known = self.known((value, zone_name, value.utcoffset() if isinstance(value, datetime) else None))
        if known[0]:
            return cast(datetime, known[1])
        raise TimeError(known[1])


def memoized(convert: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """A field conversion remembered per distinct text value (other values are converted each time)."""
    remembered = _remembering(convert, TransformError)

    def per_text(value: Any) -> Any:
        return remembered(value) if type(value) is str else convert(value)

    return per_text


def empty_value(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _joined(paths: list[str]) -> Callable[[Any], Any]:
    """Every value at each path (all of a list, e.g. FHIR `given` names), joined with spaces."""
    value_lists = [compile_values(p) for p in paths]

    def join(record: Any) -> Any:
        parts = [str(v).strip() for values in value_lists for v in values(record)]
        return " ".join(p for p in parts if p) or None

    return join


def _date_time(date_path: str, time_path: str, unit: str = "clock") -> Callable[[Any], Any]:
    get_date, get_time = compile_path(date_path), compile_path(time_path)
    combine = combine_date_minutes if unit == "minutes" else digit_clock(unit) if unit in DIGIT_CLOCKS \
        else combine_date_time

    def date_time(record: Any) -> Any:
        day, clock = get_date(record), get_time(record)
        if empty_value(day) or empty_value(clock):
            return None
        return combine(day, clock)

    return date_time


def readers_of(spec: FieldSpec) -> tuple[Callable[[Any], Any], ...]:
    """``date`` + ``time``; else ``from`` paths in order, then ``concat`` as the fallback;
    else ``value``. The engine tries them in order until one gives a usable value."""
    if spec.date is not None and spec.time is not None:
        return (_date_time(spec.date, spec.time, spec.time_unit),)
    readers: list[Callable[[Any], Any]] = []
    if spec.column is not None:
        names = [spec.column] if isinstance(spec.column, str) else spec.column
        readers.extend(compile_path(f"`{n}`") for n in names)
    if spec.from_ is not None:
        paths = [spec.from_] if isinstance(spec.from_, str) else spec.from_
        readers.extend(compile_path(p) for p in paths)
    if spec.concat:
        readers.append(_joined(spec.concat))
    if not readers:
        constant = spec.value
        readers.append(lambda _record: constant)
    return tuple(readers)


def sources_of(spec: FieldSpec) -> tuple[tuple[Any, ...], ...]:
    """What ``readers_of`` reads, as data, in the same order: ("path", path), ("concat",
    paths), ("date_time", date path, time path) or ("value", constant)."""
    if spec.date is not None and spec.time is not None:
        return (("date_time", spec.date, spec.time),)
    sources: list[tuple[Any, ...]] = []
    if spec.column is not None:
        names = [spec.column] if isinstance(spec.column, str) else spec.column
        sources.extend(("path", f"`{n}`") for n in names)
    if spec.from_ is not None:
        paths = [spec.from_] if isinstance(spec.from_, str) else spec.from_
        sources.extend(("path", p) for p in paths)
    if spec.concat:
        sources.append(("concat", tuple(spec.concat)))
    if not sources:
        sources.append(("value", spec.value))
    return tuple(sources)


def value_mapper(table: dict[str, Any], target: str, quote: bool, lenient: bool = False) -> Callable[[Any], Any]:
    """``lenient`` (a fallback's map): a word not in the table is no value, passed over quietly
    as a null in the table is; only the type's conversion is then a reason to say anything."""
    lowered = {str(k).strip().lower(): v for k, v in table.items()}

    def convert(value: Any) -> Any:
        key = str(value).strip().lower()
        if key not in lowered:
            if lenient:
                return None
            raise TransformError(f"value{quoted(value, quote)} not in the mapping's value map "
                                 f"(add it under `{target}: map:` in a site mapping that extends this one)")
        return lowered[key]

    return convert
