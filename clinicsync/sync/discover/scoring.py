"""Placing an unknown source's columns on the mapping's fields, by name, type and sample
values (unknown schemas by their shape). Used by every discoverer that meets a
table-like shape it does not recognize: a SQL table or join, a CSV export's header. How one
column is read and which fields its name and values allow is ``columns.py``; this module places
the best candidates and assembles the mapping.

THE CONTRACT (``ColumnSample`` in, ``Scored`` out) is shared: the SQL discoverer calls
``score_columns`` for a schema no known product matches; the CSV discoverer for every file.

How a column is placed:

1. Its **name** is split into words (``fechaCita``, ``Fecha de la cita``, ``FECHA_CITA`` all
   give ``fecha cita``; accents dropped) and each word looked up in ``vocab.py`` (English,
   Spanish, Portuguese, French, German): an attribute (date, time, phone, status, …) and
   whose it is (the patient's, the practitioner's, the appointment's).
2. Its **values** are profiled (``values.py``): the share that are ISO or local dates and
   date-times (d/m/y against m/d/y decided by a number above 12), times, phone numbers in
   the clinic's region, emails, IANA zones, durations, status words, languages.
3. Its **declared type** (SQL) stands in for values when the sample has none.

Each (column, field) pair gets a confidence from the name and how well the values agree;
the best pairs win, one column per field and one field per column (a second phone column
becomes the first one's fallback). A date column and a time column become one start
(``{date:, time:}`` for ISO text, else ``concat`` read with a ``datetime_formats`` entry).
The status column's distinct values are listed with their counts and mapped through the
status vocabulary (``clinicsync.common.vocabulary``); an unknown word stays unmapped and
listed. Nothing is guessed silently: every column no field took is in ``unplaced``.

Reasons (``why``) name columns, value classes and shares, never a value: a sample row is
patient data.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

from clinicsync.sync.discover import complement
from clinicsync.sync.discover.columns import (
    CONSENTS,
    Candidate,
    Column,
    ColumnSample,
    candidates_of,
    path_of,
    read_column,
    whole_numbers,
)
from clinicsync.sync.discover.contacts import consent
from clinicsync.sync.discover.contacts.mobilefirst import mobile_order
from clinicsync.sync.discover.endcolumn import Moments, paired_end
from clinicsync.sync.discover.ownclock import prefer_own_clock
from clinicsync.sync.discover.proposal import Guess, StatusWord
from clinicsync.sync.discover.statuses import status_words
from clinicsync.sync.discover.valueend import end_by_values
from clinicsync.sync.discover.values import duration_type


@dataclass
class Scored:
    """The best column for each mapping field it could place (at most one per field), the
    status column's distinct words, and the columns no field took.

    ``datetime_formats`` are the strptime formats the placed date-times need (local dates
    such as ``25/03/2026 09:30``): they go in the mapping's top-level ``datetime_formats``
    (``mapping_from`` does that). ``notes`` say what the admin should look at."""

    guesses: list[Guess] = dataclasses.field(default_factory=list)
    status_words: list[StatusWord] = dataclasses.field(default_factory=list)
    unplaced: list[str] = dataclasses.field(default_factory=list)
    datetime_formats: list[str] = dataclasses.field(default_factory=list)
    notes: list[str] = dataclasses.field(default_factory=list)


# Fields a column may be placed on, including the parts the scorer joins afterwards.
_PARTS = {"start.date", "start.time", "end.date", "end.time", "patient.first", "patient.last",
          "practitioner.first", "practitioner.last"}
DEFAULT_MINUTES = 30  # a visit's length when the source gives neither an end nor a duration


def score_columns(columns: Sequence[ColumnSample], *, region: str = "US") -> Scored:
    """Place each column on a mapping field, best first (see the module docstring).
    ``region`` is the clinic's ``default_region``: phone numbers without a country code are
    read there, and a date column whose values never say d/m or m/d takes its order."""
    read = [read_column(c, region) for c in columns]
    refused: dict[str, list[str]] = {}
    candidates = sorted((c for col in read for c in candidates_of(col, refused)), key=lambda c: -c.score)
    placed: dict[str, Candidate] = {}
    used: set[str] = set()
    extra: dict[str, list[Candidate]] = {}
    for cand in candidates:
        if cand.column.name in used or cand.score < 0.3:
            continue
        if cand.field in placed:
            if cand.field in ("patient.phone", "patient.email") and cand.score >= 0.5:
                extra.setdefault(cand.field, []).append(cand)  # a second phone: the fallback
                used.add(cand.column.name)
            elif cand.field in complement.FIELDS and cand.field not in extra and complement.complements(
                    placed[cand.field].column.sample.values, cand.column.sample.values):
                extra[cand.field] = [cand]  # the same field on the other rows (complement.py)
                used.add(cand.column.name)
            continue
        placed[cand.field] = cand
        used.add(cand.column.name)
    scored = Scored()
    prefer_own_clock(placed, candidates, used, scored.notes)
    _mobiles_first(placed, extra, region)
    _end_beside(placed, read, used, scored)
    _assemble(placed, extra, scored, [c for c in read if "minute" in c.roles and c.name not in used])
    scored.unplaced = [c.name for c in read if c.name not in _sources(scored)]
    _left_out(scored, refused)
    return scored


def _mobiles_first(placed: dict[str, Candidate], extra: dict[str, list[Candidate]], region: str) -> None:
    """The patient's phone columns in the order a text message reaches them (mobilefirst.py)."""
    first = placed.get("patient.phone")
    if first is None or not extra.get("patient.phone"):
        return
    columns = [first, *extra["patient.phone"]]
    order = mobile_order([(c.column.name, c.column.sample.values) for c in columns], region)
    if order[0] != 0:
        chosen = columns[order[0]]
        placed["patient.phone"] = dataclasses.replace(
            chosen, why=f"{chosen.why}; its values are mobiles more often than {first.column.name!r}'s")
        extra["patient.phone"] = [columns[i] for i in order[1:]]


