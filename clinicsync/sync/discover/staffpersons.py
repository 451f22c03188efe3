"""The staff among a visit's participants: the persons a login (an account, a user) is the own
contact of. Groupware keeps every person in one address book — the practice's doctors and desk
through their accounts (``accounts.contact_id`` -> ``addressbook``), the patients as plain
contacts — and lists the doctor, and at a team meeting every colleague, as participants of the
same kind as the patient (Tine's ``cal_attendee.user_type`` 'user' is any contact).

Why: the patient is the first participant row of the patients' kind, by key; the doctor's own
contact comes first on about half the visits, so half were read as the doctor's visits with
the doctor as the patient, and a team meeting came in as a visit with a colleague to remind.
A person a login points at is passed over as the patient: a clinic's accounts are its staff.

Only where the logins' persons are a few of the participants (at most ``SHARE`` of the distinct
persons the participant rows name): where patients log in themselves (a booking portal keeps a
login for each), most participants are logins' persons, and passing them over would leave the
visits without a patient. Rejected: passing over the organizer column's person only (the other
doctors at a team meeting are no organizer), and a count of rows a person takes part in (a
patient's weekly series of sessions is many rows too).
"""

from __future__ import annotations

from clinicsync.connectors.sql_limit import first_rows
from clinicsync.sync.discover.graph import Ref, audit
from clinicsync.sync.discover.kinds import USER, Builder
from clinicsync.sync.discover.vocab import name_tokens

SHARE = 0.5  # of the participants' distinct persons that may be logins' before it is no staff
SAMPLE = 5000  # participant rows read to count them
_LOGINS = frozenset({"account", "accounts", "login", "logins", "principal", "principals", *USER})


def passed_over(builder: Builder, links: str, link_column: str, onward: Ref, typed: str = "") -> tuple[str, str] | None:
    """(a subquery of the staff's person keys, what it follows) for the participant rows of
    ``links`` whose ``onward`` column names a person; None when no login table points at that
    person table, or its persons are no few of the participants. ``typed``: a condition keeping
    the rows of the patients' kind (``cs_l.…``)."""
    q, schema = builder.q, builder.schema
    for table in schema.tables.values():
        tokens = name_tokens(table.name)
        if table.name in (links, onward.target, builder.plan.main.name) or not tokens or tokens[-1] not in _LOGINS:
            continue  # a table of logins by its last word (``res_users``), not one about them (``user_statuses``)
        hop = next(
            (
                r
                for r in schema.refs(table.name)
                if r.target == onward.target and r.target_column == onward.target_column and not audit(r.column)
            ),
            None,
        )
        if hop is None or hop.column in table.primary_key:
            continue  # a login row names its person in a column of its own, never by its key
        staff = f"SELECT cs_u.{q(hop.column)} FROM {q(table.name)} AS cs_u WHERE cs_u.{q(hop.column)} IS NOT NULL"
        sample = first_rows(
            f"SELECT cs_l.{q(onward.column)} FROM {q(links)} AS cs_l WHERE cs_l.{q(onward.column)} IS NOT NULL{typed}",
            SAMPLE,
            builder.plan.dialect,
        )
        persons = {str(r[0]).strip() for r in builder.run(sample)}
        logins = {str(r[0]).strip() for r in builder.run(staff)}
        if not persons or not persons & logins or len(persons & logins) > SHARE * len(persons):
            continue
        return staff, f"{table.name}.{hop.column} -> {onward.target}"
    return None
