"""The join graph of a database for `discover`: every table with its columns, primary
key and references, the ones the schema declares and the ones only its names say
(``patient_id`` -> ``patient``, ``person_id`` -> ``person``, ``id_cliente`` -> ``clientes``).

Why a graph: a normalized EHR keeps the patient's name, phone and doctor several hops away
from the appointment (appointment -> patient -> person -> person_name / person_attribute), and
the tables that refer *to* a table (its names, its contacts, an appointment's provider link)
matter as much as the ones it refers to. The whole schema is read once with SQLAlchemy's
bulk reflection, so a database with hundreds of tables is read in a few statements (on
PostgreSQL) and a table asked for with ``--table`` is found whatever its place in the list.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any

from sqlalchemy.engine.reflection import ObjectKind
from sqlalchemy.exc import SQLAlchemyError

from clinicsync.sync.discover.domains import type_name as reflected_type
from clinicsync.sync.discover.vocab import table_prefix, without_prefixes

MAX_TABLES = 5000  # tables read at all: beyond that the admin names the table with --table
_IMPLIED = re.compile(r"(?:id_?)?(.+?)(?:_?id)?", re.I)
_WHOLE = re.compile(r"int|serial", re.I)
# Also glued with no separator in all-lowercase schemas (``lastupdatedby``, ``creatoruserid``): the
# clerk who last touched a users row, never the person the row is.
_AUDIT = re.compile(r"(^|_)(creator|author|owner|changer|voider)($|_)|^creator_?user_?id$|_by$|by_?(id|user)$|"
                    r"^(last_?)?(created|changed|updated|"
                    r"modified|voided|retired|deleted|entered|booked|recorded|cancel+ed)_?by|^(create|write)_?uid$|"
                    # A write verb then a user (``change_user_id``, ``create_user``, ``modify_usr_id``): the
                    # audit column of a versioned entity, kept on every table. Read as a users reference it
                    # made the user who last saved the visit its patient; rejected: a verb alone
                    # (``changed``), which names a stamp or a flag, not a person.
                    r"^(last_?)?(create|creation|change|update|modify|modification|edit|delete|void|retire)_?"
                    r"(user|usr)(_?id)?$|"
                    # the same in the past participle (``created_user_id``, ``last_modified_user_id``)
                    r"^(last_?)?(created|changed|updated|modified|edited|deleted|voided|retired)_?(user|usr)(_?id)?$",
                    re.I)
_BOOKKEEPING = re.compile(r"^uuid$|(void|retire)_?reason$", re.I)
# A login's secrets (a users table joined to reach the doctor's name and email): never read; a
# CRM's users row keeps its password's hash and its web service key too (``user_hash``, ``accesskey``)
_SECRET = re.compile(r"(^|_)pass(word|wd)?($|_)|password|passwd|"
                     r"(^|_)(pwd|salt|secret|token|otp|api_?key|access_?key|nonce|hash)($|_)|"
                     r"(activation|reset|verification|confirmation)_?(key|code|hash)", re.I)


@dataclass(frozen=True)
class Ref:
    """``table.column`` holds ``target.target_column``'s values (a declared foreign key, or
    one the names imply: ``declared`` False)."""

    table: str
    column: str
    target: str
    target_column: str
    declared: bool = True
    by_values: bool = False  # found by its values (valuerefs.py), not by a declaration or a name
    # a text column holding a whole-number key where the database compares them only as like with
    # like (PostgreSQL: text = integer fails): the join compares the key written as text
    as_text: bool = False
    # (type column, SQL literal): the reference holds on the rows whose type column has that value
    # only, its other rows naming other tables' keys (typedrefs.py: a participant's account or contact)
    typed: tuple[str, str] | None = None

    @property
    def how(self) -> str:
        """How the reference was found, for a proposal's reason."""
        if self.typed is not None:
            return f"by its values, on its rows whose {self.typed[0]!r} is {self.typed[1]}"
        return "declared" if self.declared else "by its values" if self.by_values else "by its name"


