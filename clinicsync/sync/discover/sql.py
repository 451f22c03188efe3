"""`discover` for a database: read its schema and a few rows, read-only, and propose the `sql`
connector and mapping that import its appointments.

Everything runs inside the connector's own read-only transaction with a statement timeout
(connectors/sql_session.py), and every statement built here passes the connector's parsed
SELECT guard (connectors/sql_guard.py) before it is sent: discovery can read, never write.
Samples are bounded (``sample_rows`` rows, ``MAX_WORDS`` status words).

A known product (sync/discover/products.py) gets its query preset (product_proposal.py). Any
other schema is read by its shape: the appointment-like table (date columns, references to
person-like tables), joined with the tables it refers to, sampled, and placed on the mapping's
fields by ``score_columns``. The proposal for a shape is one sequence (pick the table, join what it
refers to, sample, place, identify, choose the cursor) whose steps pass one read plan along; the
rules each step applies live in their own modules (people, doctors, identity, stamps, successors,
lengths), the connection and its guarded reads in sql_reading.py.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, inspect
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from clinicsync.connectors.sql_limit import first_rows
from clinicsync.connectors.sql_session import describe
from clinicsync.sync.discover import (
    addonrows,
    approvalflags,
    bookingrow,
    calendarowner,
    cancelflags,
    cancelstamps,
    cancelstatus,
    childstatus,
    codewords,
    constantids,
    daterows,
    daysahead,
    defaultvalues,
    digitdates,
    doneflags,
    endlesskinds,
    extension,
    formtext,
    fullerfirst,
    history,
    i18ntext,
    icalfind,
    icalfolders,
    icalowner,
    icalusers,
    icalvisits,
    jsonpatient,
    jsontext,
    lettercodes,
    linkstatus,
    metarows,
    metavisits,
    minimalread,
    numbercodes,
    numberwindow,
    occurrences,
    occurrencestatus,
    ownnoun,
    phptext,
    productrow,
    removedstatus,
    rrulerows,
    settingzone,
    slotpattern,
    slottime,
    softdelete,
    splitlength,
    staffmeetings,
    stamps,
    templaterows,
    thinfallback,
)
from clinicsync.sync.discover.clock import (
    ClockOptions,
    ClockUnclear,
    clock_options,
    current_options,
    given_convention,
    settle_clock,
)
from clinicsync.sync.discover.columns import ColumnSample
from clinicsync.sync.discover.contacts import household
from clinicsync.sync.discover.copiedcolumns import copied_columns
from clinicsync.sync.discover.cursorchoice import choose_cursor
from clinicsync.sync.discover.datecolumns import date_columns
from clinicsync.sync.discover.dayminutes import day_and_minutes
from clinicsync.sync.discover.graph import Schema, Table, read_schema, words
from clinicsync.sync.discover.headrefs import learn_head_references
from clinicsync.sync.discover.identity import find_identity
from clinicsync.sync.discover.lengths import with_default_length
from clinicsync.sync.discover.namerefs import learn_text_references
from clinicsync.sync.discover.naming import region_of
from clinicsync.sync.discover.people import People, audit, kind_of, place_people, weak_reason
from clinicsync.sync.discover.pg_schemas import (
    PathInspector,
    choose_schema,
    partitions,
    partitions_note,
    used_schemas,
    with_search_path,
    without_partitions,
)
from clinicsync.sync.discover.polytypes import polymorphic_references
from clinicsync.sync.discover.probe import Run
from clinicsync.sync.discover.product_proposal import product_proposal
from clinicsync.sync.discover.products import PRODUCTS, recognize, suffixes
from clinicsync.sync.discover.proposal import Guess, Proposal, StatusWord
from clinicsync.sync.discover.readplan import ReadPlan, stem_of
from clinicsync.sync.discover.resourcestore import refusal, resource_tables, typed_refusal, typed_stores
from clinicsync.sync.discover.rolerefs import role_references
from clinicsync.sync.discover.scoring import LEFT_OUT, NO_VISIT_ID, left_out_stands, score_columns
from clinicsync.sync.discover.sql_reading import (
    DiscoverError,
    default_name,
    quote_name,
    reading,
    run_checked,
    secret_url,
    valid_zone,
    visits_zone,
)
from clinicsync.sync.discover.statuses import rescheduled_note
from clinicsync.sync.discover.statusreads import all_status_words, creation_successors, listed_statuses
from clinicsync.sync.discover.successors import successor_note, successor_rule
from clinicsync.sync.discover.tablechoice import APPOINTMENT_NAMES, BOOKING_NAMES, own_dates, pick_table
from clinicsync.sync.discover.textwindow import text_window
from clinicsync.sync.discover.typedrefs import typed_references
from clinicsync.sync.discover.valuerefs import value_references
from clinicsync.sync.discover.views import keyed_views, with_views
from clinicsync.sync.discover.visitzone import clinic_zone

FIRST_ROWS = 200  # rows a look-alike's date columns are looked at in
SAMPLE_ROWS = 50
TIMEOUT = 30.0


def discover_sql(url: str, *, name: str | None = None, timezone: str | None = None, table: str | None = None,
                 region: str | None = None, sample_rows: int = SAMPLE_ROWS, timeout: float = TIMEOUT,
                 stored_times: str | None = None, clinic_zone: str | None = None) -> Proposal:
    """Read the database at ``url`` (read-only) and propose a connector and mapping for it.
    ``region`` reads phone numbers written without +country (default: the country of the
    zone, else US), as the connector will (``clinic.default_region``). ``stored_times``:
    the admin's ``--stored-times`` (else told from the database, clock.py); ``clinic_zone``:
    the settings file's clinic.timezone, the visits' zone when nothing else names one."""
    try:
        given_convention(stored_times)
    except ValueError as exc:
        raise DiscoverError(str(exc)) from None
    if clinic_zone is not None:
        valid_zone(clinic_zone, "clinic.timezone")
    with clock_options(ClockOptions(stored_times, clinic_zone)):
        return _discover_sql(url, name=name, timezone=timezone, table=table, region=region, sample_rows=sample_rows,
                             timeout=timeout)


def _discover_sql(url: str, *, name: str | None, timezone: str | None, table: str | None,
                  region: str | None, sample_rows: int, timeout: float) -> Proposal:
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise DiscoverError("not a database URL (e.g. mysql://user@host/db or postgresql://user@host/db)") from None
    named = "given with --name" if name else "the database's name"
    name = name or default_name(parsed)
    if timezone is not None:
        valid_zone(timezone, "--timezone")
    given = url
    where = choose_schema(url, table, timeout, APPOINTMENT_NAMES.search)
    url, table = where.url, where.table
    written_url, secrets = secret_url(url, name)
    with reading(url, timeout) as connection:
        inspector: Any = inspect(connection)
        if len(where.schemas) > 1:  # the tables of every schema on the search path, read as one
            inspector = PathInspector(inspector, where.schemas)
        children = partitions(connection)  # a partitioned table's parts are never the source; its parent is
        readable = with_views(inspector, without_partitions(inspector.get_table_names(), children), table,
                              APPOINTMENT_NAMES.search)
        names = readable.names
        by_lower = {n.lower(): n for n in names}
        columns: dict[str, set[str]] = {}
        ends = suffixes()
        for lower, real in by_lower.items():  # a product is known by its own tables, never by views over them
            if table is None and real not in readable.views and (any(lower in p.signature for p in PRODUCTS)
                                                                 or lower.endswith(tuple(ends))):
                columns[lower] = {c["name"].lower() for c in inspector.get_columns(real)}
        found = recognize(columns) if table is None else None
        unread = found.unread(columns) if found is not None else []
        if unread:
            found = None
        store = resource_tables(connection, inspector, [n for n in names if n not in readable.views],
                                APPOINTMENT_NAMES.search) if found is None else []
        if store:
            raise DiscoverError(refusal(store))
        typed = typed_stores(connection, inspector, [n for n in names if n not in readable.views]) \
            if found is None and table is None else []
        if typed:
            raise DiscoverError(typed_refusal(typed))
        if found is not None:
            proposal = product_proposal(connection, found, name, written_url, timezone)
        else:
            proposal = _shape_proposal(connection, inspector, names, name, written_url, timezone, table, sample_rows,
                                        region, readable.views)
            if unread:
                proposal.notes.append(f"the schema looks like a known product's, but its preset reads "
                                      f"{', '.join(unread)}, which this database lacks (another version?): read by "
                                      "its shape instead")
        if readable.note:
            proposal.notes.append(readable.note)
        query = str(proposal.connector.get("query") or "")
        for parent in sorted(set(children.values())):
            note = partitions_note(children, parent) if f"FROM {quote_name(connection, parent)} " in query else None
            if note:
                proposal.notes.append(note)
        try:  # how the database writes its date-times, last: it may stop and ask
            if proposal.connector.get("ical_columns"):  # each event says its clock (icalvisits.py)
                proposal.notes.append(icalvisits.CLOCK_NOTE)
            else:
                settle_clock(connection, run_checked, proposal, timezone)
        except ClockUnclear as exc:
            raise DiscoverError(str(exc)) from None
        if proposal.minimal_query is not None:  # the clock read every sampled stamp; the source reads the mapped
            proposal.connector["query"], proposal.minimal_query = proposal.minimal_query, None
        if isinstance(inspector, PathInspector):  # the URL keeps the schemas the query reads, no other
            used = used_schemas(where.schemas, inspector.owners, query, lambda n: quote_name(connection, n))
            if len(used) < len(where.schemas):
                proposal.connector["url"] = secret_url(with_search_path(given, used), name)[0]
            if len(used) > 1:
                proposal.notes.append(f"the query reads tables of schemas {', '.join(map(repr, used))}: the URL's "
                                      "search path lists each of them (options=-csearch_path)")
    proposal.connector_notes["name"] = named
    if where.note:
        proposal.notes.append(where.note)
        proposal.connector_notes["url"] = "the URL given, its tables' schema first on the search path"
    proposal.secret_env.update(secrets)
    for var in secrets:
        connector = proposal.connector
        at = list(connector).index("url") + 1
        proposal.connector = {**dict(list(connector.items())[:at]), "password": "${" + var + "}",
                              **dict(list(connector.items())[at:])}
        proposal.connector_notes["url"] = "the URL given, without its password"
        proposal.connector_notes["password"] = f"read from the environment variable {var} (never written here)"
    return proposal


# -- unknown schemas ---------------------------------------------------------------------------

def _standing(plan: ReadPlan, flags: Sequence[softdelete.Flag | None], owners: Sequence[tuple[Any, str, str]],
              filters: Sequence[str]) -> str:
    """The query's condition that keeps the rows standing: not deleted by the visit's own flags,
    nor by a row that owns it (the patient's, the shared record row), nor by the people's filters."""
    return " AND ".join([softdelete.kept(f, "a", plan.quote(f.column)) for f in flags if f is not None]
                        + [condition for _, _, condition in owners] + list(filters))


def _join_references(schema: Schema, plan: ReadPlan, people: People, run: Run | None = None) -> None:
    """The appointment's other references (its service, location, a doctor of its own): each
    table joined, its columns named by the referring column's stem (``paciente_nombre``); a
    code into a dictionary whose rows hold no word of their own read as its word (codewords.py:
    a status, a kind kept as a concept key)."""
    for ref in schema.refs(plan.main.name)[:8]:
        if ref.column in people.handled or audit(ref.column) or ref.column == plan.main.key or \
                ref.target == plan.main.name:  # a related appointment (a follow-up's parent) says nothing of this one
            continue
        target = schema.tables[ref.target]
        stable = plan.versions is not None and ref.column == plan.versions[0]
        if run is not None and not stable and not any(c != ref.target_column for c in target.columns):
            coded = codewords.words_of(run, plan.quote, schema, plan.main, ref.column)
            if coded is not None:
                # the visit's own value, spelled by the dictionary: read as a column of the visit's row
                plan.expr(coded.of(f"a.{plan.quote(ref.column)}", plan.quote), f"{ref.column}_{coded.word}",
                          plan.main.name, "varchar")
                people.handled.add(ref.column)  # the code itself is read as its word, never as a value
                continue
        alias = plan.alias("t")
        plan.join(target, alias, plan.on(ref, alias, "a"))
        stem = stem_of(ref.column, target.name)
        plan.add_columns(target, alias, stem, frozenset({ref.target_column}))
        stamp = stamps.row_stamp(target, alias, plan.quote, stamps.greatest(plan.dialect))
        if stamp is not None:
            plan.stamps.append(stamp)
        _join_status_lookup(schema, plan, target, alias, stem)


def _join_status_lookup(schema: Schema, plan: ReadPlan, parent: Table, alias: str, stem: str) -> None:
    """A joined parent row's status kept as a code of a status table (a series' ``status_id`` ->
    ``reservation_statuses``, whose ``label`` says 'Deleted'): that table joined too, so the
    status is read as its word. Only a table named for the status: a code alone says nothing."""
    for ref in schema.refs(parent.name):
        target = schema.tables[ref.target]
        if ref.target in (plan.main.name, parent.name) or not words(target.name) & {"status", "statuses", "state",
                                                                                   "states"}:
            continue
        lookup = plan.alias("t")
        plan.join(target, lookup, plan.on(ref, lookup, alias))
        plan.add_columns(target, lookup, f"{stem}_{stem_of(ref.column, target.name)}", frozenset({ref.target_column}))
        return


def _without_strangers(guess: Guess, strangers: set[str]) -> Guess | None:
    """``guess`` without the fallbacks read from a table that is not the patient's, when it is a
    chain of fallbacks (``from: [a, b, c]``: each read when the one before is empty) and some of
    it stays: the booking's own phone then the customer's, without the form entry's copy. None
    for a single column or a concatenation (a name's parts), which the caller leaves out whole."""
    chain = guess.spec.get("from")
    if not isinstance(chain, list) or set(guess.spec) - {"from", "on_invalid"}:
        return None
    kept = [c for c in chain if c not in strangers]
    if not kept or len(kept) == len(chain):
        return None
    spec = {**guess.spec, "from": kept if len(kept) > 1 else kept[0]}
    return dataclasses.replace(guess, source=" + ".join(kept), spec=spec,
                               why=f"{guess.why}; left out: {', '.join(sorted(strangers))} (not the patient's tables)")


def _merge(scored_guesses: Sequence[Guess], people: People, plan: ReadPlan, schema: Schema, run: Any,
           notes: list[str]) -> tuple[list[Guess], list[str]]:
    """The scorer's guesses with the people part's over them; a person field from a table that
    is not the person's, or a patient column that stands in for the patient, left out (said why)."""
    placed = {g.field: g for g in scored_guesses}
    refused: dict[str, str] = dict(people.refused)
    for guess in people.guesses:
        placed[guess.field] = guess
    own = {g.field for g in people.guesses}
    patient_tables = people.patient_tables | {plan.main.name}
    if not people.patient_tables:  # not followed: the patient-like tables the appointment refers to
        patient_tables |= {r.target for r in schema.refs(plan.main.name)
                           if "patient" in (kind_of(r.target), kind_of(r.column)) and not audit(r.column)}
    for field_name, guess in list(placed.items()):
        if field_name in own or not field_name.startswith("patient."):
            continue
        outs = [o for o in guess.source.split(" + ") if o in plan.tables_of]
        strangers = sorted({plan.tables_of[o] for o in outs} - patient_tables)
        kept = _without_strangers(guess, {o for o in outs if plan.tables_of[o] not in patient_tables})
        if strangers and kept is not None:
            placed[field_name] = kept  # a fallback read from another table's copy: the others stand
        elif strangers:
            del placed[field_name]
            refused[field_name] = (f"{guess.source!r} is a column of table {strangers[0]!r}, not of the patient's "
                                   "tables")
        elif field_name == "patient.external_id" and guess.source in plan.main.columns:
            weak = weak_reason(run, plan, guess.source, kind_of(guess.source) == "patient")
            if weak is not None:
                del placed[field_name]
                before = refused.get(field_name)
                refused[field_name] = f"{before}; {weak}" if before else f"no column names the patient: {weak}"
    key = plan.versions[0] if plan.versions is not None else plan.main.key
    current = placed.get("external_id")
    if plan.versions is not None and (current is None or current.source != key):
        stable = plan.versions[0]
        placed["external_id"] = Guess("external_id", stable, 0.95, f"the stable id {stable!r} the table's rows are "
                                      "versions of (the version in force is read)", {"from": stable})
    elif key is not None and (current is None or current.source != key):
        over = f" over {current.source!r} (a number made up beside it)" \
            if current is not None and not current.why.startswith(NO_VISIT_ID) else ""
        placed["external_id"] = Guess("external_id", key, 0.95, f"the table's primary key{over}", {"from": key})
    for field_name, reason in refused.items():
        if field_name not in placed:
            notes.append(f"{field_name}: {LEFT_OUT}: {reason}; map it by hand if the source has it")
    if "patient.external_id" not in placed:  # the engine reads no patient field without the patient's id
        for field_name in [f for f in placed if f.startswith("patient.")]:
            del placed[field_name]
    order = [g.field for g in scored_guesses] + [g.field for g in people.guesses if g.field not in
                                                 {s.field for s in scored_guesses}]
    guesses = [placed[f] for f in dict.fromkeys(["external_id", *order]) if f in placed]
    sources = {o for g in guesses for o in re.split(r" \+ ", g.source)}
    return guesses, [o for o in plan.select if o not in sources]


def _identify(run: Any, savepoint: Callable[[], Any], plan: ReadPlan, sample: dict[str, list[Any]],
              guesses: list[Guess], notes: list[str], references: set[str]) -> tuple[list[Guess], list[str]]:
    """The visit's id for a table with no one-column primary key: a column or a pair proven
    unique (identity.py), which the proposal names; else the scorer's reading is kept and the
    proposal says that no column makes one (a visit may then be merged into another)."""
    def counted(sql: str) -> list[tuple[Any, ...]]:
        """A count over the whole table, or no row when the database refuses it or runs out of
        time (inside a savepoint: PostgreSQL's transaction stays usable)."""
        try:
            with savepoint():
                return list(run(sql))
        except SQLAlchemyError:
            return []

    current = next((g for g in guesses if g.field == "external_id"), None)
    preferred = current.source.split(" + ") if current is not None else []
    found = find_identity(counted, plan.main, plan.quote, sample, preferred, references)
    kept = list(guesses)
    if found is None:
        notes.append(f"external_id: table {plan.main.name!r} has no primary key and no column or pair of columns "
                     "is unique over its rows: visits that share the id read are merged; give the table a key or "
                     "map a unique column by hand")
    else:
        columns = list(found.columns)
        spec: dict[str, Any] = {"from": columns[0]} if len(columns) == 1 else {"concat": columns}
        kept = [Guess("external_id", " + ".join(columns), 0.9, found.why, spec),
                *(g for g in guesses if g.field != "external_id")]
        if len(columns) > 1:
            named = " and ".join(map(repr, columns))
            said = f"has the primary key {named}" if list(plan.main.primary_key) == columns else \
                f"has no primary key; the columns {named} make one"
            notes.append(f"external_id: table {plan.main.name!r} {said} (read together, with a space between)")
    used = {c for g in kept for c in g.source.split(" + ")}
    return kept, [o for o in plan.select if o not in used]


def _shape_proposal(connection: Connection, inspector: Any, names: Sequence[str], name: str, url: str,
                    timezone: str | None, wanted: str | None, sample_rows: int,
                    region: str | None = None, views: Sequence[str] = ()) -> Proposal:
    def run(sql: str) -> list[tuple[Any, ...]]:
        return run_checked(connection, sql)

    schema = keyed_views(read_schema(inspector, names, views), views, run, lambda n: quote_name(connection, n))
    raw = icalfind.raw_reader(connection)
    events = icalfind.find(schema, raw, lambda n: quote_name(connection, n), wanted, connection.dialect.name)
    if events is not None:  # visits kept as iCalendar text: read by their values, not by the shape
        folders = icalfolders.find(schema, events, raw, lambda n: quote_name(connection, n), connection.dialect.name)
        calendar_owner = None if folders is not None else icalowner.follow(
            schema, events, raw, lambda n: quote_name(connection, n), connection.dialect.name) \
            or icalusers.follow(schema, events, raw, lambda n: quote_name(connection, n), connection.dialect.name)
        return icalvisits.proposal(connection, events, calendar_owner, name, url, timezone, folders)

    def filled(table: Table, columns: list[str]) -> set[str] | None:
        """None for a table without rows, else which of ``columns`` hold a value in its first rows.
        A 0 is no value (PHP writes it for "none": a participant row's recurrence date, 0 but on a
        reply for one occurrence), and a column 0 on most rows holds no date."""
        listed = ", ".join(quote_name(connection, c) for c in columns) or "1"
        rows = run(first_rows(f"SELECT {listed} FROM {quote_name(connection, table.name)}", FIRST_ROWS,
                              connection.dialect.name))
        if not rows:
            return None
        return {c for at, c in enumerate(columns) if any(row[at] is not None for row in rows)
                and 2 * sum(str(row[at]).strip() in ("0", "") for row in rows) <= len(rows)}

    try:  # a participant's typed id first (typedrefs.py): as a whole it names no one table
        with connection.begin_nested():
            schema.learn(typed_references(schema, run, lambda n: quote_name(connection, n), connection.dialect.name,
                                          mixed=connection.dialect.name in ("mysql", "mariadb", "sqlite")))
    except SQLAlchemyError:
        pass  # a type or id column the reads could not compare: the references found otherwise stand
    try:  # a polymorphic id column, type by type (polytypes.py): as a whole it names no one table
        with connection.begin_nested():
            schema.learn(polymorphic_references(schema, run, lambda n: quote_name(connection, n),
                                                connection.dialect.name,
                                                mixed=connection.dialect.name in ("mysql", "mariadb", "sqlite")))
    except SQLAlchemyError:
        pass  # a type or id column the reads could not compare: the references found otherwise stand
    try:  # references kept without a declared key (a text UID column): found by their values
        with connection.begin_nested():
            schema.learn(value_references(schema, run, lambda n: quote_name(connection, n), connection.dialect.name,
                                          mixed=connection.dialect.name in ("mysql", "mariadb", "sqlite")))
            schema.learn(role_references(schema, run, lambda n: quote_name(connection, n)))
    except SQLAlchemyError:
        pass  # an odd column type the reads could not compare: the declared and named references stand
    region_code = region or region_of(timezone)
    if wanted is None:  # a visit's fields kept as key/value rows, unless a table of its own with rows is named so
        try:  # a read the database refuses (an odd type) leaves the schema to be read by its columns
            with connection.begin_nested():
                as_rows = metarows.visit_rows(schema, run, lambda n: quote_name(connection, n))
        except SQLAlchemyError:
            as_rows = None
        rival = BOOKING_NAMES if as_rows is not None and as_rows.named else APPOINTMENT_NAMES
        if as_rows is not None and not any(rival.search(t.name) and own_dates(t) and filled(t, []) is not None
                                           for t in schema.tables.values()):
            return metavisits.proposal(connection, as_rows, name, url, timezone, region_code)
    today = datetime.now(UTC).date()

    def ahead(table: Table) -> bool | None:
        """Its own dates ahead, else those of the slot it books (a booking's visit times) or, for
        a row with a time of day and no day, of the rows it belongs to (its session's day)."""
        parents = [schema.tables[r.target] for r in schema.refs(table.name)
                   if r.target != table.name and r.target in schema.tables and not audit(r.column)] \
            if daysahead.day_elsewhere(table) else []
        with connection.begin_nested():
            told = [daysahead.holds_days_ahead(run, lambda n: quote_name(connection, n), t, date_columns(t), today)
                    for t in [table, *slottime.booked_tables(table, schema), *parents]]
        return True if any(told) else False if False in told else None

    main = pick_table(schema, wanted, filled, ahead)

    learn_text_references(schema, run, lambda n: quote_name(connection, n), main, region_code, connection.begin_nested,
                          connection.dialect.name)
    learn_head_references(schema, run, lambda n: quote_name(connection, n), main, connection.begin_nested,
                          connection.dialect.name)
    gone = softdelete.flag(main, connection.dialect.name)
    stamp = softdelete.stamp_beside(main, gone)
    order = main.key or next(iter(main.columns))
    removed = removedstatus.removed_filter(run, schema, main, lambda n: quote_name(connection, n),
                                           connection.dialect.name)
    if removed is None:
        try:
            with connection.begin_nested():
                removed = removedstatus.removed_words(run, main, lambda n: quote_name(connection, n))
        except SQLAlchemyError:  # a column type the server will not lower-case: nothing is read from it
            removed = None
    model = templaterows.left_out(run, lambda n: quote_name(connection, n), main, connection.dialect.name)
    models = [model[0]] if model is not None else []  # a series' template row is no visit (templaterows.py)
    try:  # a row that is another row's add-on within its booking is no visit (addonrows.py)
        with connection.begin_nested():
            addons = addonrows.left_out(run, lambda n: quote_name(connection, n), schema, main)
    except SQLAlchemyError:  # a column the server will not compare with the key: no rows are left out
        addons = None
    models += [addons.kept] if addons is not None else []
    failed = ""
    try:  # the main table's rows as versions of a stable id: the one in force is the visit (history.py)
        with connection.begin_nested():
            versioned = history.versioned_id(run, lambda n: quote_name(connection, n), schema, main)
    except SQLAlchemyError:
        versioned = None
    for follow in (True, False):
        plan = ReadPlan(main, lambda n: quote_name(connection, n), connection.dialect.name)
        plan.versions = (versioned[0].column, versioned[1]) if versioned is not None else None
        series = occurrences.find(schema, main, {t: date_columns(schema.tables[t]) for t in schema.tables})
        if series is not None:  # each occurrence of the event a visit (occurrences.py)
            series = occurrences.join(plan, series, date_columns(main))
        else:
            daterows.first_and_last(plan, schema, {t: date_columns(schema.tables[t]) for t in schema.tables})
        people = place_people(run, schema, plan, region_code, connection.begin_nested) if follow else People()
        _join_references(schema, plan, people, run)
        calendar = calendarowner.join(schema, plan, people) if follow else None  # no doctor (calendarowner.py)
        owners = softdelete.owners(plan, (schema.tables[t] for t in extension.owners(schema, main.name,
                                                                                    people.patient_tables)),
                                   people.persons)
        shared = softdelete.shared_row(plan, schema.tables, schema.refs(main.name))
        if shared is not None:
            owners.insert(0, shared)
        in_force = [versioned[1].format(a="a")] if versioned is not None else []
        kept = _standing(plan, (gone, stamp), owners, [*people.filters, *models, *(removed[:1] if removed else ()),
                                                       *in_force])
        try:
            with connection.begin_nested():
                rows = run_checked(connection, first_rows(plan.sql(kept) + f"\nORDER BY a.{plan.quote(order)} DESC",
                                                   sample_rows, connection.dialect.name))
            break
        except SQLAlchemyError as exc:
            if not follow:
                raise
            failed = (f"the read that follows the patient and doctor failed ({describe(exc)}): proposed without "
                      "it, from the appointment and the tables it refers to")
    if failed:
        people.notes.append(failed)
    if model is not None:
        people.notes.append(model[2])
    if addons is not None:
        people.notes.append(addons.note)
    outs = list(plan.select)
    mine = {o for g in people.guesses for o in g.source.split(" + ") if o not in main.columns} | \
        set(people.household.outs if people.household is not None else ())  # never the person's own phone
    left_out = {c for c in main.columns if audit(c) or c in people.handled} - {
        g.source for g in people.guesses} | {f.column for f in (gone, stamp) if f is not None} | \
        set(model[1:2] if model else ()) | ({addons.column} if addons is not None else set())
    prefixes = tuple(p for p in {main.prefix} | {schema.tables[t].prefix for t in set(plan.tables_of.values())} if p)
    copies = copied_columns(schema, main)  # a referred row's date or time copied on the visit's (copiedcolumns.py)
    samples = [ColumnSample(out, plan.types[out], [None if row[i] is None else str(row[i]) for row in rows],
                            plan.tables_of[out] if plan.tables_of[out] != main.name else copies.get(out), prefixes)
               for i, out in enumerate(outs) if out not in mine and out not in left_out]
    samples += formtext.placed(plan, samples)  # a form's fields kept as one text column (formtext.py)
    samples, translated = i18ntext.as_words(samples, region_code)  # labels kept by language (i18ntext.py)
    scored = score_columns(samples, region=region_code)
    notes: dict[str, str] = {"kind": "a database URL", "url": "the URL given"}
    extra_notes: list[str] = []
    guesses, unplaced = _merge(scored.guesses, people, plan, schema, run, extra_notes)
    guesses, unplaced = thinfallback.placed(run, connection.begin_nested, plan, kept, samples, guesses, unplaced,
                                            region_code, connection.dialect.name, extra_notes)
    if series is not None:
        guesses = occurrences.identify(series, plan, guesses)
        with connection.begin_nested():  # an occurrence's own status where it differs (occurrencestatus.py)
            occurrencestatus.placed(run, plan, series, guesses, extra_notes)
    if main.key is None:
        sample = {o: [row[i] for row in rows] for i, o in enumerate(outs)
                  if o in main.columns and plan.select[o] == f"a.{plan.quote(o)}"}
        guesses, unplaced = _identify(run, connection.begin_nested, plan, sample, guesses, extra_notes,
                                      {r.column for r in schema.refs(main.name)})
    texts = {o: [jsontext.as_text(r[i]) for r in rows] for i, o in enumerate(outs)}
    guesses, unplaced = fullerfirst.placed(guesses, scored.guesses, people.typed_rows, plan.select, texts, unplaced)
    guesses, unplaced, said = household.placed(guesses, unplaced, people.household, texts, region_code)
    extra_notes += said
    zero: list[str] = []
    patient_own = {o for o, t in plan.tables_of.items() if t == main.name or t in people.patient_tables}
    guesses, unplaced, json_columns, said = jsontext.placed(guesses, unplaced, texts, plan.types, region_code, zero,
                                                            patient_own)
    extra_notes += said + phptext.notes(guesses, unplaced, texts, patient_own)
    booking = None  # the booking a visit belongs to, when the visit's row is its person (bookingrow.py)
    if not any(g.field == "patient.external_id" for g in guesses):
        with connection.begin_nested():
            booking = bookingrow.find(run, schema, plan)
    if booking is not None:
        guesses, unplaced = bookingrow.patient(booking, plan, guesses, unplaced, extra_notes)
        booking = booking if any(g.field == "patient.external_id" for g in guesses) else None
    guesses, unplaced = calendarowner.placed(calendar, guesses, unplaced, extra_notes)
    with connection.begin_nested():  # what a person row bought (productrow.py)
        guesses, unplaced = productrow.placed(run, schema, plan, booking, guesses, unplaced, extra_notes)
    with connection.begin_nested():  # the zone kept as a settings row (settingzone.py)
        guesses = settingzone.placed(run, schema, plan, guesses, extra_notes)
    guesses, by_language = i18ntext.placed(guesses, translated)
    json_columns = [*json_columns, *(c for c in by_language if c not in json_columns)]
    for column in zero:
        plan.select[column] = f"NULLIF({plan.select[column]}, 0)"
    guesses, unplaced = with_default_length(guesses, unplaced, plan.tables_of, main.name)
    values = {s.name: s.values for s in samples}
    guesses, unplaced = defaultvalues.placed(defaultvalues.declared_defaults(main.defaults), plan, guesses,
                                             unplaced, values, extra_notes)
    guesses, unplaced = constantids.placed(guesses, unplaced, values, extra_notes)
    guesses, unplaced = clinic_zone(guesses, unplaced, values, extra_notes)
    guesses, unplaced = day_and_minutes(guesses, unplaced, plan.types, values, scored.notes)
    guesses, unplaced = digitdates.placed(guesses, unplaced, plan.types, values, scored.notes)
    guesses, unplaced = splitlength.placed(plan, guesses, unplaced, scored.notes)
    guesses, unplaced = slotpattern.placed(run, plan, guesses, unplaced, values, scored.notes)
    guesses, unplaced, flags = cancelflags.placed(run, plan, guesses, unplaced)
    if flags is None:  # the visit's own cancellation date (cancelstamps.py)
        guesses, unplaced, flags = cancelstamps.placed(run, plan, guesses, unplaced)
        if flags is not None and gone is not None and gone.column in flags.columns:  # the status, not a delete
            gone, stamp = stamp, None
            kept = _standing(plan, (gone,), owners, [*people.filters, *models])
    guesses, unplaced, done = doneflags.placed(run, plan, guesses, unplaced) if flags is None else (
        guesses, unplaced, None)
    cancel = flags is None and done is None and cancelstatus.applies(gone, guesses)
    approved = False
    if flags is None and done is None and not cancel:  # a 0/1 approval flag, no status placed (approvalflags.py)
        guesses, unplaced, approved = approvalflags.placed(plan, guesses, unplaced, values)
    if cancel and gone is not None:  # the flag is the status: the row is read, a deletion stamp still leaves it out
        guesses.append(cancelstatus.guess(plan, gone))
        gone, stamp = stamp, None
        kept = _standing(plan, (gone,), owners, [*people.filters, *models])
    if booking is not None and done is None and not approved:  # the booking's status (bookingrow.py)
        guesses = bookingrow.status(booking, plan, guesses, flags is not None or cancel, extra_notes)
    if flags is None and done is None and not cancel and not approved:  # on the visit's own child row
        guesses = childstatus.placed(run, schema, plan, guesses, extra_notes)
    by_field = {g.field: g for g in guesses}
    start = by_field.get("start")
    start_column = start.source if start is not None and start.source in plan.select else None
    dated = start_column is not None and bool(re.search(r"date|time", plan.types[start_column], re.I))
    connector: dict[str, Any] = {"name": name, "kind": "sql", "url": url}
    choose_cursor(plan, next((g for g in scored.guesses if g.field == "source_updated_at"), None), notes, connector,
            run, stamps.unstamped_sources(guesses, plan.tables_of, schema.tables, main.name), schema.tables)
    conditions = [f"{plan.select[start_column]} BETWEEN :window_start AND :window_end"] if dated and start_column \
        else []
    on_text = None  # a start kept as ISO text: the window compares it as text (textwindow.py)
    if start is not None and start_column is not None and not dated and start.spec == {"from": start_column} \
            and plan.select[start_column] == f"a.{plan.quote(start_column)}" \
            and re.search(r"char|text|string", plan.types[start_column], re.I):
        on_text = text_window(run, connection.dialect.name, plan.quote(main.name), start_column,
                              plan.select[start_column], values.get(start_column, []))
        extra_notes.append(on_text.note)
        if on_text.condition is not None:
            conditions, dated = [on_text.condition], True
    day = plan.day_window(start.spec.get("date") if start is not None else None)
    if not conditions and day is not None:
        conditions, dated, start_column = [day[1]], True, day[0]
    numbers = numberwindow.window(plan, start.spec, connection.dialect.name) if start is not None and \
        not conditions else None
    if numbers is not None:  # a start kept as numbers: Unix seconds, or a YYYYMMDD day and its clock
        conditions, dated, start_column = list(numbers.conditions), True, numbers.column
        if numbers.utc_binds:
            connector["window"] = {"timezone": "UTC"}
            notes["window"] = "the start is Unix seconds: the window's binds are UTC, made seconds"
    try:  # a series kept as one row with its rule as text (rrulerows.py); a read it cannot make leaves the rows
        with connection.begin_nested():
            series_rows = rrulerows.propose(run, connection.dialect.name, schema, main, plan, by_field, conditions)
    except SQLAlchemyError:
        series_rows = None
    if kept:
        conditions.append(kept)
    endless = endlesskinds.kind_filter(run, plan, by_field)  # to-dos beside the visits (endlesskinds.py)
    for left in (endless, jsonpatient.empty_filter(run, plan, guesses, json_columns),  # nobody invited
                 staffmeetings.staff_filter(run, plan, guesses, json_columns, schema.tables, people.patient_tables)):
        if left is not None:
            conditions.append(left[0])
            extra_notes.append(left[1])
    connector = {"name": name, "kind": "sql", "url": url, "query": plan.sql(" AND ".join(conditions)),
                 **{k: v for k, v in connector.items() if k not in ("name", "kind", "url")}}
    if json_columns:
        connector["json_columns"] = json_columns
        notes["json_columns"] = ("their text is JSON (objects, or lists of contacts): the patient's fields "
                                 "are read from their keys")
    joined = sorted({t for t in plan.tables_of.values() if t != main.name})
    notes["query"] = (f"table {main.name!r} (the most appointment-like: dates and references to "
                      f"{', '.join(joined) or 'no table'})"
                      + (f", in the window on {start_column!r}"
                         + (" (ISO text, compared as text)" if on_text is not None else "") if dated else
                         ", all rows: the start is not a date column, so no window can be applied")
                      + (f"; soft-deleted rows left out: {softdelete.describe(gone)}" if gone is not None else "")
                      + "".join(f"; {t} rows deleted: {softdelete.describe(o)}" for o, t, _ in owners)
                      + (f"; {removed[1]}" if removed else ""))
    zone_guess = by_field.get("timezone")
    try:
        zone_value = visits_zone(connection, timezone, zone_guess.source if zone_guess else None, notes)
    except DiscoverError:
        zone_value = None
        notes["timezone"] = "unknown: give the clinic's zone with --timezone"
    if zone_value:
        connector["timezone"] = zone_value
    if series_rows is not None:
        rrulerows.apply(series_rows, connector, notes, extra_notes,
                        zone_value or timezone or current_options().clinic_zone)
    status_words = all_status_words(connection, plan, kept, by_field.get("status"),
                                     flags.words([]) if flags is not None else
                                     done.words() if done is not None else
                                     cancelstatus.WORDS if cancel else
                                     approvalflags.WORDS if approved else scored.status_words)
    status_words = listed_statuses(connection, schema, plan, by_field.get("status"), status_words, extra_notes)
    status_source = by_field["status"].source if "status" in by_field else None
    status_words, said_initials = linkstatus.initials(status_words, status_source is not None and plan.tables_of.get(
        status_source, main.name) != main.name)  # a participant's PARTSTAT initial (linkstatus.py)
    if said_initials:
        extra_notes.append(said_initials)
    status_words = lettercodes.read(connection, plan, by_field.get("status"), status_words, kept, extra_notes)
    status_words, said_noun = ownnoun.read(status_words, main.name)
    if said_noun:
        extra_notes.append(said_noun)
    said_codes = numbercodes.note(by_field.get("status"), status_words)
    if said_codes is not None:
        extra_notes.append(said_codes)
    status_map = {w.value: w.status for w in status_words if w.status is not None}
    fields = {g.field: g.spec for g in guesses}
    mapping: dict[str, Any] = {"status_map": status_map, "fields": fields}
    formats = list(getattr(scored, "datetime_formats", None) or [])  # a scorer that reads local date texts
    if formats:
        mapping["datetime_formats"] = formats
    proposal = Proposal(kind="sql", name=name, product=None, product_confidence=0.0, connector=connector,
                        connector_notes=notes, mapping=mapping, guesses=guesses,
                        status_words=status_words, unplaced=unplaced)
    fallback = by_field.get("external_id") is not None and by_field["external_id"].why.startswith(NO_VISIT_ID)
    proposal.notes.extend(n for n in getattr(scored, "notes", None) or []  # the id placed: no note saying none is
                          if (fallback or not n.startswith(NO_VISIT_ID)) and left_out_stands(n, by_field))
    status_guess = by_field.get("status")
    rule = successor_rule(run, lambda n: quote_name(connection, n), schema, main,
                          plan.select.get(status_guess.source) if status_guess is not None else None, status_words)
    if rule is not None:  # a move keeps the old row and books a new row naming it: one moved visit
        column, words = rule
        fields["replaces"] = {"from": column}
        status_map.update(dict.fromkeys(words, "cancelled"))
        proposal.status_words = [StatusWord(w.value, "cancelled", w.count, 0.8) if w.value in words else w
                                 for w in status_words]
        proposal.unplaced = [u for u in unplaced if u != column]
        proposal.notes.append(successor_note(column, words))
    else:
        creation_successors(run, connection.dialect.name, plan, proposal, by_field, " AND ".join(conditions))
    moved = rescheduled_note(proposal.status_words)
    if moved is not None:
        proposal.notes.append(moved)
    proposal.notes.extend(people.notes)
    proposal.notes.extend(extra_notes)
    if gone is not None:
        deleted_when = "; ".join(softdelete.describe(f) for f in (gone, stamp) if f is not None)
        proposal.notes.append(f"soft-deleted appointments are left out of the query ({deleted_when}); "
                              "one deleted after it was imported is found by the delete sweep")
    for owner, owner_table, _ in owners:
        if shared is not None and owner_table == shared[1]:
            proposal.notes.append(f"appointments whose {owner_table} row (the same key: the record's shared row) "
                                  f"is deleted are left out of the query ({softdelete.describe(owner)})")
            continue
        proposal.notes.append(f"visits of a deleted {owner_table} row are left out of the query "
                              f"({softdelete.describe(owner)}): its patient is not reminded")
    if "timezone" not in connector and zone_guess is None:
        proposal.notes.append("no zone was found: the connector uses clinic.timezone (or give --timezone)")
    proposal.notes.append(f"unknown schema: read by its shape from table {main.name!r} and {len(rows)} sampled rows")
    assert proposal.mapping is not None
    keep = minimalread.used(proposal.mapping["fields"], proposal.connector) | ({gone.column} if gone else set())
    dropped = minimalread.prune(plan, keep)
    if dropped:  # the whole read stays until the clock is settled: its stamps are evidence (discover_sql)
        proposal.minimal_query = plan.sql(" AND ".join(conditions))
        proposal.notes.append(minimalread.note(dropped))
    return proposal

