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

The joins are personrows.py's (the chain, a child row standing for its parent, the name) and
contactrows.py's (phones and emails); this module decides who the patient and the doctor are.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from clinicsync.connectors.sql_limit import first_rows
from clinicsync.connectors.sql_session import describe
from clinicsync.sync.discover import (
    attendees,
    attributerows,
    doctors,
    eventkinds,
    extension,
    filledrefs,
    optionkinds,
    organizerrows,
    parentchain,
    polyrefs,
    rolelinks,
    roleperson,
    sharedowner,
    softdelete,
    staffpersons,
    typedlinks,
)
from clinicsync.sync.discover.contacts import household
from clinicsync.sync.discover.contacts.contactrows import ContactRows
from clinicsync.sync.discover.graph import Ref, Schema, Table, audit, words
from clinicsync.sync.discover.kinds import (
    TEXT,
    WHOLE,
    People,
    Run,
    filled,
    kind_of,
    name_columns,
    weak_provider,
)
from clinicsync.sync.discover.personrows import SAMPLE
from clinicsync.sync.discover.personshape import demographic, holds_a_person
from clinicsync.sync.discover.practicerow import names_a_place
from clinicsync.sync.discover.proposal import Guess
from clinicsync.sync.discover.readplan import ReadPlan, stem_of
from clinicsync.sync.discover.vocab import PATIENT_WORDS, PRACTITIONER_WORDS, name_tokens, token_role

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


