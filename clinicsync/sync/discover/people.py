"""Who a visit is for and with, whatever the schema's shape: the patient followed over
several hops (appointment -> patient -> person -> party), the name from the person's tables or a
names table (the preferred, non-voided, newest row), phones and emails from a contacts or
attribute table keyed by a type code (the code found from the values; mobile before home), and
the doctor through a link table when the appointment's own column is mostly empty.

A candidate must beat a stand-in: a column with one or a few distinct values over many visits
(the user who entered the rows), or one equal to the appointment's own key, is no patient. Such
a field is left out with the reason (``refused``), never filled.

Every choice is read from the data, not assumed: a person-like table is one the names say
(patient, person, party, client …); the names table one with given/family columns that refers
to a person table; the phone type the code whose values parse as phone numbers with the mapping
engine's own reader (``values.profile``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from clinicsync.connectors.sql_limit import first_rows
from clinicsync.connectors.sql_session import describe
from clinicsync.sync.discover import (
    attendees,
    doctors,
    eventkinds,
    history,
    household,
    kinship,
    optionkinds,
    organizerrows,
    polyrefs,
    roleperson,
    sharedowner,
    softdelete,
    stamps,
    typedlinks,
)
from clinicsync.sync.discover.graph import Ref, Schema, Table, audit, words
from clinicsync.sync.discover.kinds import (
    TEXT,
    USER,
    WHOLE,
    People,
    Run,
    filled,
    kind_of,
    name_columns,
    weak_provider,
)
from clinicsync.sync.discover.mobilefirst import mobile_share
from clinicsync.sync.discover.personshape import holds_a_person
from clinicsync.sync.discover.proposal import Guess
from clinicsync.sync.discover.readplan import ReadPlan, stem_of
from clinicsync.sync.discover.values import profile
from clinicsync.sync.discover.vocab import PATIENT_WORDS, PRACTITIONER_WORDS, name_tokens, token_role

_TYPE = re.compile(r"type|kind|tipo|categ|code|mech|class", re.I)
_STRONG_TYPE = re.compile(r"type|kind|tipo|categ|mech", re.I)
_LABEL = re.compile(r"name|label|description|display|title|nombre|descripcion", re.I)
_MOBILE = re.compile(r"mobile|cell|movil|celular|sms|handy|portable|whatsapp", re.I)
_LANDLINE = re.compile(r"home|casa|work|office|trabajo|fijo|business|other", re.I)
_NOT_PHONE = re.compile(r"fax|pager|beeper", re.I)
_SAFE_CODE = re.compile(r"[\w ./+-]{1,64}")  # no quote, backslash or colon (a bind in text())
MAX_HOPS = 3  # appointment -> patient -> person -> party
SAMPLE = 2000  # rows read to judge a candidate or a type code
MOBILE_SHARE = 0.8  # of a phone type code's numbers, mobiles, for its rows to go first
WEAK_SHARE = 20  # a candidate with at most one distinct value per this many visits stands in for the patient


def weak_reason(run: Run, plan: ReadPlan, column: str, named_patient: bool = False) -> str | None:
    """Why the appointment column ``column`` cannot be the patient: one or a few distinct values
    over many visits, or the appointment's own key again; None when it can. A column whose name
    says patient (``patient_id`` -> ``patient``) is refused for one or two values only: a
    therapist's forty clients seen weekly are forty patients, not a stand-in."""
    main, q = plan.main, plan.quote
    key = main.key
    if key is None or column == key:
        return "it is the appointment's own key" if column == key else None
    rows = run(first_rows(f"SELECT a.{q(key)}, a.{q(column)} FROM {q(main.name)} AS a ORDER BY a.{q(key)} DESC",
                          SAMPLE, plan.dialect))
    present = [(str(k), str(v)) for k, v in rows if v is not None]
    if len(present) < 20:
        return None
    distinct = len({v for _, v in present})
    if distinct <= (2 if named_patient else max(2, len(present) // WEAK_SHARE)):
        return (f"{column!r} has {distinct} distinct value(s) over {len(present)} visits: it looks like who "
                "entered the rows, not the patient")
    same = sum(k == v for k, v in present)
    if same >= 0.9 * len(present):
        return f"{column!r} equals the appointment's own key {key!r} on {round(100 * same / len(present))}% of visits"
    return None


def _has_column(chain: list[tuple[Table, str]], kind: str) -> bool:
    """Whether a table of the chain has a column whose name says ``kind`` (email, phone): the
    scorer places it from the values, so no link table is looked for."""
    return any(kind in {token_role(t) for t in name_tokens(c)} for table, _ in chain for c in table.columns)


def _weak_beside_strong(refs: list[Ref], others: list[str]) -> list[str]:
    """The visit's columns that say provider only by a weak word (an agent, a specialist) when
    another of its columns says practitioner by a strong one (``doctor_id``); [] otherwise."""
    def provider(ref: Ref) -> bool:
        return (kind_of(ref.target) == "provider" or kind_of(ref.column) == "provider") and not audit(ref.column) \
            and ref.column not in others

    def weak(ref: Ref) -> bool:
        return (kind_of(ref.column) != "provider" or weak_provider(ref.column)) and \
            (kind_of(ref.target) != "provider" or weak_provider(ref.target))

    found = [r for r in refs if provider(r)]
    return [r.column for r in found if weak(r)] if any(not weak(r) for r in found) else []


def _rank(ref: Ref) -> int:
    kinds = {kind_of(ref.column), kind_of(ref.target)}
    return 0 if "patient" in kinds else 1 if "person" in kinds else 9


def _literal(code: Any) -> str | None:
    """A type code as an SQL literal, or None when it is not a plain code (never quoted text)."""
    if isinstance(code, bool):
        return None
    if isinstance(code, int):
        return str(code)
    text = str(code)
    return "'" + text + "'" if _SAFE_CODE.fullmatch(text) and "'" not in text else None


class _Builder:
    def __init__(self, run: Run, schema: Schema, plan: ReadPlan, region: str) -> None:
        self.run, self.schema, self.plan, self.region = run, schema, plan, region
        self.q = plan.quote
        self.most = stamps.greatest(plan.dialect)
        self.people = People()

    # -- the chain of a person's tables ------------------------------------------------------
    def chain(self, first: Table, alias: str) -> list[tuple[Table, str]]:
        """``first`` (joined as ``alias``) and the person-like tables it leads to, joined."""
        out = [(first, alias)]
        seen = {first.name}
        while len(out) < MAX_HOPS:
            table, at = out[-1]
            refs = [r for r in self.schema.refs(table.name)
                    if r.target not in seen and not audit(r.column) and kind_of(r.target) in ("person", "patient")
                    and kind_of(r.target) != "provider" and not words(r.target) & USER]
            ref = min(refs, key=lambda r: self._hop_rank(table, r), default=None)
            if ref is None:
                break
            target = self.schema.tables[ref.target]
            hop = self.plan.alias("p")
            self.plan.join(target, hop, self.plan.on(ref, hop, at))
            self.plan.add_columns(target, hop, target.name, frozenset({ref.target_column}))
            self.stamp_row(target, hop)
            seen.add(target.name)
            out.append((target, hop))
        return out

    def _hop_rank(self, table: Table, ref: Ref) -> tuple[int, int]:
        """Which of a person row's references leads to the person: a direct one before one
        through a row that itself refers to a person (an address naming its party), a NOT NULL
        one before an optional one (``current_address`` is empty for many patients)."""
        target = self.schema.tables[ref.target]
        through = any(kind_of(r.target) in ("person", "patient") and r.target != table.name and not audit(r.column)
                      and not words(r.target) & USER for r in self.schema.refs(target.name))
        return int(through), int(ref.column in table.nullable)

    def owned(self, table: str) -> list[Ref]:
        """The tables whose rows belong to a row of ``table`` (its names, its contacts): not the
        rows it merely entered (``party_contact_mechanism.create_uid`` -> ``res_user`` holds the
        numbers a clerk typed in, not the clerk's)."""
        return [c for c in self.schema.children(table) if not audit(c.column)]

    def stamp_row(self, table: Table, alias: str) -> None:
        stamp = stamps.row_stamp(table, alias, self.q, self.most)
        if stamp is not None:
            self.plan.stamps.append(stamp)

    def pick(self, child: Ref, parent_alias: str, extra: str = "", prefer: bool = True,
             first: bool = False, before: Sequence[str] = ()) -> str | None:
        """Join the one row of ``child.table`` that stands for the parent row: not deleted, the
        person's own (kinship.py), still open where kept with history (history.py), the
        preferred one first, then the newest (its start, its stamps, then its key); ``first``:
        the first by key instead (a booking's first attendee); ``before``: orderings (over
        ``cs_r``) that go first of all (a mobile's row before the primary landline's). None
        without a key."""
        table = self.schema.tables[child.table]
        if table.key is None:
            return None
        q, dialect = self.q, self.plan.dialect
        conditions = [f"cs_r.{q(child.column)} = {parent_alias}.{q(child.target_column)}"]
        gone = softdelete.flag(table, dialect)
        if gone is not None:
            conditions.append(softdelete.kept(gone, "cs_r", q(gone.column)))
        conditions += kinship.own_rows(table, "cs_r", q,
                                       lambda c: softdelete.truthy(table, c, "cs_r", q(c), dialect))
        end, start = history.end_column(table), history.start_column(table)
        if end is not None:
            conditions.append(history.current("cs_r", q(end)))
        if extra:
            conditions.append(extra)
        order = list(before)
        preferred = softdelete.preferred(table) if prefer else None
        if preferred is not None:
            order.append(f"CASE WHEN {softdelete.truthy(table, preferred, 'cs_r', q(preferred), dialect)} "
                         "THEN 0 ELSE 1 END")
        if first:
            order.append(f"cs_r.{q(table.key)}")
        else:
            if start is not None:
                order.append(f"cs_r.{q(start)} DESC")
            newest = stamps.stamp_columns(table)
            order += [f"cs_r.{q(c)} DESC" for c in newest[-1:]]  # the creation stamp: set on every row
            order.append(f"cs_r.{q(table.key)} DESC")
        alias = self.plan.alias("r")
        nearest = first_rows(f"SELECT cs_r.{q(table.key)} FROM {q(table.name)} AS cs_r WHERE "
                             f"{' AND '.join(conditions)} ORDER BY {', '.join(order)}", 1, self.plan.dialect)
        self.plan.join(table, alias, f"{alias}.{q(table.key)} = ({nearest})")
        return alias

    def stamp_children(self, child: Ref, parent_alias: str) -> None:
        table = self.schema.tables[child.table]
        stamp = stamps.child_stamp(table, child.column, f"{parent_alias}.{self.q(child.target_column)}", self.q,
                                   self.most)
        if stamp is not None and stamp not in self.plan.stamps:
            self.plan.stamps.append(stamp)

    # -- names -------------------------------------------------------------------------------
    def name(self, who: str, chain: list[tuple[Table, str]]) -> Guess | None:
        """The person's name: a table of the chain with the name filled, else a names table
        referring to one of them (several rows per person: the preferred, non-voided one)."""
        for table, alias in chain:
            columns, _ = name_columns(table)
            if columns and filled(self.run, self.q, table, columns):
                outs = [self.plan.add(alias, c, f"{who}_{c}", table.name, table.columns[c]) for c in columns]
                return self._name_guess(who, outs, f"the name column(s) of table {table.name!r}")
        for table, alias in chain:
            children = sorted(self.owned(table.name), key=lambda c: "name" not in words(c.table))
            for child in children:
                names = self.schema.tables[child.table]
                columns, _ = name_columns(names)
                if not columns or child.table == self.plan.main.name or kind_of(names.name) == "provider":
                    continue
                picked = self.pick(child, alias)
                if picked is None:
                    continue
                self.stamp_children(child, alias)
                outs = [self.plan.add(picked, c, f"{who}_{c}", names.name, names.columns[c]) for c in columns]
                how = []
                if softdelete.preferred(names):
                    how.append(f"the preferred row ({softdelete.preferred(names)!r})")
                gone = softdelete.flag(names, self.plan.dialect)
                if gone is not None:
                    how.append(f"not deleted: {softdelete.describe(gone)}")
                how.append("the newest")
                return self._name_guess(who, outs, f"names table {names.name!r} (several rows per person: "
                                                   f"{', '.join(how)})")
        return None

    def _name_guess(self, who: str, outs: list[str], why: str) -> Guess:
        spec: dict[str, Any] = {"from": outs[0]} if len(outs) == 1 else {"concat": outs}
        return Guess(f"{who}.name", " + ".join(outs), 0.85, why, spec)

    # -- phones and emails in a typed table --------------------------------------------------
    def contacts(self, chain: list[tuple[Table, str]], who: str = "patient",
                 held: set[str] | None = None) -> list[Guess]:
        """A person's phones and emails from the tables that belong to the chain's rows: typed
        rows (a code per row), else plain rows (an address or contact table with a phone column)
        for a kind the person's own tables (all the patient's, for the patient) hold no column of.
        ``held``: the kinds those tables hold as values, when known (a ``do_not_phone`` flag is
        named for a phone but holds none); else read from their column names."""
        out: list[Guess] = []
        mine = {t.name for t, _ in chain} | (self.people.patient_tables if who == "patient" else set())
        own: set[str | None] = set(held) if held is not None else {
            token_role(t) for name in mine for c in self.schema.tables[name].columns for t in name_tokens(c)}
        for table, alias in chain:
            for child in self.owned(table.name):
                found = self._typed(child, alias, who) or self._plain(child, alias, who, own)
                for guess in found:
                    if not any(g.field == guess.field for g in out):
                        out.append(guess)
        return out

    def _labels(self, table: Table, type_column: str) -> dict[str, str]:
        """A type code's name from the table the code refers to (``person_attribute_type.name``)."""
        ref = next((r for r in self.schema.refs(table.name) if r.column == type_column), None)
        if ref is None:
            return {}
        types = self.schema.tables[ref.target]
        label = next((c for c, t in types.columns.items() if _LABEL.search(c) and TEXT.search(t)), None)
        if label is None:
            return {}
        q = self.q
        rows = self.run(first_rows(f"SELECT {q(ref.target_column)}, {q(label)} FROM {q(types.name)}", 500,
                                   self.plan.dialect))
        return {str(code): str(name) for code, name in rows if name is not None}

    def _typed(self, child: Ref, parent_alias: str, who: str) -> list[Guess]:
        """A person's phones and emails from a table of typed rows (``who``: patient, or
        practitioner for an email only: the engine keeps no doctor's phone)."""
        table = self.schema.tables[child.table]
        if table.key is None or child.table == self.plan.main.name:
            return []
        types = [c for c in table.columns if c != child.column and c != table.key and _TYPE.search(c)
                 and not audit(c)]
        strong = [c for c in types if _STRONG_TYPE.search(c)]  # "type", "kind" over a "country_code"
        types = strong if len(strong) == 1 else types
        values = [c for c, t in table.columns.items() if TEXT.search(t) and c not in types and c != child.column
                  and not audit(c) and "uuid" not in c.lower() and "reason" not in c.lower()]
        if len(types) != 1 or not values:
            return []
        type_column, q = types[0], self.q
        gone = softdelete.flag(table, self.plan.dialect)
        where = f" WHERE {softdelete.kept(gone, 'cs_t', q(gone.column))}" if gone else ""
        rows = self.run(first_rows(f"SELECT cs_t.{q(type_column)}, {', '.join(f'cs_t.{q(v)}' for v in values)} "
                                   f"FROM {q(table.name)} AS cs_t{where} ORDER BY cs_t.{q(table.key)} DESC",
                                   SAMPLE, self.plan.dialect))
        by_code: dict[Any, list[tuple[Any, ...]]] = {}
        for row in rows:
            if row[0] is not None:
                by_code.setdefault(row[0], []).append(row[1:])
        labels = self._labels(table, type_column)
        phones: list[tuple[int, int, Any, str, str, float]] = []
        emails: list[tuple[int, int, Any, str, str, float]] = []
        for code, found in by_code.items():
            if len(found) < 3 or _literal(code) is None:
                continue
            label = labels.get(str(code), str(code))
            rank = 0 if _MOBILE.search(label) else 2 if _LANDLINE.search(label) else 1
            best: dict[str, tuple[float, str]] = {}  # per kind, the value column that reads best (first on a tie)
            seen: dict[str, str] = {}  # per kind, a column holding it on some rows
            for index, value_column in enumerate(values):
                p = profile([None if r[index] is None else str(r[index]) for r in found], self.region)
                if p.present >= 3:
                    seen.update({kind: value_column for kind in ("phone", "email") if p.share(kind) >= 0.8})
                if p.present < 0.5 * len(found) or p.present < 3:
                    continue
                for kind in ("phone", "email"):
                    if p.share(kind) >= 0.8 and p.share(kind) > best.get(kind, (0.0, ""))[0]:
                        best[kind] = (p.share(kind), value_column)
            if "phone" in seen and "email" in seen and seen["phone"] != seen["email"]:
                return []  # one row holds a phone and an email in columns of their own: an address row
                # whose 'type' says which address (home, official), not a typed value: read as plain rows
            if "phone" in best and not _NOT_PHONE.search(label):
                at = values.index(best["phone"][1])
                if rank == 1 and mobile_share([None if r[at] is None else str(r[at]) for r in found],
                                              self.region) >= MOBILE_SHARE:
                    rank = 0  # a code no label names, whose numbers a text reaches (where the plan tells)
                phones.append((rank, -len(found), code, label, best["phone"][1], best["phone"][0]))
            elif "email" in best:
                emails.append((0, -len(found), code, label, best["email"][1], best["email"][0]))
        guesses = []
        wanted_fields = (((f"{who}.phone", sorted(phones, key=lambda c: c[:2]), 2),) if who == "patient" else ()) + (
            (f"{who}.email", sorted(emails, key=lambda c: c[:2]), 1),)
        for field_name, found_codes, limit in wanted_fields:
            chosen = found_codes[:limit]
            if not chosen:
                continue
            outs, parts = [], []
            for _, _, code, label, value_column, share in chosen:
                literal = _literal(code)
                picked = self.pick(child, parent_alias, f"cs_r.{q(type_column)} = {literal}")
                if picked is None:
                    continue
                wanted = field_name.replace(".", "_").replace("practitioner_", "doctor_")
                outs.append(self.plan.add(picked, value_column, wanted, table.name, table.columns[value_column]))
                parts.append(f"type {label!r} ({round(share * 100)}% of its values are "
                             f"{'phone numbers' if field_name.endswith('phone') else 'emails'})")
            if not outs:
                continue
            self.stamp_children(child, parent_alias)
            how = "the newest row" if gone is None else f"not deleted ({softdelete.describe(gone)}), the newest row"
            others = kinship.describe(table)
            why = (f"table {table.name!r} keyed by {type_column!r}: {'; then '.join(parts)}; {how}"
                   + (f"; {others}" if others else ""))
            spec: dict[str, Any] = {"from": outs[0] if len(outs) == 1 else outs}
            guesses.append(Guess(field_name, " + ".join(outs), 0.85, why, spec))
        return guesses

    def _plain(self, child: Ref, parent_alias: str, who: str, own: set[str | None]) -> list[Guess]:
        """A phone or email column of a table with several rows per person and no type code (an
        address table kept with history): its values read as phones or emails, the person's own
        current row taken (``pick``)."""
        table = self.schema.tables[child.table]
        if table.key is None or child.table == self.plan.main.name or kind_of(table.name) in ("provider", "patient") \
                or child.table in self.people.patient_tables:
            return []  # a person's own table, reached backwards, is no contact table
        kinds = [k for k in (("phone",) if who == "patient" else ()) + ("email",) if k not in own]
        values = [c for c, t in table.columns.items() if TEXT.search(t) and c != child.column and not audit(c)
                  and c not in table.primary_key]
        if not kinds or not values:
            return []
        q = self.q
        rows = self.run(first_rows(f"SELECT {', '.join(q(v) for v in values)} FROM {q(table.name)} "
                                   f"ORDER BY {q(table.key)} DESC", SAMPLE, self.plan.dialect))
        guesses: list[Guess] = []
        picked: str | None = None
        for kind in kinds:
            best: tuple[int, float, str] | None = None
            for index, column in enumerate(values):
                p = profile([None if r[index] is None else str(r[index]) for r in rows], self.region)
                if p.present < 3 or p.share(kind) < 0.8:
                    continue
                score = (1 if _MOBILE.search(column) else 0, p.share(kind), column)
                if (best is None or score[:2] > best[:2]) and not _NOT_PHONE.search(column):
                    best = score
            if best is None:
                continue
            mobiles = self._mobile_rows(table, child, best[2]) if kind == "phone" else None
            picked = picked or self.pick(child, parent_alias, prefer=True,
                                         before=[mobiles[0]] if mobiles is not None else [])
            if picked is None:
                return []
            out = self.plan.add(picked, best[2], f"{who}_{kind}".replace("practitioner_", "doctor_"), table.name,
                                table.columns[best[2]])
            how = [h for h in (history.describe(table), kinship.describe(table)) if h] or ["the newest row"]
            if mobiles is not None:
                how.insert(0, mobiles[1])
            why = (f"table {table.name!r} ({child.column!r} -> {child.target}, {child.how}): column {best[2]!r}, "
                   f"{round(best[1] * 100)}% of its values are {'phone numbers' if kind == 'phone' else 'emails'}; "
                   + "; ".join(how))
            guesses.append(Guess(f"{who}.{kind}", out, 0.8, why, {"from": out}))
        if picked is not None:
            self.stamp_children(child, parent_alias)
        return guesses

    def _mobile_rows(self, table: Table, child: Ref, phone: str) -> tuple[str, str] | None:
        """The ordering that puts a person's mobile row first, and why: of a phone table's type
        code column (CiviCRM's ``phone_type_id``), the code whose numbers a text reaches
        (mobilefirst.py's test, where the numbering plan tells) while the others' do not; None
        when no code tells (North America, or no type column)."""
        q = self.q
        for column in table.columns:
            if column in (phone, child.column, table.key) or audit(column) or not _STRONG_TYPE.search(column):
                continue
            rows = self.run(first_rows(f"SELECT {q(column)}, {q(phone)} FROM {q(table.name)} WHERE {q(column)} "
                                       f"IS NOT NULL AND {q(phone)} IS NOT NULL", SAMPLE, self.plan.dialect))
            by_code: dict[Any, list[str | None]] = {}
            for code, number in rows:
                by_code.setdefault(code, []).append(None if number is None else str(number))
            shares = {code: mobile_share(numbers, self.region) for code, numbers in by_code.items()
                      if len(numbers) >= 3}
            mobile = [c for c, share in shares.items() if share >= MOBILE_SHARE]
            others = [share for c, share in shares.items() if c not in mobile]
            literal = _literal(mobile[0]) if len(mobile) == 1 else None
            if literal is None or not others or max(others) > 1 - MOBILE_SHARE:
                continue
            return (f"CASE WHEN cs_r.{q(column)} = {literal} THEN 0 ELSE 1 END",
                    f"the row whose {column!r} is {literal} first ({round(shares[mobile[0]] * 100)}% of its "
                    "numbers are mobiles, which a text reaches)")
        return None

    # -- the patient ---------------------------------------------------------------------------
    def patient(self) -> None:
        main, people = self.plan.main, self.people
        candidates = [r for r in self.schema.refs(main.name)
                      if kind_of(r.target) in ("patient", "person") or kind_of(r.column) in ("patient", "person")]
        if not candidates:  # a person's table by its columns, its name an abbreviation (personshape.py)
            candidates = [r for r in self.schema.refs(main.name) if r.target != main.name and kind_of(r.target) is None
                          and kind_of(r.column) is None and holds_a_person(self.schema.tables[r.target])]
        candidates = [r for r in candidates if kind_of(r.target) != "provider" and kind_of(r.column) != "provider"]
        attendee = attendees.child(self)
        if attendee is not None:  # the booking's user is its owner, the patient is among its attendees
            candidates = [r for r in candidates if kind_of(r.column) == "patient" or kind_of(r.target) == "patient"]
        reasons = []
        chosen = None
        for ref in sorted(candidates, key=_rank):
            if audit(ref.column):
                reasons.append(f"{ref.column!r} records who entered the row, not the patient")
                people.handled.add(ref.column)
                continue
            weak = weak_reason(self.run, self.plan, ref.column, _rank(ref) == 0)
            if weak is not None:
                reasons.append(weak)
                people.handled.add(ref.column)
                people.stand_ins.add(ref.column)
                continue
            if chosen is None:
                chosen = ref
        if chosen is None and attendee is not None:
            attendees.place(self, attendee)
            return
        named = polyrefs.find(self, chosen) if chosen is not None else None
        if chosen is not None and named is not None and self._polymorphic_beside_links(chosen, named):
            return
        link = attendees.linked(self) if chosen is None else None
        if link is not None:  # the booking's users, through a link table: the first is the patient
            attendees.place_linked(self, *link)
            self._linked_kinds(link[0])
            return
        if chosen is None:
            if reasons:
                people.refused["patient.external_id"] = "no column names the patient: " + "; ".join(reasons)
            return
        people.handled.add(chosen.column)
        self._open_slots(chosen.column)
        target = self.schema.tables[chosen.target]
        alias = self.plan.alias("t")
        on = self.plan.on(chosen, alias, "a")
        if named is not None:  # a polymorphic reference: a person only on its rows of the person's type
            on += f" AND a.{self.q(named.type_column)} = {named.value}"
            people.handled.add(named.type_column)
            people.filters.append(f"a.{self.q(named.type_column)} = {named.value}")
            people.notes.append(f"rows whose {named.type_column!r} is not {named.value} name no patient (their "
                                f"{chosen.column!r} is another table's key): left out of the query")
        self.plan.join(target, alias, on)
        stem = target.name if named is not None else stem_of(chosen.column, target.name)
        self.plan.add_columns(target, alias, stem, frozenset({chosen.target_column}))
        self.stamp_row(target, alias)
        chain = roleperson.follow(self, self.chain(target, alias))
        people.patient_tables.update(t.name for t, _ in chain)
        hops = " -> ".join([main.name, *(t.name for t, _ in chain)])
        why = f"references table {target.name!r} ({chosen.how}); " \
              f"followed {hops}"
        if reasons:
            why += "; passed over: " + "; ".join(reasons)
        if named is None:
            people.guesses.append(Guess("patient.external_id", chosen.column, 0.9, why, {"from": chosen.column}))
        else:  # its id on another type's rows is no person's: the joined person's key instead
            out = self.plan.add(alias, chosen.target_column, "patient_id", target.name,
                                target.columns[chosen.target_column])
            why += (f"; {chosen.column!r} names a row of the table its {named.type_column!r} says (a polymorphic "
                    f"reference): a patient only where that is {named.value}")
            people.guesses.append(Guess("patient.external_id", out, 0.9, why, {"from": out}))
        own_name = name_columns(target)[0]
        # A table and a column whose names say no person (``fk_contact`` -> ``llx_socpeople``): its
        # joined name columns are nobody's by their names, so the reference says whose they are.
        person_words = PATIENT_WORDS | PRACTITIONER_WORDS
        unnamed = named is not None or (kind_of(target.name) is None
                                        and not set(name_tokens(chosen.column)) & person_words)
        if unnamed or not (own_name and filled(self.run, self.q, target, own_name)):
            name_guess = self.name("patient", chain)
            if name_guess is not None:
                people.guesses.append(name_guess)
        people.guesses.extend(self.contacts(chain[1:] if len(chain) > 1 else chain))
        if len(chain) > 1:  # the patient table's own children too (its phones)
            for guess in self.contacts(chain[:1]):
                if not any(g.field == guess.field for g in people.guesses):
                    people.guesses.append(guess)
        missing = tuple(k for k in ("email", "phone") if not any(g.field == f"patient.{k}" for g in people.guesses)
                        and not _has_column(chain, k))
        if missing:  # kept in a shared table by a typed link (typedlinks.py): the person's own table first
            for table, at in chain:
                people.guesses += typedlinks.place(self, table, at, missing)
                missing = tuple(k for k in missing if not any(g.field == f"patient.{k}" for g in people.guesses))
                if not missing:
                    break
        people.household = next((h for t, at in chain if (h := household.join(self, t, at, people.patient_tables))
                                 is not None), None)  # the household's phone, read after the person's own

    def _polymorphic_beside_links(self, ref: Ref, named: polyrefs.Polymorphic) -> bool:
        """Whether link rows name people of the table ``ref``, the patient's polymorphic reference
        (polyrefs.py), points at: then the link rows give the patient, the person ``ref`` names
        first among them (placed here), and ``ref`` itself is not followed."""
        link = attendees.linked(self, ref.target)
        if link is None or not self._links_most(link[0]):
            return False
        self.people.handled.update({ref.column, named.type_column})
        attendees.place_linked(self, *link, named=named)
        self._linked_kinds(link[0])
        self.people.notes.append(
            f"{ref.column!r} names a row of the table its {named.type_column!r} says (a polymorphic reference): "
            f"{ref.target!r} only where that is {named.value}; the patient is read from {link[0].table!r}, "
            f"the person {ref.column!r} names first")
        return True

    def _links_most(self, link: Ref) -> bool:
        """Whether ``link``'s rows point at least at half the visits (an attendee table the desk
        never fills names no one)."""
        q = self.q
        linked = self.run(f"SELECT COUNT(DISTINCT {q(link.column)}) FROM {q(link.table)}")[0][0]
        visits = self.run(f"SELECT COUNT(*) FROM {q(self.plan.main.name)}")[0][0]
        return int(linked or 0) >= 0.5 * int(visits or 0) > 0

    def _through_link(self, link: Ref, own: Ref | None, share: float) -> tuple[Table, str, str] | None:
        """The doctor from a link table's row (the appointment's own column first where set)."""
        q = self.q
        picked = self.pick(link, "a", prefer=False)
        if picked is None:
            return None
        self.stamp_children(link, "a")
        ref = next(r for r in self.schema.refs(link.table) if kind_of(r.target) == "provider")
        expr = f"{picked}.{q(ref.column)}"
        if own is not None:
            expr = f"COALESCE(a.{q(own.column)}, {expr})"
            self.people.handled.add(own.column)
        target = self.schema.tables[ref.target]
        out = self.plan.expr(expr, "doctor_id", link.table, target.columns.get(ref.target_column, "INTEGER"))
        alias = self.plan.alias("d")
        self.plan.join(target, alias, f"{alias}.{q(ref.target_column)} = {expr}")
        self.plan.add_columns(target, alias, "doctor", frozenset({ref.target_column}))  # its email, for the scorer
        self.stamp_row(target, alias)
        empty = f"the appointment's own {own.column!r} is empty on {round(100 * (1 - share))}% of visits; " \
            if own is not None else ""
        why = f"{empty}link table {link.table!r} ({link.column!r} -> {ref.column!r}), its newest row not deleted"
        self.people.guesses.append(Guess("practitioner.external_id", out, 0.85, why, {"from": out}))
        return target, alias, why

    def _linked_kinds(self, link: Ref) -> None:
        """The kinds of rows no link row names a patient on (a task beside the meetings) left out
        as for a patient column of the visit's own (eventkinds.py): a row names one when a link
        row points at it."""
        q, main = self.q, self.plan.main
        named = (f"EXISTS (SELECT 1 FROM {q(link.table)} AS cs_k WHERE cs_k.{q(link.column)} = "
                 f"{q(main.name)}.{q(link.target_column)})")
        kinds = eventkinds.kind_filter(self.run, q, main, link.target_column, named) or \
            optionkinds.kind_filter(self.run, q, self.schema, main, self.plan.dialect)
        if kinds is not None:
            self.people.filters.append(kinds[0])
            self.people.notes.append(kinds[1])

    def _open_slots(self, column: str) -> None:
        """Rows that name no patient (a free slot offered for booking, a doctor's blocked time)
        are no patient's visit: left out, said so. No patient is NULL, or the 0 (a whole-number
        column) or '' (a text one) that PHP applications write (NOSH's ``pid`` 0)."""
        q, main = self.q, self.plan.main
        blank = "0" if WHOLE.search(main.columns.get(column, "")) else "''"
        total, present, blanks = self.run(f"SELECT COUNT(*), COUNT({q(column)}), "
                                          f"COUNT(CASE WHEN {q(column)} = {blank} THEN 1 END) FROM {q(main.name)}")[0]
        named = int(present) - int(blanks)
        if 0 < named < int(total):
            self.people.filters.append(f"a.{q(column)} <> {blank}" if int(blanks) else f"a.{q(column)} IS NOT NULL")
            empty = f"is empty or {blank}" if int(blanks) else "is empty"
            self.people.notes.append(f"{int(total) - named} of {int(total)} rows name no patient ({column!r} "
                                     f"{empty}: free slots or blocked time): left out of the query")
        named_one = f"{q(column)} IS NOT NULL AND {q(column)} <> {blank}"
        kinds = eventkinds.kind_filter(self.run, q, main, column, named_one) or \
            optionkinds.kind_filter(self.run, q, self.schema, main, self.plan.dialect)
        if kinds is not None:
            self.people.filters.append(kinds[0])
            self.people.notes.append(kinds[1])

    # -- the doctor ----------------------------------------------------------------------------
    def provider(self) -> None:
        main, q = self.plan.main, self.q
        if any(g.field == "practitioner.external_id" for g in self.people.guesses):
            return  # reached with the patient, through the link table's role (optionroles.py)
        others = [r.column for r in self.schema.refs(main.name) if doctors.someone_else(r.column)
                  and (kind_of(r.target) == "provider" or kind_of(r.column) == "provider")]
        if others:  # not joined: their names would be read as the doctor's
            self.people.handled.update(others)
            self.people.notes.append(f"{', '.join(map(repr, others))}: a referrer's or another role's person, not "
                                     "the doctor: left out of the query")
        agents = _weak_beside_strong(self.schema.refs(main.name), others)
        if agents:  # an agent beside a doctor: the call centre's who booked the visit, not who sees the patient
            others += agents
            self.people.handled.update(agents)
            self.people.notes.append(f"{', '.join(map(repr, agents))}: an agent's or specialist's row beside the "
                                     "practitioner the visit names by a stronger word: who booked or handled the "
                                     "visit, not the doctor: left out of the query")
        own = next((r for r in self.schema.refs(main.name)
                    if (kind_of(r.target) == "provider" or kind_of(r.column) == "provider") and not audit(r.column)
                    and r.column not in others), None)
        links = [c for c in self.schema.children(main.name)
                 if self.schema.tables[c.table].key is not None
                 and any(kind_of(r.target) == "provider" for r in self.schema.refs(c.table))]
        share = 1.0
        if own is not None:
            row = self.run(f"SELECT COUNT(*), COUNT({q(own.column)}) FROM {q(main.name)}")[0]
            share = int(row[1]) / int(row[0]) if row[0] else 1.0
        if links and (own is None or share < 0.5):
            if own is None and organizerrows.follow(self):
                return  # the participant rows flag the organizer: the newest staff row may be a colleague's
            found = self._through_link(links[0], own, share)
            if found is None:
                return
            target, alias, why = found
        elif own is not None and words(own.target) & doctors.BOOKED and doctors.follow(self, [own], onward=True):
            return  # a resource that names its user: the user is the practitioner
        elif own is not None and not self._named_within_one_hop(own.target) and doctors.follow(self, [own],
                                                                                              onward=True):
            return  # a staff row, and the person it names, name no one (hms_physician -> res_users -> res_partner)
        elif own is not None:
            target = self.schema.tables[own.target]
            columns = name_columns(target)[0]
            if columns and filled(self.run, q, target, columns):
                # The doctor's table names the doctor: joined as a plain reference, its name placed by
                # the scorer. The reference is the doctor's id whatever its own name says (a booking
                # plugin's `worker`): without it the id would fall back to the email or the name.
                why = f"references table {target.name!r} ({own.how}), whose rows name the doctor"
                self.people.guesses.append(Guess("practitioner.external_id", own.column, 0.85, why,
                                                 {"from": own.column}))
                return
            alias = self.plan.alias("d")
            self.plan.join(target, alias, self.plan.on(own, alias, "a"))
            self.plan.add_columns(target, alias, stem_of(own.column, target.name), frozenset({own.target_column}))
            self.stamp_row(target, alias)
            self.people.handled.add(own.column)
            why = f"references table {target.name!r} ({own.how})"
            self.people.guesses.append(Guess("practitioner.external_id", own.column, 0.85, why,
                                             {"from": own.column}))
        else:
            doctors.follow(self, doctors.candidates(self)) or sharedowner.follow(self) \
                or organizerrows.follow(self) or doctors.unit_owner(self) or doctors.parent_link(self)
            return
        chain = [(target, alias)]
        hop_ref = self._person_ref(target.name)
        named = None
        columns = name_columns(target)[0]
        if not (columns and filled(self.run, q, target, columns)) and hop_ref is not None:
            person = self.schema.tables[hop_ref.target]
            hop = self.plan.alias("d")
            self.plan.join(person, hop, self.plan.on(hop_ref, hop, alias))
            self.stamp_row(person, hop)
            # its email and phone, for the scorer (a users table keeps them beside the name)
            self.plan.add_columns(person, hop, "doctor", frozenset({hop_ref.target_column}))
            chain = [(person, hop)]
        named = self.name("doctor", chain)
        if named is not None:
            self.people.guesses.append(Guess("practitioner.name", named.source, named.confidence, named.why,
                                             named.spec))
        elif not (columns and filled(self.run, q, target, columns)) and not (
                own is not None and own.by_values and TEXT.search(main.columns.get(own.column, ""))):
            # (a visit naming its doctor by a text found in the doctor's row: that text is the name)
            # NOSH's providers table is keyed by the users table's id, which no name or key says:
            # not guessed from matching numbers; said, so the admin maps it
            self.people.notes.append(
                f"the doctor's name: table {target.name!r} holds none, and no table it refers to does: messages "
                "and agendas name no doctor until practitioner.name is mapped (join the table that holds the "
                "name in the connector's query)")
        self.people.guesses.extend(self.contacts(chain, "practitioner"))
        self.people.notes.append(f"the doctor: {why}")


    def _person_ref(self, table: str) -> Ref | None:
        """The reference from a doctor's row to its person, when it has one."""
        return next((r for r in self.schema.refs(table) if kind_of(r.target) == "person" and not audit(r.column)),
                    None)

    def _named_within_one_hop(self, table: str) -> bool:
        """Whether the doctor's row, or the person it refers to, has a name: else the person is
        further (a login row with only a username, which names its contact)."""
        if doctors.named(self, self.schema.tables[table]):
            return True
        ref = self._person_ref(table)
        return ref is not None and doctors.named(self, self.schema.tables[ref.target])


def place_people(run: Run, schema: Schema, plan: ReadPlan, region: str,
                 savepoint: Callable[[], AbstractContextManager[Any]]) -> People:
    """Follow the appointment's patient and doctor through ``schema``, adding to ``plan``. A step
    whose reads fail (a schema's odd types) is undone inside its ``savepoint`` and said in a
    note: the rest of the proposal stands."""
    builder = _Builder(run, schema, plan, region)
    for what, step in (("the patient", builder.patient), ("the doctor", builder.provider)):
        state, people = plan.state(), builder.people
        kept = (list(people.guesses), dict(people.refused), set(people.handled), set(people.patient_tables),
                dict(people.persons))
        try:
            with savepoint():
                step()
        except SQLAlchemyError as exc:
            plan.restore(state)
            people.guesses, people.refused, people.handled, people.patient_tables, people.persons = (
                kept[0], kept[1], kept[2], kept[3], kept[4])
            people.filters.clear()
            people.notes.append(f"{what}: not followed past the appointment's own columns: reading the linked "
                                f"tables failed ({describe(exc)})")
    return builder.people
