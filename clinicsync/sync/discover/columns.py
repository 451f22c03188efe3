"""A column as the scorer reads it, and what it may be: its name's words and whose they say it is,
its sampled values' profile, its declared type; the fields its name or its values point at, each
with a score, and the fields its own values refuse (an empty column, a 0/1 flag named "phone", a
change stamp beside a name). ``scoring.py`` places the best of these candidates on the mapping.

Reasons name columns, value classes and shares, never a value: a sample row is patient data.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from clinicsync.common.vocabulary import MOBILE_WORDS, SOMEONE_ELSES_CONTACT
from clinicsync.sync.discover.contacts import consent
from clinicsync.sync.discover.practicerow import is_practice_table, reached_as_a_place
from clinicsync.sync.discover.unixstamps import are_stamps
from clinicsync.sync.discover.values import ValueProfile, duration_type, filled, profile
from clinicsync.sync.discover.vocab import (
    APPOINTMENT_WORDS,
    IGNORED_WORDS,
    PATIENT_WORDS,
    PRACTITIONER_WORDS,
    column_roles,
    name_tokens,
    names_cancellation,
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


_SQL_KINDS = (("TIMESTAMP", "datetime"), ("DATETIME", "datetime"), ("DATE", "date"), ("TIME", "time"),
              ("INT", "integer"), ("SERIAL", "integer"), ("NUMERIC", "integer"))
# A phone column that is someone else's (the emergency contact's, a guardian's) or no number at all
# (the phone's carrier, a fax): never the patient's phone, even as a fallback.
_NOT_PATIENTS_PHONE = SOMEONE_ELSES_CONTACT | {"carrier", "fax", "pager", "beeper"}
_PATIENT_CONTACT = frozenset({"patient.phone", "patient.email"})
_PATH_SPECIAL = re.compile(r"[.\[\]`]")
_FLAG_ROWS = 5  # sampled values, all of them yes/no, for a column named with a time word to be a flag
_ONE_VALUE_ROWS = 10  # sampled rows a status column holding one code on all of them needs to be weighed down
# A series' repeat rule ("repeat_type": none, weekly): how a booking recurs, never what the patient
# is seen for, whatever "type" its name ends in.
_REPEAT_WORDS = frozenset({"repeat", "recurrence", "recurring", "recur", "rrule", "frequency", "freq",
                           "periodicity", "repetition"})
_REPEAT_VALUES = frozenset({"none", "never", "once", "daily", "weekly", "biweekly", "monthly", "yearly", "annually",
                            "custom", "weekdays", "day", "week", "month", "year"})
# A lowercase code ("pat", "simple", "meeting"): a record's internal kind as the product stores it,
# read by no patient; a visit type a practice types is a word as people write it.
_CODE = re.compile(r"[a-z][a-z0-9_]*")


@dataclass
class Column:
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
class Candidate:
    column: Column
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


def read_column(sample: ColumnSample, region: str) -> Column:
    tokens = without_prefixes(name_tokens(sample.name), sample.prefixes)
    table_entity = _entity(name_tokens(sample.table)) if sample.table else None
    roles = column_roles(tokens)
    entity = _entity(tokens) or table_entity
    owner = table_entity if table_entity in ("patient", "practitioner") else None
    if owner == "patient" and entity == "practitioner" and set(name_tokens(sample.table or "")) & _LOGINS:
        owner = None  # a users table reached as the doctor (columns named doctor_*): these are the doctor's
    if owner is None and sample.table and entity in ("patient", "practitioner"):
        owner = entity  # a joined row reached through the patient's reference ('…_PATIENT_person_type'): theirs
    return Column(sample, tokens, roles, entity, profile(sample.values, region), _declared(sample.type), owner)


def _pct(share: float) -> str:
    return f"{round(share * 100)}%"


def _agreement(column: Column, field: str) -> tuple[float, str]:
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
    if field in CONSENTS:
        share, present = consent.yes_no_share(column.sample.values)
        return share, f"{_pct(share)} of {present} sampled values are yes/no"
    if field == "duration_minutes":
        share = max(p.share("minutes"), p.share("duration"), p.share("hours"))
        return share, f"{_pct(share)} {of} are durations{' in hours' if duration_type(p) == 'duration_hours' else ''}"
    if field == "status":
        low = p.distinct <= max(12, p.present // 3)
        share = p.share("status")
        fit = (0.6 if low else 0.1) + 0.4 * share
        if p.distinct == 1 and p.present >= _ONE_VALUE_ROWS and share < 1:
            # One code on every sampled row, no status word: it tells no visit from another (a
            # calendar's event flag beside its appointment status: OpenEMR's ``pc_eventstatus``
            # is 1 on every row, ``pc_apptstatus`` holds the codes); a column that varies goes first.
            fit *= 0.5
        return fit, f"{p.distinct} distinct words, {_pct(share)} {of} known status words"
    if field == "external_id":
        unique = p.distinct / p.present
        return unique, f"{_pct(unique)} {of} are distinct"
    if field in ("patient.external_id", "practitioner.external_id"):
        return 1.0 - p.share("email") * 0.5, f"{p.distinct} distinct values"
    # names, type, location: words, not numbers or dates
    wordy = 1.0 - max(p.share("integer"), p.share("date"), p.share("datetime"), p.share("time"),
                      p.share("structure"))
    if field == "type" and p.distinct == 1 and p.present >= _ONE_VALUE_ROWS and p.share("status") == 1:
        # One status word on every sampled row is a definition's constant flag (OpenClinica's event
        # definitions all say ``scheduled``), not what the patient is seen for: shown to patients
        # as the visit's kind it reads as noise, so it is left unplaced. One other word on every
        # row ("Consultation" at a one-service practice) is still the visit's kind.
        return 0.0, f"one status word on all {p.present} sampled rows: a state, not the visit's kind"
    if field == "type" and p.distinct == 1 and p.present >= _ONE_VALUE_ROWS and _one_code(column):
        # The same lowercase code on every row ("pat" of a calendar's temp/pat kind, a service's
        # "simple" booking mode, the "meeting" the rows were chosen by): the product's own kind of
        # record, the same for every visit; told to a patient as their visit's kind it is noise.
        # One word as people write it on every row ("Consultation") is still the visit's kind.
        return 0.0, f"one lowercase code on all {p.present} sampled rows: the record's kind, not the visit's"
    if field == "type" and sum(v.strip().lower() in _REPEAT_VALUES
                               for v in filled(column.sample.values)) >= 0.8 * p.present:
        return 0.0, f"{of}, 80% or more are repeat rules (weekly, none): how a series recurs"
    return wordy, f"{_pct(wordy)} {of} are words"


def _one_code(column: Column) -> bool:
    """Whether every sampled value is one and the same lowercase code."""
    values = {v.strip() for v in filled(column.sample.values)}
    return len(values) == 1 and _CODE.fullmatch(next(iter(values))) is not None


# A column whose name says one of these roles is that field, with that name score.
_ROLE_FIELDS: dict[str, tuple[str, float]] = {
    "status": ("status", 0.9), "zone": ("timezone", 0.9), "duration": ("duration_minutes", 0.9),
    "language": ("patient.language", 0.85), "channel": ("patient.channel", 0.8), "answer": ("answer", 0.85),
    "link": ("join_url", 0.8),
}


def _by_name(column: Column) -> list[tuple[str, float]]:
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
        out.append(("patient.phone", 0.92 if set(column.tokens) & MOBILE_WORDS else 0.9))
    if "location" in roles:  # a clinic's code ("kd_poli") is no place's name; the referenced row's name is
        out.append(("location", 0.8 * (0.8 if "id" in roles else 1.0)
                    + (0.05 if column.sample.table and "name" in roles else 0.0)))
    if "type" in roles:  # a number ("visit_no") is no visit type; a joined table's name ("service_name") is
        out.append(("type", 0.75 * (0.8 if "id" in roles else 1.0)
                    + (0.05 if column.sample.table and "name" in roles else 0.0)))
    if kind == "time" and p.share("duration") >= 0.8 and "duration" not in roles:
        out.append(("duration_minutes", 0.75))  # '0:30' on every row: a length, no visit's clock
        timeish: set[str] = set()
    elif kind is None and p.present >= _FLAG_ROWS and p.distinct <= 2 and p.share("boolean") >= 1.0:
        timeish = set()  # 'TimeLocked', 'all_day' holding 0/1: a flag about the time, no date nor time of day
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


def fields_by_name(column: Column) -> set[str]:
    """The fields the column's name alone points at (before its values are weighed)."""
    return {field for field, _ in _by_name(column)}


