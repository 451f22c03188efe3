"""A party's phone as telecom rows typed by their use, each row valid from one version of the
party to another: the number to text is the row in force whose use says mobile, else the first
in force.

Why: a store built on a terminology keeps a person's numbers as rows of one value column, the
use a code into a dictionary (``MobileContact``, ``PrimaryHome``, ``WorkPlace``), a number given
up kept with its ending version set. Where mobiles and landlines share their area codes the
number itself never says mobile, so the home line entered first was texted, and a number given
up years ago was still read.

The rule: a contact table referring to the party (rolelinks' contact tables) whose text column
holds phone numbers (``PHONES`` of its values); the rows in force (history.py: an ended version,
an ended validity); the mobile's row first by its use (valuetypes.mobile_code, a word or a
dictionary code), then the row's key. Rejected: every number gathered in one cell (the parser
cannot tell a Canadian mobile from a landline by its digits).
"""

from __future__ import annotations

from collections.abc import Sequence

from clinicsync.connectors.sql_limit import first_rows
from clinicsync.sync.discover import history
from clinicsync.sync.discover.contacts import valuetypes
from clinicsync.sync.discover.graph import Ref, Table, audit
from clinicsync.sync.discover.kinds import TEXT, Builder
from clinicsync.sync.discover.proposal import Guess
from clinicsync.sync.discover.values import profile

PHONES = 0.8  # of a column's sampled values read as phone numbers
SAMPLE = 200


def _phone_column(builder: Builder, table: Table, skip: Sequence[str]) -> str | None:
    q = builder.q
    for column, type_name in table.columns.items():
        if column in skip or not TEXT.search(type_name) or audit(column):
            continue
        rows = builder.run(first_rows(f"SELECT {q(column)} FROM {q(table.name)} WHERE {q(column)} IS NOT NULL",
                                      SAMPLE, builder.plan.dialect))
        if rows and profile([str(r[0]) for r in rows], builder.region).share("phone") >= PHONES:
            return column
    return None


def place(builder: Builder, contacts: Sequence[Ref], party: Table, alias: str, who: str = "patient") -> list[Guess]:
    """The party's phone from its use-typed telecom rows; [] when none of ``contacts`` is such."""
    q, plan = builder.q, builder.plan
    for ref in contacts:
        table = builder.schema.tables[ref.table]
        if ref.target != party.name or table.key is None:
            continue
        value = _phone_column(builder, table, (ref.column, str(table.key)))
        if value is None:
            continue
        until = history.valid_until(builder.run, q, builder.schema, table)
        ended = history.end_column(table)
        held = [until.format(a="cs_r")] if until else [history.current("cs_r", q(ended))] if ended else []
        mobile = valuetypes.mobile_code(builder.run, q, table, (ref.column, value, str(table.key)),
                                        " AND ".join(["1 = 1", *held]), plan.dialect, builder.schema)
        if mobile is None:
            continue
        where = " AND ".join([f"cs_r.{q(ref.column)} = {alias}.{q(ref.target_column)}", *held])
        sql = first_rows(f"SELECT cs_r.{q(value)} FROM {q(table.name)} AS cs_r WHERE {where} "
                         f"ORDER BY {mobile[0]}, cs_r.{q(str(table.key))}", 1, plan.dialect)
        out = plan.expr(f"({sql})", f"{who}_phone", table.name, table.columns[value])
        why = (f"the {table.name!r} row of the {who} in force ({'its ending version empty' if until else 'open'}), "
               f"{mobile[1]}")
        return [Guess(f"{who}.phone", out, 0.8, why, {"from": out})]
    return []
