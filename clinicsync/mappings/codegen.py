"""A compiled mapping as one generated Python function: record -> NormalizedAppointment.

``CompiledMapping`` (engine.py) interprets its fields: per record and field it loops over
readers, calls a getter per path step, fills a dict of values and reads it back. The same
rules written out once per mapping load as straight-line source (each field's reads
unrolled, paths as loops over one JSON object at a time (pathcode.py), constants and
converters bound by name, values in local variables) run about twice as fast, and the
interpreted engine stays as the reference: tests/mappings/test_compiled.py compares the
two on generated, fixture and mutated records, results and error messages alike.

Per run (one mapping load) the generated code also remembers what is a pure function of
a text value: every conversion but plain text (phones, emails, zones, date-times, visit
modes …) and the status word's vocabulary lookup; each memo starts over past
``MEMO_LIMIT`` entries, so memory stays bounded.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import fields
from datetime import datetime, timedelta
from functools import lru_cache
from types import CodeType
from typing import Any

from clinicsync.common.timeutil import TimeError, zone
from clinicsync.mappings.codememo import (
    DATETIME_MEMO_LIMIT,
    MEMO_LIMIT,
    SHORT_MEMO_KINDS,
    GroupMemo,
    Memo,
    group_key,
    keep_group,
    remember,
    remember_raw,
    span_of,
    status_of,
)
from clinicsync.mappings.model import (
    MappingError,
    NormalizedAppointment,
    NormalizedPatient,
    NormalizedPractitioner,
    positional_builder,
)
from clinicsync.mappings.pathcode import PATH_NAMESPACE, Constants, path_source
from clinicsync.mappings.paths import column_name, parse_steps
from clinicsync.mappings.transforms import PhoneCell, TransformError, clean_text, split_phone

# engine.CompiledMapping and its _CompiledField, seen as Any: engine.py imports this module
# to generate its function, so this one never imports engine.py (no import cycle); the
# engine hands over the helpers the generated code calls (``runtime`` of ``generate``).
CompiledMapping = Any
_CompiledField = Any

# The generated code builds every appointment, patient and practitioner with all fields given:
# positionally, without a frozen dataclass's per-field object.__setattr__ (model.positional_builder).
_BUILD_APPOINTMENT = positional_builder(NormalizedAppointment)
_BUILD_PATIENT = positional_builder(NormalizedPatient)
_BUILD_PRACTITIONER = positional_builder(NormalizedPractitioner)
_MAX_STEPS = 12  # deeper paths keep the interpreted getter (Python nests at most 20 loops)
_PATIENT_TARGETS = ("name", "phone", "email", "language", "channel")


class _Source:
    """The generated module's lines and the names bound for it."""

    def __init__(self, constants: Constants, texts: bool = False) -> None:
        self.constants = constants
        # Every value of the record is exactly ``str`` (a CSV row: generate(texts=True)): a
        # column read is a text or None (no such column), so its type needs no test.
        self.texts = texts
        self.helpers: list[str] = []  # path functions, before the mapping's function
        self.lines: list[str] = []
        self.paths: dict[tuple[str, bool], str] = {}
        # Columns already read into locals (a group's key: k0, k1 …): read again from them.
        self.columns: dict[str, str] = {}
        # Whether the field being written reads ``seen`` (a required one's message, several readers).
        self.seen = True

    def add(self, indent: int, text: str) -> None:
        self.lines.append("    " * indent + text)

    def saw(self, indent: int) -> None:
        """``seen = True``, where the field reads it."""
        if self.seen:
            self.add(indent, "seen = True")

    def path(self, path: str, first: bool) -> str:
        """The name of a generated function reading ``path`` (first value, or all values)."""
        known = self.paths.get((path, first))
        if known is not None:
            return known
        name = f"_{'p' if first else 'a'}{len(self.paths)}"
        if len(parse_steps(path)) > _MAX_STEPS:
            from clinicsync.mappings.paths import compile_path, compile_values

            self.constants.namespace[name] = compile_path(path) if first else compile_values(path)
        else:
            self.helpers.append(path_source(path, name, first, self.constants))
        self.paths[(path, first)] = name
        return name

    @staticmethod
    def guard(source: tuple[Any, ...]) -> str | None:
        """A condition without which a path reads nothing (its first key is there). Most
        paths of a rich mapping find nothing at their first key (no virtualService, no
        serviceType): looking costs less than calling the path's function."""
        if source[0] != "path" or column_name(source[1]) is not None:
            return None
        first = parse_steps(source[1])[0][0]
        return None if first is None else f"record.get({first!r}) is not None"

    def read(self, source: tuple[Any, ...], field: _CompiledField, position: int) -> str:
        """An expression giving the raw value of one reader of ``field``."""
        kind = source[0]
        if kind == "path":
            column = column_name(source[1])
            if column is not None:
                return self.columns.get(column) or f"record.get({column!r})"
            return f"{self.path(source[1], True)}(record)"
        if kind == "concat":
            name = f"_j{len(self.paths)}"
            self.paths[(f"concat {name}", False)] = name
            lists = [self.path(p, False) for p in source[1]]
            parts = " + ".join(f"{get}(record)" for get in lists)
            self.helpers.append(f"def {name}(record):\n"
                                f"    parts = [str(v).strip() for v in {parts}]\n"
                                f"    return ' '.join([p for p in parts if p]) or None\n")
            return f"{name}(record)"
        if kind == "date_time":
            return f"{self.constants.bind(field.reads[position], '_dt')}(record)"
        value = source[1]
        if value is None or isinstance(value, (bool, int, str)):
            return repr(value)
        return self.constants.bind(value, "_k")


