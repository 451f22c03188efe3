"""The written files are data, not text (issue 57, obs 7): whatever a schema's table and column
names or its status words hold — YAML and SQL metacharacters, line feed, CR, U+2028, U+2029,
NEL, tabs, a BOM, leading and trailing spaces — the mapping file and the connector block read
back (YAML load, and the project's own settings reader) to exactly what was proposed, and the
status_map has exactly the proposed entries: nothing ends a comment, adds a key or maps a status.

Two levels: proposals built directly (many examples, fast), and real discovery of an SQLite
database whose table, columns and status words are drawn the same way (fewer examples)."""

from __future__ import annotations

import json
import sqlite3
import tempfile
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from clinicsync.sync.config.config_loader import load_yaml_text
from clinicsync.sync.discover.proposal import Guess, Proposal, StatusWord
from clinicsync.sync.discover.sql import DiscoverError, discover_sql
from clinicsync.sync.discover.write import WriteRefused, mapping_text, settings_block, write_proposal

# The characters that have meaning to YAML, SQL or a line reader, and plain letters between them.
HOSTILE = (":", "#", "- ", "'", '"', "\\", "{", "}", "[", "]", "&", "*", "!", "|", ">", "%", "@", "`", ",", "?",
           "\n", "\r", "\r\n", "\u2028", "\u2029", "\u0085", "\t", "\ufeff", " ", "  ", "\x07", "---", "...",
           "booked: cancelled", "\n  cancelled: booked\n", "\u2028status_map: {x: y}", "yes", "null", "~", "0x1F",
           "é", "名")
pieces = st.one_of(st.sampled_from(HOSTILE), st.text(alphabet="abcXYZ019_", min_size=1, max_size=4))
hostile = st.lists(pieces, min_size=1, max_size=7).map("".join)
STATUSES = ["booked", "cancelled", "noshow", "pending", "arrived", "fulfilled"]


def _proposal(words: list[tuple[str, str | None, bool]], columns: list[str], table: str, notes: list[str]) -> Proposal:
    """A proposal as the SQL discoverer makes one, every source name and word drawn."""
    column_sql = ", ".join('"' + c.replace('"', '""') + '"' for c in columns)
    query = f'SELECT {column_sql}\nFROM "{table}"\nWHERE x BETWEEN :window_start AND :window_end'
    status_map = {value: status for value, status, in_map in words if in_map and status is not None}
    fields: dict[str, Any] = {"external_id": {"from": columns[0], "required": True}, "status": {"from": columns[-1]}}
    return Proposal(
        kind="sql", name="desk", product=None, product_confidence=0.0,
        connector={"name": "desk", "kind": "sql", "url": "postgresql://reader@db/pm", "query": query,
                   "mode": "incremental", "cursor_column": columns[-1], "timezone": "Europe/Madrid"},
        connector_notes={"query": f"table {table} joined with {columns[0]}", "cursor_column": columns[-1]},
        mapping={"status_map": status_map, "fields": fields},
        guesses=[Guess("external_id", columns[0], 0.9, f"primary key {columns[0]}", fields["external_id"]),
                 Guess("status", columns[-1], 0.7, f"name ~ {columns[-1]}", fields["status"]),
                 Guess("patient.phone", columns[0], 0.2, f"weak: {table}", {"from": columns[0]})],
        status_words=[StatusWord(value, status, 3, 0.5) for value, status, _ in words],
        unplaced=list(columns), notes=notes)


def _reads_back(proposal: Proposal, folder: Path) -> None:
    text = mapping_text(proposal)
    assert text is not None
    assert proposal.mapping is not None
    data = yaml.safe_load(text)
    assert data == {"name": proposal.name, **proposal.mapping}
    assert data["status_map"] == proposal.mapping["status_map"]  # exactly the proposed entries, no more
    assert all("\u2028" not in line and "\u0085" not in line for line in text.split("\n"))
    block = settings_block(proposal, "mappings/desk.yaml")
    assert yaml.safe_load(block) == [{**proposal.connector, "mapping": "mappings/desk.yaml"}]
    settings = folder / "settings.yaml"
    settings.write_text("clinic:\n  timezone: Europe/Madrid\nconnectors: []\n", encoding="utf-8")
    write_proposal(proposal, settings)
    on_disk = settings.read_text(encoding="utf-8")
    assert load_yaml_text(on_disk, "settings.yaml").data["connectors"] == [
        {**proposal.connector, "mapping": "mappings/desk.yaml"}]  # the project's own reader agrees
    assert yaml.safe_load((folder / "mappings" / "desk.yaml").read_text(encoding="utf-8")) == data


words_strategy = st.lists(st.tuples(hostile, st.one_of(st.none(), st.sampled_from(STATUSES)), st.booleans()),
                          min_size=1, max_size=6, unique_by=lambda w: w[0])


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(words=words_strategy, columns=st.lists(hostile, min_size=1, max_size=4, unique=True), table=hostile,
       notes=st.lists(hostile, max_size=2))
@example(words=[("x\u2028booked: cancelled", "booked", True), ("Booked\n  booked: cancelled", "booked", True)],
         columns=["id", "estado\n  # booked: cancelled"], table="citas\u2029", notes=["a\u0085b"])
