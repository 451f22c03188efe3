"""The hl7v2 connector's drop folder, through `clinicsync sync --once`: fixture sequences
become the right events, out-of-order messages do not overwrite newer data, bad
messages are quarantined, S17 deletes, and files are read once and archived."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from clinicsync.connectors.hl7v2.files import Hl7v2Connector
from clinicsync.connectors.hl7v2.settings import Hl7v2Settings
from clinicsync.sync.store.model import Appointment, Event
from clinicsync.sync.store.store import Store
from tests.conftest import Cli, SettingsFactory
from tests.connectors.hl7v2_support import siu

A = Appointment.__table__.c  # type: ignore[attr-defined]
E = Event.__table__.c  # type: ignore[attr-defined]


@pytest.fixture
def runner(write_settings: SettingsFactory, cli: Callable[[Path | None], Cli], drop_dir: Path,
           tmp_path: Path, store: Store) -> Cli:
    """`clinicsync` on an hl7v2 drop folder, over the test's (migrated) store."""
    return cli(write_settings(f"""
        - name: siu-files
          kind: hl7v2
          timezone: America/Chicago
          drop_dir: {drop_dir}
          archive_dir: {tmp_path / "archive"}
          settle_seconds: 0
        """))


@pytest.fixture
def run(runner: Cli) -> Callable[[], dict[str, Any]]:
    def sync() -> dict[str, Any]:
        _, out, _ = runner("sync", "--once", "--json", expect=None)
        report: dict[str, Any] = json.loads(out)["connectors"]["siu-files"]
        return {k: v for k, v in report.items() if v}

    return sync


def kinds(store: Store, external_id: str = "36996") -> list[str]:
    with store.engine.connect() as connection:
        return list(connection.execute(
            select(E.kind).join(Appointment.__table__, A.id == E.appointment_id)  # type: ignore[attr-defined]
            .where(A.external_id == external_id).order_by(E.id)).scalars())


def stored(store: Store, external_id: str) -> Any:
    with store.engine.connect() as connection:
        return connection.execute(select(A).where(A.external_id == external_id)).one()


def drop(drop_dir: Path, shared_fixtures: Path, name: str, as_file: str) -> None:
    shutil.copyfile(shared_fixtures / "hl7" / f"{name}.hl7", drop_dir / as_file)


def test_a_fixture_sequence_becomes_events_and_a_late_cancellation_is_ignored(
        run: Callable[[], dict[str, Any]], store: Store, drop_dir: Path, shared_fixtures: Path,
        tmp_path: Path) -> None:
    drop(drop_dir, shared_fixtures, "ms_fhirconverter_siu_s12_02", "1-booked.hl7")
    drop(drop_dir, shared_fixtures, "ms_fhirconverter_siu_s14_02", "2-room-changed.hl7")
    drop(drop_dir, shared_fixtures, "ms_fhirconverter_siu_s13_02", "3-moved.hl7")
    # Sent 08-18 10:30, an hour before the reschedule (11:30) that was stored already.
    drop(drop_dir, shared_fixtures, "ms_fhirconverter_siu_s15_02", "4-late-cancel.hl7")
    assert run() == {"fetched": 4, "created": 1, "updated": 1, "rescheduled": 1, "unchanged": 1}
    assert kinds(store) == ["created", "updated", "rescheduled"]
    row = stored(store, "36996")
    assert row.status == "booked" and row.start_utc.isoformat() == "2021-08-20T09:15:00+00:00"
    assert row.location_ref == "LabUnit101 Lab Room 01 GHH Hospital"
    assert sorted(p.name for p in (tmp_path / "archive").iterdir()) == [
        "1-booked.hl7", "2-room-changed.hl7", "3-moved.hl7", "4-late-cancel.hl7"]
    assert list(drop_dir.iterdir()) == []
    assert run() == {}  # nothing new


def test_cancellation_then_no_show_fixture_events(run: Callable[[], dict[str, Any]], store: Store,
                                                  drop_dir: Path, shared_fixtures: Path) -> None:
    for number, name in enumerate(["s12_01", "s14_01", "s15_01", "s26_01"], start=1):
        drop(drop_dir, shared_fixtures, f"ms_fhirconverter_siu_{name}", f"{number}.hl7")
    assert run() == {"fetched": 4, "created": 1, "updated": 1, "cancelled": 1, "noshow": 1}
    assert kinds(store) == ["created", "updated", "cancelled", "noshow"]
    assert stored(store, "36996").status == "noshow"


def test_messages_of_one_file_collapse_to_the_newest(run: Callable[[], dict[str, Any]], store: Store,
                                                     drop_dir: Path, shared_fixtures: Path) -> None:
    names = ["s12_02", "s14_02", "s13_02", "s15_02"]
    text = b"".join((shared_fixtures / "hl7" / f"ms_fhirconverter_siu_{n}.hl7").read_bytes() for n in names)
    (drop_dir / "day.hl7").write_bytes(text)
    assert run() == {"fetched": 4, "created": 1, "unchanged": 3}
    assert kinds(store) == ["created"]
    row = stored(store, "36996")
    assert row.status == "booked" and row.start_utc.isoformat() == "2021-08-20T09:15:00+00:00"


