"""No raw machinery for people, in Debian's headless Chromium at 390x844 (issue 58, obs 4 and 9):
the promised waitlist slot on the first screen of Today, a missing appointment as a page with a
way back, chart text readable on a phone. Screenshots: .ci/artifacts/status-page-*.png."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By
from sqlalchemy import insert

from clinicsync.sync.server.app import create_app
from clinicsync.sync.store.model import Location
from clinicsync.sync.store.store import Store
from clinicsync.sync.waitlist.book import run_booking
from tests.ui.chromium import DOC_SIZES, browser, doc_screenshot, follow, serving, set_width
from tests.ui.seed import NOW, SOURCE_LABEL, seed, seed_desk, seed_source
from tests.ui.test_desk_waitlist import LABEL, SLOT, waitlist_settings
from tests.ui.test_pages import PASSWORD
from tests.waitlist import book_rows

__all__ = ["browser"]


@pytest.fixture
def served(tmp_path: Path, store_url: str, store: Store) -> Iterator[str]:
    settings = waitlist_settings(tmp_path, store_url, clinic_name="Demo Family Practice",
                                 more_connectors=seed_source(tmp_path))
    seed_desk(store, seed(store))
    book_rows.seed(store, "clinic", start=SLOT)
    with store.engine.begin() as connection:  # the source names its room
        connection.execute(insert(Location.__table__).values(connector="clinic", external_id="room-1",
                                                             name="Main Street Clinic"))
    assert run_booking(settings, store, NOW)["desk_task"] == 1
    app = create_app(settings, store)
    app.state.ui_clock = lambda: NOW
    with serving(app) as base:
        yield base


def _top(driver: webdriver.Chrome, selector: str) -> float:
    return float(driver.execute_script(
        "return document.querySelector(arguments[0]).getBoundingClientRect().top + window.scrollY", selector))


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_a_phone_sees_the_waitlist_task_first_a_404_page_and_readable_charts(
        served: str, browser: webdriver.Chrome) -> None:
    base = served
    set_width(browser, *DOC_SIZES["phone"])
    browser.get(f"{base}/ui/appointments")  # a browser without a session: the login page, no Basic dialog
    assert browser.current_url == f"{base}/ui/login?next=/ui/appointments"
    browser.find_element(By.NAME, "user").send_keys("desk")
    browser.find_element(By.NAME, "password").send_keys(PASSWORD)
    follow(browser, By.ID, "log-in")

    doc_screenshot(browser, f"{base}/ui/", "desk-waitlist")
    set_width(browser, *DOC_SIZES["phone"])
    browser.get(f"{base}/ui/")
    task = _top(browser, "li.waitlist-task")
    assert task < _top(browser, 'li.work-row[data-id]') and task < DOC_SIZES["phone"][1], task  # the first screen
    card = browser.find_element(By.CSS_SELECTOR, "li.waitlist-task").text
    assert "Mara Quint" in card and "(212) 555-0142" in card and LABEL in card and "+1212" not in card
    assert "Main Street Clinic" in card and "room-1" not in card
    assert browser.find_element(By.CSS_SELECTOR, "header > strong").text == "Demo Family Practice"
    assert f"Still booked in {SOURCE_LABEL}" in browser.find_element(By.CSS_SELECTOR, "li.work-row .source-hint").text
    assert browser.find_element(By.CSS_SELECTOR, "li.waitlist-task a.phone").get_attribute("href") == \
        "tel:+12125550142"
    wide = browser.execute_script("return document.documentElement.scrollWidth")
    assert wide <= DOC_SIZES["phone"][0], wide

    doc_screenshot(browser, f"{base}/ui/appointments/999999", "not-found", full_page=False)
    set_width(browser, *DOC_SIZES["phone"])
    browser.get(f"{base}/ui/appointments/999999")
    assert browser.find_element(By.TAG_NAME, "h1").text == "Not found"
    assert "no longer there" in browser.find_element(By.ID, "error-sentence").text
    follow(browser, By.ID, "back-to-today")
    assert browser.current_url == f"{base}/ui/"

    doc_screenshot(browser, f"{base}/ui/health", "health-charts")
    set_width(browser, *DOC_SIZES["phone"])
    browser.get(f"{base}/ui/health")
    heights = browser.execute_script(
        "return [...document.querySelectorAll('svg.chart text')].filter(t => t.getBBox().width > 0 && "
        "getComputedStyle(t).display != 'none').map(t => t.getBoundingClientRect().height)")
    assert heights and min(heights) >= 10, heights  # ~11 px glyphs, not 6
