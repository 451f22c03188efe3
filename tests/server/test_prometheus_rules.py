"""docs/deploy/prometheus-rules.yaml cannot drift from the code: every metric a rule reads
is one /metrics serves (scraped from an app with data in every family), and every rule
says what is wrong and points to its runbook in docs/operations.md."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from clinicsync.connectors.hl7v2.settings import TlsSettings
from clinicsync.connectors.hl7v2.tls import ListenerTls
from clinicsync.sync.config.settings import settings_model
from clinicsync.sync.runs.mllp_state import ListenerState, note_listener
from clinicsync.sync.server.app import create_app
from clinicsync.sync.service.board import JobBoard
from clinicsync.sync.service.metrics import JobCollector
from clinicsync.sync.service.mllp import MllpTlsCollector
from clinicsync.sync.store.store import Store
from tests.connectors.tls_certs import certificates
from tests.deploy.test_alert_rules import _release_held, settings_not_applied, source_orphaned, stage_hung  # noqa: F401 - the fixture releases the lock stage_hung holds
from tests.server.metrics_helpers import scrape
from tests.server.test_ops_metrics import seed_for_alerts

pytestmark = pytest.mark.anyio
ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "docs" / "deploy" / "prometheus-rules.yaml"
OPERATIONS = ROOT / "docs" / "operations.md"
METRIC = re.compile(r"\bclinicsync_[a-z0-9_]+\b")


def rules() -> list[dict[str, Any]]:
    document = yaml.safe_load(RULES.read_text(encoding="utf-8"))
    return [rule for group in document["groups"] for rule in group["rules"]]


def anchors() -> set[str]:
    """GitHub's anchors of the headings of docs/operations.md."""
    headings = re.findall(r"^#+\s+(.+)$", OPERATIONS.read_text(encoding="utf-8"), flags=re.MULTILINE)
    return {re.sub(r"[^a-z0-9 -]", "", heading.lower()).replace(" ", "-") for heading in headings}


def test_every_rule_explains_itself_and_links_its_runbook() -> None:
    found = rules()
    names = [rule["alert"] for rule in found]
    assert len(names) == len(set(names))
    assert {"ClinicsyncConnectorFailing", "ClinicsyncRemindersStuckUnknown", "ClinicsyncStoreUnreachable",
            "ClinicsyncGoogleCalendarAuthFailing", "ClinicsyncWebhookSignatureFailures"} <= set(names)
    documented = anchors()
    for rule in found:
        notes = rule["annotations"]
        assert notes["summary"] and notes["description"] and rule["labels"]["severity"], rule["alert"]
        page, _, anchor = notes["runbook_url"].partition("#")
        assert page == "docs/operations.md" and anchor in documented, (rule["alert"], anchor)


async def test_every_metric_a_rule_reads_is_served(store: Store, tmp_path: Path) -> None:
    seed_for_alerts(store)
    source_orphaned(store)  # a source the settings no longer name (clinicsync_source_orphaned_visits)
    settings_not_applied(store)  # a service left on old settings (clinicsync_settings_stale_seconds)
    stage_hung(store)  # a worker inside the calendar stage for 40 minutes (clinicsync_stage_hung)
    # the seed's connector configured, as a source is held to its schedule (clinicsync_connector_overdue_seconds),
    # and a notifier, whose provider's refusals are timed (clinicsync_notifier_failing_seconds)
    tls = certificates(tmp_path / "tls")
    settings = settings_model().model_validate(
        {"connectors": [{"name": "csv", "kind": "csv", "mapping": "csv_default", "drop_dir": str(tmp_path)},
                        # a FHIR Subscription, whose stop is watched (clinicsync_fhir_subscription_stopped)
                        {"name": "ehr", "kind": "fhir", "base_url": "https://ehr.example.org/fhir",
                         "subscription": {"secret": "hook-secret-0123456789abcdef"}},
                        # an MLLP listener with mutual TLS, whose certificate and client CA are watched
                        # (clinicsync_mllp_certificate_*, clinicsync_mllp_client_ca_expiry_timestamp_seconds)
                        {"name": "siu", "kind": "hl7v2", "listen": {"tls": {
                            "cert_file": str(tls["server_cert"]), "key_file": str(tls["server_key"]),
                            "client_ca_file": str(tls["ca"])}}}],
         "notifiers": [{"name": "outbox", "kind": "outbox", "directory": str(tmp_path / "outbox")}]},
        context={"base_dir": tmp_path})
    # its listener running, noting its state in the store (clinicsync_mllp_tls_handshakes_failing_seconds)
    note_listener(store.engine, "siu", ListenerState(None, None))
    board = JobBoard()
    board.add("remind")
    board.started("remind")
    board.finished("remind", None)
    # the figures of `clinicsync hl7 listen --metrics-port` (clinicsync_mllp_tls_*, _reload_*)
    listener = MllpTlsCollector(lambda: {"siu": ListenerTls("siu", TlsSettings(cert_file=tls["server_cert"],
                                                                               key_file=tls["server_key"]))})
    app = create_app(settings, store, collectors=[JobCollector(board), listener])
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        unsigned = await client.post("/webhooks/twilio/inbound", data={"From": "+12015550165", "Body": "YES"})
    assert unsigned.status_code == 403  # counted as a refused signature
    served = {sample.name for sample in await scrape(app)}
    read = {name: METRIC.findall(rule["expr"]) for rule in rules() for name in [rule["alert"]]}
    for alert, metrics in read.items():
        assert metrics, f"{alert} reads no clinicsync metric"
        missing = set(metrics) - served
        assert not missing, f"{alert} reads {sorted(missing)}, which /metrics does not serve"
