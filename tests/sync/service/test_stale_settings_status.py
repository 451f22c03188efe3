"""The report, with the API main already had: `clinicsync run` loads its settings as
the CLI does, an admin edits settings.yaml and a ``*_file`` secret rotates, nobody restarts the
service; its jobs run on for an hour. On main nothing noticed: no job looked at the files and
`status` (read by a cron job's process, or the admin) had no stall. Now the service's own jobs
note it, and `status` names the process, the file and the fix."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import time_machine

from clinicsync.common.types import utcnow
from clinicsync.sync.config.settings import load_settings
from clinicsync.sync.service.jobs import PeriodicJob, ServiceContext, collect_jobs
from clinicsync.sync.store.store import Store


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)  # the PostgreSQL side: test_settings_watch.py
def test_an_edit_and_a_rotated_secret_not_applied_by_the_service_reach_status(
        write_settings: Callable[..., Path], store: Store, tmp_path: Path, cli: Any) -> None:
    secret = tmp_path / "secret_key"
    secret.write_text("k-old-3c1d9e0a7b5f2468\n", encoding="utf-8")
    path = write_settings(extra=f"server:\n  secret_key_file: {secret}\nreminders:\n  offsets: [24h]\n")
    ctx = ServiceContext(load_settings(path, defer_secrets=True), store)  # `clinicsync run` at start
    jobs = [job for job in collect_jobs(ctx) if isinstance(job, PeriodicJob)]
    for job in jobs:
        job.run(ctx)
    path.write_text(path.read_text(encoding="utf-8").replace("[24h]", "[48h]"), encoding="utf-8")
    secret.write_text("k-new-8e2f4a6b1c3d5079\n", encoding="utf-8")
    with time_machine.travel(utcnow() + timedelta(hours=1), tick=False):
        for job in jobs:  # the service's loop goes on
            job.run(ctx)
        _, out, _ = cli(path)("status", "--json")
    stalls = [s for s in json.loads(out)["stalls"] if s["kind"] == "settings_not_applied"]
    assert len(stalls) == 1, json.loads(out)["stalls"]
    assert str(path) in stalls[0]["detail"] and str(secret) in stalls[0]["detail"]
    assert "k-new" not in out and "k-old" not in out and "48h" not in out