def _end_beside(placed: dict[str, Candidate], read: Sequence[Column], used: set[str], scored: Scored) -> None:
    """The end a start's own name pairs with (``datep``/``datep2``: endcolumn.py), when no end or
    length was placed and its values are ends; else the note why it was left out."""
    start = placed.get("start")
    if start is None or {"end", "end.date", "end.time", "duration_minutes"} & set(placed):
        return
    free = {c.name: c for c in read if c.name not in used and c.kind() == "datetime"}
    moments = [Moments(c.name, c.sample.values, c.profile.datetime_format, c.unix_seconds())
               for c in [start.column, *free.values()]]
    found = paired_end(moments[0], moments[1:])
    if found is None:  # no column named as the end: one whose values are (valueend.py), no stamp
        found = end_by_values(moments[0], [m for m in moments[1:]
                                           if not free[m.name].roles & {"updated", "created", "deleted"}])
    if found is not None and found[0] is not None:
        placed["end"] = Candidate(free[found[0]], "end", 0.8, found[1])
        used.add(found[0])
    elif found is not None:
        scored.notes.append(found[1])


def _left_out(scored: Scored, refused: dict[str, list[str]]) -> None:
    """A note for each field a named column was refused for and no other column took: what was
    looked at and why it was not enough (the field is left out, never guessed)."""
    have = {g.field for g in scored.guesses}
    for field, reasons in refused.items():
        if _whole_field(field) in have or field in have:
            continue
        scored.notes.append(f"{field}: {LEFT_OUT}: {'; '.join(reasons)}; map it by hand if the source has it")


LEFT_OUT = "left out, not guessed"
_WHOLE = {"start.date": "start", "start.time": "start", "end.date": "end", "end.time": "end"}


def _whole_field(field: str) -> str:
    """The field a part is read into: a start's date -> start, a first name -> the name."""
    if field.endswith((".first", ".last")):
        return field.rsplit(".", 1)[0] + ".name"
    return _WHOLE.get(field, field)


def left_out_stands(note: str, placed: Collection[str]) -> bool:
    """Whether a note that a field was left out still holds once ``placed`` are known: another
    part of discover (the people it followed) may have placed the field the scorer refused a
    column for ('doctor_last_login' is no last name; the doctor's name came from their user row)."""
    field, sep, rest = note.partition(": ")
    if not sep or not rest.startswith(LEFT_OUT):
        return True
    return field not in placed and _whole_field(field) not in placed


def _sources(scored: Scored) -> set[str]:
    return {name for g in scored.guesses for name in g.source.split(" + ")}


def _add_format(scored: Scored, fmt: str | None) -> None:
    if fmt and fmt not in scored.datetime_formats:
        scored.datetime_formats.append(fmt)