@dataclass(frozen=True)
class Table:
    name: str  # as the database spells it
    columns: dict[str, str]  # column -> type name, in table order
    primary_key: list[str]
    references: list[tuple[str, str, str]]  # declared: (own column, referred table, referred column)
    nullable: frozenset[str] = frozenset()
    # one-column unique keys besides the primary key (OpenEMR's patient_data.pid beside its id):
    # another table may refer to one of them (valuerefs.py)
    unique: tuple[str, ...] = ()
    # each column's declared default as the catalogue writes it (``'Sugar'::character varying``),
    # for the columns that declare one: a value nobody set is no evidence (defaultvalues.py)
    defaults: tuple[tuple[str, str], ...] = ()

    @property
    def key(self) -> str | None:
        """The one-column primary key, None for none or a composite one."""
        return self.primary_key[0] if len(self.primary_key) == 1 else None

    @cached_property
    def prefix(self) -> str:
        """The table's column prefix (FreeMED's ``cal`` of ``calpatient``), "" for none (vocab.py)."""
        return table_prefix(list(self.columns))


@dataclass
class Schema:
    """The tables of one database, by name, with every reference both ways."""

    tables: dict[str, Table]
    _lower: dict[str, str] = field(default_factory=dict)
    _out: dict[str, list[Ref]] = field(default_factory=dict)
    _in: dict[str, list[Ref]] = field(default_factory=dict)
    key_owners: dict[str, Table] = field(default_factory=dict)  # see _key_owners

    def __post_init__(self) -> None:
        self._lower = {name.lower(): name for name in self.tables}
        self.key_owners = _key_owners(self.tables.values())
        for table in self.tables.values():
            refs = [Ref(table.name, own, target, key) for own, target, key in table.references
                    if target in self.tables]
            refs += implied_references(table, self)
            self._out[table.name] = refs
            for ref in refs:
                self._in.setdefault(ref.target, []).append(ref)

    def learn(self, refs: Iterable[Ref]) -> None:
        """Add references found some other way (by their values, valuerefs.py), after the ones
        declared or named: a column already referring somewhere keeps its reference."""
        for ref in refs:
            if ref.table in self.tables and ref.target in self.tables and \
                    all(r.column != ref.column for r in self._out.get(ref.table, [])):
                self._out.setdefault(ref.table, []).append(ref)
                self._in.setdefault(ref.target, []).append(ref)

    def find(self, name: str) -> Table | None:
        """A table by name, whatever its case."""
        real = self._lower.get(name.lower())
        return self.tables.get(real) if real is not None else None

    def refs(self, table: str) -> list[Ref]:
        """What ``table`` refers to (declared first, then implied by names)."""
        return list(self._out.get(table, []))

    def children(self, table: str) -> list[Ref]:
        """The references other tables hold to ``table`` (its names, contacts, links)."""
        return [r for r in self._in.get(table, []) if r.table != table]


def audit(column: str) -> bool:
    """A column that records who entered or changed the row (``creator``, ``changed_by``)."""
    return bool(_AUDIT.search(column))


def bookkeeping(column: str) -> bool:
    """A joined table's column no appointment field is read from: who entered or changed the
    row, its ``uuid``, why it was voided, a login's password or token. Left out of the read, so
    what is listed as not placed is what the admin could still map."""
    return audit(column) or bool(_BOOKKEEPING.search(column)) or bool(_SECRET.search(column))


