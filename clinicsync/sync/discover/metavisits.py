"""The proposal for visits kept as key/value rows (metarows.py found them): one query that
reads the chosen type's entity rows with each meta key as a column, the fields placed on those
columns as discover places any column (phones parse as phones, dates as dates, names are words).

Each key is pivoted by a scalar subquery, ``(SELECT MAX(m.value) FROM meta AS m WHERE m.owner
= a.id AND m.key = '…')``: plain SQL that MariaDB, PostgreSQL and SQLite all run, on the meta
table's index on its owner, with no GROUP BY over the entity's columns (a text column cannot be
grouped on every database) and one row per visit whatever keys a visit lacks. One LEFT JOIN per
key was rejected: a key written twice for a visit would double the visit's row.

The rest follows the data:

- the start, its window and the visits' length: metastart.py.
- the status: the entity's status column (``post_status``), its words read after the prefix they
  all share (``sln-b-canceled`` -> canceled), WordPress's own lifecycle words (publish, future,
  draft) read as what they mean for a booking; the rows thrown away (trash, auto-draft) are left
  out of the query.
- the patient: a registered person is a row of another entity table whose key a visit's key
  (``_appointment_user``) or own column (``post_author``) names, found by the values: the
  person's own columns and meta keys are read and placed too, each the fallback of the visit's
  own field (a guest's name and email are the booking's meta); the person's id, else the
  visit's own contact, identifies the patient.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Connection

from clinicsync.sync.discover import metapeople, metastart
from clinicsync.sync.discover.columns import ColumnSample
from clinicsync.sync.discover.metarows import MetaTable, VisitRows, literal
from clinicsync.sync.discover.proposal import Guess, Proposal, StatusWord
from clinicsync.sync.discover.scoring import score_columns
from clinicsync.sync.discover.sql_reading import run_checked, visits_zone
from clinicsync.sync.discover.statuses import status_word

Run = Callable[[str], list[tuple[Any, ...]]]
SAMPLE = 50
_STATUS = re.compile(r"(?i)^([a-z]+_)?(status|state)$")
_GONE = ("trash", "auto-draft", "deleted", "removed")
# WordPress's post statuses (wp-includes/post.php, get_post_statuses) as a booking's.
_LIFECYCLE = {"publish": "booked", "future": "booked", "private": "booked", "draft": "pending", "pending": "pending"}


def _name(key: str, taken: set[str]) -> str:
    base = re.sub(r"\W+", "_", key.strip("_")).lower() or "field"
    out, n = base, 1
    while out in taken:
        n += 1
        out = f"{base}_{n}"
    taken.add(out)
    return out


def _pivot(pair: MetaTable, key: str, owner: str, quote: Callable[[str], str]) -> str:
    return (f"(SELECT MAX(m.{quote(pair.value)}) FROM {quote(pair.meta.name)} AS m "
            f"WHERE m.{quote(pair.owner)} = {owner} AND m.{quote(pair.key)} = {literal(key)})")


def shared_prefix(keys: Sequence[str]) -> str:
    """The namespace most of a type's keys share (``sln_booking_``, ``appointment_``): the
    plugin's, not a word of the field; '' when fewer than 80 % of the keys have one."""
    counts = Counter(k[:at + 1] for k in keys for at, c in enumerate(k) if c == "_" and 0 < at < len(k) - 1)
    good = [p for p, n in counts.items() if n >= 0.8 * len(keys)]
    return max(good, key=len) if good and len(keys) > 1 else ""


def _status_words(rows: Sequence[tuple[Any, int]]) -> list[StatusWord]:
    words = [(str(w), int(n)) for w, n in rows if w is not None]
    texts = [w for w, _ in words]
    prefix = ""
    if len(texts) > 1:
        first, last = min(texts), max(texts)
        at = next((i for i, (a, b) in enumerate(zip(first, last, strict=False)) if a != b), min(len(first), len(last)))
        prefix = re.sub(r"[^-_ .]*$", "", first[:at])
    out = []
    for word, count in words:
        status, confidence = status_word(word[len(prefix):] if prefix and word.startswith(prefix) else word)
        if status is None and word in _LIFECYCLE:
            status, confidence = _LIFECYCLE[word], 0.8
        out.append(StatusWord(word, status, count, confidence))
    return out


def _scored(samples: list[ColumnSample], region: str) -> dict[str, Guess]:
    return {g.field: g for g in score_columns(samples, region=region).guesses}