def _order_note(scored: Scored, column: Column) -> None:
    p = column.profile
    if p.date_format and not p.date_order_certain:
        scored.notes.append(f"{column.name}: no sampled date says day/month or month/day; read as "
                            f"{p.date_format} (the region's order): check a date after the 12th")


def _minute_beside(hour: Candidate, minutes: Sequence[Column]) -> Column | None:
    """The minute column that goes with an hour column of whole numbers (0-23), if any."""
    if "time" not in hour.column.roles or not whole_numbers(hour.column, 23):
        return None
    return next((c for c in minutes if whole_numbers(c, 59)), None)


def _moment(field: str, placed: dict[str, Candidate], scored: Scored, date_from: Candidate | None = None,
            minutes: Sequence[Column] = ()) -> Guess | None:
    """start or end: one date-time column, or a date column and a time column joined. A pair
    both surer than the one column wins: a creation stamp read as a start by its values alone
    (its minutes on the clinic's grid when it was written on the quarter hour) is no rival for
    ``appointment_date`` + ``start_time`` named so."""
    whole = placed.get(field)
    pair = (placed.get(f"{field}.date") or date_from, placed.get(f"{field}.time"))
    if whole is not None and pair[0] is not None and pair[1] is not None \
            and min(pair[0].score, pair[1].score) > whole.score:
        whole = None
    if whole is not None:
        _add_format(scored, whole.column.profile.datetime_format)
        _order_note(scored, whole.column)
        return Guess(field, whole.column.name, round(whole.score, 2), whole.why, _time_spec(whole.column))
    day, clock = placed.get(f"{field}.date") or date_from, placed.get(f"{field}.time")
    if day is None or clock is None:
        return None
    dp, tp = day.column.profile, clock.column.profile
    minute = _minute_beside(clock, minutes) if field == "start" else None
    if minute is not None:  # FreeMED: caldateof + calhour + calminute, whole numbers
        fmt = f"{dp.date_format or '%Y-%m-%d'} %H %M"
        _add_format(scored, fmt)
        _order_note(scored, day.column)
        source = f"{day.column.name} + {clock.column.name} + {minute.name}"
        return Guess(field, source, round(min(day.score, 0.85), 2),
                     f"date {day.column.name!r} ({day.why}) + hour {clock.column.name!r} + minute "
                     f"{minute.name!r} (whole numbers); read together as {fmt}",
                     {"concat": [path_of(day.column.name), path_of(clock.column.name), path_of(minute.name)]})
    confidence = round(min(day.score, clock.score), 2)
    why = f"date {day.column.name!r} ({day.why}) + time {clock.column.name!r} ({clock.why})"
    source = f"{day.column.name} + {clock.column.name}"
    iso_time = tp.present == 0 or tp.share("iso_time") == 1.0
    if dp.date_format is None and iso_time:
        return Guess(field, source, confidence, why, {"date": path_of(day.column.name),
                                                      "time": path_of(clock.column.name)})
    fmt = f"{dp.date_format or '%Y-%m-%d'} {tp.time_format or '%H:%M'}"
    _add_format(scored, fmt)
    _order_note(scored, day.column)
    return Guess(field, source, confidence, f"{why}; read together as {fmt}",
                 {"concat": [path_of(day.column.name), path_of(clock.column.name)]})


def _time_spec(column: Column) -> dict[str, Any]:
    """A date-time column's field spec: Unix seconds read as the instants they are."""
    spec: dict[str, Any] = {"from": path_of(column.name)}
    if column.unix_seconds():
        spec["type"] = "unix_seconds"
    return spec


