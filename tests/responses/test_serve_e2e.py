"""End to end under uvicorn on loopback: `clinicsync serve` takes a reply signed by Twilio's
RequestValidator and the appointment is accepted in the store."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
from twilio.request_validator import RequestValidator

from clinicsync.sync.store.db import make_engine, upgrade
from clinicsync.sync.store.store import Store
from tests.responses.test_record import participation
from tests.server.test_serve import free_port
from tests.sync.reminders.conftest import appointment, put

TOKEN = "0123456789abcdef0123456789abcdef"


def test_a_signed_reply_through_uvicorn(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    port = free_port()
    public = f"http://127.0.0.1:{port}"
    (tmp_path / "settings.yaml").write_text(
        f"store:\n  url: {url}\nserver:\n  public_url: {public}\nnotifiers:\n"
        f"  - name: twilio\n    kind: twilio_sms\n    account_sid: AC{'a' * 32}\n    auth_token: {TOKEN}\n"
        f"    from_number: \"+12125550100\"\n")
    engine = make_engine(url)
    upgrade(engine)
    store = Store(engine)
    put(store, appointment("A1", datetime(2030, 6, 12, 14, tzinfo=UTC)))
    process = subprocess.Popen(
        [sys.executable, "-m", "sync.cli", "--config", str(tmp_path / "settings.yaml"), "serve", "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"{public}/healthz", timeout=2)
                break
            except httpx.TransportError:
                assert process.poll() is None, process.stdout.read().decode()  # type: ignore[union-attr]
                assert time.monotonic() < deadline, "server did not start"
                time.sleep(0.2)
        form = {"MessageSid": "SM1", "From": "+12125550101", "To": "+12125550100", "Body": "YES"}
        path = "/webhooks/twilio/inbound"
        forged = httpx.post(public + path, data=form, headers={"X-Twilio-Signature": "bm9wZQ=="}, timeout=10)
        assert forged.status_code == 403 and participation(store) == {"A1": None}
        signature = RequestValidator(TOKEN).compute_signature(public + path, form)
        response = httpx.post(public + path, data=form, headers={"X-Twilio-Signature": signature}, timeout=10)
        assert response.status_code == 200 and "your appointment is confirmed" in response.text
        assert participation(store) == {"A1": "accepted"}
    finally:
        process.terminate()
        assert process.wait(timeout=30) in (0, -signal.SIGTERM)
        store.close()