def _key_owners(tables: Iterable[Table]) -> dict[str, Table]:
    """Identifier-like primary key names (``pid``, ``patient_id``, a code named for its table
    in two words or more: SIMRS Khanza's ``kd_dokter`` of ``dokter``, ``no_rkm_medis``; not
    ``id``, which every table may have, nor a lookup's bare ``code``), lower-cased, each to the
    one table that has it: a column of that name elsewhere refers to it. Of several tables
    keyed alike (Vtiger's ``activityid`` of ``vtiger_activity`` and of its custom-fields row
    ``vtiger_activitycf``), the one whose name holds the key's word; of several that all hold it
    (``cal_id`` keying ``calendar`` and ``calendar_repeats``), the one whose name starts every
    other's: the others are its extension rows, one each for some of its rows, named after it, so
    a column of that name elsewhere names the row they all extend."""
    owners: dict[str, list[Table]] = {}
    for table in tables:
        key = table.key
        if key is not None and key.lower() != "id" and ("id" in key.lower() or len(words(key)) >= 2):
            owners.setdefault(key.lower(), []).append(table)
    chosen = {}
    for key, found in owners.items():
        if len(found) > 1:
            said = {w.removesuffix("id") for w in words(key)} - {"", "id"}
            found = [t for t in found if said & words(t.name)]
            found = _extended(found) or found
        if len(found) == 1:
            chosen[key] = found[0]
    return chosen


def _extended(tables: list[Table]) -> list[Table]:
    """Of tables keyed alike, the one whose name starts every other's (``calendar`` of
    ``calendar_repeats``, ``calendar_extra``): the row the others extend. Empty for none."""
    return [t for t in tables if all(o is t or o.name.lower().startswith(t.name.lower() + "_") for o in tables)]


def implied_references(table: Table, schema: Schema) -> list[Ref]:
    """References the schema does not declare but its names say: ``paciente_id`` -> the
    table ``pacientes``/``paciente`` by its one-column primary key; a whole number column named
    as a table (Tryton's ``patient``, ``party``) -> that table; a column named as exactly one
    other table's primary key (NOSH's ``schedule.pid`` -> ``demographics.pid``: Laravel declares
    no foreign key)."""
    declared = {own for own, _, _ in table.references}
    found = []
    for column in table.columns:
        owner = schema.key_owners.get(column.lower())
        owner_key = owner.key if owner is not None else None
        if (owner is not None and owner_key is not None and column not in declared and column != table.key
                and owner.name != table.name
                and bool(_WHOLE.search(table.columns[column])) == bool(_WHOLE.search(owner.columns[owner_key]))):
            found.append(Ref(table.name, column, owner.name, owner_key, declared=False))
            continue
        bare = "id" not in column.lower() and bool(_WHOLE.search(table.columns[column]))
        if column in declared or column.lower() == "id" or ("id" not in column.lower() and not bare):
            continue
        match = _IMPLIED.fullmatch(without_prefixes([column.lower()], [table.prefix])[0])
        if match is None:
            continue
        stem = match.group(1).lower().rstrip("_")
        plurals = (stem, stem + "s", stem + "es", stem[:-1] + "ies" if stem.endswith("y") else stem)
        for candidate in plurals:
            other = schema.find(candidate)
            if other is not None and other.name != table.name and other.key is not None and (
                    not bare or _WHOLE.search(other.columns[other.key])):
                found.append(Ref(table.name, column, other.name, other.key, declared=False))
                break
    return found


def _partial(index: dict[str, Any]) -> bool:
    """A partial index (PostgreSQL's or SQLite's ``… WHERE is_primary``): unique only among the rows
    its condition holds, so the column may repeat (a person's several emails, one primary): never
    read as a key that holds one row per value."""
    options = index.get("dialect_options") or {}
    return any(options.get(k) is not None for k in ("postgresql_where", "sqlite_where"))


def _unique_columns(inspector: Any, wanted: Sequence[str]) -> dict[str, list[str]]:
    """Each table's one-column unique keys (unique indexes and constraints), in bulk where the
    dialect can; none where the database does not say (a login that may not read them)."""
    found: dict[str, list[str]] = {}
    if not wanted:
        return found
    try:
        try:
            indexes = dict(inspector.get_multi_indexes(filter_names=wanted))
            constraints = dict(inspector.get_multi_unique_constraints(filter_names=wanted))
        except NotImplementedError:
            indexes = {(None, n): inspector.get_indexes(n) for n in wanted}
            constraints = {(None, n): inspector.get_unique_constraints(n) for n in wanted}
    except SQLAlchemyError:  # a grant that cannot list them: no unique key known
        return found
    for source, unique_only in ((indexes, True), (constraints, False)):
        for (_, name), listed in source.items():
            for each in listed or []:
                columns = [c for c in each.get("column_names") or [] if c]
                if _partial(each):  # unique among the rows its WHERE holds (a person's one primary email)
                    continue
                if len(columns) == 1 and (each.get("unique") or not unique_only):
                    found.setdefault(name, []).append(columns[0])
    return found


