"""A stall is seen (issue 28): each stall is made in a real store (SQLite and PostgreSQL),
`/metrics` is scraped from the real app, and the scraped figures are fed to Debian's
`promtool test rules` against docs/deploy/prometheus-rules.yaml: exactly the stall's alert
fires within minutes, and a healthy store fires none. The same stalls show in
`clinicsync status --json` and on the status page's home. Without promtool (outside CI:
`.ci/run` installs Debian's prometheus package) the promtool half skips with the reason."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from sqlalchemy import insert, update

from clinicsync.common.types import utcnow
from clinicsync.sync.checks.stalls import find_stalls
from clinicsync.sync.config.settings import Settings, load_settings
from clinicsync.sync.ingest.subscriptions import Heard, note_heard
from clinicsync.sync.runs.interrupted import INTERRUPTED, close_interrupted_runs
from clinicsync.sync.runs.mllp_state import ListenerState, note_listener
from clinicsync.sync.runs.setaside import Item, set_aside
from clinicsync.sync.runs.stage_locks import calendar_lock
from clinicsync.sync.server.app import create_app
from clinicsync.sync.store.model import Event, SyncRun
from clinicsync.sync.store.model.reminders import DELIVERIES, REMINDERS
from clinicsync.sync.store.model.runs import RunStage
from clinicsync.sync.store.store import Store
from clinicsync.sync.store.tables import LOCK_HOLDERS, SERVICE_PROCESSES
from tests.connectors.tls_certs import certificates
from tests.server.metrics_helpers import scrape
from tests.sync.reminders.conftest import appointment, put

pytestmark = pytest.mark.anyio
ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "docs" / "deploy" / "prometheus-rules.yaml"
RUNS = SyncRun.__table__  # type: ignore[attr-defined]
EVENTS = Event.__table__  # type: ignore[attr-defined]
STAGES = RunStage.__table__  # type: ignore[attr-defined]
TOKEN = "tok-7Hq2Lx9Vw4Rb6Nz3Kp8Ys5Dg"
EXPIRY = "clinicsync_mllp_certificate_expiry_timestamp_seconds"  # a time: promtool's time 0 is now
CA_EXPIRY = "clinicsync_mllp_client_ca_expiry_timestamp_seconds"  # a time too
# The TLS folder of each MLLP listener of the settings below (certificates valid 90 days).
TLS: dict[str, Path] = {}
STALL_METRICS = ("clinicsync_stage_failing", "clinicsync_outbox_oldest_unconsumed_age_seconds",
                 "clinicsync_connector_overdue_seconds", "clinicsync_set_aside_items",
                 "clinicsync_notifier_failing_seconds", "clinicsync_fhir_subscription_stopped",
                 "clinicsync_source_orphaned_visits", "clinicsync_mllp_certificate_unusable", EXPIRY,
                 "clinicsync_settings_stale_seconds", "clinicsync_settings_differ_seconds",
                 "clinicsync_stage_hung", "clinicsync_stage_lock_held_seconds",
                 "clinicsync_mllp_tls_handshakes_failing_seconds", CA_EXPIRY)
# Locks a stall holds for the test (a worker inside the calendar stage), released after it.
HELD = contextlib.ExitStack()


@pytest.fixture(autouse=True)
def _release_held() -> Iterator[None]:
    yield
    HELD.close()


@pytest.fixture
def settings(write_settings: Callable[..., Path], tmp_path: Path) -> Settings:
    listeners = ""
    for name in ("hospital", "lab", "imaging", "pathology", "radiology"):  # the last two: mutual TLS
        TLS[name] = tmp_path / f"tls-{name}"
        files = certificates(TLS[name], timedelta(days=90))
        client_ca = f", client_ca_file: {files['ca']}" if name in ("pathology", "radiology") else ""
        listeners += (f"- name: {name}\n  kind: hl7v2\n  listen:\n    port: 0\n    tls: {{cert_file: "
                      f"{files['server_cert']}, key_file: {files['server_key']}{client_ca}}}\n")
    return load_settings(write_settings(connectors=listeners + f"""