def _by_values(column: Column) -> list[tuple[str, float]]:
    """(field, score) for a column whose name said nothing: what its values are."""
    p = column.profile
    if p.present == 0:
        return []
    out: list[tuple[str, float]] = []
    stamps = are_stamps(column.sample.values, column.declared)  # Unix seconds read as phones (unixstamps.py)
    for value_class, field, weight in (("email", "patient.email", 0.6), ("phone", "patient.phone", 0.6),
                                       ("zone", "timezone", 0.7), ("url", "join_url", 0.4),
                                       ("channel", "patient.channel", 0.5)):
        if p.share(value_class) >= 0.8 and not (stamps and value_class == "phone"):
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
CONSENTS = frozenset({"patient.allow_sms", "patient.allow_email"})
# Fields that change what a patient is told or what the desk sees: read only from the visit's own
# row, never from a joined row shared by every visit of a type (an event type's "requires
# confirmation" is no patient's answer; a booking form's settings are no visit's mode).
# A row's change stamps, set only on update (empty on rows never changed): placed by name and type.
_STAMPS = frozenset({"source_updated_at", "booked_at"})
PER_VISIT_FIELDS = frozenset({"answer", "status", "visit_mode", "join_url"})
# A visit's times and its booking stamp: a cancellation's date is none of them.
_MOMENTS = frozenset({"start", "end", "start.date", "start.time", "end.date", "end.time", "booked_at"})