def _respelled(placed: dict[str, Guess], names: dict[str, str]) -> dict[str, Guess]:
    """The scorer's guesses on the names it read, their specs naming the query's outputs."""
    def spec_of(spec: dict[str, Any]) -> dict[str, Any]:
        def one(v: Any) -> Any:
            return [one(x) for x in v] if isinstance(v, list) else names.get(v, v) if isinstance(v, str) else v
        return {k: (one(v) if k in ("from", "concat", "date", "time") else
                    spec_of(v) if k == "fallback" and isinstance(v, dict) else v) for k, v in spec.items()}
    return {f: Guess(g.field, " + ".join(names.get(p, p) for p in g.source.split(" + ")), g.confidence, g.why,
                     spec_of(g.spec)) for f, g in placed.items()}


def _doctor_fields(outs: dict[str, str], values: dict[str, list[str | None]], region: str,
                   fields: dict[str, dict[str, Any]], guesses: list[Guess], link: metapeople.Link) -> str:
    """The doctor's id, name and email from the row the visit names, over what the visit's own
    keys said of a doctor (a number is no name). What was placed, for the note."""
    for field_name in [f for f in fields if f.startswith("practitioner.")]:
        del fields[field_name]
    guesses[:] = [g for g in guesses if not g.field.startswith("practitioner.")]
    spelled = {"id": outs["id"]} | {re.sub(r"^[a-z]+_", "", o.removeprefix("doctor_").lstrip("_")) or o: o
                                    for o in outs if o != "id" and o != outs["id"]}
    scored = _respelled(_scored([ColumnSample(n, None, values[o]) for n, o in spelled.items() if n != "id"], region),
                        spelled)
    fields["practitioner.external_id"] = {"from": outs["id"]}
    guesses.append(Guess("practitioner.external_id", outs["id"], 0.85, f"the key of the row {link.name!r} names",
                         fields["practitioner.external_id"]))
    for field_name, guess in scored.items():
        part = field_name.split(".", 1)[-1]
        words = [v for o in _sources(guess.spec) for v in values.get(o, []) if v]
        if part == "name" and not any(" " in v.strip() for v in words):
            continue  # a slug ('dr-maria-lopez') or a login is no one's name
        if part in ("name", "email") and f"practitioner.{part}" not in fields:
            fields[f"practitioner.{part}"] = {k: v for k, v in guess.spec.items() if k in ("from", "concat", "type")}
            guesses.append(Guess(f"practitioner.{part}", guess.source, guess.confidence * 0.9,
                                 f"the doctor's row: {guess.why}", fields[f"practitioner.{part}"]))
    if "practitioner.name" not in fields:  # a row's title is what it is called (a post's, a page's)
        title = next((o for n, o in spelled.items() if re.search(r"(?i)title|label|name", n)
                      and any(v and " " in v.strip() for v in values[o])), None)
        if title is not None:
            fields["practitioner.name"] = {"from": title}
            guesses.append(Guess("practitioner.name", title, 0.7, "the title of the doctor's row",
                                 fields["practitioner.name"]))
    return ", ".join(sorted(f.split(".")[1] for f in fields if f.startswith("practitioner.")))


def _patient_fields(own: dict[str, Guess], theirs: dict[str, Guess], person: metapeople.Link | None,
                    person_out: dict[str, str], keys: dict[str, str], fields: dict[str, dict[str, Any]],
                    guesses: list[Guess]) -> list[Guess]:
    """The registered person's fields as the fallback of the visit's own (a guest's keys come
    first where a visit has them), and the person's id, else the visit's own contact, as the
    patient's id. The guesses, each field once."""
    for field_name, guess in theirs.items():
        person_field = "patient." + field_name.split(".", 1)[1] if "." in field_name else None
        if person_field is None or person_field == "patient.external_id" or (
                field_name.startswith("practitioner") and f"patient.{field_name.split('.', 1)[1]}" in theirs):
            continue
        spec = dict(guess.spec)
        mine = next((g for g in guesses if g.field == person_field), None)
        fields[person_field] = _with_fallback(fields[person_field], spec) if mine is not None else spec
        guesses = [g for g in guesses if g.field != person_field]
        guesses.append(Guess(person_field, f"{mine.source} | {guess.source}" if mine else guess.source,
                             guess.confidence * 0.9, (f"the visit's own {mine.why}; else " if mine else "")
                             + f"the registered person's {guess.why}", fields[person_field]))
    if person is not None:
        own_id = fields.get("patient.external_id")
        if own_id is None or set(_sources(own_id)) & {o for o, k in keys.items() if k == person.name}:
            # the visit's own id of the person is the link itself: a guest is known by the visit's contact
            own_id = next(({k: v for k, v in own[f].spec.items() if k in ("from", "concat")}
                           | {"type": "email" if f == "patient.email" else "string"}
                           for f in ("patient.email", "patient.phone") if f in own), None)
        fields["patient.external_id"] = _with_fallback({"from": person_out["id"]}, own_id)
        guesses = [g for g in guesses if g.field != "patient.external_id"]
        guesses.append(Guess("patient.external_id", person_out["id"], 0.85,
                             f"the {person.pair.entity.name!r} row that {person.name!r} names"
                             + ("; a guest: the visit's own contact" if own_id else ""),
                             fields["patient.external_id"]))
    return guesses


