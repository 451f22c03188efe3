"""Placing an unknown source's columns on the mapping's fields, by name, type and sample
values (unknown schemas by their shape). Used by every discoverer that meets a
table-like shape it does not recognize: a SQL table or join, a CSV export's header.

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
import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

from clinicsync.sync.discover import consent
from clinicsync.sync.discover.endcolumn import Moments, paired_end
from clinicsync.sync.discover.mobilefirst import mobile_order
from clinicsync.sync.discover.ownclock import prefer_own_clock
from clinicsync.sync.discover.proposal import Guess, StatusWord
from clinicsync.sync.discover.statuses import status_words
from clinicsync.sync.discover.values import ValueProfile, duration_type, profile
from clinicsync.sync.discover.vocab import (
    APPOINTMENT_WORDS,
    IGNORED_WORDS,
    PATIENT_WORDS,
    PRACTITIONER_WORDS,
    column_roles,
    name_tokens,
    token_role,
    without_prefixes,
)


@dataclass(frozen=True)
class ColumnSample:
    """One column as a discoverer saw it: its name, its declared type when the source has one
    (a SQL type's name, e.g. "DATETIME", "VARCHAR(20)"; None for CSV), and sampled values as
    text (None for SQL NULL / an empty CSV cell). ``table`` names where it lives when a
    proposal joins several tables (e.g. "patients"), else None."""

    name: str
    type: str | None
    values: Sequence[str | None]
    table: str | None = None
    prefixes: tuple[str, ...] = ()  # column prefixes of the tables it comes from (vocab.py table_prefix)


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
_SQL_KINDS = (("TIMESTAMP", "datetime"), ("DATETIME", "datetime"), ("DATE", "date"), ("TIME", "time"),
              ("INT", "integer"), ("SERIAL", "integer"), ("NUMERIC", "integer"))
DEFAULT_MINUTES = 30  # a visit's length when the source gives neither an end nor a duration
# A phone column that is someone else's (the emergency contact's, a guardian's) or no number at all
# (the phone's carrier, a fax): never the patient's phone, even as a fallback.
_NOT_PATIENTS_PHONE = frozenset({"emergency", "emergencia", "guardian", "tutor", "kin", "carrier", "fax", "pager",
                                 "beeper", "notfall"})
_MOBILE_WORDS = frozenset({"cell", "cellphone", "mobile", "movil", "celular", "sms", "whatsapp", "handy",
                           "portable", "mobil", "cel", "telemovel", "cellulare"})
_PATH_SPECIAL = re.compile(r"[.\[\]`]")


@dataclass
class _Column:
    sample: ColumnSample
    tokens: list[str]
    roles: set[str]
    entity: str | None  # "patient", "practitioner", "appointment" or None
    profile: ValueProfile
    declared: str | None  # datetime | date | time | integer, from the SQL type
    owner: str | None = None  # "patient" / "practitioner": a column of that person's table (joined)

    @property
    def name(self) -> str:
        return self.sample.name

    def kind(self) -> str | None:
        """What the values are, as a whole: datetime, date, time or None."""
        p = self.profile
        for kind in ("datetime", "date", "time"):
            if p.share(kind) >= 0.8:
                return kind
        if self.unix_seconds():
            return "datetime"
        if p.present == 0 and self.declared in ("datetime", "date", "time"):
            return self.declared
        return None


    def unix_seconds(self) -> bool:
        """Whole seconds since 1970 (NOSH's ``schedule.start``, PHP's ``strtotime``): numbers in the
        years 2000-2100 in a column declared a whole number, or one whose name says a time (a
        text column of ten-digit numbers is more often phone numbers)."""
        p = self.profile
        return p.share("unix_seconds") >= 0.8 and (
            self.declared == "integer" or bool(self.roles & {"start", "end", "date", "time", "updated", "created"}))


@dataclass(frozen=True)
class _Candidate:
    column: _Column
    field: str
    score: float
    why: str


def path_of(column: str) -> str:
    """A column as a mapping path: quoted in backticks when its name has a dot or bracket."""
    return f"`{column}`" if _PATH_SPECIAL.search(column) else column


def _declared(sql_type: str | None) -> str | None:
    if not sql_type:
        return None
    upper = sql_type.upper()
    for word, kind in _SQL_KINDS:
        if word in upper:
            return kind
    return None


# The words that say a column holds a moment without saying which one ('book_datetime').
_GENERIC_MOMENT = frozenset({"datetime", "when"})
_LOGINS = frozenset({"user", "users", "usuario", "usuarios"})  # a login table: a patient's or a staff member's


def _entity(tokens: list[str]) -> str | None:
    """Whose column the words say. A login table's word ("users") names patients and staff alike,
    so another person word beside it decides: ``users_provider_email`` (a second reference into
    one users table, Easy!Appointments' ``id_users_provider``) is the doctor's, not a patient's."""
    for logins in (False, True):
        for token in tokens:
            bare = token.rstrip("0123456789")
            if not logins and bare in _LOGINS:
                continue
            for word in (bare, bare.removesuffix("s"), bare.removesuffix("es")):
                if word in PATIENT_WORDS:
                    return "patient"
                if word in PRACTITIONER_WORDS:
                    return "practitioner"
    if any(t in APPOINTMENT_WORDS for t in tokens):
        return "appointment"
    return None


def _read(sample: ColumnSample, region: str) -> _Column:
    tokens = without_prefixes(name_tokens(sample.name), sample.prefixes)
    table_entity = _entity(name_tokens(sample.table)) if sample.table else None
    roles = column_roles(tokens)
    entity = _entity(tokens) or table_entity
    owner = table_entity if table_entity in ("patient", "practitioner") else None
    if owner == "patient" and entity == "practitioner" and set(name_tokens(sample.table or "")) & _LOGINS:
        owner = None  # a users table reached as the doctor (columns named doctor_*): these are the doctor's
    if owner is None and sample.table and entity in ("patient", "practitioner"):
        owner = entity  # a joined row reached through the patient's reference ('…_PATIENT_person_type'): theirs
    return _Column(sample, tokens, roles, entity, profile(sample.values, region), _declared(sample.type), owner)


def _pct(share: float) -> str:
    return f"{round(share * 100)}%"


def _agreement(column: _Column, field: str) -> tuple[float, str]:
    """How well the values fit ``field``: 0..1 and the reason's words (no value quoted)."""
    p = column.profile
    if p.present == 0:
        if column.declared:
            return 0.7, f"no sampled values; declared {column.sample.type}"
        return 0.6, "no sampled values"
    of = f"of {p.present} sampled values"
    checks = {
        "start": "datetime", "end": "datetime", "source_updated_at": "datetime", "booked_at": "datetime",
        "start.date": "date", "end.date": "date", "start.time": "time", "end.time": "time",
        "patient.phone": "phone", "patient.email": "email", "practitioner.email": "email",
        "timezone": "zone", "patient.language": "language", "patient.channel": "channel",
        "answer": "boolean", "join_url": "url", "visit_mode": "visit_mode",
    }
    if field in checks and checks[field] == "datetime" and column.unix_seconds():
        share = p.share("unix_seconds")
        return share, f"{_pct(share)} {of} are Unix times (seconds since 1970, UTC)"
    if field in checks:
        value_class = checks[field]
        share = p.share(value_class)
        label = {"datetime": "date-times", "date": "dates", "time": "times of day", "phone": "phone numbers",
                 "email": "emails", "zone": "IANA zones", "language": "languages",
                 "channel": "channels", "boolean": "yes/no answers", "url": "https links",
                 "visit_mode": "visit modes"}[value_class]
        return share, f"{_pct(share)} {of} are {label}"
    if field in _CONSENTS:
        share, present = consent.yes_no_share(column.sample.values)
        return share, f"{_pct(share)} of {present} sampled values are yes/no"
    if field == "duration_minutes":
        share = max(p.share("minutes"), p.share("duration"), p.share("hours"))
        return share, f"{_pct(share)} {of} are durations{' in hours' if duration_type(p) == 'duration_hours' else ''}"
    if field == "status":
        low = p.distinct <= max(12, p.present // 3)
        share = p.share("status")
        fit = (0.6 if low else 0.1) + 0.4 * share
        return fit, f"{p.distinct} distinct words, {_pct(share)} {of} known status words"
    if field == "external_id":
        unique = p.distinct / p.present
        return unique, f"{_pct(unique)} {of} are distinct"
    if field in ("patient.external_id", "practitioner.external_id"):
        return 1.0 - p.share("email") * 0.5, f"{p.distinct} distinct values"
    # names, type, location: words, not numbers or dates
    wordy = 1.0 - max(p.share("integer"), p.share("date"), p.share("datetime"), p.share("time"))
    return wordy, f"{_pct(wordy)} {of} are words"


# A column whose name says one of these roles is that field, with that name score.
_ROLE_FIELDS: dict[str, tuple[str, float]] = {
    "status": ("status", 0.9), "zone": ("timezone", 0.9), "duration": ("duration_minutes", 0.9),
    "language": ("patient.language", 0.85), "channel": ("patient.channel", 0.8), "answer": ("answer", 0.85),
    "link": ("join_url", 0.8),
}


def _by_name(column: _Column) -> list[tuple[str, float]]:
    """(field, name score) for what the column's words say it is."""
    roles, entity, kind = column.roles, column.entity, column.kind()
    agreed = consent.consent_field(column.tokens)
    if agreed is not None:  # 'sms_opt_in' says a channel, but is no phone: yes/no or nothing
        return [(agreed[0], 0.85)]
    out: list[tuple[str, float]] = []
    if "updated" in roles:
        out.append(("source_updated_at", 0.8))
    if "created" in roles and column.profile.share("status") < 0.5:
        out.append(("booked_at", 0.7))
    out += [(field, score) for role, (field, score) in _ROLE_FIELDS.items() if role in roles]
    p = column.profile
    if "visit_mode" in roles or ("type" in roles and p.share("visit_mode") >= 0.8 and 0 < p.distinct <= 6):
        out.append(("visit_mode", 0.85 if "visit_mode" in roles else 0.8))
    if "email" in roles:
        out.append(("practitioner.email" if entity == "practitioner" else "patient.email", 0.9))
    if "phone" in roles and entity != "practitioner":
        # a mobile first: the number a reminder can be texted to (NOSH: phone_cell before phone_home)
        out.append(("patient.phone", 0.92 if set(column.tokens) & _MOBILE_WORDS else 0.9))
    if "location" in roles:  # a clinic's code ("kd_poli") is no place's name; the referenced row's name is
        out.append(("location", 0.8 * (0.8 if "id" in roles else 1.0)
                    + (0.05 if column.sample.table and "name" in roles else 0.0)))
    if "type" in roles:  # a number ("visit_no") is no visit type; a joined table's name ("service_name") is
        out.append(("type", 0.75 * (0.8 if "id" in roles else 1.0)
                    + (0.05 if column.sample.table and "name" in roles else 0.0)))
    if kind == "time" and p.share("duration") >= 0.8 and "duration" not in roles:
        out.append(("duration_minutes", 0.75))  # '0:30' on every row: a length, no visit's clock
        timeish = set()
    else:
        timeish = roles & {"start", "date", "time", "end"}
    if timeish and not roles & {"updated", "created"}:
        strong = 0.9 if ("start" in roles or "end" in roles or entity == "appointment") else 0.8
        if roles & {"start"} and all(t in _GENERIC_MOMENT or token_role(t) != "start" for t in column.tokens):
            strong -= 0.05  # 'book_datetime': only the type word says a moment; 'start_datetime' wins the tie
        which = "end" if "end" in roles else "start"
        if kind == "datetime" or (kind is None and "date" in roles and "time" in roles):
            out.append((which, strong))
        elif kind == "date" or (kind is None and "date" in roles):
            out.append((f"{which}.date", strong))
        elif kind == "time" or (kind is None and "time" in roles):
            out.append((f"{which}.time", strong))
        else:
            out.append((which, strong * 0.8))
    if roles & {"id", "record"}:
        if entity == "patient" or "record" in roles:
            out.append(("patient.external_id", 0.9))
        elif entity == "practitioner":
            out.append(("practitioner.external_id", 0.9))
        elif not roles - {"id"}:  # "id", "cita_id", "numero" — not "codigo_postal" style mixes
            out.append(("external_id", 0.9 if entity == "appointment" else 0.85))
    person = entity if entity in ("patient", "practitioner") else None
    if roles & {"name", "first_name", "last_name"} and not roles & {"id", "record", "email", "phone"}:
        part = ("first" if "first_name" in roles else "last" if "last_name" in roles else "name")
        owner = person or "patient"
        if person is None and (column.sample.table is not None or roles & {"type", "location"}):
            owner = ""  # a service's or a room's name, or a joined table no person owns: nobody's name
        score = 0.9 if person else 0.6
        if owner:
            out.append((f"{owner}.{part}" if part != "name" else f"{owner}.name", score))
    # "paciente", "medico", "Doctor" (or "pid" in a patients table): the person, by name or number;
    # not the person's word with another one ("provider_license", "provider_npi": NOSH's providers)
    told = [_entity([t]) is not None for t in column.tokens]
    if person and not roles and (all(told) or not any(told)):
        numeric = column.profile.share("integer") >= 0.8 or column.declared == "integer"
        out.append((f"{person}.external_id" if numeric else f"{person}.name", 0.8))
    if entity == "appointment" and not roles:  # "cita": its number, or its time
        if kind == "datetime":
            out.append(("start", 0.7))
        elif column.profile.share("integer") >= 0.8:
            out.append(("external_id", 0.7))
    return out


def _by_values(column: _Column) -> list[tuple[str, float]]:
    """(field, score) for a column whose name said nothing: what its values are."""
    p = column.profile
    if p.present == 0:
        return []
    out: list[tuple[str, float]] = []
    for value_class, field, weight in (("email", "patient.email", 0.6), ("phone", "patient.phone", 0.6),
                                       ("zone", "timezone", 0.7), ("url", "join_url", 0.4),
                                       ("channel", "patient.channel", 0.5)):
        if p.share(value_class) >= 0.8:
            out.append((field, weight * p.share(value_class)))
    if p.share("status") >= 0.6 and p.distinct <= max(12, p.present // 3):
        out.append(("status", 0.65 * p.share("status")))
    kind = column.kind()
    if kind is not None and (kind == "date" or on_the_clinic_grid(column.sample.values)):
        out.append(({"datetime": "start", "date": "start.date", "time": "start.time"}[kind], 0.4))
    if p.share("visit_mode") >= 0.8 and p.distinct <= 6 and p.share("url") < 0.5:
        out.append(("visit_mode", 0.5 * p.share("visit_mode")))
    if p.share("language") >= 0.9 and 2 <= p.distinct <= 12 and p.share("status") < 0.5:
        # one code on every row says nothing of each patient: a country's or a province's ('CA'),
        # a health card's version ('AB'), read as Catalan or Abkhazian, would choose every message's
        out.append(("patient.language", 0.4))
    return out


_CLOCK = re.compile(r"(?:^|[T ])(\d{1,2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?(?:\s*[AaPp][Mm])?(?:Z|[+-]\d{2}:?\d{2})?$")
GRID_SHARE = 0.8  # of a column's times on the 5-minute grid, for times its name does not call a visit's


def on_the_clinic_grid(values: Sequence[str | None]) -> bool:
    """Whether most times of day fall on a booking grid (whole minutes, a multiple of five) as
    visit starts do, unlike a row's created or changed stamp (any second: FreeMED's
    ``calcreated``, which only its values could place). Unix seconds: a multiple of 300."""
    hits = total = 0
    for value in (v.strip() for v in values if v and v.strip()):
        total += 1
        if value.isdigit():
            hits += int(value) % 300 == 0
        elif (clock := _CLOCK.search(value)) is not None:
            hits += int(clock.group(2)) % 5 == 0 and int(clock.group(3) or 0) == 0
    return total > 0 and hits >= GRID_SHARE * total


# Fields whose sampled values must carry their kind before a name may place them there, and the
# share of values that must: below it the values contradict the name ("0% … are phone numbers").
_EVIDENCE_FLOOR: dict[str, float] = {
    **dict.fromkeys(("start", "end", "start.date", "end.date", "start.time", "end.time", "patient.phone",
                     "patient.email", "practitioner.email", "timezone", "patient.language", "patient.channel",
                     "answer", "join_url", "visit_mode", "duration_minutes"), 0.5),
    **dict.fromkeys(("patient.name", "patient.first", "patient.last", "practitioner.name", "practitioner.first",
                     "practitioner.last"), 0.8),
    **dict.fromkeys(("type", "location"), 0.5),
    **dict.fromkeys(("patient.allow_sms", "patient.allow_email"), consent.FLOOR),
}
_CONSENTS = frozenset({"patient.allow_sms", "patient.allow_email"})
# Fields that change what a patient is told or what the desk sees: read only from the visit's own
# row, never from a joined row shared by every visit of a type (an event type's "requires
# confirmation" is no patient's answer; a booking form's settings are no visit's mode).
# A row's change stamps, set only on update (empty on rows never changed): placed by name and type.
_STAMPS = frozenset({"source_updated_at", "booked_at"})
PER_VISIT_FIELDS = frozenset({"answer", "status", "visit_mode", "join_url"})
_CANCEL_WORDS = frozenset({"cancel", "cancellation", "cancelled", "canceled", "cancelacion", "anulacion", "annulation",
                           "storno", "absage", "rejection", "rejected"})


_FIELD_ROLES = {"status": "status", "visit_mode": "visit_mode", "answer": "answer", "join_url": "link"}


def _own_lookup(column: _Column, field: str) -> bool:
    """Whether a per-visit field may come from this column: one of the visit's own row, or of a
    lookup table named for that field (``appointment_status``'s name is the visit's status, read
    through the visit's own status code; an event type's settings are not)."""
    table = column.sample.table
    if table is None:
        return True
    return _FIELD_ROLES[field] in {token_role(t) for t in name_tokens(table)}


def _refusal(column: _Column, field: str) -> str | None:
    """Why ``column`` may not be ``field`` whatever its name says, or None: no sampled value at
    all, values that contradict the field's kind, a per-visit field read from a joined row, a
    cancellation's reason as the visit's type, a row's change stamp as a person's name."""
    p = column.profile
    if p.present == 0 and not column.sample.values:
        return None  # nothing was sampled at all (a CSV header alone): the name is all there is
    if p.present == 0 and field not in _STAMPS:
        return f"{column.name!r}: no value in {len(column.sample.values)} sampled rows"
    if field in PER_VISIT_FIELDS and not _own_lookup(column, field):
        return (f"{column.name!r} is a column of the joined table {column.sample.table!r}, shared by every visit "
                "that refers to the same row: not a value of this visit")
    if field == "type" and set(column.tokens) & _CANCEL_WORDS:
        return f"{column.name!r} is a cancellation's reason, not the visit's type"
    if field == "type" and column.roles - {"type", "name", "id"}:  # a type row's setting ("type_booking_mode")
        return f"{column.name!r} names another attribute ({', '.join(sorted(column.roles - {'type', 'name', 'id'}))})"
    if field.split(".")[-1] in ("name", "first", "last") and column.roles & {"updated", "created"}:
        return f"{column.name!r} is a row's change stamp, not a name"
    floor = _EVIDENCE_FLOOR.get(field)
    if floor is None or (field.endswith(".time") and _whole_numbers(column, 23)):  # an hour, with its minute beside
        return None
    fit, detail = _agreement(column, field)
    if fit < floor:
        return f"{column.name!r}: {detail}"
    return None


def _candidates(column: _Column, refused: dict[str, list[str]] | None = None) -> list[_Candidate]:
    if set(column.tokens) & IGNORED_WORDS:
        return []
    found: list[_Candidate] = []
    named = _by_name(column)
    for field, base in named:
        reason = _refusal(column, field)
        if reason is not None:
            if refused is not None:
                refused.setdefault(field, []).append(reason)
            continue
        fit, detail = _agreement(column, field)
        score = base * (0.45 + 0.55 * fit)
        found.append(_Candidate(column, field, score, f"name ~ {' '.join(column.tokens)!r}; {detail}"))
    if not named:
        for field, base in _by_values(column):
            if field in PER_VISIT_FIELDS and not _own_lookup(column, field):
                continue
            fit, detail = _agreement(column, field)
            found.append(_Candidate(column, field, base, f"by its values: {detail}"))
    if column.owner is not None:  # a patients table's "estado" is no appointment status
        found = [c for c in found if c.field.startswith(f"{column.owner}.")]
    if set(column.tokens) & _NOT_PATIENTS_PHONE:  # by its name or its values: never the patient's phone
        found = [c for c in found if c.field != "patient.phone"]
    return found


def score_columns(columns: Sequence[ColumnSample], *, region: str = "US") -> Scored:
    """Place each column on a mapping field, best first (see the module docstring).
    ``region`` is the clinic's ``default_region``: phone numbers without a country code are
    read there, and a date column whose values never say d/m or m/d takes its order."""
    read = [_read(c, region) for c in columns]
    refused: dict[str, list[str]] = {}
    candidates = sorted((c for col in read for c in _candidates(col, refused)), key=lambda c: -c.score)
    placed: dict[str, _Candidate] = {}
    used: set[str] = set()
    extra: dict[str, list[_Candidate]] = {}
    for cand in candidates:
        if cand.column.name in used or cand.score < 0.3:
            continue
        if cand.field in placed:
            if cand.field in ("patient.phone", "patient.email") and cand.score >= 0.5:
                extra.setdefault(cand.field, []).append(cand)  # a second phone: the fallback
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


def _mobiles_first(placed: dict[str, _Candidate], extra: dict[str, list[_Candidate]], region: str) -> None:
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


def _end_beside(placed: dict[str, _Candidate], read: Sequence[_Column], used: set[str], scored: Scored) -> None:
    """The end a start's own name pairs with (``datep``/``datep2``: endcolumn.py), when no end or
    length was placed and its values are ends; else the note why it was left out."""
    start = placed.get("start")
    if start is None or {"end", "end.date", "end.time", "duration_minutes"} & set(placed):
        return
    free = {c.name: c for c in read if c.name not in used and c.kind() == "datetime"}
    moments = [Moments(c.name, c.sample.values, c.profile.datetime_format, c.unix_seconds())
               for c in [start.column, *free.values()]]
    found = paired_end(moments[0], moments[1:])
    if found is not None and found[0] is not None:
        placed["end"] = _Candidate(free[found[0]], "end", 0.8, found[1])
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


def _order_note(scored: Scored, column: _Column) -> None:
    p = column.profile
    if p.date_format and not p.date_order_certain:
        scored.notes.append(f"{column.name}: no sampled date says day/month or month/day; read as "
                            f"{p.date_format} (the region's order): check a date after the 12th")


def _whole_numbers(column: _Column, top: int) -> bool:
    """Every sampled value a whole number from 0 to ``top`` (an hour's, a minute's)."""
    values = [v.strip() for v in column.sample.values if v and v.strip()]
    return bool(values) and all(v.isdigit() and int(v) <= top for v in values)


def _minute_beside(hour: _Candidate, minutes: Sequence[_Column]) -> _Column | None:
    """The minute column that goes with an hour column of whole numbers (0-23), if any."""
    if "time" not in hour.column.roles or not _whole_numbers(hour.column, 23):
        return None
    return next((c for c in minutes if _whole_numbers(c, 59)), None)


def _moment(field: str, placed: dict[str, _Candidate], scored: Scored, date_from: _Candidate | None = None,
            minutes: Sequence[_Column] = ()) -> Guess | None:
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


def _time_spec(column: _Column) -> dict[str, Any]:
    """A date-time column's field spec: Unix seconds read as the instants they are."""
    spec: dict[str, Any] = {"from": path_of(column.name)}
    if column.unix_seconds():
        spec["type"] = "unix_seconds"
    return spec


def _assemble(placed: dict[str, _Candidate], extra: dict[str, list[_Candidate]], scored: Scored,
              minutes: Sequence[_Column] = ()) -> None:
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
            scored.notes.append(f"{cand.column.name}: a {part.split('.')[1]} with no "
                                f"{'time' if part.endswith('date') else 'date'} column to join it to")
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
        if field in _CONSENTS:
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


def _visit_id_fallback(guesses: list[Guess], placed: dict[str, _Candidate], scored: Scored) -> None:
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


def _person_name(person: str, placed: dict[str, _Candidate]) -> Guess | None:
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