def _convert(out: _Source, field: _CompiledField, var: str, cleaned: bool) -> list[str]:
    """Statements setting ``value`` from raw ``var`` (already cleaned when ``cleaned``)."""
    text = var if cleaned else f"({var} if {var}.isprintable() else _clean({var}))"
    if field.mapped or field.transform is None:
        convert = out.constants.bind(field.convert, "_conv")
        return [f"value = {convert}({text})"]
    if field.kind == "string":
        return [f"value = {text}.strip()"]
    limit = DATETIME_MEMO_LIMIT if field.kind in SHORT_MEMO_KINDS else MEMO_LIMIT
    memo = out.constants.bind(Memo(limit), "_memo")
    transform = out.constants.bind(field.transform, "_tr")
    return [f"key = {text}",
            f"known = {memo}.get(key)",
            "if known is None:",
            f"    known = _remember({memo}, {transform}, key)",
            "if known[0]:",
            "    value = known[1]",
            "else:",
            "    raise TransformError(known[1])"]


def _convert_other(out: _Source, field: _CompiledField, var: str) -> str:
    """The conversion of a value that is not exactly ``str`` (a JSON number, a boolean …)."""
    if field.mapped or field.transform is None:
        return f"{out.constants.bind(field.convert, '_conv')}({var})"
    return f"{out.constants.bind(field.transform, '_tr')}({var})"


def _reader(out: _Source, field: _CompiledField, position: int, ind: int, single: bool) -> None:
    """One reader of ``field``: sets ``value`` (and ``seen``; and for several readers
    ``dropped`` and ``reason``), run only while ``value`` is None. Only a date + time reader
    can raise while reading; a path that finds nothing at its first key is not called."""
    source = field.sources[position]
    conditions = [] if position == 0 else ["value is None"]
    guard = out.guard(source)
    if guard is not None:
        conditions.append(guard)
    if conditions:
        out.add(ind, f"if {' and '.join(conditions)}:")
        ind += 1
    read = out.read(source, field, position)
    if source[0] == "date_time":
        out.add(ind, "raw = None")
        out.add(ind, "try:")
        out.add(ind + 1, f"raw = {read}")
        out.add(ind + 1, "if raw is not None:")
        body, handler = ind + 2, ind
    else:
        out.add(ind, f"raw = {read}")
        out.add(ind, "if raw is not None:")
        out.add(ind + 1, "try:")
        body, handler = ind + 2, ind + 1
    if out.texts and source[0] == "path" and column_name(source[1]) is not None:
        _text_value(out, field, body, single)  # a column of a texts record: exactly a str here
    else:
        out.add(body, "if type(raw) is str:")
        _text_value(out, field, body + 1, single)
        out.add(body, "elif not (isinstance(raw, str) and not raw.strip()):")
        out.saw(body + 1)
        out.add(body + 1, f"value = {_convert_other(out, field, 'raw')}")
    out.add(handler, "except TransformError as exc:")
    out.saw(handler + 1)
    note = out.constants.bind(field, "_f")
    if not field.drop_invalid:
        out.add(handler + 1, f"raise MappingError({field.target!r}, str(exc)) from None")
    elif single:
        out.add(handler + 1, f"notes.append(_dropped_note({note}, exc, raw))")
    else:
        out.add(handler + 1, f"dropped, reason = _dropped_note({note}, exc, raw), str(exc)")


