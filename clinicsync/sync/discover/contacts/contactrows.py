"""A person's phones and emails from the rows that belong to the person: typed rows (a code per
row, the code found from the values: mobile before home, never a fax), else plain rows (an
address or contact table with a phone column) for a kind the person's own tables hold no column
of; of several phone rows, the one whose numbers a text reaches first.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from clinicsync.connectors.sql_limit import first_rows
from clinicsync.sync.discover import history, softdelete, subtypes
from clinicsync.sync.discover.contacts import kinship, phonecell, phonecolumns, valuetypes
from clinicsync.sync.discover.contacts.mobilefirst import mobile_share
from clinicsync.sync.discover.graph import Ref, Table, audit
from clinicsync.sync.discover.kinds import (
    TEXT,
    kind_of,
)
from clinicsync.sync.discover.personrows import SAMPLE, PersonRows
from clinicsync.sync.discover.proposal import Guess
from clinicsync.sync.discover.values import profile
from clinicsync.sync.discover.vocab import name_tokens, token_role

_TYPE = re.compile(r"type|kind|tipo|categ|code|mech|class", re.I)
_STRONG_TYPE = re.compile(r"type|kind|tipo|categ|mech", re.I)
_LABEL = re.compile(r"name|label|description|display|title|nombre|descripcion", re.I)
_MOBILE = re.compile(r"mobile|cell|movil|celular|sms|handy|portable|whatsapp", re.I)
_LANDLINE = re.compile(r"home|casa|work|office|trabajo|fijo|business|other", re.I)
_NOT_PHONE = re.compile(r"fax|pager|beeper", re.I)
_SAFE_CODE = re.compile(r"[\w ./+-]{1,64}")  # no quote, backslash or colon (a bind in text())
MOBILE_SHARE = 0.8  # of a phone type code's numbers, mobiles, for its rows to go first


def code_literal(code: Any) -> str | None:
    """A type code as an SQL literal, or None when it is not a plain code (never quoted text)."""
    if isinstance(code, bool):
        return None
    if isinstance(code, int):
        return str(code)
    text = str(code)
    return "'" + text + "'" if _SAFE_CODE.fullmatch(text) and "'" not in text else None


def keyless_value(table: Table, child: Ref, parent_alias: str, value_column: str, condition: str,
                  q: Callable[[str], str], dialect: str) -> str:
    """The value of the person's row of ``table`` meeting ``condition`` (over ``cs_r``), read by
    a subquery: a table without a key (an address book's phone numbers: the contact, a type, the
    number) has no row to join by; of several, the lowest value, so every read gives the same."""
    value = f"cs_r.{q(value_column)}"
    return "(" + first_rows(f"SELECT {value} FROM {q(table.name)} AS cs_r WHERE cs_r.{q(child.column)} = "
                            f"{parent_alias}.{q(child.target_column)} AND {condition} AND {value} IS NOT NULL "
                            f"ORDER BY {value}", 1, dialect) + ")"


class ContactRows(PersonRows):
    """Phones and emails joined from a person's own rows."""

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
                if kinship.others_table(self.schema.tables[child.table]):
                    continue  # an emergency contacts table: a spouse's or a parent's numbers
                kin = self.kin_ref(child) if who == "patient" else None
                if kin is not None and kin.condition("cs_r", self.q) is None:
                    note = f"table {child.table!r} left out: {kin.describe()}"
                    if note not in self.people.notes:
                        self.people.notes.append(note)
                    continue  # every row a relative's: its numbers never the patient's
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
        if child.table == self.plan.main.name:
            return []
        types = [c for c in table.columns if c != child.column and c != table.key and _TYPE.search(c)
                 and not audit(c)]
        strong = [c for c in types if _STRONG_TYPE.search(c)]  # "type", "kind" over a "country_code"
        types = strong if len(strong) == 1 else types
        if len(types) > 1 and (own := subtypes.row_type(self.run, self.q, table, types, self.plan.dialect)):
            types = [own]  # the kind of every row; the other a sub-kind of one of them (subtypes.py)
        told = None if types else valuetypes.kind_column(self.run, self.q, table, child.column, self.plan.dialect,
                                                         self.region)
        types = [told] if told is not None else types  # no column named for a type: told by the values
        values = [c for c, t in table.columns.items() if TEXT.search(t) and c not in types and c != child.column
                  and not audit(c) and "uuid" not in c.lower() and "reason" not in c.lower()]
        if len(types) != 1 or not values:
            return []
        type_column, q = types[0], self.q
        gone = softdelete.flag(table, self.plan.dialect)
        where = f" WHERE {softdelete.kept(gone, 'cs_t', q(gone.column))}" if gone else ""
        newest = f" ORDER BY cs_t.{q(table.key)} DESC" if table.key is not None else ""
        rows = self.run(first_rows(f"SELECT cs_t.{q(type_column)}, {', '.join(f'cs_t.{q(v)}' for v in values)} "
                                   f"FROM {q(table.name)} AS cs_t{where}{newest}", SAMPLE, self.plan.dialect))
        by_code: dict[Any, list[tuple[Any, ...]]] = {}
        for row in rows:
            if row[0] is not None:
                by_code.setdefault(row[0], []).append(row[1:])
        labels = self._labels(table, type_column)
        phones: list[tuple[int, int, Any, str, str, float]] = []
        emails: list[tuple[int, int, Any, str, str, float]] = []
        others: list[str] = []  # codes of someone else's numbers (an emergency contact's), never read
        for code, found in by_code.items():
            if len(found) < 3 or code_literal(code) is None:
                continue
            label = labels.get(str(code), str(code))
            if kinship.others_code(label) or kinship.others_code(str(code)):
                others.append(repr(label))
                continue
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
                literal = code_literal(code)
                wanted = field_name.replace(".", "_").replace("practitioner_", "doctor_")
                if table.key is None:  # rows without a key (an address book's numbers): the value itself
                    kin = self.kin_ref(child)
                    own_rows = kin.condition("cs_r", q) if kin else None
                    outs.append(self.plan.expr(keyless_value(table, child, parent_alias, value_column,
                                                             f"cs_r.{q(type_column)} = {literal}" + (
                                                                 f" AND {softdelete.kept(gone, 'cs_r', q(gone.column))}"
                                                                 if gone else "") + (
                                                                 f" AND {own_rows}" if own_rows else ""), q,
                                                             self.plan.dialect),
                                               wanted, table.name, table.columns[value_column]))
                    self.people.typed_rows[outs[-1]] = parent_alias
                    parts.append(f"type {label!r} ({round(share * 100)}% of its values are "
                                 f"{'phone numbers' if field_name.endswith('phone') else 'emails'}; the table has "
                                 "no key: the lowest value of the type)")
                    continue
                condition = f"cs_r.{q(type_column)} = {literal}"
                mobile = valuetypes.mobile_code(self.run, q, table, (type_column, value_column, child.column),
                                                condition, self.plan.dialect) \
                    if told is not None and field_name.endswith("phone") else None
                picked = self.pick(child, parent_alias, condition, before=[mobile[0]] if mobile else [])
                if picked is None:
                    continue
                outs.append(self.plan.add(picked, value_column, wanted, table.name, table.columns[value_column]))
                self.people.typed_rows[outs[-1]] = parent_alias
                parts.append(f"type {label!r} ({round(share * 100)}% of its values are "
                             f"{'phone numbers' if field_name.endswith('phone') else 'emails'}"
                             + (f"; {mobile[1]}" if mobile else "") + ")")
            if not outs:
                continue
            self.stamp_children(child, parent_alias)
            newest_row = "the newest row" if table.key is not None else "the lowest value"
            how = newest_row if gone is None else f"not deleted ({softdelete.describe(gone)}), {newest_row}"
            if table.key is not None and (preferred := softdelete.preferred(table)) is not None:
                how = f"the row marked {preferred!r} first, then {how}"
            kin = self.kin_ref(child)
            left = [said for said in (kinship.describe(table), kin.describe() if kin else None,
                                      f"type {', '.join(others)} left out (someone else's: an emergency contact, "
                                      "a relative)" if others else None) if said]
            keyed = f"{type_column!r}" + (" (no column named for a type: its codes hold the phones apart from the "
                                          "emails)" if told is not None else "")
            why = f"table {table.name!r} keyed by {keyed}: {'; then '.join(parts)}; {how}" + "".join(
                f"; {said}" for said in left)
            spec: dict[str, Any] = {"from": outs[0] if len(outs) == 1 else outs}
            guesses.append(Guess(field_name, " + ".join(outs), 0.85, why, spec))
        return guesses

    def _plain(self, child: Ref, parent_alias: str, who: str, own: set[str | None]) -> list[Guess]:
        """A phone or email column of a table with several rows per person and no type code (an
        address table kept with history): its values read as phones or emails, the person's own
        current row taken (``pick``)."""
        table = self.schema.tables[child.table]
        if table.key is None or child.table == self.plan.main.name or self._person_row(table):
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
        gathered = False  # the phone read from every row in one cell, no row joined
        for kind in kinds:
            best: tuple[int, float, str] | None = None
            held: list[tuple[str, list[str | None]]] = []  # every column of the kind, in table order
            for index, column in enumerate(values):
                cells = [None if r[index] is None else str(r[index]) for r in rows]
                p = profile(cells, self.region)
                if p.present < 3 or p.share(kind) < 0.8 or _NOT_PHONE.search(column):
                    continue
                held.append((column, cells))
                score = (1 if _MOBILE.search(column) else 0, p.share(kind), column)
                if best is None or score[:2] > best[:2]:
                    best = score
            if best is None:
                continue
            mobiles = self._mobile_rows(table, child, best[2]) if kind == "phone" else None
            # The person's other phone columns after it (a desk's Tel1, Tel2, Tel3, the landline
            # first): read in turn where it is empty, mobiles first (phonecolumns.py).
            order = phonecolumns.in_turn(best[2], held, self.region) if kind == "phone" else [best[2]]
            stem = f"{who}_{kind}".replace("practitioner_", "doctor_")
            kin = self.kin_ref(child)
            how = [h for h in (history.describe(table), kinship.describe(table), kin.describe() if kin else None)
                   if h] or ["the newest row"]
            if (preferred := softdelete.preferred(table)) is not None:
                how.insert(0, f"the row marked {preferred!r} first")
            untyped = mobiles is None and len(order) == 1 and not self._typed_column(table, child, order[0])
            if kind == "phone" and untyped:
                # No row says which number is the mobile: every current one in one cell, read
                # by the mapping as its first mobile (phonecell.py).
                where, by = self.own_rows(child, parent_alias)
                outs = [self.plan.expr(phonecell.gathered(self.plan.dialect, f"cs_r.{q(order[0])}",
                                                          f"{q(table.name)} AS cs_r", where, by),
                                       stem, table.name, table.columns[order[0]])]
                how = [f"every number of the person's rows in one cell ({'; '.join(how)}), whose first mobile "
                       "a text goes to (no column says which row is the mobile), the others kept as fallbacks"]
                gathered = True
            else:
                picked = picked or self.pick(child, parent_alias, prefer=True,
                                             before=[mobiles[0]] if mobiles is not None else [])
                if picked is None:
                    return []
                outs = [self.plan.add(picked, c, stem if at == 0 else f"{stem}{at + 1}", table.name,
                                      table.columns[c]) for at, c in enumerate(order)]
            if mobiles is not None:
                how.insert(0, mobiles[1])
            if len(order) > 1:
                how.insert(0, phonecolumns.describe(order))
            why = (f"table {table.name!r} ({child.column!r} -> {child.target}, {child.how}): column {order[0]!r}, "
                   f"{round(best[1] * 100)}% of its values are {'phone numbers' if kind == 'phone' else 'emails'}; "
                   + "; ".join(how))
            guesses.append(Guess(f"{who}.{kind}", " + ".join(outs), 0.8, why,
                                 {"from": outs[0] if len(outs) == 1 else outs}))
        if picked is not None or gathered:
            self.stamp_children(child, parent_alias)
        return guesses

    def _typed_column(self, table: Table, child: Ref, phone: str) -> bool:
        """Whether a table of phone rows has a column named for the row's type (``phone_type``):
        its rows say which is the mobile, so its number is read from one row."""
        return any(_STRONG_TYPE.search(c) for c in table.columns
                   if c not in (phone, child.column, table.key) and not audit(c))

    def _person_row(self, table: Table) -> bool:
        """Whether a table that refers to the person is a person's row rather than its contact
        rows: one of the patient's own tables (the patient's row reached backwards from its
        person), or a doctor's. Never the table's name alone: ``patient_phones`` and
        ``client_contacts`` say whose rows they hold, and they hold the patient's phones; a row
        of someone else's (an emergency contact's) is told by its flags (kinship.py)."""
        return table.name in self.people.patient_tables or kind_of(table.name) == "provider"

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
            literal = code_literal(mobile[0]) if len(mobile) == 1 else None
            if literal is None or not others or max(others) > 1 - MOBILE_SHARE:
                continue
            return (f"CASE WHEN cs_r.{q(column)} = {literal} THEN 0 ELSE 1 END",
                    f"the row whose {column!r} is {literal} first ({round(shares[mobile[0]] * 100)}% of its "
                    "numbers are mobiles, which a text reaches)")
        return None