- name: emr
  kind: csv
  mapping: csv_default
  drop_dir: {tmp_path}
  schedule: {{interval: 5m}}
- name: website
  kind: rest_api
  api_keys: [{{name: site, sha256: "{"0" * 64}"}}]
  expected_interval: 2h
- name: ehr
  kind: fhir
  base_url: https://ehr.example.org/fhir
  subscription:
    secret: hook-secret-0123456789abcdef
    topic: http://example.org/topics/appointment-change
    heartbeat_seconds: 3600
""", extra=f"reminders:\n  enabled: true\nui:\n  token: {TOKEN}\n"))


def healthy(store: Store) -> None:
    """Every source heard from just now, the planner caught up, no stage failing."""
    now = utcnow()
    with store.engine.begin() as connection:
        for name in ("emr", "website", "ehr"):
            connection.execute(insert(RUNS).values(run_id=f"r-{name}", connector=name, status="ok", counts="{}",
                                                   started_at=now, finished_at=now))
    note_heard(store.engine, "ehr", Heard("heartbeat", "Subscription/s1", "active", 0))


def stage_failed(store: Store) -> None:
    now = utcnow()
    with store.engine.begin() as connection:
        connection.execute(insert(STAGES).values(run_id="r1", stage="reminders", status="failed", rows=0,
                                                 error="OperationalError: the store went away", started_at=now,
                                                 heartbeat_at=now, finished_at=now))


def outbox_stalled(store: Store) -> None:
    put(store, appointment("A1", utcnow() + timedelta(days=3)))  # never planned: the planner does not run
    with store.engine.begin() as connection:
        connection.execute(update(EVENTS).values(created_at=utcnow() - timedelta(minutes=40)))


def source_silent(store: Store) -> None:
    with store.engine.begin() as connection:
        connection.execute(update(RUNS).where(RUNS.c.connector == "emr").values(
            started_at=utcnow() - timedelta(hours=2), finished_at=utcnow() - timedelta(hours=2)))


def push_silent(store: Store) -> None:
    with store.engine.begin() as connection:
        connection.execute(update(RUNS).where(RUNS.c.connector == "website").values(
            started_at=utcnow() - timedelta(hours=3), finished_at=utcnow() - timedelta(hours=3)))


def items_set_aside(store: Store) -> None:
    with store.engine.begin() as connection:
        set_aside(connection, Item("dispatch", "reminder:7"), "OverflowError: date value out of range")


def notifier_failing(store: Store) -> None:
    """The SMS provider has answered 503 to every send of one reminder for 30 minutes; it waits
    to be tried again. A second notifier's one failure a minute ago is no stall yet."""
    now = utcnow()
    with store.engine.begin() as connection:
        for key, notifier, first in (("r1", "texts", now - timedelta(minutes=30)), ("r2", "mails", now)):
            [reminder_id] = connection.execute(insert(REMINDERS).values(
                key=key, connector="emr", recipient="patient", kind="reminder", version=1, due_at=now + timedelta(
                    minutes=8), status="pending", reason="will retry: Twilio answered 503", tried="", attempts=2,
                created_at=first, updated_at=now).returning(REMINDERS.c.id)).one()
            connection.execute(insert(DELIVERIES), [
                {"reminder_id": reminder_id, "channel": "sms", "notifier": notifier, "outcome": "retryable",
                 "detail": "Twilio answered 503", "created_at": at} for at in (first, now)])


def subscription_stopped(store: Store) -> None:
    """The FHIR server gave up on the Subscription after failed deliveries (our outage)."""
    note_heard(store.engine, "ehr", Heard("heartbeat", "Subscription/s1", "error", 0))