def _with_fallback(spec: dict[str, Any], fallback: dict[str, Any] | None) -> dict[str, Any]:
    if fallback is None:
        return spec
    inner = {k: v for k, v in fallback.items() if k in ("from", "concat", "type", "fallback")}
    return {**spec, "fallback": inner}


def proposal(connection: Connection, found: VisitRows, name: str, url: str, timezone: str | None,
             region: str) -> Proposal:
    """The connector and mapping for ``found`` (see the module docstring)."""
    dialect = connection.dialect.name

    def run(sql: str) -> list[tuple[Any, ...]]:
        return run_checked(connection, sql)

    quote = connection.dialect.identifier_preparer.quote
    pair, entity = found.pair, found.pair.entity
    key_sql = f"a.{quote(entity.key or '')}"
    select: dict[str, str] = {"id": key_sql}
    taken = {"id"}
    status_column = next((c for c in entity.columns if _STATUS.match(c)), None)
    where = [f"a.{quote(pair.type_column)} = {literal(found.type_value)}"] if pair.type_column and found.type_value \
        else []
    notes: list[str] = [f"visits kept as key/value rows: {found.why}; each key read as a column"]
    words: list[StatusWord] = []
    if status_column is not None:
        out = _name(status_column, taken)
        select[out] = f"a.{quote(status_column)}"
        rows = run(f"SELECT a.{quote(status_column)}, COUNT(*) FROM {quote(entity.name)} AS a"
                   + (f" WHERE {where[0]}" if where else "") + f" GROUP BY a.{quote(status_column)}")
        gone = sorted(str(w) for w, _ in rows if str(w).lower() in _GONE)
        if gone:
            where.append(f"a.{quote(status_column)} NOT IN ({', '.join(literal(w) for w in gone)})")
            notes.append(f"rows whose {status_column} is {', '.join(map(repr, gone))} are thrown away: left out")
        words = _status_words([(w, n) for w, n in rows if str(w) not in gone])
    keys: dict[str, str] = {}  # output -> meta key
    joins: list[str] = []
    slot_sql = f"s.{quote(entity.key or '')}"
    if found.parent_link is not None:  # the row each visit books (its time, its doctor): joined once
        joins.append(f"LEFT JOIN {quote(entity.name)} AS s ON " + metapeople.key_equals(
            slot_sql, _pivot(pair, found.parent_link, key_sql, quote), entity.columns[entity.key or ""], dialect))
    for key in found.keys:
        values = list(found.values[key].values())
        if any(v and re.match(r"^(a|O|s):\d+:", v) for v in values):
            notes.append(f"{key!r}: left out: its values are PHP-serialized arrays, no one field")
            continue
        out = _name(key, taken)
        keys[out] = key
        select[out] = _pivot(pair, key, slot_sql if key in found.parent_keys else key_sql, quote)

    def out_name(wanted: str) -> str:
        return _name(wanted, taken)

    def pivot(meta: MetaTable, key: str, owner: str) -> str:
        return _pivot(meta, key, owner, quote)

    def link_sql(link: metapeople.Link) -> str:
        return select[next(o for o, k in keys.items() if k == link.name)] if link.is_key else f"a.{quote(link.name)}"

    person = metapeople.registered(run, quote, found)
    person_out: dict[str, str] = {}
    if person is not None:
        row = metapeople.joined(run, quote, dialect, person, link_sql(person), "u", "person", pivot, out_name, select)
        joins.append(row.join)
        person_out = {"id": row.id_out, **row.outs}
    provider = metapeople.doctor(run, quote, found)
    doctor_out: dict[str, str] = {}
    if provider is not None:
        row = metapeople.joined(run, quote, dialect, provider, link_sql(provider), "d", "doctor", pivot,
                                out_name, select)
        joins.append(row.join)
        doctor_out = {"id": row.id_out, **row.outs}
    head = ",\n  ".join(f"{sql} AS {quote(out)}" for out, sql in select.items())
    body = f"FROM {quote(entity.name)} AS a" + "".join(f"\n{j}" for j in joins)
    rows = run(f"SELECT\n  {head}\n{body}" + (f"\nWHERE {' AND '.join(where)}" if where else "")
               + f"\nORDER BY {key_sql} DESC LIMIT {SAMPLE}")
    outs = list(select)
    column_values = {o: [None if r[i] is None else str(r[i]) for r in rows] for i, o in enumerate(outs)}
    prefix = shared_prefix([k.lstrip("_") for k in keys.values()])
    spelled: dict[str, str] = {}  # the name the scorer reads -> the query's output
    for out, key in keys.items():
        spelled[_name(key.lstrip("_").removeprefix(prefix), set(spelled))] = out
    theirs_prefix = shared_prefix([c.lstrip("_") for o, c in person_out.items() if o != person_out.get("id")])
    theirs_spelled: dict[str, str] = {}
    for out, column in person_out.items():
        if out != person_out.get("id"):
            theirs_spelled[_name(column.lstrip("_").removeprefix(theirs_prefix), set(theirs_spelled))] = out
    own = _respelled(_scored([ColumnSample(n, None, column_values[o]) for n, o in spelled.items()], region), spelled)
    theirs = _respelled(_scored([ColumnSample(n, None, column_values[o]) for n, o in theirs_spelled.items()], region),
                        theirs_spelled) if person is not None else {}
    fields: dict[str, dict[str, Any]] = {"external_id": {"from": "id"}}
    guesses = [Guess("external_id", "id", 0.95, f"the key of {entity.name!r}", {"from": "id"})]

    for field_name, guess in own.items():
        if field_name in ("external_id", "status", "source_updated_at", "booked_at"):
            continue
        fields[field_name] = dict(guess.spec)
        guesses.append(guess)
    guesses = _patient_fields(own, theirs, person, person_out, keys, fields, guesses)
    if provider is not None:
        placed = _doctor_fields(doctor_out, column_values, region, fields, guesses, provider)
        notes.append(f"the doctor: the {provider.pair.entity.name!r} row that {provider.name!r} names ({placed})")
    window = metastart.settle(found, fields, guesses, select, keys, column_values, dialect, notes)
    if window is not None:
        where.append(window)
    instant = window is not None and fields.get("start", {}).get("type") == "unix_seconds"
    if status_column is not None:
        fields["status"] = {"from": _name(status_column, set())}
        guesses.append(Guess("status", fields["status"]["from"], 0.9, f"the entity's {status_column!r}",
                             fields["status"]))
    used = {c for spec in fields.values() for c in _sources(spec)}
    kept = {o: s for o, s in select.items() if o in used or o == "id"}
    head = ",\n  ".join(s if s == f"a.{quote(o)}" else f"{s} AS {quote(o)}" for o, s in kept.items())
    query = f"SELECT\n  {head}\n{body}" + (f"\nWHERE {' AND '.join(where)}" if where else "")
    connector: dict[str, Any] = {"name": name, "kind": "sql", "url": url, "query": query, "mode": "snapshot"}
    connector_notes = {"kind": "a database URL", "url": "the URL given",
                       "query": f"the visits are {found.why}",
                       "mode": "a meta row's change stamps no column: the window is re-read every run, what "
                               "vanished is deleted"}
    if instant:
        connector["window"] = {"timezone": "UTC"}
        connector_notes["window"] = "the start is Unix seconds, compared as its UTC date-time: the binds are UTC"
    zone_value = visits_zone(connection, timezone, None, connector_notes)
    if zone_value:
        connector["timezone"] = zone_value
    if window is None:
        notes.append("the start is not a date column the database can compare: every visit row is read")
    guesses = [Guess(g.field, g.source, g.confidence, g.why, fields[g.field]) for g in guesses if g.field in fields]
    status_map = {w.value: w.status for w in words if w.status is not None}
    return Proposal(kind="sql", name=name, product=None, product_confidence=0.0, connector=connector,
                    connector_notes=connector_notes, mapping={"status_map": status_map, "fields": fields},
                    guesses=guesses, status_words=words, unplaced=[o for o in select if o not in used],
                    notes=notes)


def _sources(spec: Any) -> list[str]:
    if not isinstance(spec, dict):
        return []
    out = [spec[k] for k in ("from", "date", "time") if isinstance(spec.get(k), str)]
    out += [c for c in spec.get("from") or [] if isinstance(spec.get("from"), list) and isinstance(c, str)]
    out += [c for c in spec.get("concat") or [] if isinstance(c, str)]
    return out + _sources(spec.get("fallback"))
