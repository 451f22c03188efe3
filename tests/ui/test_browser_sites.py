"""Today for a desk user of one practice (issue 60) in a real headless Chromium: North's rows
only, no practice label (one site needs none), at phone and desktop widths; screenshots under
.ci/artifacts/ (sites-today-north-*.png). The HTTP tests are tests/ui/test_sites_desk.py."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By

from clinicsync.sync.config.settings import load_settings
from clinicsync.sync.server.app import create_app
from clinicsync.sync.store.store import Store
from tests.ui.chromium import at_both_widths, browser, serving
from tests.ui.seed import NOW, ask_to_reschedule, seed, seed_desk
from tests.ui.test_pages import PASSWORD
from tests.ui.test_sites_desk import group_settings, seed_south

__all__ = ["browser"]


@pytest.fixture
def served(tmp_path: Path, store_url: str, store: Store) -> Iterator[str]:
    (tmp_path / "drop").mkdir()
    path = tmp_path / "settings.yaml"
    path.write_text(group_settings(store_url, tmp_path / "drop"), encoding="utf-8")
    ids = seed_desk(store, seed(store))
    ask_to_reschedule(store, ids["A5"])
    seed_south(store)
    app = create_app(load_settings(path), store)
    app.state.ui_clock = lambda: NOW
    with serving(app) as base:
        yield base


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_todays_list_of_a_north_desk_user(served: str, browser: webdriver.Chrome) -> None:
    token = base64.b64encode(f"north-desk:{PASSWORD}".encode()).decode()
    browser.execute_cdp_cmd("Network.enable", {})
    browser.execute_cdp_cmd("Network.setExtraHTTPHeaders", {"headers": {"Authorization": f"Basic {token}"}})
    at_both_widths(browser, f"{served}/ui/", "sites-today-north")
    names = [e.text for e in browser.find_elements(By.CSS_SELECTOR, "li.work-row[data-id] .patient")]
    assert names == ["Umar Nguyen", "Jamal Weber", "Ann Lee"]
    assert "Zora Blix" not in browser.page_source and not browser.find_elements(By.CSS_SELECTOR, ".badge.site")
    assert not browser.find_elements(By.ID, "site-picker")