def source_orphaned(store: Store) -> None:
    """A source this store synced that the settings no longer name (renamed in them),
    with a future visit."""
    put(store, appointment("A9", utcnow() + timedelta(days=3)), connector="clinic-csv")
    now = utcnow()
    with store.engine.begin() as connection:
        connection.execute(insert(RUNS).values(run_id="r-old", connector="clinic-csv", status="ok", counts="{}",
                                               started_at=now, finished_at=now))


def certificate_expiring(store: Store) -> None:
    """The MLLP listener's certificate ends in 5 days: its renewal did not run."""
    certificates(TLS["hospital"], timedelta(days=5))


def certificate_expired(store: Store) -> None:
    """It ended an hour ago: every sender's handshake fails."""
    certificates(TLS["imaging"], timedelta(hours=-1))


def client_ca_expiring(store: Store) -> None:
    """The client CA of a mutual-TLS listener ends in 5 days (no rule read its gauge,
    so only `clinicsync status` told)."""
    certificates(TLS["pathology"], timedelta(days=90), ca_valid_for=timedelta(days=5))


def client_ca_expired(store: Store) -> None:
    """It ended an hour ago: every sender whose certificate it signed is refused."""
    certificates(TLS["radiology"], timedelta(days=90), ca_valid_for=timedelta(hours=-1))


def certificate_half_renewed(store: Store) -> None:
    """A renewal written half: the new certificate beside the old key."""
    renewed = certificates(TLS["lab"] / "renewed", timedelta(days=90))
    (TLS["lab"] / "server.pem").write_bytes(renewed["server_cert"].read_bytes())


def service_process(store: Store, process: str, digest: str, started_ago: timedelta,
                    stale_ago: timedelta | None = None) -> None:
    """A `clinicsync run` process's row, as its looks note it (sync/runs/settings_watch.py)."""
    now = utcnow()
    host, _, pid = process.partition(":")
    with store.engine.begin() as connection:
        connection.execute(insert(SERVICE_PROCESSES).values(
            process=process, host=host, pid=int(pid), command="run", started_at=now - started_ago, seen_at=now,
            settings_path="/etc/clinicsync/settings.yaml", settings_digest=digest,
            stale_since=now - stale_ago if stale_ago else None,
            stale_files="/etc/clinicsync/settings.yaml" if stale_ago else None))


def settings_not_applied(store: Store) -> None:
    """settings.yaml edited 40 minutes ago; the service started before was not restarted."""
    service_process(store, "clinic-srv:4242", "a" * 16, timedelta(days=30), timedelta(minutes=40))


def settings_differ(store: Store) -> None:
    """Two workers on one store, each with its own copy of the settings, for an hour."""
    service_process(store, "host-a:10", "b" * 16, timedelta(hours=2))
    service_process(store, "host-b:20", "c" * 16, timedelta(hours=1))


def stage_hung(store: Store) -> None:
    """A worker has been inside the calendar stage for 40 minutes (a Google call that
    never returns), holding its lock: every other run skips the stage."""
    assert HELD.enter_context(calendar_lock(store.engine)) is not None
    with store.engine.begin() as connection:
        connection.execute(update(LOCK_HOLDERS).values(since=utcnow() - timedelta(minutes=40)))


def handshakes_failing(store: Store) -> None:
    """Every TLS handshake of the running `hospital` listener has failed for 20 minutes, as the
    listener notes it in the store (not only at `hl7 listen --metrics-port`)."""
    note_listener(store.engine, "hospital", ListenerState(utcnow() - timedelta(minutes=20), None))