def read_schema(inspector: Any, names: Sequence[str], views: Collection[str] = ()) -> Schema:
    """Every table's columns, key and declared references, read in bulk (one pass per kind of
    fact where the dialect can: PostgreSQL reads all tables in a statement each). ``views``: the
    names that are views (views.py). MySQL/MariaDB reflect a view through ``SHOW CREATE``, which
    needs the SHOW VIEW grant a login allowed only to SELECT lacks: their columns are read from
    information_schema instead (a view has no key or reference to reflect)."""
    bind = getattr(inspector, "bind", None)
    mysql = bind is not None and bind.dialect.name in ("mysql", "mariadb")
    listed = list(names)[:MAX_TABLES]
    unreflected = [n for n in listed if n in views] if mysql else []
    wanted = [n for n in listed if n not in unreflected]
    chosen = set(wanted)
    columns: dict[Any, Any] = {}
    keys: dict[Any, Any] = {}
    foreign: dict[Any, Any] = {}
    try:  # (no names at all would reflect every object: an empty filter is no filter)
        with warnings.catch_warnings():  # MySQL's dropped columns: read again below, not lost
            warnings.filterwarnings("ignore", "Unknown (column definition|schema content)")
            # tables and views alike (views.py: a login may read views only)
            if wanted:
                columns = dict(inspector.get_multi_columns(filter_names=wanted, kind=ObjectKind.ANY))
                keys = dict(inspector.get_multi_pk_constraint(filter_names=wanted, kind=ObjectKind.ANY))
                foreign = dict(inspector.get_multi_foreign_keys(filter_names=wanted, kind=ObjectKind.ANY))
    except NotImplementedError:  # a dialect without bulk reflection: one table at a time
        columns = {(None, n): inspector.get_columns(n) for n in wanted}
        keys = {(None, n): inspector.get_pk_constraint(n) for n in wanted}
        foreign = {(None, n): inspector.get_foreign_keys(n) for n in wanted}
    tables: dict[str, Table] = {}
    for (_, name), cols in columns.items():
        if name not in chosen:
            continue
        pk = list((keys.get((_, name)) or {}).get("constrained_columns") or []) or _undeclared_key(cols)
        refs = [(fk["constrained_columns"][0], fk["referred_table"], fk["referred_columns"][0])
                for fk in foreign.get((_, name)) or []
                if len(fk.get("constrained_columns") or []) == 1 and fk.get("referred_table")]
        tables[name] = Table(name, {c["name"]: reflected_type(c["type"]) for c in cols}, pk, refs,
                             frozenset(c["name"] for c in cols if c.get("nullable", True)),
                             defaults=tuple((str(c["name"]), str(c["default"])) for c in cols
                                            if c.get("default") is not None))
    unique = _unique_columns(inspector, wanted)
    for name, found in unique.items():
        table = tables.get(name)
        if table is not None:
            tables[name] = replace(table, unique=tuple(c for c in found if c in table.columns and c != table.key))
    tables.update({name: Table(name, {}, [], []) for name in unreflected})  # columns from information_schema
    _add_unreflected(inspector, tables)
    _type_by_values(inspector, tables)
    return Schema(tables)


