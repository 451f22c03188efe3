"""The .ics provider on the store settles its links in the transaction that stores the events
(issue 32): a new event's link is written once, already present (no pending row, no outcome
update); a push that fails before its commit leaves neither the event nor its link, and the
next run writes each event once; a change updates the link in the same transaction."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, select

from clinicsync.sync.calendar import ics_state
from clinicsync.sync.config.settings.calendar import CalendarSettings
from clinicsync.sync.store.model.calendar import ICS_EVENTS, LINKS
from clinicsync.sync.store.store import Store
from tests.sync.calendar.helpers import apply, appointment, base_time, moved, push_ics

pytestmark = pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)


@pytest.fixture
def calendar(tmp_path: Path) -> CalendarSettings:
    return CalendarSettings.model_validate({"provider": "ics", "ics": {"directory": "calendars"}},
                                           context={"base_dir": tmp_path})


@pytest.fixture
def statements(store: Store) -> Iterator[list[str]]:
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(" ".join(statement.split()))

    event.listen(store.engine, "before_cursor_execute", record)
    yield seen
    event.remove(store.engine, "before_cursor_execute", record)


def links(store: Store) -> list[Any]:
    with store.engine.connect() as connection:
        return list(connection.execute(select(LINKS).order_by(LINKS.c.appointment_id)))


def test_a_first_push_writes_each_link_once_and_present(calendar: CalendarSettings, store: Store,
                                                        statements: list[str]) -> None:
    from datetime import timedelta

    apply(store, *(appointment(f"A{i}", start=base_time() + timedelta(hours=i)) for i in range(3)),
          appointment("B1", doctor="D02"))
    statements.clear()
    assert push_ics(calendar, store)["inserted"] == 4
    on_links = [s for s in statements if "calendarlink" in s.lower() and not s.upper().startswith("SELECT")]
    assert len(on_links) == 2 and all(s.upper().startswith("INSERT") for s in on_links)  # one per file
    assert [(row.state, row.attempts, row.pushed_hash is not None) for row in links(store)] == \
        [("present", 0, True)] * 4

    # A change: the link is updated in the same transaction as the event, and nothing else is sent.
    apply(store, moved(appointment("A0", start=base_time()), 60))
    statements.clear()
    assert push_ics(calendar, store)["patched"] == 1
    on_links = [s for s in statements if "calendarlink" in s.lower() and not s.upper().startswith("SELECT")]
    assert len(on_links) == 1 and on_links[0].upper().startswith("UPDATE")
    assert push_ics(calendar, store)["unchanged"] == 4


def test_a_push_that_fails_before_its_commit_leaves_nothing_and_is_redone(
        calendar: CalendarSettings, store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    apply(store, appointment("A1"), appointment("B1", doctor="D02"))
    write = ics_state.IcsState._write  # the writes of save and of a first push's insert_new alike

    def crash_after_the_links(self: ics_state.IcsState, connection: Any, calendar_id: str, new: Any, changed: Any,
                              now: Any, also: Any) -> None:
        if also is None:  # a file adopted (first use): not the push's write
            return write(self, connection, calendar_id, new, changed, now, also)

        def links_then_crash(connection: Any) -> None:
            also(connection)
            raise RuntimeError("power cut")

        return write(self, connection, calendar_id, new, changed, now, links_then_crash)

    monkeypatch.setattr(ics_state.IcsState, "_write", crash_after_the_links)
    with pytest.raises(RuntimeError):
        push_ics(calendar, store)
    assert links(store) == []
    with store.engine.connect() as connection:
        assert connection.execute(select(ICS_EVENTS)).first() is None
    monkeypatch.setattr(ics_state.IcsState, "_write", write)
    assert push_ics(calendar, store)["inserted"] == 2
    with store.engine.connect() as connection:
        assert len(connection.execute(select(ICS_EVENTS)).all()) == 2
    assert [row.state for row in links(store)] == ["present", "present"]
    assert push_ics(calendar, store)["unchanged"] == 2
