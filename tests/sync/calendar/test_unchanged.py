"""Nothing is rendered again for an appointment whose inputs are those of its last push
(issue 32): the link keeps what its event was rendered from (``rendered_from``); a run with
nothing new renders nothing and writes nothing, and a change of the appointment, of what is
read with it (patient, doctor), of a template or of a setting that shapes an event renders
what it affects again."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from clinicsync.sync.calendar import links as link_store
from clinicsync.sync.calendar.desired import Renderer
from clinicsync.sync.config.settings.calendar import CalendarSettings
from clinicsync.sync.store.model import Appointment
from clinicsync.sync.store.model.calendar import LINKS
from clinicsync.sync.store.store import Store
from tests.sync.calendar.helpers import PATIENT, apply, appointment, base_time, moved, push_ics

pytestmark = pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
APPOINTMENTS = Appointment.__table__  # type: ignore[attr-defined]
OTHER = replace(PATIENT, external_id="P2", name="Ada Lovelace", phone="+12015550199", email="ada@mail.example.com")


def settings(tmp_path: Path, **overrides: Any) -> CalendarSettings:
    return CalendarSettings.model_validate({"provider": "ics", "ics": {"directory": "calendars"}, **overrides},
                                           context={"base_dir": tmp_path})


@pytest.fixture
def rendered(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The external ids of the appointments rendered, in order."""
    seen: list[str] = []
    content = Renderer.content

    def counting(self: Renderer, row: Any) -> Any:
        seen.append(row.external_id)
        return content(self, row)

    monkeypatch.setattr(Renderer, "content", counting)
    yield seen


def counts(**changed: int) -> dict[str, int]:
    return {"inserted": 0, "patched": 0, "deleted": 0, "unchanged": 0, "failed": 0, "skipped": 0, **changed}


def sources(store: Store) -> dict[str, str | None]:
    """Each link's ``rendered_from``, by its appointment's external id."""
    with store.engine.connect() as connection:
        return dict(connection.execute(select(APPOINTMENTS.c.external_id, LINKS.c.rendered_from)
                                       .join(APPOINTMENTS, APPOINTMENTS.c.id == LINKS.c.appointment_id)).all())


def three(store: Store) -> None:
    start = base_time()
    apply(store, appointment("A1", start), appointment("A2", moved(appointment("A2", start), 30).start),
          appointment("A3", start, patient=OTHER))


def test_a_run_with_nothing_new_renders_nothing(tmp_path: Path, store: Store, rendered: list[str]) -> None:
    calendar = settings(tmp_path)
    three(store)
    assert push_ics(calendar, store) == counts(inserted=3)
    assert sorted(rendered) == ["A1", "A2", "A3"] and all(sources(store).values())
    written = (tmp_path / "calendars").glob("*.ics")
    before = {path.name: path.read_bytes() for path in written}
    rendered.clear()
    assert push_ics(calendar, store) == counts(unchanged=3)
    assert rendered == []
    assert {path.name: path.read_bytes() for path in (tmp_path / "calendars").glob("*.ics")} == before


def test_a_run_with_nothing_new_compiles_no_template(tmp_path: Path, store: Store,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """The templates are compiled (jinja2 imported) on the first event rendered, not per pass:
    an idle cron run renders none, so it compiles none (issue 60); a change compiles them again."""
    from clinicsync.sync.calendar import desired

    compiled: list[str] = []
    real = desired._compiled_templates

    def counting(summary: str, description: str) -> Any:
        compiled.append(summary)
        return real(summary, description)

    monkeypatch.setattr(desired, "_compiled_templates", counting)
    calendar = settings(tmp_path)
    three(store)
    assert push_ics(calendar, store) == counts(inserted=3) and len(compiled) == 1  # once a pass, not per event
    assert push_ics(calendar, store) == counts(unchanged=3) and len(compiled) == 1
    apply(store, moved(appointment("A1", base_time()), 60))
    assert push_ics(calendar, store) == counts(patched=1, unchanged=2) and len(compiled) == 2


def test_a_moved_appointment_alone_is_rendered_again(tmp_path: Path, store: Store, rendered: list[str]) -> None:
    calendar = settings(tmp_path)
    three(store)
    push_ics(calendar, store)
    rendered.clear()
    apply(store, moved(appointment("A1"), 60))
    assert push_ics(calendar, store) == counts(patched=1, unchanged=2)
    assert rendered == ["A1"]
    rendered.clear()
    assert push_ics(calendar, store) == counts(unchanged=3) and rendered == []


def test_a_change_the_event_does_not_show_is_rendered_once_and_remembered(tmp_path: Path, store: Store,
                                                                          rendered: list[str]) -> None:
    calendar = settings(tmp_path)
    three(store)
    push_ics(calendar, store)
    first = sources(store)
    rendered.clear()
    # Another phone number: read with the appointment, not shown by the default templates.
    apply(store, appointment("A3", base_time(), patient=replace(OTHER, phone="+12015550142")))
    assert push_ics(calendar, store) == counts(unchanged=3)  # rendered, same content: nothing pushed
    assert rendered == ["A3"]
    now = sources(store)
    assert now["A3"] != first["A3"] and {**now, "A3": None} == {**first, "A3": None}
    rendered.clear()
    assert push_ics(calendar, store) == counts(unchanged=3) and rendered == []


def test_a_changed_template_or_setting_renders_every_event(tmp_path: Path, store: Store,
                                                           rendered: list[str]) -> None:
    three(store)
    push_ics(settings(tmp_path), store)
    rendered.clear()
    renamed = settings(tmp_path, summary="Visit: {{ type }}")
    assert push_ics(renamed, store) == counts(patched=3)
    assert sorted(rendered) == ["A1", "A2", "A3"]
    assert all("SUMMARY:Visit: Follow-up" in p.read_text() for p in (tmp_path / "calendars").glob("*.ics"))
    rendered.clear()
    assert push_ics(renamed, store) == counts(unchanged=3) and rendered == []
    # A setting no template names still shapes the event: rendered again, nothing to push here.
    kept = settings(tmp_path, summary="Visit: {{ type }}", cancelled_action="mark_cancelled")
    assert push_ics(kept, store) == counts(unchanged=3) and sorted(rendered) == ["A1", "A2", "A3"]


def test_a_forgotten_push_is_rendered_and_sent_again(tmp_path: Path, store: Store, rendered: list[str]) -> None:
    """reconcile --fix forgets what was pushed (links.force): the next run renders and sends it."""
    calendar = settings(tmp_path)
    three(store)
    push_ics(calendar, store)
    rendered.clear()
    with store.engine.connect() as connection:
        [a1_link] = connection.execute(
            select(LINKS.c.id).join(APPOINTMENTS, APPOINTMENTS.c.id == LINKS.c.appointment_id)
            .where(APPOINTMENTS.c.external_id == "A1")).scalars()
    link_store.force(store.engine, [a1_link])
    assert push_ics(calendar, store) == counts(patched=1, unchanged=2)
    assert rendered == ["A1"]
