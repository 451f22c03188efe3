"""`sync --once`'s upkeep when due, not at every run (issue 60, sync/store/upkeep.py, sync/ingest/after_run.py).

Cron runs `sync --once` every few minutes: the run history's and the stages' pruning, forgetting
old patient data and the look for orphaned sources are done at most every UPKEEP_EVERY (an hour)
when they find nothing, by the time kept in the store's ``housekeeping``. A run soon after
another does none of them; one an hour later does each; forgetting is due at once when the
patient-data window moves (midnight UTC), so no visit is forgotten later than before, and after
a run that stored something; a pass that used its whole bound stays due; a renamed source is
looked for at once, and while an orphan exists every run warns."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert, select

from clinicsync.common.types import utcnow
from clinicsync.sync.config.settings import Settings, load_settings
from clinicsync.sync.ingest import after_run
from clinicsync.sync.ingest.after_run import retention_if_due, warn_orphans_if_due
from clinicsync.sync.ingest.engine import sync_once
from clinicsync.sync.ingest.orphans import Orphan
from clinicsync.sync.ingest.reports import RunReport
from clinicsync.sync.store import retention, upkeep
from clinicsync.sync.store.model import Appointment, Patient
from clinicsync.sync.store.store import Store
from clinicsync.sync.store.tables import HOUSEKEEPING
from tests.conftest import SettingsFactory

A = Appointment.__table__  # type: ignore[attr-defined]
P = Patient.__table__  # type: ignore[attr-defined]
# Noon of a day: the window's move at midnight is what a test puts a run across, on purpose.
NOON = utcnow().replace(hour=12, minute=0, second=0, microsecond=0)
KEEP = timedelta(days=365)  # store.patient_data_days' default


@pytest.fixture
def settings(tmp_path: Path, write_settings: SettingsFactory) -> Settings:
    (tmp_path / "emr").mkdir()
    return load_settings(write_settings(
        f"- name: emr\n  kind: csv\n  mapping: csv_default\n  drop_dir: {tmp_path / 'emr'}\n", extra=""))


def _visit(ext: str, end: Any) -> dict[str, Any]:
    start = end - timedelta(minutes=30)
    return {"connector": "emr", "external_id": ext, "status": "fulfilled", "start_utc": start, "end_utc": end,
            "timezone": "Europe/Berlin", "patient_ref": f"P-{ext}", "content_hash": f"hash-{ext}", "version": 1,
            "created_at": start - timedelta(days=7), "updated_at": start}


def _add_visits(store: Store, *visits: tuple[str, Any]) -> None:
    with store.engine.begin() as c:
        c.execute(insert(P), [{"connector": "emr", "external_id": f"P-{ext}", "name": "N", "content_hash": "h",
                               "updated_at": end} for ext, end in visits])
        c.execute(insert(A), [_visit(ext, end) for ext, end in visits])


def _forgotten(store: Store) -> set[str]:
    with store.engine.connect() as c:
        return set(c.execute(select(A.c.external_id).where(A.c.forgotten_at.is_not(None))).scalars())


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The upkeep parts run, in order (each still does its real work)."""
    done: list[str] = []
    for name in ("_prune_run_history", "_prune_stage_history", "_forget_patient_data", "warn_orphans"):
        real = getattr(after_run, name)

        def counted(*args: Any, _real: Any = real, _name: str = name, **kwargs: Any) -> Any:
            done.append(_name)
            return _real(*args, **kwargs)

        monkeypatch.setattr(after_run, name, counted)
    return done


def test_a_run_soon_after_another_does_no_upkeep_and_one_an_hour_later_does(
        store: Store, settings: Settings, calls: list[str]) -> None:
    retention_if_due(settings, store, NOON)
    assert calls == ["_prune_run_history", "_prune_stage_history", "_forget_patient_data"]
    for minutes in (5, 30, 59):  # cron's next runs: each a new process, the marks are in the store
        retention_if_due(settings, Store(store.engine), NOON + timedelta(minutes=minutes))
    assert len(calls) == 3
    retention_if_due(settings, Store(store.engine), NOON + upkeep.UPKEEP_EVERY)
    assert calls[3:] == ["_prune_run_history", "_prune_stage_history", "_forget_patient_data"]


def test_a_whole_sync_once_soon_after_another_skips_its_upkeep(store: Store, settings: Settings,
                                                               calls: list[str]) -> None:
    sync_once(settings, store)
    assert calls == ["warn_orphans", "_prune_run_history", "_prune_stage_history", "_forget_patient_data"]
    sync_once(settings, Store(store.engine))
    assert len(calls) == 4
    with store.engine.connect() as c:
        tasks = set(c.execute(select(HOUSEKEEPING.c.task)).scalars())
    assert {task.split(":")[0] for task in tasks} >= {"orphans", "runs", "stages", "forgotten", "zonerules"}


def test_forgetting_is_due_at_once_when_the_window_moves(store: Store, settings: Settings) -> None:
    """A visit whose 365 days are up is forgotten by the first run after midnight UTC, as at every
    run before: the window's move makes forgetting due, however recent the last pass."""
    midnight = (NOON + timedelta(days=1)).replace(hour=0)
    _add_visits(store, ("due-tonight", midnight - KEEP - timedelta(minutes=30)))
    retention_if_due(settings, store, midnight - timedelta(minutes=10))  # 23:50: still in the window
    assert _forgotten(store) == set()
    retention_if_due(settings, Store(store.engine), midnight + timedelta(minutes=5))  # 15 minutes later
    assert _forgotten(store) == {"due-tonight"}


