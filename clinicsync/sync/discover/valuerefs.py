"""References the schema neither declares nor names, found by their values: a column whose
sampled values are (nearly all) another table's key refers to that table.

Why: products keep references as text without a foreign key (a ``patient_uid`` holding the
person table's UID, a ``user_uid`` holding the users table's id), and neither the schema nor the
column's name says where they point. Without the reference no patient, phone or doctor is reached.

How, kept cheap: only columns that look like identifiers (a name with id/uid/ref/key/no, text
or whole-number type) are sampled, one bounded read each; then each table with a one-column key
is asked once which of all the sampled values it holds (an ``IN`` list of literals that are
plain codes, never quoted text from the data). A column refers to a table when at least
``SHARE`` of its distinct sampled values are that table's keys. Among several tables that match
(1, 2, 3 … are the keys of every table) the one the column's name points at is taken, none when
the name does not decide; fewer than ``MIN_NUMBERS`` distinct whole numbers match only a table
the name shares a word with, or one of the same kind of person (``worker`` -> ``wp_ea_staff``).
Identifier-like text (UUIDs) matches one table only. A word another table is named by
(``item_id`` beside ``pretixbase_item``) is a reference, not the row's own numbering; a column
that names no table (``object_id``) on a table named for another (``pretixbase_event_settingsstore``)
refers to that parent when its keys hold all its values (namedparent.py). Several tables holding
a column's values that its name does not tell apart are told apart by the one its values cover
(coverrefs.py: ``element_id`` names every operation row, only part of the bigger event table),
as are several tables' unique keys a column is named like (``efft_vrsn_seq_id`` beside the act
and the entity versions' ``vrsn_seq_id``: the one holding all its values).

What a name says is read with care: a code named with its own table's word or a code word
alone (``activity_type_id``, ``visit_type_id``) names no table that shares only that word; a
whole number called ``name`` is a person's row (Tryton's ``name`` -> ``party_party``), the
person table that refers to no other; a patient's or provider's row keyed by its person's key
(OpenMRS ``patient.patient_id``) refers to the person table by that key; a login table with no
name (DHIS2's ``users``) refers by its key to the one table named for it that names a person and
holds every sampled key as its own (``userinfo``: a 1:1 profile row keyed alike). Rejected for
that last: any table holding the keys (1, 2, 3 … are every table's), a profile found by name alone.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence

from clinicsync.common.names import name_words
from clinicsync.connectors.sql_limit import first_rows
from clinicsync.sync.discover.coverrefs import covered
from clinicsync.sync.discover.graph import Ref, Schema, Table, audit, words
from clinicsync.sync.discover.kinds import USER, WHOLE, kind_of, name_columns, stems
from clinicsync.sync.discover.namedparent import head_words, named_parent
from clinicsync.sync.discover.probe import Run
from clinicsync.sync.discover.vocab import token_role

SHARE = 0.95  # of a column's distinct sampled values, found as the other table's keys
SAMPLE = 200  # rows read per candidate column
DISTINCT = 40  # distinct values kept per column
MIN_NUMBERS = 10  # distinct whole numbers a column needs before it is matched by value
MAX_COLUMNS = 200  # candidate columns sampled at all
MAX_TARGETS = 400  # tables asked for their keys
_IDENTIFIER = frozenset({"id", "uid", "uuid", "guid", "ref", "key", "fk", "no", "nr", "num", "code", "login"})
_TEXT = re.compile(r"char|text|string|uuid|uniqueidentifier", re.I)
_UUID_TYPE = re.compile(r"uuid|uniqueidentifier", re.I)
_DATED = re.compile(r"date|time", re.I)  # a column type that holds a day or a time
_PLAIN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")  # safe inside '…' and text() (no quote, no colon)
_NUMBER = re.compile(r"-?[0-9]{1,18}")
_UUID = re.compile(r"[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}")


# Words of an id that is the row's own (``OC_PLANNING_OBJECTID``, ``SEQID`` beside a node's
# ``SERVERID``): a sequence 1, 2, 3 … that any table with as many rows matches by its values.
_OWN_ID = frozenset({"object", "obj", "seq", "sequence", "serial", "row", "line", "entry", "item", "node",
                     "server", "site", "instance", "version", "counter", "local"})


def _own_identity(table: Table, column: str, heads: Mapping[str, str] | None = None) -> bool:
    """A column whose name says only "this row's id": the table's own words, an id, or a word
    of a row's own numbering (object, sequence, server). Not the ends of a link table named by
    the tables it joins (``staff_appointments``: ``staff_id``, ``appointment_id``): two columns
    each naming a different word of the table's name are what it links. Not a word another
    table is named by (``heads``: ``item_id`` beside ``pretixbase_item``)."""
    mine = stems(column) - _IDENTIFIER
    if any((heads or {}).get(w, table.name) != table.name for w in mine):
        return False
    head = _last_word(table.name)
    if mine and mine <= stems(table.name) and head not in mine and not mine & _OWN_ID:
        return False  # the parent a table's name begins with: ``party_contact_mechanism.party``
    rest = mine - stems(table.name)
    return rest <= _OWN_ID and not (mine - _OWN_ID and column in _link_ends(table))


def _last_word(name: str) -> str:
    """The last word of a name as ``stems`` reads it (``party_contact_mechanism`` -> mechanism)."""
    parts = name_words(name)
    return next(iter(stems(parts[-1])), "") if parts else ""


def _link_ends(table: Table) -> set[str]:
    """The columns (not the key) whose words, an id's aside, are each one word of the table's
    name, when at least two different words are so named; else none."""
    named = {c: frozenset(stems(c) - _IDENTIFIER) for c in table.columns if c not in table.primary_key}
    ends = {c: w for c, w in named.items() if len(w) == 1 and w <= stems(table.name)}
    return set(ends) if len(set(ends.values())) >= 2 else set()


# Words of a postal address's parts: a house or street number (``addr_str_nr``, ``house_no``) is
# a small whole number that any table numbered 1, 2, 3 … holds among its keys, and refers to none.
_ADDRESS = frozenset({"addr", "address", "street", "str", "house", "hausnr", "strasse", "calle", "rue", "zip",
                      "postal", "postcode", "plz", "apt", "apartment", "flat", "suite", "building", "floor"})


def _candidate(table: Table, column: str, known: set[str], heads: dict[str, str]) -> bool:
    type_name = table.columns[column]
    # a link row's key is its references (``webcal_entry_user``: the event's id and the login); a
    # one-column key is the row's own
    return (column not in known and (column not in table.primary_key or len(table.primary_key) > 1)
            and not audit(column) and not words(column) & _ADDRESS
            and not _own_identity(table, column, heads)
            and bool(words(column) & _IDENTIFIER or column.lower().endswith("id")
                     or (WHOLE.search(type_name) and (kind_of(column) is not None or _numbered_name(column))))
            and bool(_TEXT.search(type_name) or WHOLE.search(type_name)))


def _generic_owner(table: Table, column: str, known: set[str], table_words: set[str]) -> bool:
    """An identifier column whose words name no table and no code (``object_id``, ``fk``; not
    ``record_type_id``), not the row's own key: on a table named for its parent (``namedparent``)
    it points at that parent, whose keys must hold all its sampled values (a settings or meta
    row of an event, a booking; ``_owned`` says when)."""
    type_name = table.columns[column]
    return (column not in known and column not in table.primary_key and not audit(column)
            and bool(words(column) & _IDENTIFIER or column.lower().endswith("id"))
            and not (stems(column) - _IDENTIFIER) & (table_words | _CODE_WORDS)
            and bool(_TEXT.search(type_name) or WHOLE.search(type_name)))


def _extension(table: Table, known: set[str]) -> bool:
    """A patient's or provider's row keyed by its person's key, with no name of its own (OpenMRS
    ``patient.patient_id`` is ``person.person_id``): its key is a reference to the person table,
    tried against person tables only (``_person_table``), never declared here."""
    key = table.key
    said = stems(key) - _IDENTIFIER if key is not None else set()
    return (key is not None and key not in known and kind_of(table.name) in ("patient", "provider")
            and len(said) == 1 and kind_of(next(iter(said))) in ("patient", "provider")
            and not name_columns(table)[0]
            and bool(_TEXT.search(table.columns[key]) or WHOLE.search(table.columns[key])))


def _nameless_login(table: Table, known: set[str]) -> bool:
    """A login table with no name of its own, keyed by one column that refers to nothing yet
    (DHIS2's ``users``: username, password, no name): its person may be kept in a 1:1 row of a
    table named for it and keyed alike (``userinfo.userinfoid`` holds ``users.userid``)."""
    key = table.key
    return (key is not None and key not in known and bool(words(table.name) & USER)
            and not name_columns(table)[0]
            and bool(_TEXT.search(table.columns[key]) or WHOLE.search(table.columns[key])))


def _profile_of(login: Table, target: Table) -> bool:
    """Whether ``target`` may be the login table's 1:1 profile row: a table that names a person,
    whose name holds the login table's word and more (``userinfo``, ``user_profile``,
    ``accounts_userprofile`` beside ``users``). The caller also asks that every sampled login
    key be one of its keys."""
    glued = "".join(name_words(target.name)).lower()
    return (target.name != login.name and bool(name_columns(target)[0])
            and any(len(stem) >= 4 and stem in glued and glued != stem for stem in stems(login.name)))


def _person_table(table: Table, schema: Schema, found: Sequence[Ref] = ()) -> bool:
    """A table of persons, not a login table, nor a person's names or attributes (a table that
    refers to another person table: ``person_name`` -> ``person``; ``found``: references found
    by values in the same pass, not learned yet)."""
    def personal(other: Table) -> bool:
        return _glued_kind(other.name) == "person" and not words(other.name) & USER
    refs = [*schema.refs(table.name), *(r for r in found if r.table == table.name)]
    return personal(table) and not any(personal(schema.tables[r.target]) for r in refs if r.target != table.name)


def _key_samples(schema: Schema, run: Run, quote: Callable[[str], str], dialect: str,
                 extensions: set[tuple[str, str]], budget: int) -> dict[tuple[str, str], tuple[set[str], bool]]:
    """Each table's one-column whole-number key, sampled (``_shared_rows``): its distinct values
    and whether its numbering starts past the first numbers (drawn from a sequence it shares)."""
    out: dict[tuple[str, str], tuple[set[str], bool]] = {}
    for table in list(schema.tables.values()):
        key = table.key
        if len(out) >= budget:
            break
        if key is None or (table.name, key) in extensions or not WHOLE.search(table.columns[key]) or \
                any(r.column == key for r in schema.refs(table.name)):
            continue
        rows = run(first_rows(f"SELECT {quote(key)} FROM {quote(table.name)}", SAMPLE, dialect))
        values = {str(r[0]).strip() for r in rows if r[0] is not None}
        if len(values) < MIN_NUMBERS or not _numeric(values):
            continue
        numbers = sorted(int(v) for v in values)
        out[(table.name, key)] = ({str(n) for n in numbers[:DISTINCT]}, numbers[0] > MIN_NUMBERS)
    return out


def _shared_rows(schema: Schema, keys: dict[tuple[str, str], tuple[set[str], bool]],
                 holds: dict[str, list[tuple[str, str]]]) -> list[Ref]:
    """A record keyed by its shared row's key under another name (Vtiger's ``activityid`` is a
    ``vtiger_crmentity.crmid``): a table whose key holds the keys of two tables or more is a
    shared entity table, and a table whose numbering starts past the first numbers (drawn from
    that shared sequence) and is held by that one shared table refers to it by its key (its 1:1
    custom-fields row, ``vtiger_activitycf``, holds its keys too, and no other table's). A table
    numbered 1, 2, 3 … is held by every bigger table: never matched so."""
    held_by: dict[tuple[str, str], list[str]] = {}
    for holder, held in holds.items():
        for keyed in held:
            held_by.setdefault(keyed, []).append(holder)
    out = []
    for (owner, key), (_, offset) in keys.items():
        shared = [t for t in held_by.get((owner, key), []) if len(holds[t]) >= 2]  # not a 1:1 custom-fields row
        if offset and len(shared) == 1:
            entity = schema.tables[shared[0]]
            out.append(Ref(owner, key, entity.name, str(entity.key), declared=False, by_values=True))
    return out


def _numbered_name(column: str) -> bool:
    """A person's ``name`` kept as a whole number: a reference to the person row that holds the
    name (Tryton: ``gnuhealth_patient.name`` -> ``party_party``), chosen among person tables."""
    return words(column) == {"name"}


def _numeric(values: set[str]) -> bool:
    return all(_NUMBER.fullmatch(v) for v in values)


def value_references(schema: Schema, run: Run, quote: Callable[[str], str], dialect: str,
                     mixed: bool = False) -> list[Ref]:
    """The references found by values (``declared`` False), to be added with ``Schema.learn``.
    ``mixed``: the database compares a text column of digits with a whole-number key by itself
    (MariaDB/MySQL, SQLite); where it does not (PostgreSQL: text = integer fails), a text UID
    holding another table's number is matched all the same and its reference is marked
    ``as_text``: the join then compares the key written as text (``ReadPlan.on``). ``dialect``:
    SQLAlchemy's name of the server's dialect, whose SQL cuts each sample to its first rows."""
    samples: dict[tuple[str, str], set[str]] = {}
    extensions = {(t.name, str(t.key)) for t in schema.tables.values()
                  if _extension(t, {r.column for r in schema.refs(t.name)})}
    logins = {(t.name, str(t.key)) for t in schema.tables.values()
              if _nameless_login(t, {r.column for r in schema.refs(t.name)})}
    heads = head_words(schema.tables)
    parents = {t: p for t in schema.tables if (p := named_parent(t, schema.tables)) is not None}
    table_words = {w for t in schema.tables for w in stems(t)}
    generic: set[tuple[str, str]] = set()  # a column naming no table, on a table named for its parent
    parent_only: set[tuple[str, str]] = set()  # … that only its parent's keys may match
    for table in list(schema.tables.values()):
        known = {r.column for r in schema.refs(table.name)}
        for column in table.columns:
            regular = _candidate(table, column, known, heads) or (table.name, column) in extensions | logins
            if table.name in parents and _generic_owner(table, column, known, table_words):
                generic.add((table.name, column))
                if not regular:
                    parent_only.add((table.name, column))
            if len(samples) >= MAX_COLUMNS or not (regular or (table.name, column) in generic):
                continue
            rows = run(first_rows(f"SELECT {quote(column)} FROM {quote(table.name)} WHERE {quote(column)} "
                                  "IS NOT NULL", SAMPLE, dialect))
            values = {str(r[0]).strip() for r in rows if r[0] is not None and str(r[0]).strip()}
            if not values or not all(_PLAIN.fullmatch(v) for v in values):
                continue
            samples[(table.name, column)] = set(sorted(values)[:DISTINCT])
    keys = _key_samples(schema, run, quote, dialect, extensions | logins, MAX_COLUMNS - len(samples))
    if not samples and not keys:
        return []
    matches: dict[tuple[str, str], list[Table]] = {}
    holds: dict[str, list[tuple[str, str]]] = {}  # a table's key holding other tables' keys
    # A table's primary key, and its one-column unique keys for a column named after one
    # (OpenEMR's ``pc_pid`` -> ``patient_data.pid``, beside its ``id``).
    targets = [(t, str(t.key), False) for t in schema.tables.values() if t.key is not None][:MAX_TARGETS]
    targets += [(t, u, True) for t in schema.tables.values() for u in t.unique if len(u) >= 3][:MAX_TARGETS]
    named: dict[tuple[str, str], tuple[Table, str]] = {}  # a column's unique key by its name
    alike: dict[tuple[str, str], list[tuple[Table, str]]] = {}  # … every one so named (coverrefs.py decides)
    profiles: dict[tuple[str, str], list[Table]] = {}  # a nameless login's 1:1 profile tables
    owned: dict[tuple[str, str], Table] = {}  # a generic column's parent table, named by its table
    for target, key, by_name in targets:
        whole = bool(WHOLE.search(target.columns[key]))
        uuid_key = bool(_UUID_TYPE.search(target.columns[key]))
        shared_keys = whole and not by_name  # whether this key may hold other tables' keys (_shared_rows)
        wanted = {v for (owner, _), (values, _) in keys.items() if owner != target.name and shared_keys for v in values}
        for (owner, column), values in samples.items():
            if owner == target.name or not _comparable(schema, owner, column, whole):
                continue
            if by_name and not column.lower().endswith(key.lower()):
                continue
            if whole and not _numeric(values):
                continue
            if uuid_key and not all(_UUID.fullmatch(v) for v in values):
                continue
            wanted |= values
        if not wanted:
            continue
        literals = ", ".join(v if whole else f"'{v}'" for v in sorted(wanted))
        found = {str(r[0]).strip() for r in run(f"SELECT {quote(key)} FROM {quote(target.name)} "
                                                f"WHERE {quote(key)} IN ({literals})")}
        if uuid_key:
            found |= {v.lower() for v in found}
        if shared_keys:
            for (owner, column), (values, _) in keys.items():
                if owner != target.name and values <= found:
                    holds.setdefault(target.name, []).append((owner, column))
        for (owner, column), values in samples.items():
            if owner == target.name or not _comparable(schema, owner, column, whole):
                continue
            if whole and not _numeric(values):
                continue
            if by_name:
                if column.lower().endswith(key.lower()) and all(v in found for v in values):
                    alike.setdefault((owner, column), []).append((target, key))
                    named[(owner, column)] = (target, key)
                continue
            if (owner, column) in logins:
                if _profile_of(schema.tables[owner], target) and all(v in found for v in values):
                    profiles.setdefault((owner, column), []).append(target)
                continue
            if (owner, column) in generic and parents[owner] == target.name and all(v in found for v in values):
                owned[(owner, column)] = target
            if (owner, column) in parent_only:
                continue
            if (owner, column) in extensions and not (_person_table(target, schema) and len(values) >= MIN_NUMBERS):
                continue
            if _numbered_name(column) and _glued_kind(target.name) != "person":
                continue  # a numbered name is a person's row (``_choose``), whatever table shares the word
            if _numeric(values) and len(values) < MIN_NUMBERS and not _numbered_name(column) and not (
                    _related(column, target, owner) >= 2 or _doctor_user(_said_name(column, owner), target)
                    or (len(values) >= 2 and _opaque_staff(column, owner, target, schema))):
                continue  # a few small numbers are the keys of every table: only the table the name says
            hits = sum(v in found or v.lower() in found for v in values)
            if hits >= SHARE * len(values):
                matches.setdefault((owner, column), []).append(target)
    out: list[Ref] = _shared_rows(schema, keys, holds)
    for (owner, column), keyed in alike.items():  # a key named alike on several tables: the one the values say
        if len(keyed) > 1 and (picked := covered(run, quote, schema.tables[owner], column, keyed)) is not None:
            named[(owner, column)] = picked
    # Numbered names last: their person table is the one that refers to no other person table,
    # by the references this pass found too (``person_name.party`` -> ``party_party``).
    for (owner, column), found_targets in sorted(matches.items(), key=lambda m: _numbered_name(m[0][1])):
        if (owner, column) in named or (owner, column) in owned:
            continue
        chosen = _choose(column, found_targets, schema, owner, out)
        # the name first, then the values; never a number of the row's own (a sequence, an object
        # number: any table numbered as far holds and covers it)
        if chosen is None and not _numbered_name(column) and (owner, column) not in extensions \
                and not stems(column) & _OWN_ID:
            best = max(_related(column, t, owner) for t in found_targets)
            picked = covered(run, quote, schema.tables[owner], column,
                             [(t, str(t.key)) for t in found_targets if _related(column, t, owner) == best])
            chosen = picked[0] if picked is not None else None
        if chosen is not None:
            out.append(_ref(schema, owner, column, chosen, str(chosen.key), mixed))
    out += [_ref(schema, owner, column, table, key, mixed) for (owner, column), (table, key) in named.items()]
    out += [_ref(schema, owner, column, tables[0], str(tables[0].key), mixed)
            for (owner, column), tables in profiles.items() if len(tables) == 1]
    return out + _owned(schema, owned, out, mixed)


def _owned(schema: Schema, owned: dict[tuple[str, str], Table], found: Sequence[Ref], mixed: bool) -> list[Ref]:
    """The generic columns' references to the parent their table is named for, where that table
    refers to its parent by no other column (``civicrm_activity_contact.activity_id`` does: its
    ``record_type_id`` is no second one) and by this one column only."""
    out = []
    for (owner, column), parent in owned.items():
        others = [r for r in [*schema.refs(owner), *found] if r.table == owner and r.target == parent.name]
        if not others and sum(o == owner for o, _ in owned) == 1:
            out.append(_ref(schema, owner, column, parent, str(parent.key), mixed))
    return out


# Words of a code kept on a row: alone they name no table (``visit_type_id`` is no
# ``person_attribute_type``); with the words before them they may (``visit_type``).
_CODE_WORDS = frozenset({"type", "kind", "status", "state", "level", "category", "class", "group", "mode"})


def _said(column: str, owner: str) -> set[str]:
    """The words of a column's name that say what it points at: its identifier words aside, and
    its own table's words aside when others remain (``civicrm_activity.activity_type_id`` says a
    type, not an activity: its ``activity`` is the row's own; ``activity_contact.activity_id``
    still says the activity)."""
    mine = stems(column) - _IDENTIFIER
    return (mine - stems(owner)) or mine


def _said_name(column: str, owner: str) -> str:
    """``column`` as far as it says what it points at (``_said``), for ``kind_of``:
    ``reservation_resources.resource_level_id`` is a level, no resource (no doctor)."""
    said = _said(column, owner)
    kept = [w for w in name_words(column) if stems(w) & said]
    return "_".join(kept) if kept and said != stems(column) - _IDENTIFIER else column


def _ref(schema: Schema, owner: str, column: str, target: Table, key: str, mixed: bool) -> Ref:
    """The reference found, marked ``as_text`` where a text column holds a number key on a
    database that does not compare them by itself (``value_references``)."""
    text_to_number = not mixed and not _whole_column(schema, owner, column) and _whole_column(schema, target.name, key)
    return Ref(owner, column, target.name, key, declared=False, by_values=True, as_text=text_to_number)


def _related(column: str, target: Table, owner: str = "") -> int:
    """How closely a column's name points at a table: 3 a shared word (``user_uid`` -> ``app_user``,
    ``USERUID`` -> ``Users``), 2 the same kind of person (patient, person, provider), 1 a patient's
    person (``patient_uid`` -> ``person``, not a login table), 0 nothing. ``owner``: the column's
    table (``_said``)."""
    mine = _said(column, owner)
    theirs = stems(target.name)
    if mine <= _CODE_WORDS and not stems(column) - _IDENTIFIER <= theirs:
        mine = set()  # a code's word alone (``visit.visit_type_id``) names no table but its own list
    if theirs & mine or (len(mine) == 1 and any(_abbreviates(w, t) for w in mine for t in theirs)):
        return 3
    own, other = kind_of(_said_name(column, owner)), _glued_kind(target.name)
    if own is not None and own == other:
        return 2
    if _doctor_user(_said_name(column, owner), target):
        return 2
    if own == "patient" and other == "person" and not words(target.name) & USER:
        return 1
    return 0


def _doctor_user(column: str, target: Table) -> bool:
    """A column named for the doctor (``chir_id``, ``praticien_id``) and a users table: practice
    systems keep their doctors as the system's users, so the name says that table as surely as a
    shared word would (a handful of doctors is a handful of small numbers)."""
    return kind_of(column) == "provider" and bool(words(target.name) & USER)


def _staff_table(table: Table) -> bool:
    return bool(words(table.name) & USER) or kind_of(table.name) == "provider"


def _opaque_staff(column: str, owner: str, target: Table, schema: Schema) -> bool:
    """A column whose name says nothing (OpenEMR's and LibreHealth's ``pc_aid`` beside ``pc_pid``:
    no attribute word, no kind of person, no word any table of the schema has) holding a few
    numbers that are all keys of the staff or users table, on a table that refers to no staff
    table yet: a visit names its patient and the one who sees them, and a practice's doctors
    are a handful of its users, so the handful of small numbers is that table's. Not a column
    whose name points somewhere (``facility_id`` beside ``facility``, ``location_id``), which
    the name decides; not a table's second staff column (its author, its doctor named already);
    only on a table of dated rows that is no person's or staff's own (NOSH's ``providers.practice_id``
    holding 1 is the practice, not a user), and for two values or more (the caller's)."""
    table = schema.tables.get(owner)
    if table is None or _staff_table(table) or kind_of(owner) is not None or \
            not any(_DATED.search(t) for t in table.columns.values()):
        return False
    said = _said(column, owner)
    if not said or kind_of(_said_name(column, owner)) is not None or any(token_role(w) for w in said):
        return False
    if not _staff_table(target) or target.name == owner or any(said & stems(t) for t in schema.tables):
        return False
    return not any(_staff_table(schema.tables[r.target]) for r in schema.refs(owner) if r.target in schema.tables)


def _abbreviates(short: str, word: str) -> bool:
    """``soc`` for ``societe``: the column's only word, of three letters or more, beginning a longer table word
    (a name of several words, ``user_action``, would match ``actioncomm`` by its second word)."""
    return len(short) >= 3 and len(word) > len(short) and word.startswith(short)


def _glued_kind(name: str) -> str | None:
    """A table name's kind, a person word glued at the end of a word counted (``socpeople``)."""
    found = kind_of(name)
    if found is None:
        for word in stems(name):
            for tail in range(1, len(word) - 3):
                if (found := kind_of(word[tail:])) is not None:
                    return found
    return found


def _whole_column(schema: Schema, table: str, column: str) -> bool:
    return bool(WHOLE.search(schema.tables[table].columns[column]))


def _comparable(schema: Schema, table: str, column: str, whole_key: bool) -> bool:
    """Whether ``table.column`` may be joined to a key: like to like, or text to a number (the
    join compares them as the database allows: see ``value_references``); never a number column
    to a text key (a number has no leading zeros or letters to match)."""
    return _whole_column(schema, table, column) == whole_key or whole_key


def _choose(column: str, targets: list[Table], schema: Schema, owner: str = "",
            found: Sequence[Ref] = ()) -> Table | None:
    """The one table a column refers to: the only match (text UIDs, or whole numbers matching one
    table only), else the one its name points at most closely (``_related``); else, for a name
    that says a person (``PATIENTUID``) when no table is named so, the one matching table the
    others refer to (a person table beside its address rows: the child's own serial numbers
    overlap the parent's by chance, the column names the parent); None when that does not decide."""
    if _numbered_name(column):
        persons = [t for t in targets if _person_table(t, schema, found)]
        return persons[0] if len(persons) == 1 else None
    if len(targets) == 1:
        return targets[0]
    ranked = sorted(((_related(column, t, owner), t.name) for t in targets), reverse=True)
    if ranked[0][0] > 0 and (len(ranked) == 1 or ranked[0][0] > ranked[1][0]):
        return next(t for t in targets if t.name == ranked[0][1])
    if ranked[0][0] == 3:  # several named alike: the one whose name adds fewest words to the column's
        mine = _said(column, owner)  # (appointment_id -> wp_ssa_appointments, not ..._appointment_meta)
        alike = sorted((len(stems(t.name) - mine), t.name) for t in targets if _related(column, t, owner) == 3)
        if alike[0][0] < alike[1][0]:
            return next(t for t in targets if t.name == alike[0][1])
    if ranked[0][0] >= 2:  # a users table and its 1:1 extension row alike: the one that names the person
        tied = [t for t in targets if _related(column, t, owner) == ranked[0][0]]
        named = [t for t in tied if name_columns(t)[0]]
        if len(named) == 1:
            return named[0]
    if ranked[0][0] == 0 and kind_of(column) is not None:
        names = {t.name for t in targets}
        children = {t.name for t in targets for r in schema.refs(t.name) if r.target in names - {t.name}}
        parents = [t for t in targets if t.name not in children]
        if len(parents) == 1 and children:
            return parents[0]
    return None