def _remembered(field: _CompiledField) -> bool:
    """Whether ``_convert`` keeps the field's conversions in a memo (not plain text, no value map)."""
    return not (field.mapped or field.transform is None) and field.kind != "string"


def _text_value(out: _Source, field: _CompiledField, ind: int, single: bool) -> None:
    """Statements setting ``seen`` and ``value`` from ``raw``, exactly a ``str``."""
    if single and _remembered(field):
        # The memo first, keyed by the raw text (codememo.remember_raw): a hit skips the blank and
        # printable tests. known[0]: True a value, False an error, None a blank text.
        memo = out.constants.bind(Memo(DATETIME_MEMO_LIMIT if field.kind in SHORT_MEMO_KINDS else MEMO_LIMIT),
                                  "_memo")
        transform = out.constants.bind(field.transform, "_tr")
        out.add(ind, f"known = {memo}.get(raw)")
        out.add(ind, "if known is None:")
        out.add(ind + 1, f"known = _remember_raw({memo}, {transform}, raw)")
        out.add(ind, "if known[0]:")
        out.saw(ind + 1)
        out.add(ind + 1, "value = known[1]")
        out.add(ind, "elif known[0] is not None:")
        out.saw(ind + 1)
        out.add(ind + 1, "raise TransformError(known[1])")
        return
    plain_text = single and field.kind == "string" and not field.mapped and field.transform is not None
    if plain_text:
        # The test's strip is the value when raw is printable (most are): one strip, not two
        # (_convert's ``(raw if raw.isprintable() else _clean(raw)).strip()``).
        out.add(ind, "stripped = raw.strip()")
        out.add(ind, "if stripped:")
    else:
        out.add(ind, "if raw.strip():")
    if not single:  # _value cleans raw itself (its note names the cleaned value)
        out.add(ind + 1, "if not raw.isprintable():")
        out.add(ind + 2, "raw = _clean(raw)")
    out.saw(ind + 1)
    if plain_text:
        out.add(ind + 1, "value = stripped if raw.isprintable() else _clean(raw).strip()")
    else:
        for line in _convert(out, field, "raw", cleaned=not single):
            out.add(ind + 1, line)


def _single(out: _Source, field: _CompiledField, ind: int) -> None:
    """One reader, no fallback: engine._extract's inlined case (the note names the raw
    value as read, before cleaning)."""
    out.seen = field.required  # else nothing reads it: not written
    if out.seen:
        out.add(ind, "seen = False")
    out.add(ind, "value = None")
    _reader(out, field, 0, ind, single=True)
    out.seen = True


def _several(out: _Source, field: _CompiledField, ind: int) -> None:
    """engine.CompiledMapping._value unrolled: sets value, seen, dropped and reason."""
    out.add(ind, "seen = False")
    out.add(ind, "value = None")
    out.add(ind, "dropped = None")
    out.add(ind, "reason = ''")
    for position in range(len(field.sources)):
        _reader(out, field, position, ind, single=False)
    if field.drop_invalid and len(field.sources) > 1:  # a later path's value: no note for an earlier one
        out.add(ind, "if value is not None:")
        out.add(ind + 1, "dropped, reason = None, ''")