def test_a_proposal_reads_back_exactly(words: list[tuple[str, str | None, bool]], columns: list[str], table: str,
                                       notes: list[str]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        _reads_back(_proposal(words, columns, table, notes), Path(folder))


def test_source_text_holding_an_environment_reference_is_refused(tmp_path: Path) -> None:
    """settings.yaml expands ${VAR} everywhere and has no escape: a column named so is refused,
    the key named, nothing written."""
    proposal = _proposal([("ok", "booked", True)], ["id", "${HOME}"], "citas", [])
    settings = tmp_path / "settings.yaml"
    settings.write_text("connectors: []\n", encoding="utf-8")
    try:
        write_proposal(proposal, settings)
    except WriteRefused as exc:
        assert "'query'" in str(exc) and "environment variable" in str(exc)
    else:
        raise AssertionError("a ${...} in a column name was written into settings.yaml")
    assert settings.read_text(encoding="utf-8") == "connectors: []\n"
    assert not (tmp_path / "mappings").exists()


# -- real discovery ----------------------------------------------------------------------------

def _database(path: Path, table: str, start: str, status: str, patient: str, extra: str,
              words: list[str]) -> None:
    def q(name: str) -> str:
        return '"' + name.replace('"', '""') + '"'

    connection = sqlite3.connect(path)
    connection.execute(f"CREATE TABLE {q(table)} (id INTEGER PRIMARY KEY, {q(start)} DATETIME, {q(status)} TEXT, "
                       f"{q(patient)} TEXT, {q(extra)} TEXT)")
    for index in range(12):
        connection.execute(f"INSERT INTO {q(table)} VALUES (?, ?, ?, ?, ?)",
                           (index + 1, f"2030-01-{index + 2:02d} 09:30:00", words[index % len(words)],
                            f"P{index % 4}", "x"))
    connection.commit()
    connection.close()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(table=hostile, names=st.lists(hostile, min_size=4, max_size=4, unique_by=str.lower),
       words=st.lists(hostile, min_size=1, max_size=4, unique=True))
@example(table="appointment\n  # x", names=["start\u2028x: y", "status\n#", "patient: 'a'", "`extra` [1]"],
         words=["Booked", "anulada\u2028booked: cancelled", "x\n  booked: cancelled"])
def test_discover_on_a_hostile_schema_writes_what_it_proposed(table: str, names: list[str],
                                                              words: list[str]) -> None:
    """The whole path: an SQLite database with drawn names and words, discovered for real."""
    names = [f"{prefix}{name}" for prefix, name in zip(("start", "status", "patient", "note"), names, strict=True)]
    with tempfile.TemporaryDirectory() as folder:
        base = Path(folder)
        _database(base / "src.db", "appointment" + table, *names, words=words)
        try:
            proposal = discover_sql(f"sqlite:///{base / 'src.db'}", name="desk", timezone="Europe/Madrid")
        except DiscoverError as exc:  # refused with its reason is allowed; never a crash nor a wrong file
            event("refused: " + str(exc))
            return
        event("status words proposed" if proposal.status_words else "no status column placed")
        _reads_back(proposal, base)


def test_a_name_that_is_a_path_is_refused(tmp_path: Path) -> None:
    settings = tmp_path / "settings.yaml"
    settings.write_text("connectors: []\n", encoding="utf-8")
    for name in ("../outside", "a/b", ".hidden", ""):
        proposal = _proposal([("ok", "booked", True)], ["id"], "citas", [])
        proposal.name = name
        proposal.connector["name"] = name
        try:
            write_proposal(proposal, settings)
        except WriteRefused as exc:
            assert "cannot name a mapping file" in str(exc)
        else:
            raise AssertionError(f"{name!r} was written")
    assert settings.read_text(encoding="utf-8") == "connectors: []\n"
    assert not (tmp_path.parent / "outside.yaml").exists() and not (tmp_path / "mappings").exists()


def test_colons_in_names_survive_discover_sync_and_the_delete_sweep(tmp_path: Path, cli: Any) -> None:
    """' :name' inside a quoted identifier is a bind parameter to SQLAlchemy's text(): the
    written query, the incremental cursor and the delete sweep's id listing escape it."""
    from datetime import date, timedelta

    from clinicsync.connectors.sql import SqlConnector
    from clinicsync.sync.config.settings import load_settings

    source = tmp_path / "desk.db"
    soon = date.today() + timedelta(days=5)
    with sqlite3.connect(source) as connection:
        connection.execute('CREATE TABLE appointments ("id :key" INTEGER PRIMARY KEY, "start :at" DATETIME, '
                           '"end" DATETIME, "status :word" TEXT, "updated :at" DATETIME)')
        connection.executemany("INSERT INTO appointments VALUES (?, ?, ?, 'booked', '2030-01-01 00:00:00')",
                               [(n, f"{soon} {9 + n}:00:00", f"{soon} {9 + n}:30:00") for n in range(1, 4)])
    settings = tmp_path / "settings.yaml"
    settings.write_text(f"clinic: {{timezone: Europe/Madrid}}\nstore: {{url: 'sqlite:///{tmp_path}/s.db'}}\n"
                        "connectors: []\n", encoding="utf-8")
    run = cli(settings)
    run("discover", f"sqlite:///{source}", "--name", "desk", "--timezone", "Europe/Madrid", "--write")
    connector_settings = load_settings(settings).connectors[0]
    assert (connector_settings.mode, connector_settings.cursor_column) == (  # type: ignore[attr-defined]
        "incremental", "updated :at")
    _, out, _ = run("sync", "--once", "--json")
    report = json.loads(out)["connectors"]["desk"]
    assert (report["error"], report["created"]) == (None, 3)
    connector = SqlConnector(connector_settings)
    connector.id_columns = ("id :key",)  # as sync/ingest/sweep.py sets them from the mapping
    try:
        listing = connector.list_ids()
    finally:
        connector.close()
    assert sorted(str(r["id :key"]) for r in listing.records) == ["1", "2", "3"]