def _undeclared_key(columns: list[dict[str, Any]]) -> list[str]:
    """A table that declares no primary key: its NOT NULL whole-number ``id`` column, the key its
    application gives every row from a sequence (an ORM that maps the key but whose migration
    never declared the constraint). Without it a person's typed contact rows had no order, so no
    newest row, and the patient's phone and email were never read. Rejected: a unique text
    column (a ``uuid``), which orders no rows by age."""
    found = [c for c in columns if str(c["name"]).lower() == "id" and not c.get("nullable", True)
             and _WHOLE.search(reflected_type(c["type"]))]
    return [str(found[0]["name"])] if len(found) == 1 else []


_UNTYPED = frozenset({"NULL", ""})  # how SQLAlchemy names a SQLite column declared without a type
_SQLITE_TYPES = {"integer": "INTEGER", "real": "REAL", "text": "TEXT", "blob": "BLOB"}
TYPE_SAMPLE = 50  # rows whose stored types name an untyped column's type


def _type_by_values(inspector: Any, tables: dict[str, Table]) -> None:
    """SQLite: a column declared without a type (``CREATE TABLE doctors (id INTEGER PRIMARY KEY,
    name, email)``) takes the type its values are stored as (``typeof()`` over a few rows, when
    they agree), so the rules that read a column's type (a name is text, a key a whole number)
    see what it holds; a column whose values disagree, or are all empty, keeps no type."""
    bind = getattr(inspector, "bind", None)
    if bind is None or bind.dialect.name != "sqlite":
        return
    from sqlalchemy import text

    for name, table in list(tables.items()):
        untyped = [c for c, t in table.columns.items() if t.upper() in _UNTYPED]
        if not untyped:
            continue
        quote = bind.dialect.identifier_preparer.quote
        probes = ", ".join(f"typeof({quote(c)})" for c in untyped)
        rows = bind.execute(text(f"SELECT {probes} FROM {quote(name)} LIMIT {TYPE_SAMPLE}")).all()
        typed = dict(table.columns)
        for index, column in enumerate(untyped):
            kinds = {str(row[index]) for row in rows} - {"null"}
            if len(kinds) == 1 and (kind := kinds.pop()) in _SQLITE_TYPES:
                typed[column] = _SQLITE_TYPES[kind]
        tables[name] = Table(name, typed, table.primary_key, table.references, table.nullable)


def _add_unreflected(inspector: Any, tables: dict[str, Table]) -> None:
    """MySQL/MariaDB: the columns SQLAlchemy's reflection dropped, read from information_schema.

    The MySQL dialect reflects a table by parsing ``SHOW CREATE TABLE`` line by line, so a column
    whose name holds a line break is skipped with a warning: discover would then never see it
    (nor say it did not place it). information_schema lists every column; the missing ones are
    added, in the table's order, with the server's own type name."""
    bind = getattr(inspector, "bind", None)
    if bind is None or bind.dialect.name not in ("mysql", "mariadb") or not tables:
        return
    from sqlalchemy import text

    rows = bind.execute(text("SELECT TABLE_NAME, COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE FROM information_schema.COLUMNS "
                             "WHERE TABLE_SCHEMA = DATABASE() ORDER BY TABLE_NAME, ORDINAL_POSITION")).all()
    listed: dict[str, list[tuple[str, str, bool]]] = {}
    for table_name, column, type_name, nullable in rows:
        listed.setdefault(str(table_name), []).append((str(column), str(type_name).upper(), nullable == "YES"))
    for name, table in list(tables.items()):
        every = listed.get(name, [])
        if all(column in table.columns for column, _, _ in every):
            continue
        columns = {column: table.columns.get(column, type_name) for column, type_name, _ in every}
        columns.update({c: t for c, t in table.columns.items() if c not in columns})
        nullable = table.nullable | {column for column, _, is_null in every if is_null and column not in table.columns}
        tables[name] = Table(name, columns, table.primary_key, table.references, frozenset(nullable))


def words(name: str) -> set[str]:
    """A table or column name's lower-case words (``patient_appointment`` -> patient, appointment)."""
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name)
    return {w for w in re.split(r"[^a-z0-9]+", spaced.lower()) if w}