def _assemble(placed: dict[str, Candidate], extra: dict[str, list[Candidate]], scored: Scored,
              minutes: Sequence[Column] = ()) -> None:
    guesses: list[Guess] = []
    start = _moment("start", placed, scored, minutes=minutes)
    if start is not None:
        guesses.append(start)
    end = _moment("end", placed, scored, date_from=placed.get("start.date"))
    if end is not None:
        guesses.append(end)
    for part in ("start.date", "start.time", "end.date", "end.time"):
        cand = placed.get(part)
        if cand is not None and not any(cand.column.name in g.source.split(" + ") for g in guesses):
            day_only = part == "start.date" and start is None
            scored.notes.append(f"{cand.column.name}: a {part.split('.')[1]} with no "
                                f"{'time' if part.endswith('date') else 'date'} column to join it to"
                                + (": visits kept as a day without a time of day (a follow-up due that day) "
                                   "cannot be imported yet, since every message and calendar entry is planned "
                                   "from a visit's time; no start is guessed (getting-started: 'A day without "
                                   "a time')" if day_only else ""))
    for person in ("patient", "practitioner"):
        name = _person_name(person, placed)
        if name is not None:
            guesses.append(name)
    for field, cand in placed.items():
        if field in _PARTS or field in ("start", "end") or field.endswith(".name"):
            continue
        spec: dict[str, Any] = {"from": path_of(cand.column.name)}
        source, why = cand.column.name, cand.why
        if field in extra:
            others = [c.column.name for c in extra[field]]
            spec = {"from": [path_of(cand.column.name), *map(path_of, others)]}
            source = " + ".join([cand.column.name, *others])
            why += f"; then {', '.join(map(repr, others))} when it is empty"
        if field == "duration_minutes" and duration_type(cand.column.profile):
            spec["type"] = duration_type(cand.column.profile)
        if field in ("source_updated_at", "booked_at"):
            _add_format(scored, cand.column.profile.datetime_format)
            spec = {**spec, **_time_spec(cand.column), "on_invalid": "drop"}
        if field == "status":
            scored.status_words = status_words(cand.column.sample.values)
        if field == "patient.channel":
            spec.update(consent.channel_map(cand.column.sample.values))
        if field in ("answer", "visit_mode", "join_url"):
            spec["on_invalid"] = "drop"
        if field in CONSENTS:
            agreed = consent.consent_field(cand.column.tokens)
            spec = consent.consent_spec(path_of(cand.column.name), bool(agreed and agreed[1]))
            if agreed and agreed[1]:
                why += "; the column says no: read turned round"
            note = consent.blank_note(cand.column.name, cand.column.sample.values, field)
            if note is not None:
                scored.notes.append(note)
        guesses.append(Guess(field, source, round(cand.score, 2), why, spec))
    _patient_id_fallback(guesses)
    _visit_id_fallback(guesses, placed, scored)
    end_guess = next((g for g in guesses if g.field == "end"), None)
    gaps = placed.get("end") is not None and end_guess is not None and end_guess.source == placed["end"].column.name \
        and 0 < placed["end"].column.profile.present < len(placed["end"].column.sample.values)
    if gaps and not any(g.field == "duration_minutes" for g in guesses) and start is not None:
        guesses.append(Guess("duration_minutes", "(none)", 0.3, f"where the end is empty: every such visit is "
                             f"taken as {DEFAULT_MINUTES} minutes", {"value": DEFAULT_MINUTES}))
        scored.notes.append(f"the end is empty on some rows: those visits are taken as {DEFAULT_MINUTES} minutes "
                            "(fields.duration_minutes.value); set the clinic's usual length")
    if not any(g.field in ("end", "duration_minutes") for g in guesses) and start is not None:
        guesses.append(Guess("duration_minutes", "(none)", 0.3, "no end or duration column: every visit is "
                             f"taken as {DEFAULT_MINUTES} minutes", {"value": DEFAULT_MINUTES}))
        scored.notes.append(f"no end or duration column: visits are taken as {DEFAULT_MINUTES} minutes "
                            "(fields.duration_minutes.value); set the clinic's usual length")
    order = {f: i for i, f in enumerate(("external_id", "start", "end", "duration_minutes", "timezone", "status",
                                          "type", "location"))}
    guesses.sort(key=lambda g: (order.get(g.field, 99), g.field))
    scored.guesses = guesses


NO_VISIT_ID = "no appointment id column"  # begins the fallback's reason and its note: a reader that puts a
# key in its place (a database table's primary key) drops the note with it


def _visit_id_fallback(guesses: list[Guess], placed: dict[str, Candidate], scored: Scored) -> None:
    """No appointment id column (OpenEMR's Appointments Report export has none): a visit is
    known by its time, patient and doctor, said so with a low confidence and a note."""
    fields = {g.field: g for g in guesses}
    if "external_id" in fields or "start" not in fields:
        return
    parts = fields["start"].source.split(" + ")
    for who in ("patient.external_id", "patient.name", "practitioner.external_id", "practitioner.name"):
        guess = fields.get(who)
        if guess is not None:
            parts.extend(c for c in guess.source.split(" + ") if c not in parts)
    guesses.append(Guess("external_id", " + ".join(parts), 0.3,
                         f"{NO_VISIT_ID}: a visit is known by its time, patient and doctor",
                         {"concat": [path_of(c) for c in parts]}))
    scored.notes.append(f"{NO_VISIT_ID}: each visit is known by its time, patient and doctor, so a "
                        "rescheduled visit is a new one (and in delta mode the old one stays): export the "
                        "appointment id if the system can")


