"""The files a service reads at each use, and cron runs' settings.

The first watch compared settings.yaml and the ``*_file`` secrets, read once at start. A
`clinicsync run` also reads, by itself and at each use, the message templates
(``reminders.templates``: a Renderer per dispatch, Jinja's mtime check at every message), each
connector's mapping file and its ``extends`` chain (at every poll) and the Google service-account
key (at every calendar run, when its stat moved). On main nothing looked at them: a template
edited on one host and not on the other, or a mapping changed, left no trace, and a cron job
(`sync --once`) on an old copy of settings.yaml beside the service on the new one was never
compared (only `run` processes noted their settings). Times are a fake clock; files are real."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import select
from structlog.testing import capture_logs

from clinicsync.common.types import utcnow
from clinicsync.mappings.engine import load_mapping
from clinicsync.sync.calendar.google import service_account_credentials
from clinicsync.sync.checks.stalls import Stall, find_stalls
from clinicsync.sync.config.settings import Settings, load_settings
from clinicsync.sync.reminders.render import Renderer
from clinicsync.sync.service.jobs import ServiceContext
from clinicsync.sync.store.store import Store
from clinicsync.sync.store.tables import SERVICE_PROCESSES

SMS = "{{ clinic }}: see you {{ short_date }} at {{ time }}. {{ opt_out }}\n"
DESK = "name: desk\nextends: csv_default\nfields:\n  location: {from: room}\n"


def service_key(folder: Path, name: str = "key.json") -> Path:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    path = folder / name
    path.write_text(
        json.dumps(
            {
                "type": "service_account",
                "project_id": "p",
                "private_key_id": "k1",
                "private_key": private.decode(),
                "client_email": "sync@p.iam.gserviceaccount.com",
                "client_id": "1",
                "token_uri": "http://127.0.0.1:9/token",
            }
        ),
        encoding="utf-8",
    )
    return path


@pytest.fixture
def site(write_settings: Callable[..., Path], tmp_path: Path) -> Path:
    """A clinic with its own SMS template, its own mapping (extending a preset) and Google."""
    (tmp_path / "templates" / "en").mkdir(parents=True)
    (tmp_path / "templates" / "en" / "reminder.sms.txt").write_text(SMS, encoding="utf-8")
    (tmp_path / "desk.yaml").write_text(DESK, encoding="utf-8")
    (tmp_path / "drop").mkdir()
    key = service_key(tmp_path)
    return write_settings(
        f"- {{name: desk, kind: csv, mapping: desk.yaml, drop_dir: {tmp_path / 'drop'}}}\n",
        extra=f"reminders:\n  templates: templates\ncalendar:\n  provider: google\n  google:\n    key_file: {key}\n",
    )


def settings_stalls(store: Store, settings: Settings, at: datetime) -> list[Stall]:
    """The settings' stalls (a CSV source not heard from has its own)."""
    return [s for s in find_stalls(store, settings, at) if s.kind.startswith("settings_")]


def row(store: Store, process: str) -> dict[str, object]:
    with store.engine.connect() as connection:
        found = connection.execute(select(SERVICE_PROCESSES).where(SERVICE_PROCESSES.c.process == process)).one()
    return dict(found._mapping)


def test_files_read_at_use_are_read_again_at_their_next_use(site: Path, tmp_path: Path) -> None:
    """What an edit does to a running service, per kind (passes on main too: it is what the
    watch's log line says). A template: the next message, even within one dispatch (one
    Renderer); a mapping: the next poll; the Google key: the next calendar run."""
    settings = load_settings(site)
    renderer = Renderer(tmp_path / "templates")
    template = "en/reminder.sms.txt"
    assert "see you" in renderer.env.get_template(template).render(clinic="C", short_date="d", time="t", opt_out="")
    (tmp_path / "templates" / "en" / "reminder.sms.txt").write_text(
        SMS.replace("see you", "we expect you"), encoding="utf-8"
    )
    assert "we expect you" in renderer.env.get_template(template).render(
        clinic="C", short_date="d", time="t", opt_out=""
    )
    before = load_mapping("desk.yaml", "UTC", "US", settings.base_dir)
    (tmp_path / "desk.yaml").write_text(DESK + "status_map:\n  seen: fulfilled\n", encoding="utf-8")
    assert load_mapping("desk.yaml", "UTC", "US", settings.base_dir) is not before
    key = settings.calendar.google.key_file
    assert key is not None
    first = service_account_credentials(key)
    service_key(tmp_path)  # a rotated key, in place (a Kubernetes secret mount)
    assert service_account_credentials(key) is not first


