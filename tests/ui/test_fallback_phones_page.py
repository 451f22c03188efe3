"""The visit page shows the patient's fallback numbers beside the phone: as written for the
front_desk role, masked like the phone for a viewer (SQLite and PostgreSQL)."""

from __future__ import annotations

import re

import httpx
import pytest
from sqlalchemy import text

from clinicsync.sync.store.store import Store
from tests.ui.test_attention import TOKEN, client  # noqa: F401 - the app with a desk and a manager
from tests.ui.test_pages import PASSWORD, basic

pytestmark = pytest.mark.anyio


def _with_fallbacks(store: Store) -> int:
    """A seeded visit whose patient now has two fallback numbers: its id."""
    with store.engine.begin() as connection:
        visit, connector, patient = connection.execute(text(
            "SELECT id, connector, patient_ref FROM appointment WHERE patient_ref IS NOT NULL ORDER BY id")).first()
        connection.execute(text("UPDATE patient SET fallback_phones = '+12125550188 +447700900123' "
                                "WHERE connector = :c AND external_id = :p"), {"c": connector, "p": patient})
    return int(visit)


async def test_the_desk_sees_the_fallbacks_and_a_viewer_sees_them_masked(client: httpx.AsyncClient,  # noqa: F811
                                                                           store: Store) -> None:
    visit = _with_fallbacks(store)
    desk = (await client.get(f"/ui/appointments/{visit}", headers=basic("desk", PASSWORD))).text
    shown = re.search(r'id="fallback-phones">([^<]*)<', desk)
    assert shown is not None and shown.group(1) == "also +1 212-555-0188, +44 7700 900123"
    for headers in (basic("manager", PASSWORD), {"Authorization": f"Bearer {TOKEN}"}):
        masked = (await client.get(f"/ui/appointments/{visit}", headers=headers)).text
        found = re.search(r'id="fallback-phones">([^<]*)<', masked)
        assert found is not None and found.group(1) == "also +1 ••• ••• 0188, +44 ••• ••• 0123"
        assert "555-0188" not in masked and "900123" not in masked


async def test_no_fallbacks_no_line(client: httpx.AsyncClient, store: Store) -> None:  # noqa: F811
    visit = _first_visit(store)
    page = (await client.get(f"/ui/appointments/{visit}", headers=basic("desk", PASSWORD))).text
    assert 'id="fallback-phones"' not in page


def _first_visit(store: Store) -> int:
    with store.engine.connect() as connection:
        return int(connection.execute(text("SELECT min(id) FROM appointment")).scalar_one())
