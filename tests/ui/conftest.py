"""The front desk's app for the status page's HTTP tests (tests/ui/test_desk*.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from clinicsync.sync.config.settings import load_settings
from clinicsync.sync.server.app import create_app
from clinicsync.sync.store.store import Store
from tests.ui.seed import NOW, ask_to_reschedule, seed, seed_desk


@pytest.fixture
async def desk(tmp_path: Path, store_url: str, store: Store) -> AsyncIterator[tuple[httpx.AsyncClient, dict[str, int]]]:
    """The seed with today's and tomorrow's desk rows and A5's reschedule request, served to an
    ASGI client whose clock stands at NOW (``app.state.ui_clock``)."""
    from tests.ui.test_desk import settings_text

    path = tmp_path / "settings.yaml"
    path.write_text(settings_text(store_url), encoding="utf-8")
    ids = seed_desk(store, seed(store))
    ask_to_reschedule(store, ids["A5"])
    app = create_app(load_settings(path), store)
    app.state.ui_clock = lambda: NOW
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        yield client, ids