def _field(out: _Source, field: _CompiledField, variable: str, ind: int = 1) -> None:
    """The statements of one field (engine._extract's loop body): ``variable`` ends as its
    value, None when absent."""
    if len(field.sources) == 1 and field.fallback is None:
        _single(out, field, ind)
    else:
        _several(out, field, ind)
        if field.fallback is not None:
            fallback = field.fallback
            out.add(ind, "if value is None:")
            out.add(ind + 1, "kept = (seen, dropped, reason)")
            _several(out, fallback, ind + 1)
            out.add(ind + 1, "unusable, why = dropped, reason")
            out.add(ind + 1, "seen, dropped, reason = kept")
            failed = out.constants.bind(field, "_ff")
            out.add(ind + 1, f"failed = None if unusable is None else _fallback_failed({failed}, why)")
            out.add(ind + 1, "if dropped is not None:")
            out.add(ind + 2, "if value is None:")
            out.add(ind + 3, f"raise MappingError({field.target!r}, reason if failed is None else "
                             "f'{reason}; {failed}')")
            paths = out.constants.bind(field.fallback_paths, "_fp")
            out.add(ind + 2, f"dropped += f'; used {{value!r}} from the fallback ({{{paths}}})'")
            out.add(ind + 1, "elif failed is not None:")
            if field.required:
                out.add(ind + 2, f"raise MappingError({field.target!r}, failed)")
            else:
                out.add(ind + 2, f"dropped = {field.target + ': '!r} + failed")
        out.add(ind, "if dropped is not None:")
        out.add(ind + 1, "notes.append(dropped)")
    absent = field.required or field.default is not None  # else a None value needs nothing
    if absent:
        out.add(ind, "if value is None:")
    if field.required:
        missing, unusable = "missing (required)", "no usable value (required)"
        if field.fix:
            missing, unusable = f"{missing}: {field.fix}", f"{unusable}: {field.fix}"
        out.add(ind + 1, f"raise MappingError({field.target!r}, {unusable!r} if seen else {missing!r})")
    elif field.default is not None:
        out.add(ind + 1, f"value = {out.constants.bind(field.default, '_d')}")
    if field.fitted:
        # engine._fit changes nothing within the column's limits: call it only past them.
        id_limit, text_limits = out.constants.namespace["_ID_LIMIT"], out.constants.namespace["_TEXT_LIMITS"]
        limits = [id_limit] if field.target.endswith("external_id") else []
        limits += [text_limits[field.target]] if field.target in text_limits else []
        out.add(ind, f"{'elif' if absent else 'if'} isinstance(value, str) and len(value) > {min(limits)}:")
        out.add(ind + 1, "try:")
        out.add(ind + 2, f"value = _fit({field.target!r}, value)")
        out.add(ind + 1, "except TransformError as exc:")
        out.add(ind + 2, f"raise MappingError({field.target!r}, str(exc)) from None")
    out.add(ind, f"{variable} = value")


def _top(source: tuple[Any, ...]) -> str | None:
    """The one top-level key a reader reads under, else None (a constant, date + time)."""
    if source[0] == "path":
        name = parse_steps(source[1])[0][0]
        return None if name is None else f"key {name}"
    if source[0] == "concat":
        tops = {_top(("path", path)) for path in source[1]}
        return tops.pop() if len(tops) == 1 else None
    return None


def _all_sources(field: _CompiledField) -> list[tuple[Any, ...]]:
    return list(field.sources) + (list(field.fallback.sources) if field.fallback is not None else [])


def _field_top(field: _CompiledField) -> str | None:
    tops = {_top(source) for source in _all_sources(field)}
    return tops.pop() if len(tops) == 1 else None


def _field_columns(field: _CompiledField) -> list[str] | None:
    """The top-level columns a field reads when it reads nothing else (a flat row), else None."""
    columns: list[str] = []
    for source in _all_sources(field):
        paths = [source[1]] if source[0] == "path" else list(source[1]) if source[0] == "concat" else [None]
        for path in paths:
            column = None if path is None else column_name(path)
            if column is None:
                return None
            columns.append(column)
    return columns


Group = tuple[tuple[str, ...] | None, list[tuple[int, "_CompiledField"]]]