class _Builder(ContactRows):
    # -- the patient ---------------------------------------------------------------------------
    def patient(self) -> None:
        main, people = self.plan.main, self.people
        candidates = [r for r in self.schema.refs(main.name)
                      if kind_of(r.target) in ("patient", "person") or kind_of(r.column) in ("patient", "person")]
        if not candidates:  # a person's table by its columns, its name an abbreviation (personshape.py)
            candidates = [r for r in self.schema.refs(main.name) if r.target != main.name and kind_of(r.target) is None
                          and kind_of(r.column) is None
                          and holds_a_person(self.schema.tables[r.target], self._twins(r.target))]
        if all(audit(r.column) for r in candidates):  # a de-identified participant (personshape.py)
            candidates += [r for r in self.schema.refs(main.name) if r.target != main.name and kind_of(r.target) is None
                          and kind_of(r.column) is None and not audit(r.column)
                          and demographic(self.schema.tables[r.target],
                                          [self.schema.tables[o.target] for o in self.schema.refs(r.target)
                                           if not audit(o.column) and o.target != main.name])]
        candidates = [r for r in candidates if kind_of(r.target) != "provider" and kind_of(r.column) != "provider"
                      and not names_a_place(name_tokens(r.column))]  # a place's reference (practicerow.py)
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
        at = "a"  # the alias of the row whose reference names the patient
        hops = parentchain.find(self.schema, main.name) if chosen is None else None
        if hops is not None and attributerows.find(self) is not None:
            hops = None  # the person the chain reaches is kept as attribute rows (attributerows.py)
        if hops is not None:  # the patient of the rows the visit belongs to (parentchain.py)
            at = self._join_owners(hops[:-1])
            chosen = hops[-1]
        if chosen is None and attendee is not None:
            attendees.place(self, attendee)
            return
        named = polyrefs.find(self, chosen) if chosen is not None and at == "a" else None
        if chosen is not None and named is not None and self._polymorphic_beside_links(chosen, named):
            return
        link = attendees.linked(self) if chosen is None else None
        if link is not None:  # the booking's users, through a link table: the first is the patient
            attendees.place_linked(self, *link)
            self._linked_kinds(link[0], link[1])
            return
        if chosen is None and (kept := attributerows.find(self)) is not None:
            attributerows.place(self, kept)  # a person kept as attribute rows (attributerows.py)
            return
        if chosen is None:
            if reasons:
                people.refused["patient.external_id"] = "no column names the patient: " + "; ".join(reasons)
            return
        if at == "a":
            people.handled.add(chosen.column)
            self._open_slots(chosen.column)
        target = self.schema.tables[chosen.target]
        alias = self.plan.alias("t")
        on = self.plan.on(chosen, alias, at)
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
        chain += extension.join(self, chain, stem)  # the person's 1:1 rows (extension.py)
        people.patient_tables.update(t.name for t, _ in chain)
        owners = [r.target for r in hops[:-1]] if hops else []
        hops_text = " -> ".join([main.name, *owners, *(t.name for t, _ in chain)])
        why = f"references table {target.name!r} ({chosen.how}); " \
              f"followed {hops_text}"
        if reasons:
            why += "; passed over: " + "; ".join(reasons)
        if named is None and at == "a":
            people.guesses.append(Guess("patient.external_id", chosen.column, 0.9, why, {"from": chosen.column}))
        elif named is None:  # named by a row the visit belongs to: that row's column, selected
            out = self.plan.add(at, chosen.column, "patient_id", chosen.table, self.schema.tables[chosen.table].columns[
                chosen.column])
            people.guesses.append(Guess("patient.external_id", out, 0.9, why, {"from": out}))
        else:  # its id on another type's rows is no person's: the joined person's key instead
            out = self.plan.add(alias, chosen.target_column, "patient_id", target.name,
                                target.columns[chosen.target_column])
            why += (f"; {chosen.column!r} names a row of the table its {named.type_column!r} says (a polymorphic "
                    f"reference): a patient only where that is {named.value}")
            people.guesses.append(Guess("patient.external_id", out, 0.9, why, {"from": out}))
        if not _has_column(chain, "phone") and (typed := attributerows.beside(self, target, chosen.column)) is not None:
            attributerows.place(self, typed, alias, target)  # its fields as typed value rows
            return
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

    def _join_owners(self, hops: list[Ref]) -> str:
        """The rows the visit belongs to on the way to its patient, joined one after the other,
        each one's soft-delete flag a condition of the query (parentchain.py); the last one's alias."""
        at = "a"
        for ref in hops:
            table = self.schema.tables[ref.target]
            alias = self.plan.alias("o")
            self.plan.join(table, alias, self.plan.on(ref, alias, at))
            gone = softdelete.flag(table, self.plan.dialect)
            if gone is not None:
                self.people.filters.append(softdelete.kept(gone, alias, self.q(gone.column)))
                self.people.notes.append(f"visits whose {table.name!r} row is deleted are left out "
                                         f"({softdelete.describe(gone)}): the visit belongs to that row")
            at = alias
        return at

    def _twins(self, table: str) -> list[Table]:
        """The rows joined one to one to ``table`` by a text key found in both (twinrows.py)."""
        return [self.schema.tables[r.table] for r in self.schema.children(table)
                if r.by_values and r.table != self.plan.main.name and r.table in self.schema.tables]

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

    def _linked_kinds(self, link: Ref, onward: Ref | None = None) -> None:
        """The kinds of rows no link row names a patient on (a task beside the meetings) left out
        as for a patient column of the visit's own (eventkinds.py): a row names one when a link
        row points at it (of the patients' type, where the link's rows are typed: a meeting of
        staff alone has rows of theirs only, typedrefs.py)."""
        q, main = self.q, self.plan.main
        only = f" AND cs_k.{q(onward.typed[0])} = {onward.typed[1]}" if onward is not None and onward.typed else ""
        staff = None if onward is None else staffpersons.passed_over(self, link.table, link.column, onward,
                                                                     only.replace("cs_k.", "cs_l."))
        if onward is not None and staff is not None:  # a meeting of staff alone names no patient
            only += f" AND cs_k.{q(onward.column)} NOT IN ({staff[0]})"
        only += self.people.not_patients.replace("cs_l.", "cs_k.")  # staff by their visits, groups
        named = (f"EXISTS (SELECT 1 FROM {q(link.table)} AS cs_k WHERE cs_k.{q(link.column)} = "
                 f"{q(main.name)}.{q(link.target_column)}{only})")
        kinds = eventkinds.kind_filter(self.run, q, main, link.target_column, named) or \
            optionkinds.kind_filter(self.run, q, self.schema, main, self.plan.dialect)
        if kinds is not None:
            self.people.filters.append(kinds[0])
            self.people.notes.append(kinds[1])
            return
        self._unlinked_rows(link, named, only)

    def _unlinked_rows(self, link: Ref, named: str, only: str = "") -> None:
        """Rows no link row points at, where most rows have one, left out as rows naming no
        patient are (``_open_slots``): a booking tool keeps the requested time on one row and the
        booking that confirms it on a child row (a request never confirmed, a slot put on hold,
        has none); stored, such a row would be a visit of nobody in the doctor's calendar.
        Rejected: keeping them with no patient (`check` counted them only as "nobody to remind")."""
        q, main = self.q, self.plan.main
        total, linked = self.run(f"SELECT COUNT(*), COUNT(CASE WHEN {named} THEN 1 END) FROM {q(main.name)}")[0]
        total, linked = int(total or 0), int(linked or 0)
        if not linked * 2 >= total > linked:
            return
        self.people.filters.append(f"EXISTS (SELECT 1 FROM {q(link.table)} AS cs_k WHERE cs_k.{q(link.column)} = "
                                   f"a.{q(link.target_column)}{only})")
        what = "of the patients' type (a meeting of staff alone, a blocked time)" if only else \
            "(a request never confirmed, a time on hold)"
        self.people.notes.append(f"{total - linked} of {total} rows have no {link.table!r} row naming a person "
                                 f"{what}: no patient's visit, left out of the query")

    def _open_slots(self, column: str) -> None:
        """Rows that name no patient (a free slot offered for booking, a doctor's blocked time)
        are no patient's visit: left out, said so. No patient is NULL, or the 0 (a whole-number
        column) or '' (a text one) that PHP applications write (NOSH's ``pid`` 0). A column of
        another type (a UUID, a binary key) has no blank value: only NULL, and comparing it with
        '' is an error on PostgreSQL (Simple's ``appointments.patient_id uuid``)."""
        q, main = self.q, self.plan.main
        column_type = main.columns.get(column, "")
        blank = "0" if WHOLE.search(column_type) else "''" if TEXT.search(column_type) else None
        blank_count = f"COUNT(CASE WHEN {q(column)} = {blank} THEN 1 END)" if blank else "0"
        total, present, blanks = self.run(f"SELECT COUNT(*), COUNT({q(column)}), {blank_count} "
                                          f"FROM {q(main.name)}")[0]
        named = int(present) - int(blanks)
        if 0 < named < int(total):
            self.people.filters.append(f"a.{q(column)} <> {blank}" if int(blanks) else f"a.{q(column)} IS NOT NULL")
            empty = f"is empty or {blank}" if int(blanks) else "is empty"
            self.people.notes.append(f"{int(total) - named} of {int(total)} rows name no patient ({column!r} "
                                     f"{empty}: free slots or blocked time): left out of the query")
        named_one = f"{q(column)} IS NOT NULL" + (f" AND {q(column)} <> {blank}" if blank else "")
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
        own = filledrefs.fullest(self.run, q, main, [
            r for r in self.schema.refs(main.name)
            if (kind_of(r.target) == "provider" or kind_of(r.column) == "provider") and not audit(r.column)
            and r.column not in others])
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
                or organizerrows.follow(self) or sharedowner.calendar_owner(self) \
                or doctors.unit_owner(self) or doctors.parent_link(self) \
                or sharedowner.account_person(self)
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
    state = plan.state()
    try:  # who the visit is about as link rows typed by a role word (rolelinks.py)
        with savepoint():
            if rolelinks.place(builder):
                return builder.people
    except SQLAlchemyError as exc:
        plan.restore(state)
        builder.people = People()
        builder.people.notes.append(f"the role-typed link rows could not be read ({describe(exc)})")
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
