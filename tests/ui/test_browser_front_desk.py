"""The front desk's pages in a real headless Chromium on the hand-countable seed store:
the work list with names and phones (front_desk role, Basic auth as a script would send it),
the reminders queue, the Days field explaining a bad value, and the tables at phone width.
Screenshots under .ci/artifacts/."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By
from sqlalchemy import insert, select

from clinicsync.sync.config.settings import load_settings
from clinicsync.sync.runs.access_log import ACCESS_LOG
from clinicsync.sync.server.app import create_app
from clinicsync.sync.store.model import Patient
from clinicsync.sync.store.store import Store
from tests.ui.chromium import WIDTHS, at_both_widths, browser, serving, set_width
from tests.ui.seed import NOW, ask_to_reschedule, seed
from tests.ui.test_pages import HASH, PASSWORD

__all__ = ["browser"]


@pytest.fixture
def served(tmp_path: Path, store_url: str, store: Store) -> Iterator[str]:
    path = tmp_path / "settings.yaml"
    path.write_text(
        f'clinic:\n  name: Demo Family Practice\n  timezone: America/New_York\nstore:\n  url: "{store_url}"\n'
        f'ui:\n  users:\n    - name: desk\n      password_hash: "{HASH}"\n      role: front_desk\n', encoding="utf-8")
    ids = seed(store)
    with store.engine.begin() as connection:
        connection.execute(insert(Patient.__table__).values(  # type: ignore[attr-defined]
            connector="sql", external_id="P2", name="Yara García", phone="+17185550163", content_hash="h",
            updated_at=NOW))
    ask_to_reschedule(store, ids["A5"], "Mornings please, after the 24th")
    app = create_app(load_settings(path), store)
    app.state.ui_clock = lambda: NOW
    with serving(app) as base:
        yield base


def log_in(driver: webdriver.Chrome) -> None:
    token = base64.b64encode(f"desk:{PASSWORD}".encode()).decode()
    driver.execute_cdp_cmd("Network.enable", {})
    driver.execute_cdp_cmd("Network.setExtraHTTPHeaders", {"headers": {"Authorization": f"Basic {token}"}})


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_the_front_desk_pages_at_phone_and_desktop_widths(served: str, store: Store,
                                                         browser: webdriver.Chrome) -> None:
    log_in(browser)
    at_both_widths(browser, f"{served}/ui/attention", "front-desk-attention")
    rows = browser.find_elements(By.CSS_SELECTOR, "table.attention tbody tr")
    assert [r.find_element(By.CSS_SELECTOR, ".patient").text for r in rows] == ["Jamal Weber", "Yara García"]
    when = rows[0].find_element(By.TAG_NAME, "time")
    assert when.text == "Thu, Nov 19, 2026, 9:00\u202fAM"
    assert when.get_attribute("datetime") == "2026-11-19T14:00:00+00:00"
    assert browser.find_element(By.ID, "unknown").text == "1"
    with store.engine.connect() as connection:
        assert [(r.user, r.role) for r in connection.execute(select(ACCESS_LOG))] == [("desk", "front_desk")] * 2

    at_both_widths(browser, f"{served}/ui/health", "front-desk-health")
    assert browser.find_element(By.ID, "next-due").text == "Thu, Nov 19, 2026, 8:00\u202fAM"

    at_both_widths(browser, f"{served}/ui/appointments?days=90", "front-desk-days-error")
    assert browser.find_element(By.ID, "days-error").text == "Days must be a whole number from 1 to 60; showing 7."
    # At phone width nothing but a table's own scroller is wider than the screen.
    set_width(browser, WIDTHS["phone"])
    browser.get(f"{served}/ui/appointments?days=7")
    assert browser.execute_script("return document.documentElement.scrollWidth") <= WIDTHS["phone"]