_FIELD_ROLES = {"status": "status", "visit_mode": "visit_mode", "answer": "answer", "join_url": "link"}


def _own_lookup(column: Column, field: str) -> bool:
    """Whether a per-visit field may come from this column: one of the visit's own row, or of a
    lookup table named for that field (``appointment_status``'s name is the visit's status, read
    through the visit's own status code; an event type's settings are not)."""
    table = column.sample.table
    if table is None:
        return True
    return _FIELD_ROLES[field] in {token_role(t) for t in name_tokens(table)}


def _dated(column: Column) -> bool:
    """Whether the column's type or some of its sampled values say date-time (Unix seconds too)."""
    p = column.profile
    return bool(re.search(r"date|time", column.sample.type or "", re.I)) or any(
        p.share(c) for c in ("date", "datetime", "local_date", "local_datetime", "unix_seconds"))


def _words_not_dates(column: Column) -> bool:
    """A column named with a stamp's word whose values are words, none a date (``booked_for_name``:
    the person a room is booked for, "booked" as in "booked at"): a name, not a change stamp."""
    values = [v for v in column.sample.values if v]
    worded = [v for v in values if re.search(r"[^\W\d_]{2}", v)]
    return bool(values) and not _dated(column) and len(worded) >= 0.8 * len(values)