def test_what_a_window_gains_later_waits_at_most_an_hour_unless_the_run_stored_it(
        store: Store, settings: Settings) -> None:
    """A visit past the window that a run stores (a source re-sending an old visit with its
    patient's details) is forgotten by that run, as before; one that arrives otherwise after the
    window's pass (a push, a reply) is forgotten at the first run an hour after that pass."""
    retention_if_due(settings, store, NOON)
    _add_visits(store, ("pushed-late", NOON - KEEP - timedelta(days=3)))
    retention_if_due(settings, Store(store.engine), NOON + timedelta(minutes=30))
    assert _forgotten(store) == set()
    retention_if_due(settings, Store(store.engine), NOON + upkeep.UPKEEP_EVERY)
    assert _forgotten(store) == {"pushed-late"}
    _add_visits(store, ("imported-late", NOON - KEEP - timedelta(days=3)))
    retention_if_due(settings, Store(store.engine), NOON + upkeep.UPKEEP_EVERY + timedelta(minutes=5), stored=True)
    assert _forgotten(store) == {"pushed-late", "imported-late"}


def test_a_pass_that_used_its_whole_bound_stays_due(store: Store, settings: Settings,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """A store catching up (more to forget than one pass may) goes on at the next run."""
    monkeypatch.setattr(retention, "FORGOTTEN_PER_CALL", 1)
    monkeypatch.setattr(after_run, "FORGOTTEN_PER_CALL", 1)
    _add_visits(store, ("old-1", NOON - KEEP - timedelta(days=3)), ("old-2", NOON - KEEP - timedelta(days=2)))
    retention_if_due(settings, store, NOON)
    assert _forgotten(store) == {"old-1"}
    retention_if_due(settings, Store(store.engine), NOON + timedelta(minutes=5))
    assert _forgotten(store) == {"old-1", "old-2"}
    retention_if_due(settings, Store(store.engine), NOON + timedelta(minutes=10))  # the last found less: done
    with store.engine.connect() as c:
        assert any(task.startswith("forgotten:") for task in c.execute(select(HOUSEKEEPING.c.task)).scalars())


def test_a_failed_part_stays_due(store: Store, settings: Settings, monkeypatch: pytest.MonkeyPatch,
                                 calls: list[str]) -> None:
    monkeypatch.setattr(after_run, "_prune_stage_history", lambda store, now=None: calls.append("failed") and None)
    retention_if_due(settings, store, NOON)
    retention_if_due(settings, Store(store.engine), NOON + timedelta(minutes=5))
    assert calls.count("failed") == 2 and calls.count("_prune_run_history") == 1


def test_orphans_are_looked_for_when_the_names_change_and_at_every_run_while_one_exists(
        store: Store, settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    found: list[list[Orphan]] = []
    answer: list[Orphan] = []
    monkeypatch.setattr(after_run, "warn_orphans", lambda settings, store, report: found.append(answer) or answer)
    warn_orphans_if_due(settings, store, RunReport("r"), NOON)
    warn_orphans_if_due(settings, store, RunReport("r"), NOON + timedelta(minutes=5))
    assert len(found) == 1  # none found: not again within the hour
    renamed = settings.model_copy(update={"connectors": [settings.connectors[0].model_copy(update={"name": "ehr"})]})
    warn_orphans_if_due(renamed, store, RunReport("r"), NOON + timedelta(minutes=10))
    assert len(found) == 2  # the settings name other sources: looked for at once
    answer.append(Orphan("emr", future_visits=3, pending_messages=1))
    warn_orphans_if_due(renamed, store, RunReport("r"), NOON + upkeep.UPKEEP_EVERY + timedelta(minutes=10))
    warn_orphans_if_due(renamed, store, RunReport("r"), NOON + upkeep.UPKEEP_EVERY + timedelta(minutes=15))
    assert len(found) == 4  # an orphan exists: every run warns, as before
    warn_orphans_if_due(settings, store, RunReport("r"), NOON + timedelta(minutes=20))
    assert len(found) == 5  # the first names again: their mark went when the names changed


def test_a_typo_fixed_within_the_hour_is_looked_at_again(
        store: Store, settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """The typo's run finds the old name orphaned; the name put back within the hour must be
    looked at again (its earlier "none found" no longer holds), or the orphan would stand."""
    found: list[str] = []
    orphaned = [Orphan("emr", future_visits=3, pending_messages=1)]

    def look(settings: Settings, store: Store, report: RunReport) -> list[Orphan]:
        found.append(settings.connectors[0].name)
        return [] if settings.connectors[0].name == "emr" else orphaned
    monkeypatch.setattr(after_run, "warn_orphans", look)
    typo = settings.model_copy(update={"connectors": [settings.connectors[0].model_copy(update={"name": "emrr"})]})
    assert settings.connectors[0].name == "emr"
    warn_orphans_if_due(settings, store, RunReport("r"), NOON)
    warn_orphans_if_due(typo, store, RunReport("r"), NOON + timedelta(minutes=5))
    warn_orphans_if_due(settings, store, RunReport("r"), NOON + timedelta(minutes=10))
    assert found == ["emr", "emrr", "emr"]


def test_a_clock_set_back_makes_a_task_due() -> None:
    assert upkeep.is_due(None, NOON)
    assert not upkeep.is_due(NOON, NOON + timedelta(minutes=59))
    assert upkeep.is_due(NOON, NOON + timedelta(minutes=60))
    assert upkeep.is_due(NOON, NOON - timedelta(minutes=1))