def _groups(fields: list[_CompiledField]) -> list[Group]:
    """The fields in order, a patient's or a practitioner's grouped where they can be
    remembered together: runs of two or more that read under one top-level key (FHIR's
    ``_patient``: key ("top", "_patient")) or only columns of a flat row (a CSV's patient
    columns: key ("columns", "patient", column, …)); the others alone, key None."""
    runs: list[tuple[tuple[str, ...] | None, list[tuple[int, _CompiledField]]]] = []
    for index, field in enumerate(fields):
        prefix = field.target.split(".")[0] if "." in field.target else None
        columns = _field_columns(field)
        top = _field_top(field)
        signature: tuple[str, ...] | None = None
        if prefix is not None and columns is not None:
            signature = ("columns", prefix)
        elif prefix is not None and top is not None:
            signature = ("top", top[len("key "):], prefix)
        last = runs[-1][0] if runs else None
        if signature is not None and last is not None and last[:len(signature)] == signature:
            if signature[0] == "columns":  # the key: every column the run reads, once each, in order
                last += tuple(c for c in dict.fromkeys(columns or []) if c not in last[2:])
            runs[-1] = (last, [*runs[-1][1], (index, field)])
        elif signature is not None and signature[0] == "columns":
            runs.append((signature + tuple(dict.fromkeys(columns or [])), [(index, field)]))
        else:
            runs.append((signature, [(index, field)]))
    grouped: list[Group] = []
    for signature, members in runs:
        if signature is not None and len(members) >= 2:
            grouped.append((signature, members))
        else:
            grouped.extend((None, [member]) for member in members)
    return grouped


def _group(out: _Source, signature: tuple[str, ...], group: list[tuple[int, _CompiledField]],
           variables: list[str]) -> None:
    """Fields of one patient or practitioner (see _groups), remembered per distinct source
    value: their values, their notes, or the error one of them raised. A feed repeats each
    patient on every one of their appointments. Under a top-level key the value is a JSON
    object, keyed by its JSON text and used only for a value equal to the one it was made from
    (== tells a tuple from a list, and a NaN from null, which the JSON text does not); in a
    flat row it is the tuple of the columns read, remembered only when each is text (or
    absent), which is all the key needs."""
    memo = out.constants.bind(GroupMemo(), "_group")
    add = out.add
    targets = ", ".join(field.target for _index, field in group)
    if signature[0] == "top":
        add(1, f"# {targets}: remembered per {signature[1]}")
        add(1, f"sub = record.get({signature[1]!r})")
        add(1, "gkey = _group_key(sub)")
    else:
        columns = signature[2:]
        add(1, f"# {targets}: remembered per {', '.join(columns)}")
        for number, column in enumerate(columns):
            add(1, f"k{number} = record.get({column!r})")
        keys = [f"k{number}" for number in range(len(columns))]
        add(1, f"sub = ({', '.join(keys)},)")
        if out.texts:  # each column of a texts record: a str or None (absent), all a key needs
            add(1, "gkey = sub")
        else:
            add(1, f"gkey = sub if {' and '.join(f'(type({k}) is str or {k} is None)' for k in keys)} else None")
    if out.texts and signature[0] != "top":
        add(1, f"hit = {memo}.get(gkey)")
    else:
        add(1, f"hit = None if gkey is None else {memo}.get(gkey)")
    entry = f"e_{signature[1] if signature[0] == 'columns' else signature[2]}"
    if signature[0] == "top":
        add(1, "if hit is not None and (hit[0] is sub or hit[0] == sub):")
    else:
        add(1, "if hit is not None:")
    add(2, f"{entry} = hit")
    add(2, f"{memo}.hits += 1")
    add(2, f"{', '.join(variables)}, = hit[1]")
    add(2, "if hit[2]:")
    add(3, "notes.extend(hit[2])")
    add(2, "if hit[3] is not None:")
    add(3, "raise MappingError(*hit[3])")
    add(1, "else:")
    add(2, "mark = len(notes)")
    add(2, "try:")
    if signature[0] == "columns":  # the key's columns, read once above (record is a dict)
        out.columns = {column: f"k{number}" for number, column in enumerate(signature[2:])}
    for index, field in group:
        add(3, f"# {field.target}")
        _field(out, field, f"t{index}", ind=3)
    out.columns = {}
    add(2, "except MappingError as exc:")
    add(3, "if gkey is not None:")
    kept = "sub" if signature[0] == "top" else "None"  # a flat row's key is its value
    add(4, f"_keep({memo}, gkey, [{kept}, ({', '.join('None' for _ in variables)},), "
           "tuple(notes[mark:]), (exc.field, exc.reason), None])")
    add(3, "raise")
    add(2, f"{entry} = None")
    add(2, "if gkey is not None:")  # the last item: the patient or practitioner built from these values
    add(3, f"{entry} = [{kept}, ({', '.join(variables)},), tuple(notes[mark:]), None, None]")
    add(3, f"_keep({memo}, gkey, {entry})")


