"""Answers the source already has: a mapping's `answer:` (a desk confirmation) is recorded
as the appointment's answer through the reply path, stops the confirmation request, shows
in `appointments list`, is recorded once per version, and is never written back."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from clinicsync.mappings.engine import load_mapping
from clinicsync.sync.cli.demo import generate_rows
from clinicsync.sync.store.db import make_engine
from clinicsync.sync.store.model.responses import RESPONSES, WRITEBACKS
from tests.connectors.test_csv_drop import COLUMNS, TOMORROW, write_drop
from tests.sync.hash_support import PatientBefore

MAPPING = """\
name: desk
extends: csv_default
fields:
  answer: {from: confirmed, map: {Y: confirmed, N: declined, "?": null}}
"""
Run = Callable[..., tuple[int, str, str]]


def rows(first: int, answers: list[str]) -> list[dict[str, str]]:
    good = [{**r, "patient_channel": "email"} for r in generate_rows(TOMORROW, days=7)[:-6]
            if (r["end"] or r["duration_minutes"]) and r["patient_email"]]
    return [{**row, "status": "scheduled", "appointment_id": f"A{first + i}", "confirmed": answer}
            for i, (row, answer) in enumerate(zip(good, answers, strict=False))]


@pytest.mark.parametrize(("word", "answer"), [("Y", "accepted"), ("n", "declined"), ("?", None), ("", None)])
def test_the_answer_target_reads_confirmed_and_declined(word: str, answer: str | None, tmp_path: Path) -> None:
    path = tmp_path / "desk.yaml"
    path.write_text(MAPPING)
    mapping = load_mapping(str(path), "America/New_York", "US")
    [row] = rows(1, [word])
    assert mapping.apply(row).answer == answer


def test_an_unknown_answer_word_is_dropped_with_a_note_naming_the_field(tmp_path: Path) -> None:
    """An optional field (issue 18's rule): the appointment imports, the answer is left out
    and a data-quality note names the field, never the word (it may be free text)."""
    path = tmp_path / "desk.yaml"
    path.write_text("name: d\nextends: csv_default\nfields:\n  answer: {from: confirmed}\n")
    [row] = rows(1, ["maybe"])
    appointment = load_mapping(str(path), "UTC", "US").apply(row)
    assert appointment.answer is None
    assert [note.split(":")[0] for note in appointment.notes] == ["answer"]
    assert not any("maybe" in note for note in appointment.notes)


@pytest.fixture
def desk(tmp_path: Path, drop_dir: Path, write_settings: Callable[..., Path], cli: Any) -> Run:
    (tmp_path / "desk.yaml").write_text(MAPPING)
    run: Run = cli(write_settings(f"- name: desk\n  kind: csv\n  mapping: {tmp_path / 'desk.yaml'}\n"
                                  f"  drop_dir: {drop_dir}\n  settle_seconds: 0\n",
                                  extra=f"notifiers:\n  - {{name: outbox, kind: outbox, "
                                        f"directory: {tmp_path / 'out'}}}\n"))
    run("db", "upgrade")
    return run


def answers(run: Run) -> dict[str, str | None]:
    listed = json.loads(run("appointments", "list", "--all", "--json")[1])["items"]
    return {a["external_id"]: a["answer"] for a in listed}


def test_a_desk_confirmation_stops_the_confirmation_request(desk: Run, drop_dir: Path, store_url: str) -> None:
    write_drop(drop_dir, "1.csv", rows(1, [""]), columns=[*COLUMNS, "confirmed"])
    desk("sync", "--once")  # go-live: what exists is recorded
    write_drop(drop_dir, "2.csv", rows(10, ["Y", "", "N"]), columns=[*COLUMNS, "confirmed"])
    _, out, _ = desk("sync", "--once", "--json")
    assert json.loads(out)["source_answers"] == {"recorded": 2}
    assert answers(desk) | {"A1": None} == {"A1": None, "A10": "accepted", "A11": None, "A12": "declined"}
    # the confirmations are due now or, in quiet hours, at the morning's end: run at that moment,
    # whatever the time of day the suite runs
    planned = json.loads(desk("reminders", "list", "--all", "--json")[1])["items"]
    due = max(r["due_at"] for r in planned if r["kind"] == "confirmation")
    desk("remind", "--once", "--at", (datetime.fromisoformat(due) + timedelta(minutes=1)).isoformat())
    confirmations = {r["appointment"]: r for r in json.loads(desk("reminders", "list", "--all", "--json")[1])["items"]
                     if r["kind"] == "confirmation"}
    asked = {key.split(":")[-1]: r for key, r in confirmations.items()}
    outcome = {key: (r["status"], r["reason"]) for key, r in asked.items() if key != "A1"}
    assert outcome == {"A10": ("skipped", "already answered (accepted)"), "A11": ("sent", None),
                       "A12": ("skipped", "already answered (declined)")}
    # recorded once, through the reply path, from the connector, and never written back
    desk("sync", "--once")
    engine = make_engine(store_url)
    with engine.connect() as connection:
        recorded = connection.execute(select(RESPONSES.c.channel, RESPONSES.c.sender, RESPONSES.c.action)).all()
        writebacks = connection.execute(select(WRITEBACKS)).all()
    engine.dispose()
    assert sorted(recorded) == [("source", "desk", "confirm"), ("source", "desk", "decline")]
    assert writebacks == []


def test_an_appointment_without_an_answer_hashes_as_before_answers_existed() -> None:
    """Upgrading must not make every stored appointment look changed (an `updated` event,
    a calendar patch and a notice each): the hash is the one of the dataclass without `answer`."""
    from dataclasses import dataclass

    from clinicsync.common.hashing import content_hash
    from clinicsync.mappings.model import NormalizedAppointment, NormalizedPatient
    from clinicsync.sync.store.store import _appointment_hash

    @dataclass(frozen=True, slots=True)
    class Before:  # NormalizedAppointment as it was, field for field
        external_id: str
        status: str
        start: datetime
        end: datetime
        timezone: str
        type: str | None = None
        location: str | None = None
        patient: Any = None
        practitioner: Any = None
        source_updated_at: datetime | None = None

    start = datetime(2026, 3, 9, 14, 30, tzinfo=UTC)
    fields = ("A1", "booked", start, start + timedelta(minutes=30), "America/New_York", "Checkup", "Main",
              NormalizedPatient("P1", "Ann Lee", "+12015550100"), None, start)
    before = (*fields[:7], PatientBefore("P1", "Ann Lee", "+12015550100"), *fields[8:])
    assert _appointment_hash(NormalizedAppointment(*fields)) == content_hash(Before(*before))
    assert _appointment_hash(NormalizedAppointment(*fields, answer="accepted")) != content_hash(Before(*before))
