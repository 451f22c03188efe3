"""A text column whose values are JSON objects: a booking form's answers kept as one JSON text
per visit (``{"Name": "Ana Ruiz", "Email": "ana@example.com", "Phone": "(303) 555-0100"}``), with
no customers table beside it. Each key is read as a column of its own by the same scorer (its
name and its values: a key is the patient's phone only when its values parse as phones), and a
patient field no column of the visit gave is placed on the path into the JSON
(``customer_information.Phone``); the connector reads that column's text as JSON
(``json_columns``). A column is taken only when most of its sampled values are JSON objects; a
JSON list (a form's field definitions) or free text is no person, except a list of contact objects
(a person's phones or emails as ``[{"value": ..., "label": ...}]``: contactlists.py)."""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Mapping, Sequence
from typing import Any

from clinicsync.mappings.paths import QUOTE
from clinicsync.sync.discover.columns import ColumnSample
from clinicsync.sync.discover.contacts import contactlists
from clinicsync.sync.discover.proposal import Guess
from clinicsync.sync.discover.scoring import score_columns
from clinicsync.sync.discover.values import filled

PERSON_FIELDS = ("patient.name", "patient.phone", "patient.email")
SHARE = 0.8  # of the non-empty sampled values that must be JSON objects
MIN_OBJECTS = 5
_TEXT = re.compile(r"char|text|clob|json|string", re.I)
_WHOLE = re.compile(r"int|number|numeric|decimal", re.I)
_PLAIN_KEY = re.compile(r"[^.\[\]`]+")


def as_text(value: Any) -> str | None:
    """A sampled value as text: a JSON column's object or list (PostgreSQL's json/jsonb come as
    Python objects) as its JSON, anything else as ``str`` does."""
    if value is None:
        return None
    if isinstance(value, (dict, list)):
        return json.dumps(value, default=str)
    return str(value)


def parsed_objects(values: Sequence[str | None]) -> tuple[list[dict[str, Any]], int]:
    """The sampled values that are JSON objects, parsed, and how many values were not empty."""
    present = filled(values)
    parsed: list[dict[str, Any]] = []
    for value in present:
        if value.lstrip()[:1] != "{":
            continue
        try:
            item = json.loads(value)
        except ValueError:
            continue
        if isinstance(item, dict):
            parsed.append(item)
    return parsed, len(present)


def objects(values: Sequence[str | None]) -> list[dict[str, Any]] | None:
    """The sampled values as JSON objects when at least ``SHARE`` of the non-empty ones are, else None."""
    parsed, present = parsed_objects(values)
    if len(parsed) < MIN_OBJECTS or len(parsed) < SHARE * present:
        return None
    return parsed


def key_samples(items: Sequence[Mapping[str, Any]]) -> list[ColumnSample]:
    """Each top-level key of the objects as a column: its scalar values as text (None where a
    row lacks it or holds a list or an object)."""
    keys = list(dict.fromkeys(k for item in items for k in item  # a key with a backquote has no path
                              if isinstance(k, str) and k.strip() and QUOTE not in k))
    return [ColumnSample(key, "TEXT", [_scalar(item.get(key)) for item in items]) for key in keys]


def _scalar(value: Any) -> str | None:
    if isinstance(value, bool) or value is None or isinstance(value, (dict, list)):
        return None
    return str(value)


def path(column: str, key: str) -> str:
    """The mapping path of ``key`` inside ``column`` (a key with dots, brackets or spaces quoted)."""
    def part(name: str) -> str:
        return name if _PLAIN_KEY.fullmatch(name) and name.strip() == name and " " not in name \
            else f"{QUOTE}{name}{QUOTE}"
    return f"{part(column)}.{part(key)}"


def _spec(spec: Mapping[str, Any], column: str) -> dict[str, Any]:
    """The scorer's field spec with each key it reads made a path into ``column``."""
    out = dict(spec)
    for name in ("from", "concat"):
        given = out.get(name)
        if isinstance(given, str):
            out[name] = path(column, given)
        elif isinstance(given, list):
            out[name] = [path(column, g) for g in given]
    return out


