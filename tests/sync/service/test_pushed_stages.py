"""A service whose sources only push (REST API here) still runs the stages after each push
(the `stages` job, every minute when a source pushes):
without a poll job, nothing else would put a pushed appointment in the doctor's calendar or
plan its reminders (noticed in issue 30's review: `run --serve` with only push sources)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from clinicsync.connectors.rest_api import key_digest
from clinicsync.sync.config.settings import Settings, load_settings
from clinicsync.sync.server.app import create_app
from clinicsync.sync.service.jobs import (
    PUSHED_STAGES_EVERY,
    STAGES,
    STAGES_EVERY,
    PeriodicJob,
    ServiceContext,
    ServiceOptions,
    collect_jobs,
    stages_jobs,
)
from clinicsync.sync.store.model.reminders import REMINDERS
from clinicsync.sync.store.store import Store

KEY = "csk_test-pushonly-0123456789abcdefghijklmnopq"
BOOKING = {"id": "B-1", "status": "booked", "start": "2030-03-12T09:30:00-04:00", "duration_minutes": 30,
           "timezone": "America/New_York", "patient": {"id": "P-1", "phone": "(212) 555-0101"},
           "practitioner": {"id": "D-1", "name": "Dr. Hart", "email": "hart@clinic.example.org"}}


def _settings(write_settings: Callable[..., Path], tmp_path: Path, extra: str = "") -> Settings:
    return load_settings(write_settings(connectors=f"""
- name: website
  kind: rest_api
  api_keys: [{{name: site, sha256: {key_digest(KEY)}}}]
{extra}""", extra=f"""
calendar:
  provider: ics
  ics: {{directory: {tmp_path / "ics"}}}
"""))


def test_a_service_with_only_push_sources_runs_the_stages_every_minute(write_settings, store: Store,  # type: ignore[no-untyped-def]
                                                                        tmp_path: Path) -> None:
    settings = _settings(write_settings, tmp_path)
    [job] = stages_jobs(ServiceContext(settings, store, ServiceOptions(serve=True)))
    assert isinstance(job, PeriodicJob) and (job.name, job.schedule) == (STAGES, PUSHED_STAGES_EVERY)
    assert STAGES in [j.name for j in collect_jobs(ServiceContext(settings, store))]

    with TestClient(create_app(settings, store)) as client:
        response = client.post("/api/v1/appointments", json=BOOKING, headers={"Authorization": f"Bearer {KEY}"})
    assert response.status_code == 201
    with store.engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(REMINDERS)).scalar_one() == 0

    result = job.run(ServiceContext(settings, store))
    assert result is not None and not result["failed"], result
    with store.engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(REMINDERS)).scalar_one() > 0
    assert any((tmp_path / "ics").glob("*.ics")), "the pushed appointment reached no calendar"


def test_the_stages_wait_5_minutes_when_every_source_is_polled(write_settings, store: Store, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                               drop_dir: Path) -> None:
    """Polled sources ring the stages job when they store a change (tests/reliability/
    test_idle_sources.py); the schedule is only for what the stages do as time passes."""
    polled = f"""- name: emr
  kind: csv
  mapping: csv_default
  drop_dir: {drop_dir}"""
    settings = _settings(write_settings, tmp_path, polled)
    [polled_only] = stages_jobs(ServiceContext(settings, store, ServiceOptions(connectors=("emr",))))
    assert isinstance(polled_only, PeriodicJob) and polled_only.schedule == STAGES_EVERY
    [both] = stages_jobs(ServiceContext(settings, store))
    assert isinstance(both, PeriodicJob) and both.schedule == PUSHED_STAGES_EVERY
    assert stages_jobs(ServiceContext(settings, store, ServiceOptions(connectors=("nothing",)))) == []