STALLS: dict[str, tuple[Callable[[Store], None], str, tuple[str, str]]] = {
    "stage_failed": (stage_failed, "ClinicsyncStageFailing", ("stage_failed", "reminders")),
    "outbox_stalled": (outbox_stalled, "ClinicsyncOutboxStalled", ("outbox_lag", "reminders")),
    "source_silent": (source_silent, "ClinicsyncSourceSilent", ("source_silent", "emr")),
    "push_silent": (push_silent, "ClinicsyncSourceSilent", ("source_silent", "website")),
    "set_aside": (items_set_aside, "ClinicsyncItemsSetAside", ("set_aside", "dispatch")),
    "notifier_failing": (notifier_failing, "ClinicsyncNotifierFailing", ("notifier_failing", "texts")),
    "subscription_stopped": (subscription_stopped, "ClinicsyncFhirSubscriptionStopped",
                             ("subscription_stopped", "ehr")),
    "source_orphaned": (source_orphaned, "ClinicsyncSourceOrphaned", ("source_orphaned", "clinic-csv")),
    "certificate_expiring": (certificate_expiring, "ClinicsyncMllpCertificateExpiring",
                             ("mllp_certificate", "hospital")),
    "certificate_expired": (certificate_expired, "ClinicsyncMllpCertificateUnusable",
                            ("mllp_certificate", "imaging")),
    "client_ca_expiring": (client_ca_expiring, "ClinicsyncMllpCertificateExpiring",
                           ("mllp_certificate", "pathology")),
    "client_ca_expired": (client_ca_expired, "ClinicsyncMllpCertificateUnusable",
                          ("mllp_certificate", "radiology")),
    "certificate_half_renewed": (certificate_half_renewed, "ClinicsyncMllpCertificateUnusable",
                                 ("mllp_certificate", "lab")),
    "handshakes_failing": (handshakes_failing, "ClinicsyncMllpHandshakesFailing",
                           ("mllp_handshakes_failing", "hospital")),
    "settings_not_applied": (settings_not_applied, "ClinicsyncSettingsNotApplied",
                             ("settings_not_applied", "clinic-srv:4242")),
    "settings_differ": (settings_differ, "ClinicsyncSettingsDiffer", ("settings_differ", "store")),
    "stage_hung": (stage_hung, "ClinicsyncStageHung", ("stage_hung", "calendar")),
}


def find_promtool() -> str:
    promtool = shutil.which("promtool")
    if promtool is None:
        if os.environ.get("CI") or os.environ.get("CLINICSYNC_REQUIRE_SERVICES") == "1":
            pytest.fail("promtool is missing (.ci/run installs Debian's prometheus package)")
        pytest.skip("promtool is not installed (Debian: apt-get install prometheus); .ci/run installs it")
    return promtool


def firing(samples: list[Any], tmp_path: Path, at: str) -> set[str]:
    """The alerts of the rules file firing ``at`` (e.g. '6m') when the scraped stall figures
    hold from time 0 on, as promtool evaluates them."""
    promtool = find_promtool()
    def labelled(sample: Any) -> str:
        return sample.name + "{" + ", ".join(f'{k}="{v}"' for k, v in sorted(sample.labels.items())) + "}"

    def values(sample: Any) -> str:
        return f"{sample.value - time.time():.0f}x30" if sample.name in (EXPIRY, CA_EXPIRY) else f"{sample.value:g}x30"

    series = [{"series": labelled(s), "values": values(s)} for s in samples if s.name in STALL_METRICS]
    names = sorted({alert for _, alert, _ in STALLS.values()})
    test = {"rule_files": [str(RULES)], "evaluation_interval": "1m", "tests": [{
        "interval": "1m", "input_series": series,
        "promql_expr_test": [{"expr": 'count by (alertname) (ALERTS{alertstate="firing"})', "eval_time": at,
                              "exp_samples": [{"labels": f'{{alertname="{name}"}}', "value": 1}
                                              for name in names]}]}]}
    path = tmp_path / "rules_test.yaml"
    path.write_text(yaml.safe_dump(test), encoding="utf-8")
    result = subprocess.run([promtool, "test", "rules", str(path)], capture_output=True, text=True, timeout=60)
    if result.returncode == 0:
        return set(names)
    # promtool says what it got: read the firing names from its report
    report = result.stdout + result.stderr
    assert "got:" in report, report  # a failure other than the alerts (the rules file, the series)
    return {name for name in names if f'alertname="{name}"' in report.split("got:")[-1]}


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)  # the same queries run on PostgreSQL below
@pytest.mark.parametrize("stall", sorted(STALLS))
async def test_each_stall_is_in_status_and_fires_its_alert_within_minutes(
        stall: str, settings: Settings, store: Store, tmp_path: Path) -> None:
    healthy(store)
    make, alert, (kind, subject) = STALLS[stall]
    make(store)
    assert [(s.kind, s.subject) for s in find_stalls(store, settings)] == [(kind, subject)]
    samples = await scrape(create_app(settings, store))
    assert firing(samples, tmp_path, "6m") == {alert}