def test_an_edited_template_is_seen_told_once_and_changes_what_the_service_notes(
    site: Path, store: Store, tmp_path: Path
) -> None:
    ctx = ServiceContext(load_settings(site, defer_secrets=True), store, started_at=utcnow())
    t0 = ctx.started_at
    with capture_logs() as quiet:
        assert ctx.watch.look(store.engine, t0 + timedelta(seconds=30)) is None
    assert [e for e in quiet if e["log_level"] != "debug"] == []
    noted = row(store, ctx.watch.process)["settings_digest"]
    template = tmp_path / "templates" / "en" / "reminder.sms.txt"
    template.write_text(SMS.replace("see you", "we expect you"), encoding="utf-8")
    with capture_logs() as logs:
        drift = ctx.watch.look(store.engine, t0 + timedelta(minutes=1))
        ctx.watch.look(store.engine, t0 + timedelta(minutes=1, seconds=30))
    assert drift is None  # read again at the next message: nothing to restart, no stall
    told = [e for e in logs if e["event"] == "settings.read_at_use_changed"]
    assert len(told) == 1 and told[0]["files"] == [str(template)]
    assert "expect" not in json.dumps(logs, default=str)  # paths, never contents
    now = row(store, ctx.watch.process)
    assert now["settings_digest"] != noted and now["stale_since"] is None
    # what a cron job reading these files now would note: the same settings
    from clinicsync.sync.runs.settings_watch import settings_digest

    assert now["settings_digest"] == settings_digest(load_settings(site))
    assert settings_stalls(store, ctx.settings, t0 + timedelta(hours=1)) == []


def test_a_mapping_edit_and_a_rotated_google_key_are_seen_the_key_never_in_the_store(
    site: Path, store: Store, tmp_path: Path
) -> None:
    ctx = ServiceContext(load_settings(site, defer_secrets=True), store, started_at=utcnow())
    t0 = ctx.started_at
    ctx.watch.look(store.engine, t0)
    noted = row(store, ctx.watch.process)["settings_digest"]
    key = ctx.settings.calendar.google.key_file
    assert key is not None
    service_key(tmp_path)  # rotated in place
    with capture_logs() as logs:
        ctx.watch.look(store.engine, t0 + timedelta(seconds=30))
    assert [e["files"] for e in logs if e["event"] == "settings.read_at_use_changed"] == [[str(key)]]
    assert row(store, ctx.watch.process)["settings_digest"] == noted  # nothing derived from a secret
    (tmp_path / "desk.yaml").write_text(DESK + "status_map:\n  seen: fulfilled\n", encoding="utf-8")
    with capture_logs() as logs:
        ctx.watch.look(store.engine, t0 + timedelta(minutes=1))
    assert [e["files"] for e in logs if e["event"] == "settings.read_at_use_changed"] == [[str(tmp_path / "desk.yaml")]]
    assert row(store, ctx.watch.process)["settings_digest"] != noted


def test_a_template_added_to_the_folder_is_watched_from_the_next_look(site: Path, store: Store, tmp_path: Path) -> None:
    ctx = ServiceContext(load_settings(site, defer_secrets=True), store, started_at=utcnow())
    ctx.watch.look(store.engine, ctx.started_at)
    (tmp_path / "templates" / "es").mkdir()
    added = tmp_path / "templates" / "es" / "reminder.sms.txt"
    added.write_text("{{ clinic }}: le esperamos {{ short_date }}.\n", encoding="utf-8")
    (tmp_path / "templates" / "es" / ".reminder.sms.txt.swp").write_text("x", encoding="utf-8")  # an editor's
    with capture_logs() as logs:
        ctx.watch.look(store.engine, ctx.started_at + timedelta(seconds=30))
    assert [e["files"] for e in logs if e["event"] == "settings.read_at_use_changed"] == [[str(added)]]