def test_a_batch_file_with_lf_endings_envelopes_bad_messages_and_a_deletion(
        run: Callable[[], dict[str, Any]], store: Store, drop_dir: Path) -> None:
    (drop_dir / "a.hl7").write_text(siu("S12", "1", "20300301080000", appointment="A1")
                                    + siu("S12", "2", "20300301080000", appointment="A2"), newline="")
    assert run() == {"fetched": 2, "created": 2}
    batch = "".join([
        "FHS|^~\\&|EPIC\rBHS|^~\\&|EPIC\r",
        "this line is no HL7\r",  # before any MSH: a chunk of its own, rejected
        siu("S17", "3", "20300302080000", appointment="A1"),
        "MSH|^~\\&|EPIC|HOSP|||20300302||ADT^A08|4|P|2.5\rPID|1||P1\r",
        siu("S23", "5", "20300302080000", appointment="SLOT9"),  # a blocked slot: not an appointment
        siu("S13", "6", "20300302080000", appointment="A2", start="203003051400", timing="SCH11"),
        siu("S12", "7", "20300302080000", appointment="A3", timing="none"),  # no start: quarantined
        "BTS|5\rFTS|1\r",
    ]).replace("\r", "\n")
    (drop_dir / "b.hl7").write_text(batch, newline="")
    assert run() == {"fetched": 5, "deleted": 1, "rescheduled": 1, "quarantined": 3}
    assert kinds(store, "A1") == ["created", "deleted"]
    assert stored(store, "A1").deleted_at is not None
    assert kinds(store, "A2") == ["created", "rescheduled"]
    assert stored(store, "A2").start_utc.isoformat() == "2030-03-05T20:00:00+00:00"  # 14:00 Chicago (CST)
    with store.engine.connect() as connection:
        assert connection.execute(select(A.id).where(A.external_id.in_(["SLOT9", "A3"]))).first() is None


def test_quarantine_names_position_and_reason(run: Callable[[], dict[str, Any]], runner: Cli,
                                              drop_dir: Path) -> None:
    (drop_dir / "b.hl7").write_text("junk\r" + siu("S12", "7", "20300302080000", appointment="A3", timing="none"),
                                    newline="")
    run()
    _, out, _ = runner("quarantine", "list", "--all", "--json")
    entries = sorted((e["position"], e["field"], e["reason"], e["record_id"]) for e in json.loads(out)["items"])
    assert entries == [
        ("b.hl7#1", None, "not an HL7 v2 message (it does not start with an MSH segment)", None),
        ("b.hl7#2 MSH-10=7", "start", "missing (required)", "A3"),
    ]


def test_a_crash_mid_file_resumes_after_the_last_stored_batch(drop_dir: Path) -> None:
    settings = Hl7v2Settings(name="siu", drop_dir=drop_dir, settle_seconds=0, batch_size=2)
    (drop_dir / "day.hl7").write_text("".join(siu("S12", str(n), "20300301", appointment=f"A{n}")
                                              for n in range(1, 6)), newline="")
    first = next(iter(Hl7v2Connector(settings).fetch(None)))  # stored, then the process died
    assert [r.data["control_id"] for r in first.records] == ["1", "2"]
    resumed = list(Hl7v2Connector(settings).fetch(first.cursor))
    assert [r.data["control_id"] for b in resumed for r in b.records] == ["3", "4", "5"]
    done = resumed[-1].cursor
    assert done is not None and done["current"] is None and [e[0] for e in done["done"].values()] == ["day.hl7"]
    assert list(Hl7v2Connector(settings).fetch(done)) == []


@pytest.mark.parametrize(("connector", "key", "problem"), [
    ("{name: x, kind: hl7v2}", "connectors[0]", "give `listen:` (MLLP), `drop_dir:` (batch files), or both"),
    ("{name: x, kind: hl7v2, listen: {allowed_senders: [clinic-pc]}}", "connectors[0].listen.allowed_senders",
     "'clinic-pc' is not an IP address or network"),
    ("{name: x, kind: hl7v2, timezone: Mars/Olympus, listen: {}}", "connectors[0].timezone",
     "unknown IANA time zone 'Mars/Olympus'"),
    ("{name: x, kind: hl7v2, delete_triggers: [A03], listen: {}}", "connectors[0].delete_triggers",
     "['A03'] are not SIU trigger events"),
    ("{name: x, kind: hl7v2, listen: {tls: {cert_file: nope.pem, key_file: nope.key}}}",
     "connectors[0].listen.tls.cert_file", "no such file"),
    ("{name: x, kind: hl7v2, listen: {port: 70000}}", "connectors[0].listen.port",
     "Input should be less than or equal to 65535"),
])
def test_bad_settings_name_the_key(write_settings: SettingsFactory, cli: Callable[[Path | None], Cli],
                                   connector: str, key: str, problem: str) -> None:
    config = write_settings(f"- {connector}\n")
    _, _, err = cli(config)("config", "validate", expect=2)
    text = " ".join(err.split())
    assert f"{key} (line 8): {problem}" in text
