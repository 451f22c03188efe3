"""The rows a person is read from, whatever the schema's shape: the chain of person-like tables a
visit leads to (appointment -> patient -> person -> party, a direct NOT NULL reference before one
through an address), the one row of a child table that stands for its parent (not deleted, the
person's own, still open where kept with history, the preferred, then the newest), and the
person's name from those tables or a names table.

The base of the people builder (people.py); contact rows (contactrows.py) build on it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from clinicsync.connectors.sql_limit import first_rows
from clinicsync.sync.discover import history, softdelete, stamps
from clinicsync.sync.discover.contacts import kinrefs, kinship
from clinicsync.sync.discover.graph import Ref, Schema, Table, audit, words
from clinicsync.sync.discover.kinds import (
    USER,
    People,
    Run,
    filled,
    kind_of,
    name_columns,
)
from clinicsync.sync.discover.proposal import Guess
from clinicsync.sync.discover.readplan import ReadPlan

MAX_HOPS = 3  # appointment -> patient -> person -> party
SAMPLE = 2000  # rows read to judge a candidate or a type code


class PersonRows:
    """The joins every person field is read through, added to one read plan."""

    def __init__(self, run: Run, schema: Schema, plan: ReadPlan, region: str) -> None:
        self.run, self.schema, self.plan, self.region = run, schema, plan, region
        self.q = plan.quote
        self.most = stamps.greatest(plan.dialect)
        self.people = People()
        self._kin: dict[tuple[str, str], kinrefs.KinRef | None] = {}

    def kin_ref(self, child: Ref) -> kinrefs.KinRef | None:
        """``child.table``'s key into a lookup of relationship words (kinrefs.py), read once."""
        at = (child.table, child.column)
        if at not in self._kin:
            self._kin[at] = kinrefs.find(self.run, self.q, self.schema, self.schema.tables[child.table],
                                         child.column, self.plan.dialect)
        return self._kin[at]

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
        conditions, order = self.own_rows(child, parent_alias, extra, prefer, first, before)
        alias = self.plan.alias("r")
        q = self.q
        nearest = first_rows(f"SELECT cs_r.{q(table.key)} FROM {q(table.name)} AS cs_r WHERE "
                             f"{' AND '.join(conditions)} ORDER BY {', '.join(order)}", 1, self.plan.dialect)
        self.plan.join(table, alias, f"{alias}.{q(table.key)} = ({nearest})")
        return alias

    def own_rows(self, child: Ref, parent_alias: str, extra: str = "", prefer: bool = True,
                 first: bool = False, before: Sequence[str] = ()) -> tuple[list[str], list[str]]:
        """The conditions (over ``cs_r``) of the parent's rows of ``child.table`` that stand for
        the person (not deleted, the person's own, still open), and their order (``before``,
        the preferred, then the newest; ``first``: by key): what ``pick`` takes the first of,
        and what a cell of every number reads in turn (contactrows.py)."""
        table = self.schema.tables[child.table]
        q, dialect = self.q, self.plan.dialect
        conditions = [f"cs_r.{q(child.column)} = {parent_alias}.{q(child.target_column)}"]
        gone = softdelete.flag(table, dialect)
        if gone is not None:
            conditions.append(softdelete.kept(gone, "cs_r", q(gone.column)))
        conditions += kinship.own_rows(table, "cs_r", q,
                                       lambda c: softdelete.truthy(table, c, "cs_r", q(c), dialect))
        kin = self.kin_ref(child)
        if kin is not None and (own := kin.condition("cs_r", q)) is not None:
            conditions.append(own)  # only the rows whose looked-up relationship is the patient
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
        if first and table.key is not None:
            order.append(f"cs_r.{q(table.key)}")
        elif not first:
            if start is not None:
                order.append(f"cs_r.{q(start)} DESC")
            newest = stamps.stamp_columns(table)
            order += [f"cs_r.{q(c)} DESC" for c in newest[-1:]]  # the creation stamp: set on every row
            if table.key is not None:
                order.append(f"cs_r.{q(table.key)} DESC")
        return conditions, order

    def stamp_children(self, child: Ref, parent_alias: str) -> None:
        """The newest stamp of the parent's rows of ``child.table`` into the cursor: a row added
        or edited moves it. A row deleted outright moves nothing (its stamp goes with it, the
        newest left is older), so a table without a deleted flag is noted for the cursor's
        choice (cursorchoice.py); a flagged row's deletion is an edit that moves its stamp."""
        table = self.schema.tables[child.table]
        stamp = stamps.child_stamp(table, child.column, f"{parent_alias}.{self.q(child.target_column)}", self.q,
                                   self.most)
        if stamp is not None and stamp not in self.plan.stamps:
            self.plan.stamps.append(stamp)
            if softdelete.flag(table, self.plan.dialect) is None and table.name not in self.plan.deleted_outright:
                self.plan.deleted_outright.append(table.name)

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