def _person_name(person: str, placed: dict[str, Candidate]) -> Guess | None:
    parts = [placed.get(f"{person}.{p}") for p in ("name", "first", "last")]
    full, first, last = parts
    if full is not None and first is not None and last is None:
        full, first, last = None, first, full  # 'prenom' + 'nom': beside a first name, "name" is the surname
    # A first and a last name beside a full one: the parts (the full one repeats them).
    named = [c for c in ((first if first is not None and last is not None else full or first), last)
             if c is not None]
    if not named:
        return None
    confidence = round(min(c.score for c in named), 2)
    if len(named) == 1:
        cand = named[0]
        return Guess(f"{person}.name", cand.column.name, confidence, cand.why, {"from": path_of(cand.column.name)})
    names = [c.column.name for c in named]
    return Guess(f"{person}.name", " + ".join(names), confidence,
                 "; ".join(f"{c.column.name!r}: {c.why}" for c in named) + "; joined with a space",
                 {"concat": [path_of(n) for n in names]})


def _patient_id_fallback(guesses: list[Guess]) -> None:
    """The engine needs a patient id for any other patient field: without an id column the
    phone number (else the email) identifies the patient, said so with a lower confidence.
    A practitioner without an id or email would be dropped: the name stands in."""
    fields = {g.field: g for g in guesses}
    doctor = fields.get("practitioner.name")
    if "practitioner.external_id" not in fields and "practitioner.email" not in fields and doctor is not None:
        guesses.append(Guess("practitioner.external_id", doctor.source, 0.5,
                             "no practitioner id column: the name identifies the practitioner", dict(doctor.spec)))
    if "patient.external_id" in fields:
        return
    for stand_in, confidence in (("patient.phone", 0.5), ("patient.email", 0.5), ("patient.name", 0.3)):
        guess = fields.get(stand_in)
        if guess is not None:
            spec = {k: v for k, v in guess.spec.items() if k in ("from", "concat")}
            why = f"no patient id column: the {stand_in.split('.')[1]} identifies the patient"
            if stand_in == "patient.phone":
                spec, why = _phone_as_id(spec, fields.get("patient.email"))
            guesses.append(Guess("patient.external_id", guess.source, confidence, why, spec))
            return


def _phone_as_id(spec: dict[str, Any], email: Guess | None) -> tuple[dict[str, Any], str]:
    """A phone standing in for the patient's id, read as the number it is (+E.164): customers
    who type their number into each booking write it two ways ('(312) 555-0140', '312.555.0140')
    and are still one patient. A number that does not read falls back to the email, else to the
    text as typed: the visit is never refused for it (the phone itself is then dropped with a note)."""
    if email is not None:
        fallback = {k: v for k, v in email.spec.items() if k in ("from", "concat")} | {"type": "email"}
        also = "else the email"
    else:
        fallback = {**spec, "type": "string"}
        also = "else the text as typed"
    spec = {**spec, "type": "phone", "on_invalid": "drop", "fallback": fallback}
    return spec, (f"no patient id column: the phone identifies the patient, as +E.164 so one number typed two "
                  f"ways is one patient ({also} where it does not read as a phone)")


def mapping_from(scored: Scored, name: str) -> dict[str, Any]:
    """The mapping file's content for a scored shape: its fields, the date-time formats they
    need, and a status_map of every sampled status word the vocabulary knows (an unknown
    word is left out: ``check`` then names it, and the admin maps it)."""
    mapping: dict[str, Any] = {"name": name}
    if scored.datetime_formats:
        mapping["datetime_formats"] = list(scored.datetime_formats)
    status_map = {w.value: w.status for w in scored.status_words if w.status is not None}
    if status_map:
        mapping["status_map"] = status_map
    fields: dict[str, Any] = {}
    for guess in scored.guesses:
        spec = dict(guess.spec)
        if guess.field == "external_id":
            spec["required"] = True
        fields[guess.field] = spec
    mapping["fields"] = fields
    return mapping
