"""The read `discover` builds for an unknown schema, as it grows: the appointment
table (alias ``a``), each table joined to it (directly, or a chosen row of a table with several
rows per person), the output columns with the table each comes from, and the change stamps of
every table read (for the cursor, ``stamps.py``).

Kept apart from the choices (``people.py``) so that what is joined and what is placed can be
read separately, and the statement is assembled in one place.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from clinicsync.sync.discover.graph import Ref, Table, bookkeeping


@dataclass
class ReadPlan:
    main: Table
    quote: Callable[[str], str]
    dialect: str
    joins: list[str] = field(default_factory=list)  # "LEFT JOIN … ON …", in order
    select: dict[str, str] = field(default_factory=dict)  # output column -> SQL expression
    tables_of: dict[str, str] = field(default_factory=dict)  # output column -> the table it comes from
    types: dict[str, str] = field(default_factory=dict)
    stamps: list[str] = field(default_factory=list)  # change stamps of the joined tables
    # tables whose rows per person are read by their newest stamp and have no deleted flag: a row
    # deleted outright takes its stamp with it, so no stamp moves (cursorchoice.py)
    deleted_outright: list[str] = field(default_factory=list)
    aliases: int = 0
    # the occurrence's start as the read selects it, when each row is an occurrence of an event
    # (occurrences.py): a participant's reply for one occurrence is read on that occurrence only
    occurrence: str = ""
    # the main table as versions of a stable id (history.versioned_id): the main table's column
    # holding that id, and the condition (over ``{a}``) keeping the version in force
    versions: tuple[str, str] | None = None

    def __post_init__(self) -> None:
        for column, type_name in self.main.columns.items():
            self.add("a", column, column, self.main.name, type_name)

    def alias(self, prefix: str) -> str:
        self.aliases += 1
        return f"{prefix}{self.aliases}"

    def name(self, wanted: str) -> str:
        """An output name not taken yet (``patient_phone``, then ``patient_phone_2``)."""
        out, n = wanted, 1
        while out in self.select:
            n += 1
            out = f"{wanted}_{n}"
        return out

    def add(self, alias: str, column: str, out: str, table: str, type_name: str) -> str:
        """Select ``alias.column`` as ``out``; the name it already has when it is selected."""
        sql = f"{alias}.{self.quote(column)}"
        same = next((name for name, expr in self.select.items() if expr == sql), None)
        return same if same is not None else self.expr(sql, out, table, type_name)

    def expr(self, sql: str, out: str, table: str, type_name: str) -> str:
        """Select ``sql`` as ``out`` (renamed when taken); the name it got."""
        out = self.name(out)
        self.select[out] = sql
        self.tables_of[out] = table
        self.types[out] = type_name
        return out

    def on(self, ref: Ref, alias: str, at: str) -> str:
        """The join condition ``alias.target_column = at.column`` of a reference joined as
        ``alias`` from ``at``; the key written as text where the reference is a text column holding
        a number key the database will not compare with text (``Ref.as_text``)."""
        key = f"{alias}.{self.quote(ref.target_column)}"
        if ref.as_text:
            key = f"CAST({key} AS VARCHAR(64))"
        return f"{key} = {at}.{self.quote(ref.column)}"

    def day_window(self, column: object) -> tuple[str, str] | None:
        """For a start kept as a day and a time in two columns (OSCAR's ``appointment_date`` +
        ``start_time``; ``column`` the start's ``date``): the window on the day column, whole days,
        so the read stays the window's and never the table's every row, as (column, condition).
        None for anything else, and on SQLite, which keeps dates as text the bounds would not
        compare with (there every row is read)."""
        if not isinstance(column, str) or column not in self.select or self.dialect == "sqlite":
            return None
        if not re.fullmatch(r"(?i)date", self.types[column].strip()):
            return None
        return column, f"{self.select[column]} BETWEEN CAST(:window_start AS DATE) AND CAST(:window_end AS DATE)"

    def join(self, table: Table, alias: str, on: str) -> None:
        self.joins.append(f"LEFT JOIN {self.quote(table.name)} AS {alias} ON {on}")

    def add_columns(self, table: Table, alias: str, stem: str, skip: frozenset[str] = frozenset()) -> None:
        """Every column of a joined table but its bookkeeping, named ``stem_column`` (the referring
        column's stem)."""
        for column, type_name in table.columns.items():
            if column in skip or bookkeeping(column) or f"{stem}_{column}" in self.select:
                continue
            self.add(alias, column, f"{stem}_{column}", table.name, type_name)

    def state(self) -> tuple[Any, ...]:
        """What the plan holds now, to go back to when a step that adds to it fails."""
        return (list(self.joins), dict(self.select), dict(self.tables_of), dict(self.types), list(self.stamps),
                self.aliases, list(self.deleted_outright))

    def restore(self, state: tuple[Any, ...]) -> None:
        joins, select, tables_of, types, stamps, aliases, deleted_outright = state
        self.joins, self.select, self.tables_of, self.types = list(joins), dict(select), dict(tables_of), dict(types)
        self.stamps, self.aliases, self.deleted_outright = list(stamps), aliases, list(deleted_outright)

    def sql(self, where: str = "") -> str:
        a = "a.{}"
        columns = ",\n  ".join(expr if expr == a.format(self.quote(out)) else f"{expr} AS {self.quote(out)}"
                               for out, expr in self.select.items())
        head = f"SELECT\n  {columns}\nFROM {self.quote(self.main.name)} AS a"
        return "\n".join([head, *self.joins]) + (f"\nWHERE {where}" if where else "")

    def from_sql(self) -> str:
        return "\n".join([f"FROM {self.quote(self.main.name)} AS a", *self.joins])


def stem_of(column: str, fallback: str) -> str:
    """``paciente_id`` -> ``paciente``; ``id_medico`` -> ``medico``; ``patient_uid`` -> ``patient``;
    ``demographic_no`` -> ``demographic`` (a number's word: OSCAR's ``provider_no``, a ``…_nr``; kept,
    it would make every joined column an id, ``demographic_no_first_name`` no name);
    a number's or code's word in front too (``no_rkm_medis`` -> ``rkm_medis``, ``kd_dokter`` -> ``dokter``: Khanza's
    record number and doctor's code; else ``kd_dokter_nm_dokter`` reads as an id, no name);
    ``pid`` (a letter or two left: no word) -> ``fallback``, the joined table's name (NOSH's ``demographics``)."""
    stem = re.sub(r"(?i)(^id_?|^(no|nr|nro|num|kd|kode|cod)_|_?(uu|g|u)?id$|_(no|nr|nro|num|number)$)", "", column)
    stem = _HUMPED_NUMBER.sub("", stem)
    return stem if len(stem) > 2 else fallback


# A number's word after a hump (``PatNum``, ``ProvNum``, ``ClinicNo``): the reference's stem is the
# words before it, as ``patient_no``'s is ``patient`` (kept, ``PatNum_FName`` reads as an id).
_HUMPED_NUMBER = re.compile(r"(?<=[a-z])(Num|No|Nr|Nro|Number)$")