def _reuse_built(out: _Source, person: str, whole: set[str]) -> int:
    """Where one group holds every field of ``person`` ("patient", "practitioner"), the one
    built for its remembered entry is reused: the code that builds it goes under ``else:``.
    Returns that code's indent."""
    if person not in whole:
        return 1
    out.add(1, f"if e_{person} is not None and e_{person}[4] is not None:")
    out.add(2, f"{person} = e_{person}[4]")
    out.add(1, "else:")
    return 2


def _keep_built(out: _Source, person: str, whole: set[str], ind: int) -> None:
    """The ``person`` just built, kept with its group's remembered entry (see _reuse_built)."""
    if person in whole:
        out.add(ind, f"if e_{person} is not None:")
        out.add(ind + 1, f"e_{person}[4] = {person}")


def _positional(kind: type, arguments: dict[str, str]) -> str:
    """``arguments`` (field -> expression) as the positional argument list of ``kind``'s
    positional builder (model.positional_builder): every field, in declaration order."""
    names = [f.name for f in fields(kind)]
    if set(names) != set(arguments):
        raise ValueError(f"{kind.__name__}: arguments for {sorted(arguments)}, fields {sorted(names)}")
    return ", ".join(arguments[name] for name in names)


def _to_utc(out: _Source, target: str, raw: str, ind: int) -> None:
    """``target = _utc(raw, read_tz)``, a TimeError as the target's MappingError, with the
    memo of ``_utc`` (field_readers.RememberedUtc) looked up here: no call on a hit."""
    out.add(ind, f"ukey = ({raw}, read_tz, {raw}.utcoffset() if isinstance({raw}, _datetime) else None)")
    out.add(ind, "known = _utc_memo.get(ukey)")
    out.add(ind, "if known is None:")
    out.add(ind + 1, "known = _utc_known(ukey)")
    out.add(ind, "if not known[0]:")
    out.add(ind + 1, f"raise MappingError({target!r}, known[1])")
    out.add(ind, f"{target} = known[1]")


