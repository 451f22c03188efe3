"""A practice added to a fleet's list is polled without a restart, one removed is no longer
claimed, and a bad list is refused while the members as read before keep being polled. The
service's poll pool on a simulated clock; the files are real."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path

from structlog.testing import capture_logs

from clinicsync.sync.config.settings import load_settings
from clinicsync.sync.service.jobs import (
    ServiceContext,
    collect_jobs,
    fleet_reload_job,
    polled_sources,
    store_connections,
)
from clinicsync.sync.service.polls import PollPool
from clinicsync.sync.store.store import Store
from tests.sync.service.test_polls import START, Clock, Recorder, _settle

SETTINGS = """\
clinic: {name: Lakeside Group, timezone: America/Chicago}
notifiers: []
fleets:
  - name: dental
    members: practices.csv
    connector:
      kind: sql
      url: postgresql://reader@db.example/{name}
      query: SELECT * FROM appointments
      mapping: clinic_tables
      cursor_column: updated_at
      schedule: {interval: 1m}
    site: {}
"""


def _members(tmp_path: Path, *names: str) -> None:
    (tmp_path / "practices.csv").write_text("name,label\n" + "".join(f"{n},{n.title()}\n" for n in names))


def test_a_member_added_to_the_list_is_polled_after_the_reload(store: Store, tmp_path: Path) -> None:
    (tmp_path / "settings.yaml").write_text(SETTINGS)
    _members(tmp_path, "north", "south")
    ctx = ServiceContext(load_settings(tmp_path / "settings.yaml", defer_secrets=True), store)
    jobs = collect_jobs(ctx)
    assert "fleets" in [job.name for job in jobs]
    assert store_connections(ctx, jobs) == 2 * (2 + 3) + 1  # 2 slots, stages, remind, settings: the look holds none
    clock = Clock()
    recorder = Recorder(clock)
    ctx.polls = pool = PollPool(store.engine, polled_sources(ctx), recorder.poller("w"), size=2, board=ctx.board,
                                stop=threading.Event(), clock=clock, worker="w")
    pool.start()
    try:
        _settle(pool)
        assert sorted(name for _, name, _ in recorder.polls) == ["north", "south"]
        assert fleet_reload_job(ctx) is None  # nothing changed

        _members(tmp_path, "north", "east")  # one row added, one removed
        assert fleet_reload_job(ctx) == {"added": ["east"], "removed": ["south"], "sources": 2}
        assert ctx.settings.clinic_for("east").name == "East" and "south" not in ctx.settings.sites
        assert fleet_reload_job(ctx) is None  # taken: not read again
        for step in range(1, 19):  # three minutes, looked at every 10 s
            clock.now = START + step * timedelta(seconds=10)
            _settle(pool)
        polled = [(name, at) for _, name, at in recorder.polls]
        assert ("east", START + timedelta(seconds=10)) in polled  # at the first look after the reload
        assert [at for name, at in polled if name == "south"] == [START]  # never again
        assert sum(name == "east" for name, _ in polled) >= 3 and sum(name == "north" for name, _ in polled) >= 4

        _members(tmp_path, "north", "east", "Bad Name")
        with capture_logs() as logs:
            assert fleet_reload_job(ctx) is None
            assert fleet_reload_job(ctx) is None
        refused = [entry for entry in logs if entry["event"] == "fleets.list_refused"]
        assert len(refused) == 1 and "practices.csv row 4, column name: 'Bad Name'" in refused[0]["problems"][0]
        assert sorted(pool.sources) == ["east", "north"]

        _members(tmp_path, "north", "east", "west")  # fixed, but settings.yaml was edited too: a restart's
        (tmp_path / "settings.yaml").write_text(SETTINGS.replace("1m", "2m"))
        with capture_logs() as logs:
            assert fleet_reload_job(ctx) is None
        assert [entry["event"] for entry in logs] == ["fleets.not_reloaded"]
        (tmp_path / "settings.yaml").write_text(SETTINGS)
        assert fleet_reload_job(ctx)["added"] == ["west"]  # type: ignore[index]
    finally:
        pool.stop.set()
        pool.close()
