"""The quarantine is a work list (DESIGN invariant 8): one open item per record and reason,
however often it is polled; it closes itself when the record imports; `retry` runs the
stored input through a fixed mapping; `resolve` dismisses. Driven through the CLI."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

HEADER = "appointment_id,start,duration_minutes,status,type,patient_id,patient_name,patient_phone\n"
DAY = (date.today() + timedelta(days=10)).isoformat()


def export(drop_dir: Path, n: int, bad_status: str = "Confirmd") -> None:
    """The clinic system's n-th snapshot export: two good rows and one with a typo'd status.
    The type of A1 changes between exports (as real exports differ), so each file is new."""
    (drop_dir / f"export-{n}.csv").write_text(
        HEADER
        + f"A1,{DAY} 09:00,30,booked,Visit {n},P1,Ana Ruiz,(212) 555-0101\n"
        + f"A2,{DAY} 10:00,30,{bad_status},Follow-up,P2,Ben Okafor,(212) 555-0102\n"
        + f"A3,{DAY} 11:00,30,booked,Follow-up,P3,Cy Tran,(212) 555-0103\n", encoding="utf-8")


@pytest.fixture
def mapping(tmp_path: Path) -> Path:
    path = tmp_path / "clinic_mapping.yaml"
    path.write_text("name: clinic\nextends: csv_default\n", encoding="utf-8")
    return path


@pytest.fixture
def run(drop_dir: Path, mapping: Path, write_settings: Callable[..., Path], cli: Any) -> Any:
    connector = (f"- name: frontdesk\n  kind: csv\n  mapping: {mapping}\n  drop_dir: {drop_dir}\n"
                 f"  archive_dir: {drop_dir / 'done'}\n  mode: snapshot\n  settle_seconds: 0\n")
    return cli(write_settings(connector))


def open_items(run: Any, *flags: str) -> list[dict[str, Any]]:
    _, out, _ = run("quarantine", "list", "--all", "--json", *flags)
    return list(json.loads(out)["items"])


def test_a_bad_row_polled_three_times_is_one_item_that_closes_when_fixed(run: Any, drop_dir: Path) -> None:
    for n in (1, 2, 3):
        export(drop_dir, n)
        _, out, _ = run("sync", "--once", "--json")
        assert json.loads(out)["connectors"]["frontdesk"]["quarantined"] == 1  # the run still says so
    [item] = open_items(run)
    assert (item["record_id"], item["field"], item["count"], item["status"]) == ("A2", "status", 3, "open")
    assert item["reason"].startswith("unknown status word 'Confirmd'")
    for name in ("Ben Okafor", "555-0102", "(212)"):
        assert name not in json.dumps(item)  # the list never shows patient data
    _, out, _ = run("status", "--json")
    assert json.loads(out)["connectors"][0]["quarantined"] == 1

    export(drop_dir, 4, bad_status="confirmed")  # fixed at the source
    _, out, _ = run("sync", "--once", "--json")
    assert json.loads(out)["connectors"]["frontdesk"]["created"] == 1
    assert open_items(run) == []
    [history] = open_items(run, "--history")
    assert (history["status"], history["resolution"], history["count"]) == ("resolved", "imported", 3)
    _, out, _ = run("status", "--json")
    assert json.loads(out)["connectors"][0]["quarantined"] == 0


# SQLite only: an unnamed row is matched by its print in Python and counted by the same
# sighting UPDATE as a named one (quarantine.sighted), which the first test runs on PostgreSQL.
@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_unnamed_bad_rows_of_a_daily_re_export_are_one_item_each_seen_again(run: Any, drop_dir: Path) -> None:
    """Rows without an id are known by what they say: the same three bad rows in each day's
    export (another file, other lines, other line ends) stay three items, counted again."""
    bad = [f",{DAY} 12:00,30,booked,Visit,P4,Di Moss,(212) 555-0104",  # no appointment id
           f"A8,{DAY} 13:00,30,booked",  # too few fields
           f'A9,{DAY} 14:00,30,booked,"Visit,P5,Ed Ng,(212) 555-0105']  # a quote never closed
    for day, ends in ((1, "\n"), (2, "\r\n"), (3, "\n")):
        good = [f"B{i},{DAY} 08:0{i},30,booked,Visit,P1,Ana Ruiz,(212) 555-0101" for i in range(day)]
        (drop_dir / f"export-{day}.csv").write_bytes(ends.join([HEADER.strip(), *good, *bad, ""]).encode())
        _, out, _ = run("sync", "--once", "--json")
        assert json.loads(out)["connectors"]["frontdesk"]["quarantined"] == 3
    items = open_items(run)
    assert sorted(item["count"] for item in items) == [3, 3, 3]
    # Each shows where it was seen last: the third export, below its three good rows.
    assert sorted(item["position"] for item in items) == ["export-3.csv:5", "export-3.csv:6", "export-3.csv:7"]
    [missing_id] = [item for item in items if item["field"] == "external_id"]
    assert missing_id["record_id"] is None and missing_id["retryable"] is True
    # A retry that fails the same way leaves the item open as it was (not closed as "another reason").
    _, out, _ = run("quarantine", "retry", str(missing_id["id"]), expect=None)
    assert "still failing" in out
    assert {(item["id"], item["status"], item["count"]) for item in open_items(run)} == {
        (item["id"], "open", 3) for item in items}


# SQLite only: a retry is the import the first test runs on PostgreSQL, then the plain
# UPDATE that closes an item (quarantine.close); no dialect branch.
@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_retry_after_a_mapping_fix_imports_the_stored_record(run: Any, drop_dir: Path, mapping: Path) -> None:
    export(drop_dir, 1)
    run("sync", "--once")
    [item] = open_items(run)
    _, out, _ = run("quarantine", "retry", str(item["id"]), expect=1)  # the mapping still refuses it
    assert "still failing" in out and "Confirmd" in out
    assert [i["count"] for i in open_items(run)] == [1]  # a retry is not a sighting

    mapping.write_text("name: clinic\nextends: csv_default\nstatus_map:\n  confirmd: booked\n", encoding="utf-8")
    _, out, _ = run("quarantine", "retry", "--all", "--json")
    assert json.loads(out) == [{"id": item["id"], "connector": "frontdesk", "result": "imported", "detail": None}]
    assert open_items(run) == []
    _, out, _ = run("appointments", "list", "--all", "--json")
    assert sorted(a["external_id"] for a in json.loads(out)["items"]) == ["A1", "A2", "A3"]
    export(drop_dir, 2)  # the source still says Confirmd, the mapping now knows it: nothing new opens
    run("sync", "--once")
    assert open_items(run) == []


# SQLite only: resolve is quarantine.close's plain UPDATE, read back by the listing.
@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_resolve_dismisses_and_an_unreadable_row_cannot_be_retried(run: Any, drop_dir: Path) -> None:
    (drop_dir / "export-1.csv").write_text(HEADER + f"A9,{DAY} 09:00,30,booked\n", encoding="utf-8")
    run("sync", "--once")
    [item] = open_items(run)
    assert "fields" in item["reason"] and item["retryable"] is False
    _, out, _ = run("quarantine", "retry", str(item["id"]), expect=1)
    assert "not retryable" in out
    _, out, _ = run("quarantine", "resolve", str(item["id"]))
    assert "dismissed" in out
    assert open_items(run) == []
    assert [i["status"] for i in open_items(run, "--history")] == ["dismissed"]
    run("quarantine", "resolve", str(item["id"]), expect=1)  # not open any more


def test_a_bad_row_gone_from_the_next_snapshot_leaves_nothing_to_fix(run: Any, drop_dir: Path) -> None:
    export(drop_dir, 1)
    run("sync", "--once")
    assert len(open_items(run)) == 1
    (drop_dir / "export-2.csv").write_text(  # the clinic deleted the bad booking
        HEADER + f"A1,{DAY} 09:00,30,booked,Visit,P1,Ana Ruiz,(212) 555-0101\n"
        + f"A3,{DAY} 11:00,30,booked,Follow-up,P3,Cy Tran,(212) 555-0103\n", encoding="utf-8")
    run("sync", "--once")
    assert open_items(run) == []
    assert [i["resolution"] for i in open_items(run, "--history")] == ["no longer in the source"]


# SQLite only: the same resolve_absent UPDATE as the named row's test above, which runs on PostgreSQL.
@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_an_unnamed_bad_row_gone_from_the_next_snapshot_leaves_nothing_to_fix(run: Any, drop_dir: Path) -> None:
    good = f"A1,{DAY} 09:00,30,booked,Visit,P1,Ana Ruiz,(212) 555-0101\n"
    (drop_dir / "export-1.csv").write_text(HEADER + good + f",{DAY} 12:00,30,booked,Visit,P4,Di Moss,\n"
                                           + f"A8,{DAY} 13:00\n", encoding="utf-8")
    run("sync", "--once")
    assert len(open_items(run)) == 2
    (drop_dir / "export-2.csv").write_text(  # the clinic gave the booking its id, and fixed the other
        HEADER + good + f"A7,{DAY} 12:00,30,booked,Visit,P4,Di Moss,\n"
        + f"A8,{DAY} 13:00,30,booked,Visit,P5,Ed Ng,\n", encoding="utf-8")
    _, out, _ = run("sync", "--once", "--json")
    assert json.loads(out)["connectors"]["frontdesk"]["created"] == 2
    assert open_items(run) == []
    assert [i["resolution"] for i in open_items(run, "--history")] == ["no longer in the source"] * 2