def _tail(out: _Source, names: dict[str, str], mapping: CompiledMapping, whole: set[str]) -> None:
    """CompiledMapping.apply after _extract, on local variables instead of a dict."""
    clinic_timezone = mapping.clinic_timezone
    def got(target: str) -> str:
        return names.get(target, "None")

    add = out.add
    add(1, "stated = record.get(_CONNECTOR_NOTES)")
    add(1, "if isinstance(stated, (list, tuple)):")
    add(2, "notes.extend(str(n) for n in stated)")
    add(1, f"external_id = {got('external_id')}")
    add(1, "if not external_id:")
    add(2, "raise MappingError('external_id', 'missing')")
    # The visit's zone: the record's, else (stored_times: utc) its location's, else the default.
    location = got("location")  # record_parts.place_zone_lookup, inlined: a dict lookup, no call
    place = (f" or (_place_zones.get({location}, _place_every) if {location} else None)"
             if mapping.place_zones and "location" in names else "")
    add(1, f"tz_name = {got('timezone')}{place} or {clinic_timezone!r}")
    add(1, "try:")
    add(2, "zone(tz_name)")
    add(1, "except TimeError:")
    add(2, "raise MappingError('timezone', f'unknown IANA time zone {quoted_zone(tz_name)} '"
           " '(e.g. America/Chicago)') from None")
    # The zone naive date-times are read in: UTC for a source that stores UTC (stored_times).
    add(1, "read_tz = 'UTC'" if mapping.stored_times == "utc" else "read_tz = tz_name")
    add(1, f"start_raw = {got('start')}")
    add(1, "if start_raw is None:")
    add(2, "raise MappingError('start', 'missing')")
    _to_utc(out, "start", "start_raw", 1)
    add(1, f"end_raw = {got('end')}")
    add(1, "if end_raw is not None:")
    _to_utc(out, "end", "end_raw", 2)
    add(1, f"elif {got('duration_minutes')} is not None:")
    # timedelta(minutes=...) by span_of's memo: the same value, its errors raised in the same place.
    minutes = got("duration_minutes")
    add(2, f"span = _spans.get({minutes}) if type({minutes}) is int else None")
    add(2, "try:")
    add(3, f"end = start + (span if span is not None else _span(_spans, {minutes}))")
    add(2, "except OverflowError:")
    add(3, "raise MappingError('duration_minutes', 'out of range') from None")
    if mapping.default_minutes is not None:  # clinic.default_visit_minutes: a note, not a quarantine
        add(1, "else:")
        add(2, f"end = start + timedelta(minutes={mapping.default_minutes!r})")
        add(2, f"notes.append({mapping.default_note!r})")
    else:
        add(1, "else:")
        add(2, "raise MappingError('end', _NO_END)")
    add(1, "if end <= start:")
    add(2, "raise MappingError('end', 'is not after start')")
    add(1, "external_id = str(external_id)")
    if mapping.stand_in:  # no id column: the id is a hash of its readable form (record_parts.stand_in_id)
        add(1, "former_id, external_id = external_id, _stand_in_id(external_id)")
    add(1, f"word = {got('status')}")
    add(1, "if word is None:")
    add(2, "status = 'booked'")
    add(1, "else:")
    add(2, "status = _statuses.get(word) if type(word) is str else None")
    add(2, "if status is None:")
    add(3, "status = _status_of(_statuses, _status, word)")
    # record_parts.patient_of: a field is given when its value is not None (the engine's dict holds no None).
    # Where one group holds every patient field, the patient built is kept with its entry.
    ind = _reuse_built(out, "patient", whole)
    patient_id = got("patient.external_id")
    add(ind, f"if {patient_id} is None:")
    given = [got(f"patient.{f}") for f in ("phone", "email", "name") if f"patient.{f}" in names]
    if given:
        add(ind + 1, f"if {' or '.join(f'{g} is not None' for g in given)}:")
        add(ind + 2, "raise MappingError('patient.external_id', 'missing while other patient fields are given')")
    add(ind + 1, "patient = None")
    add(ind, "else:")
    arguments = {"external_id": f"str({patient_id})", "fallback_phones": "None"}
    arguments.update((f, got(f"patient.{f}")) for f in _PATIENT_TARGETS)
    if "patient.phone" in names:  # a cell of several numbers: the first mobile, the others kept apart
        phone = got("patient.phone")
        add(ind + 1, f"p_phone, p_fallbacks = ({phone}, None) if type({phone}) is not _PhoneCell "
                     f"else _split_phone({phone})")
        arguments.update(phone="p_phone", fallback_phones="p_fallbacks")
    arguments.update((f, f"True if {got(f'patient.{f}')} is None else {got(f'patient.{f}')}"
                      if f"patient.{f}" in names else "True") for f in ("allow_sms", "allow_email"))
    add(ind + 1, f"patient = _Patient({_positional(NormalizedPatient, arguments)})")
    _keep_built(out, "patient", whole, ind + 1)
    ind = _reuse_built(out, "practitioner", whole)
    doctor_id, doctor_email = got("practitioner.external_id"), got("practitioner.email")
    add(ind, f"doctor_id = {doctor_id}")
    add(ind, "if doctor_id is None:")
    add(ind + 1, f"doctor_id = {doctor_email}")
    add(ind, "if doctor_id is None:")
    add(ind + 1, "practitioner = None")
    add(ind, "else:")
    doctor = {"external_id": "str(doctor_id)", "name": got("practitioner.name"), "email": doctor_email}
    add(ind + 1, f"practitioner = _Practitioner({_positional(NormalizedPractitioner, doctor)})")
    _keep_built(out, "practitioner", whole, ind + 1)
    # Without a source for them, _updated_utc(None) and _booked_utc(None) are None: not called.
    add(1, f"updated = _updated_utc({got('source_updated_at')}, read_tz)" if "source_updated_at" in names
        else "updated = None")
    add(1, f"mode, join_url, provider_url, dial_in = ({got('visit_mode')}, {got('join_url')}, "
           f"{got('provider_join_url')}, {got('dial_in')})")
    add(1, "if mode is None and (join_url or provider_url):")
    add(2, "mode = 'video'")
    add(1, "elif mode is None and dial_in:")
    add(2, "mode = 'phone'")
    appointment = {
        "external_id": "external_id", "status": "status", "start": "start", "end": "end", "timezone": "tz_name",
        "type": got("type"), "location": got("location"), "patient": "patient", "practitioner": "practitioner",
        "source_updated_at": "updated", "notes": "tuple(notes)", "answer": got("answer"), "visit_mode": "mode",
        "join_url": "join_url", "provider_join_url": "provider_url", "dial_in": "dial_in",
        "cancel_reason": got("cancel_reason"),
        "booked_at": f"_booked_utc({got('booked_at')}, read_tz)" if "booked_at" in names else "None",
        "replaces": f"_replaced({got('replaces')}, external_id)" if "replaces" in names else "None",
        "former_id": "former_id" if mapping.stand_in else "None"}
    add(1, f"return _Appointment({_positional(NormalizedAppointment, appointment)})")