def placed(guesses: list[Guess], unplaced: list[str], values: Mapping[str, Sequence[str | None]],
           types: Mapping[str, str], region: str, zero: list[str], own: Collection[str]
           ) -> tuple[list[Guess], list[str], list[str], list[str]]:
    """The patient's name, phone and email no column gave, read from the keys of a not-placed
    text column of JSON objects; the guesses, the columns still not placed, the columns the
    connector reads as JSON, and what was looked at (notes). A patient id column whose 0 names
    no one is added to ``zero`` (the query reads it as NULL there). Only the visit's or the
    patient's own columns (``own``) are looked at: a doctor's profile JSON names the doctor."""
    have = {g.field for g in guesses}
    wanted = [f for f in PERSON_FIELDS if f not in have]
    if not wanted:
        return guesses, unplaced, [], []
    added: list[Guess] = []
    taken: list[str] = []
    notes: list[str] = []
    for column in unplaced:
        if not wanted or column not in own or not _TEXT.search(types.get(column) or ""):
            continue
        items = objects(values.get(column, ()))
        if items is None:
            listed = contactlists.contact_field(values.get(column, ()), region) \
                if _PLAIN_KEY.fullmatch(column) else None
            if listed is not None and listed[0] in wanted:
                field, key, why = listed
                skip = contactlists.organizer_first(values.get(column, ()))
                read = contactlists.paths(column, key, skip)
                added.append(Guess(field, read[0], 0.8, f"{column!r}: {why}", {"from": read}))
                wanted.remove(field)
                taken.append(column)
                named = contactlists.name_key(values.get(column, ()), skip, key) if skip else None
                if named is not None and "patient.name" in wanted:  # an attendee's name beside the email
                    names = contactlists.paths(column, named, skip)
                    added.append(Guess("patient.name", names[0], 0.75, f"{column!r}: key {named!r} of the same "
                                       "entries", {"from": names}))
                    wanted.remove("patient.name")
            continue
        scored = score_columns(key_samples(items), region=region)
        found = [g for g in scored.guesses if g.field in wanted]
        if not found:
            keys = ", ".join(repr(s.name) for s in key_samples(items)[:8])
            notes.append(f"{column!r} holds JSON objects (keys {keys}): none of them reads as the patient's "
                         "name, phone or email by its name and values")
            continue
        share = f"{len(items)} of {sum(1 for v in values.get(column, ()) if v)} sampled values are JSON objects"
        for guess in found:
            added.append(Guess(guess.field, path(column, guess.source), guess.confidence,
                               f"{column!r}: {share}; key {guess.source!r}: {guess.why}", _spec(guess.spec, column)))
            wanted.remove(guess.field)
        taken.append(column)
    if not added:
        return guesses, unplaced, [], notes
    contact = next((g for f in ("patient.email", "patient.phone") for g in added if g.field == f), None)
    if "patient.external_id" not in have and contact is not None:  # no column names the patient: the form does
        added.insert(0, Guess("patient.external_id", contact.source, round(contact.confidence * 0.8, 2),
                              f"no column names the patient: the {contact.field[8:]} the form gives",
                              {"from": contact.source}))
    elif contact is not None:
        guesses = [_guests(g, contact, values, types, notes, zero) if g.field == "patient.external_id" else g
                   for g in guesses]
    return guesses + added, [u for u in unplaced if u not in taken], taken, notes


def _guests(guess: Guess, contact: Guess, values: Mapping[str, Sequence[str | None]], types: Mapping[str, str],
            notes: list[str], zero: list[str]) -> Guess:
    """A whole-number patient id that is 0 on some visits (a guest who booked without an account:
    WordPress writes 0 for no user) names nobody there: those visits' patient is the form's
    contact. The column is read as NULL for 0 (``zero``), the contact's path after it."""
    column = guess.spec.get("from")
    sampled = [v for v in values.get(column, ()) if v is not None] if isinstance(column, str) else []
    zeros = sum(v.strip() == "0" for v in sampled)
    if not zeros or zeros == len(sampled) or not _WHOLE.search(types.get(str(column)) or ""):
        return guess
    zero.append(str(column))
    notes.append(f"patient.external_id: {column!r} is 0 on {zeros} of {len(sampled)} sampled visits (a guest: 0 "
                 f"names no account): read as empty there, and those visits' patient is {contact.source!r}")
    return Guess(guess.field, f"{column} + {contact.source}", guess.confidence,
                 f"{guess.why}; 0 is no patient: then {contact.source!r}", {"from": [column, contact.source]})