def _refusal(column: Column, field: str) -> str | None:
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
    if field == "type" and names_cancellation(column.name):
        return f"{column.name!r} is a cancellation's reason, not the visit's type"
    if field in _MOMENTS and names_cancellation(column.name):  # ``booking_cancellation_date``
        return f"{column.name!r} is when the visit was cancelled, not when it is or was booked"
    if field == "type" and set(column.tokens) & _REPEAT_WORDS:
        return f"{column.name!r} is a series' repeat rule, not the visit's type"
    if field == "type" and column.roles - {"type", "name", "id"}:  # a type row's setting ("type_booking_mode")
        return f"{column.name!r} names another attribute ({', '.join(sorted(column.roles - {'type', 'name', 'id'}))})"
    if field in _STAMPS and p.present and not _dated(column):
        return f"{column.name!r}: none of {p.present} sampled values is a date-time, so no change stamp"
    if field.split(".")[-1] in ("name", "first", "last") and column.roles & {"updated", "created"} \
            and not _words_not_dates(column):
        return f"{column.name!r} is a row's change stamp, not a name"
    floor = _EVIDENCE_FLOOR.get(field)
    if floor is None or (field.endswith(".time") and whole_numbers(column, 23)):  # an hour, with its minute beside
        return None
    fit, detail = _agreement(column, field)
    if fit < floor:
        return f"{column.name!r}: {detail}"
    return None


def _may_be(column: Column, field: str) -> bool:
    """Whether ``column`` may be ``field`` at all, before its values are asked: a column of a
    person's table is only that person's (a patients table's "estado" is no appointment status, a
    joined doctor's ``language`` or ``tz`` says nothing of the patient), and a column named for an
    emergency contact, a fax or a pager is never the patient's phone, nor is the practice's own
    row's mobile or email (practicerow.py). Asked first, so that the
    "left out" notes never cite a column that could not have been the field."""
    if column.owner is not None and not field.startswith(f"{column.owner}."):
        return False
    if field in _PATIENT_CONTACT and is_practice_table(column.sample.table, column.owner):
        return False  # the clinic's own mobile and email (practicerow.py)
    if field in _PATIENT_CONTACT and reached_as_a_place(column.tokens, column.sample.table, column.owner):
        return False  # a medical centre's row reached through its reference (practicerow.py)
    if field == "patient.email" and set(column.tokens) & SOMEONE_ELSES_CONTACT:
        return False  # a relative's or an emergency contact's email
    return not (field == "patient.phone" and set(column.tokens) & _NOT_PATIENTS_PHONE)


def candidates_of(column: Column, refused: dict[str, list[str]] | None = None) -> list[Candidate]:
    if _ignored(column.tokens):
        return []
    found: list[Candidate] = []
    named = _by_name(column)
    for field, base in named:
        if not _may_be(column, field):
            continue
        reason = _refusal(column, field)
        if reason is not None:
            if refused is not None:
                refused.setdefault(field, []).append(reason)
            continue
        fit, detail = _agreement(column, field)
        score = base * (0.45 + 0.55 * fit)
        found.append(Candidate(column, field, score, f"name ~ {' '.join(column.tokens)!r}; {detail}"))
    if not named:
        for field, base in _by_values(column):
            if not _may_be(column, field) or (field in PER_VISIT_FIELDS and not _own_lookup(column, field)):
                continue
            fit, detail = _agreement(column, field)
            found.append(Candidate(column, field, base, f"by its values: {detail}"))
    return found


def _ignored(tokens: Sequence[str]) -> bool:
    """Whether a column's words say something no field holds (a birth date, a postal address).
    An address right after an email's word is the email's (``emailAddress``, ``email_address``:
    a login table's, a profile's), not a postal one."""
    kept = [t for at, t in enumerate(tokens) if not (t in _OF_EMAIL and at and token_role(tokens[at - 1]) == "email")]
    return bool(set(kept) & IGNORED_WORDS)


_OF_EMAIL = frozenset({"address", "adresse", "direccion", "endereco"})  # after an email's word: the email's


def whole_numbers(column: Column, top: int) -> bool:
    """Every sampled value a whole number from 0 to ``top`` (an hour's, a minute's)."""
    values = [v.strip() for v in column.sample.values if v and v.strip()]
    return bool(values) and all(v.isdigit() and int(v) <= top for v in values)