@lru_cache(maxsize=32)
def _compiled(source: str, name: str) -> CodeType:
    """Python's compile of a mapping's source, once per process for the same source: the same
    preset, zone and region give the same text (constants are bound by name, in order), and
    compiling a FHIR mapping's ~3,000 lines costs tens of milliseconds."""
    return compile(source, name, "exec")


def generate(mapping: CompiledMapping, runtime: Mapping[str, Any],
             texts: bool = False) -> tuple[Callable[[Any], NormalizedAppointment], str]:
    """The mapping's generated function and its source (for a reader, or a failing test).
    ``runtime``: the engine's helpers and limits the generated code uses (quoted_zone,
    _fit, _dropped_note, _updated_utc, _booked_utc, _CONNECTOR_NOTES, _ID_LIMIT, _TEXT_LIMITS).
    ``texts``: the function is only for records whose every value is exactly ``str`` (a CSV
    row's dict), so a column's value and a group's key need no type test (~150 opcodes of a
    W1 row's ~950); its memos are its own. Given any other record it maps it wrong."""
    namespace: dict[str, Any] = {
        **PATH_NAMESPACE, **runtime, "MappingError": MappingError, "TransformError": TransformError,
        "TimeError": TimeError, "zone": zone, "timedelta": timedelta, "_clean": clean_text,
        "_span": span_of, "_spans": {},
        "_remember": remember, "_remember_raw": remember_raw, "_group_key": group_key, "_keep": keep_group,
        "_status_of": status_of,
        "_statuses": {}, "_status": mapping._status, "_utc_memo": mapping._utc.memo,
        "_utc_known": mapping._utc.known, "_datetime": datetime, "_place_zones": dict(mapping.place_zones),
        "_place_every": dict(mapping.place_zones).get("*"),
        "_Patient": _BUILD_PATIENT, "_Practitioner": _BUILD_PRACTITIONER,
        "_PhoneCell": PhoneCell, "_split_phone": split_phone,
        "_Appointment": _BUILD_APPOINTMENT, "_interpreted": mapping.apply_interpreted,
    }
    out = _Source(Constants(namespace), texts)
    out.add(0, "def apply(record):")
    out.add(1, "if type(record) is not dict:  # a Mapping of another kind: the reference engine")
    out.add(2, "return _interpreted(record)")
    out.add(1, "notes = []")
    names: dict[str, str] = {}
    grouped_targets: dict[str, set[str]] = {}
    for signature, group in _groups(mapping.fields):
        variables = []
        for index, field in group:
            names[field.target] = f"t{index}"
            variables.append(f"t{index}")
        if signature is None:
            for index, field in group:
                out.add(1, f"# {field.target}")
                _field(out, field, f"t{index}")
        else:
            _group(out, signature, group, variables)
            prefix = signature[1] if signature[0] == "columns" else signature[2]
            grouped_targets[prefix] = {field.target for _index, field in group}
    # A group holding every patient (practitioner) field: the patient built depends on it alone.
    whole = {prefix for prefix, members in grouped_targets.items()
             if members == {f.target for f in mapping.fields if f.target.startswith(f"{prefix}.")}}
    _tail(out, names, mapping, whole)
    source = "\n".join(out.helpers) + "\n" + "\n".join(out.lines) + "\n"
    code = _compiled(source, f"<mapping {mapping.preset.name}{' (texts)' if texts else ''}>")
    exec(code, namespace)  # noqa: S102 - our own source, built from a validated preset
    function: Callable[[Any], NormalizedAppointment] = namespace["apply"]
    return function, source