async def test_a_healthy_store_has_no_stall_and_fires_nothing_then_every_stall_at_once(
        settings: Settings, store: Store, tmp_path: Path) -> None:
    healthy(store)
    assert find_stalls(store, settings) == []
    assert firing(await scrape(create_app(settings, store)), tmp_path, "30m") == set()
    for make, _alert, _stall in STALLS.values():
        make(store)
    assert sorted((s.kind, s.subject) for s in find_stalls(store, settings)) == sorted(
        stall for _make, _alert, stall in STALLS.values())
    assert firing(await scrape(create_app(settings, store)), tmp_path, "6m") == {
        alert for _make, alert, _stall in STALLS.values()}


async def test_the_status_command_and_the_status_page_show_the_stalls(
        settings: Settings, store: Store, cli: Any, tmp_path: Path) -> None:
    healthy(store)
    stage_failed(store)
    items_set_aside(store)
    _, out, _ = cli(tmp_path / "settings.yaml")("status", "--json")
    report = json.loads(out)
    assert [(s["kind"], s["subject"]) for s in report["stalls"]] == [("stage_failed", "reminders"),
                                                                     ("set_aside", "dispatch")]
    assert report["set_aside"]["open"]["dispatch"] == 1
    assert report["set_aside"]["items"][0]["reason"] == "OverflowError: date value out of range"
    _, text, _ = cli(tmp_path / "settings.yaml")("status")
    assert "STALL stage_failed reminders" in text and "STALL set_aside dispatch" in text
    # the status page's home, and the page of an appointment stored before clinic.plausible_dates
    put(store, appointment("A0", datetime(1, 1, 1, tzinfo=UTC)))
    listed = cli(tmp_path / "settings.yaml")("appointments", "list", "--all", "--json")[1]  # was a traceback
    assert "0001-01-01" in listed
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(settings, store)),
                                 base_url="http://test", headers={"Authorization": f"Bearer {TOKEN}"}) as client:
        home = (await client.get("/ui/")).text
        timeline = await client.get("/ui/appointments/1")
    assert 'id="stalls"' in home and "stage failed: reminders" in home and "OperationalError" in home
    assert 'id="set-aside"' in home and "OverflowError: date value out of range" in home
    assert timeline.status_code == 200 and "0001-01-01" in timeline.text  # was 400 (OverflowError)


