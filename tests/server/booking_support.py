"""What the booking-webhook tests share: the vendors' fixtures, signing as each vendor signs,
and reading back what the store holds."""

from __future__ import annotations

import base64
import hashlib
import hmac
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import func, select

from clinicsync.sync.store.model import Appointment, Event, Quarantine, SyncRun
from clinicsync.sync.store.store import Store

FIXTURES = Path(__file__).parents[1] / "fixtures"
A = Appointment.__table__  # type: ignore[attr-defined]
E = Event.__table__  # type: ignore[attr-defined]
Q = Quarantine.__table__  # type: ignore[attr-defined]
R = SyncRun.__table__  # type: ignore[attr-defined]


def fixture(vendor: str, name: str) -> bytes:
    return (FIXTURES / vendor / name).read_bytes()


def hex_hmac(secret: str, body: bytes) -> str:
    """Cal.com: createHmac("sha256", secret).update(body).digest("hex")."""
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def base64_hmac(secret: str, body: bytes) -> str:
    """Acuity: base64_encode(hash_hmac('sha256', $body, $secret, true))."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def client_for(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://internal")


def appointments(store: Store) -> list[Any]:
    with store.engine.connect() as connection:
        return list(connection.execute(select(A).order_by(A.c.id)))


def events(store: Store) -> list[str]:
    with store.engine.connect() as connection:
        return [r.kind for r in connection.execute(select(E).order_by(E.c.id))]


def quarantined(store: Store) -> list[Any]:
    with store.engine.connect() as connection:
        return list(connection.execute(select(Q).order_by(Q.c.id)))


def runs(store: Store) -> int:
    with store.engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(R)).scalar_one())


def counted(app: FastAPI, endpoint: str, result: str) -> float:
    value = app.state.metrics.registry.get_sample_value(
        "clinicsync_webhook_requests_total", {"endpoint": endpoint, "result": result})
    return float(value or 0)