def test_a_cron_job_on_an_old_copy_beside_the_service_on_the_new_one_is_a_stall(
    site: Path, store: Store, tmp_path: Path, cli: Callable[[Path | None], object]
) -> None:
    """The common case the first watch left: the service restarted on the edited settings.yaml, the
    host's crontab still running `sync --once` with the copy it always had."""
    old = tmp_path / "old"
    old.mkdir()
    (old / "settings.yaml").write_text(site.read_text(encoding="utf-8"), encoding="utf-8")
    for name in ("templates", "desk.yaml", "key.json"):
        source = tmp_path / name
        if source.is_dir():
            (old / name / "en").mkdir(parents=True)
            (old / name / "en" / "reminder.sms.txt").write_bytes((source / "en" / "reminder.sms.txt").read_bytes())
        else:
            (old / name).write_bytes(source.read_bytes())
    site.write_text(site.read_text(encoding="utf-8") + "service:\n  stall_after: 15m\n# edited\n", encoding="utf-8")
    ctx = ServiceContext(load_settings(site, defer_secrets=True), store, started_at=utcnow())
    t0 = ctx.started_at
    ctx.watch.look(store.engine, t0)
    runner = cli(old / "settings.yaml")
    runner("sync", "--once", "--json")  # type: ignore[operator]
    runner("sync", "--once", "--json")  # type: ignore[operator]  # the next tick: the same row
    with store.engine.connect() as connection:
        rows = connection.execute(select(SERVICE_PROCESSES).order_by(SERVICE_PROCESSES.c.command)).all()
    assert [r.command for r in rows] == ["run", "sync --once"]
    cron = rows[1]
    assert cron.settings_path == str(old / "settings.yaml") and cron.stale_since is None
    assert cron.settings_digest != rows[0].settings_digest
    assert settings_stalls(store, ctx.settings, t0 + timedelta(minutes=5)) == []  # within the margin
    later = t0 + timedelta(minutes=30)
    ctx.watch.look(store.engine, later)  # the service's own look; the cron's row is 30 min old
    [stall] = settings_stalls(store, ctx.settings, later)
    assert (stall.kind, stall.subject) == ("settings_differ", "store")
    assert "cron `clinicsync sync --once`" in stall.detail and str(old / "settings.yaml") in stall.detail
    assert str(site) in stall.detail
    # the cron job moved to the new copy: the same settings, no stall
    cli(site)("sync", "--once", "--json")  # type: ignore[operator]
    ctx.watch.look(store.engine, later + timedelta(seconds=30))
    assert settings_stalls(store, ctx.settings, later + timedelta(seconds=30)) == []


def test_remind_once_notes_its_settings_and_a_dry_run_does_not(
    site: Path, store: Store, cli: Callable[[Path | None], object]
) -> None:
    runner = cli(site)
    runner("remind", "--once", "--dry-run")  # type: ignore[operator]
    with store.engine.connect() as connection:
        assert connection.execute(select(SERVICE_PROCESSES)).all() == []
    runner("remind", "--once")  # type: ignore[operator]
    with store.engine.connect() as connection:
        [noted] = connection.execute(select(SERVICE_PROCESSES)).all()
    assert noted.command == "remind --once" and noted.settings_path == str(site)


def test_a_mapping_shared_by_many_sources_is_read_once_a_look(
    write_settings: Callable[..., Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A fleet's sources name a handful of mappings: the watch (every 30 s) reads each once, not
    once a source, and still watches its files (the mapping and the preset it extends)."""
    from clinicsync.mappings import preset_files
    from clinicsync.sync.runs.settings_watch import watched_files

    (tmp_path / "desk.yaml").write_text(DESK, encoding="utf-8")
    lines = ""
    for n in range(50):
        (tmp_path / f"drop{n}").mkdir()
        lines += f"- {{name: desk{n}, kind: csv, mapping: desk.yaml, drop_dir: {tmp_path / f'drop{n}'}}}\n"
    settings = load_settings(write_settings(lines), defer_secrets=True)
    read: list[str] = []
    real = preset_files.mapping_files

    def counted(ref: str, base_dir: Path = Path(".")) -> list[Path]:
        read.append(ref)
        return real(ref, base_dir)

    monkeypatch.setattr(preset_files, "mapping_files", counted)
    watched = watched_files(settings)
    assert read == ["desk.yaml"]
    names = [w.name for w in watched if w.name.startswith("mapping ")]
    assert names[0] == "mapping desk.yaml" and len(names) == 2  # the site's file, then its preset