def test_repeated_handshake_failures_fire_and_a_scan_does_not(tmp_path: Path) -> None:
    """The listener's own counter (`hl7 listen --metrics-port`): a sender whose handshake fails
    every 30 s alerts within 10 minutes; a scan's two failures do not."""
    name = "clinicsync_mllp_tls_handshake_failures_total"
    test = {"rule_files": [str(RULES)], "evaluation_interval": "1m", "tests": [{
        "interval": "1m",
        "input_series": [{"series": f'{name}{{connector="hospital"}}', "values": "0+2x30"},
                         {"series": f'{name}{{connector="lab"}}', "values": "0 1 2x28"}],
        "promql_expr_test": [{"expr": 'ALERTS{alertname="ClinicsyncMllpHandshakesFailing",alertstate="firing"}',
                              "eval_time": "10m", "exp_samples": [{"labels": (
                                  'ALERTS{alertname="ClinicsyncMllpHandshakesFailing",alertstate="firing",'
                                  'connector="hospital",severity="warning"}'), "value": 1}]}]}]}
    path = tmp_path / "rules_test.yaml"
    path.write_text(yaml.safe_dump(test), encoding="utf-8")
    result = subprocess.run([find_promtool(), "test", "rules", str(path)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_push_run_cut_off_by_a_crash_is_closed_as_interrupted(settings: Settings, store: Store) -> None:
    """Observation 5: no poll ever closes a push source's run; a crash left it `running`."""
    started = utcnow() - timedelta(minutes=30)
    with store.engine.begin() as connection:
        for name, at in (("website", started), ("website", utcnow()), ("emr", started)):
            connection.execute(insert(RUNS).values(run_id=f"r-{name}-{at.minute}", connector=name,
                                                   status="running", counts="{}", started_at=at))
    assert close_interrupted_runs(store, settings) == 1
    with store.engine.connect() as connection:
        rows = {(r.connector, r.started_at == started): (r.status, r.error) for r in connection.execute(
            RUNS.select())}
    assert rows[("website", True)] == ("failed", INTERRUPTED)
    assert rows[("website", False)] == ("running", None)  # a push in flight now: left alone
    assert rows[("emr", True)] == ("running", None)  # a polled source's run: its poll lock closes it


def test_a_client_ca_and_a_certificate_both_ending_are_named_in_the_alert_the_first_to_end_first(
        tmp_path: Path) -> None:
    """The stall and `check` name both, the first to end first; the alert's
    ``or`` kept the certificate's series, so a CA ending in 5 days behind a certificate of 10 read
    'expires in 9d 23h'. Now its value is the first to end and its summary names both."""
    expiring = "ClinicsyncMllpCertificateExpiring"
    rule = next(r for g in yaml.safe_load(RULES.read_text(encoding="utf-8"))["groups"] for r in g["rules"]
                if r.get("alert") == expiring)
    kept = {k: rule["annotations"][k] for k in ("description", "runbook_url")}
    day = 86400  # promtool's time 0 is the epoch: an expiry timestamp of 10 days ends 10 days on
    test = {"rule_files": [str(RULES)], "evaluation_interval": "1m", "tests": [{
        "interval": "1m",
        "input_series": [{"series": f'{EXPIRY}{{connector="hospital"}}', "values": f"{10 * day}x30"},
                         {"series": f'{CA_EXPIRY}{{connector="hospital"}}', "values": f"{5 * day}x30"},
                         {"series": f'{EXPIRY}{{connector="lab"}}', "values": f"{3 * day}x30"},
                         {"series": f'{CA_EXPIRY}{{connector="lab"}}', "values": f"{90 * day}x30"}],
        "alert_rule_test": [{"eval_time": "6m", "alertname": expiring, "exp_alerts": [
            {"exp_labels": {"connector": "hospital", "severity": "warning"}, "exp_annotations": {**kept, "summary": (
                "the MLLP listener hospital: its client CA expires in 4d 23h 54m 0s; its TLS certificate "
                "expires in 9d 23h 54m 0s; the first ends in 4d 23h 54m 0s")}},
            {"exp_labels": {"connector": "lab", "severity": "warning"}, "exp_annotations": {**kept, "summary": (
                "the MLLP listener lab: its TLS certificate expires in 2d 23h 54m 0s; "
                "the first ends in 2d 23h 54m 0s")}}]}]}]}
    path = tmp_path / "rules_test.yaml"
    path.write_text(yaml.safe_dump(test), encoding="utf-8")
    result = subprocess.run([find_promtool(), "test", "rules", str(path)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
