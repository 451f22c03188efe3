"""API keys and sites (issue 60): a key belongs to one rest_api source, hence to that source's
site. North's key can neither read, cancel, replace nor take off the waitlist anything of
South's source (404, as for an id nobody has); one key given to sources of two sites is refused
when the settings load, since it would silently reach only the first one's."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from clinicsync.sync.config.config_loader import ConfigError
from clinicsync.sync.config.settings import load_settings
from clinicsync.sync.server.app import create_app
from clinicsync.sync.store.store import Store
from tests.server.test_api import BOOKING, DIGEST, KEY, OTHER_DIGEST, OTHER_KEY, A

pytestmark = pytest.mark.anyio
SITES = "sites:\n  north: {name: North Dental}\n  south: {name: South Dental}\n"


def two_sites(write_settings: Callable[..., Path], south_digest: str = OTHER_DIGEST) -> Path:
    return write_settings(extra=SITES, connectors=f"""
- {{name: north-web, kind: rest_api, site: north, api_keys: [{{name: north-site, sha256: {DIGEST}}}]}}
- {{name: south-web, kind: rest_api, site: south, api_keys: [{{name: south-site, sha256: {south_digest}}}]}}
""")


async def test_a_key_of_one_sites_source_reaches_nothing_of_another_site(
        write_settings: Callable[..., Path], store: Store) -> None:
    app = create_app(load_settings(two_sites(write_settings)), store)
    north, south = ({"Authorization": f"Bearer {key}"} for key in (KEY, OTHER_KEY))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://internal") as client:
        assert (await client.post("/api/v1/appointments", json=BOOKING, headers=south)).status_code == 201
        entry = {"id": "W-1", "patient": BOOKING["patient"], "windows": "mon-fri 09:00-13:00"}
        assert (await client.post("/api/v1/waitlist", json=entry, headers=south)).status_code == 201
        assert (await client.get("/api/v1/appointments/B-1001", headers=north)).status_code == 404
        assert (await client.post("/api/v1/appointments/B-1001/cancel", headers=north)).status_code == 404
        assert (await client.get("/api/v1/waitlist/W-1", headers=north)).status_code == 404
        assert (await client.delete("/api/v1/waitlist/W-1", headers=north)).status_code == 404
        assert (await client.get("/api/v1/waitlist", headers=north)).json()["entries"] == []
        replaced = await client.put("/api/v1/appointments/B-1001", json={**BOOKING, "status": "cancelled"},
                                    headers=north)
        assert replaced.status_code in (200, 201)  # north's own B-1001: the same id in another source
    with store.engine.connect() as connection:
        assert sorted(connection.execute(select(A.c.connector, A.c.status))) == [
            ("north-web", "cancelled"), ("south-web", "booked")]


def test_one_key_on_two_sites_sources_is_refused(write_settings: Callable[..., Path]) -> None:
    with pytest.raises(ConfigError) as refused:
        load_settings(two_sites(write_settings, south_digest=DIGEST))
    assert "'north-site' of 'north-web' is also a key of" not in str(refused.value)
    assert "the API key 'south-site' of 'south-web' is also a key of 'north-web', a source of another site" \
        in str(refused.value)
