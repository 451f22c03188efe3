"""The front desk's day in Debian's headless Chromium (issue 30): log in on the form, see
today's and tomorrow's work grouped with counts, record "confirmed by phone" on a row, see
the list shrink and the action in the appointment's history, a post without the CSRF token
refused, log out. Screenshots at 1366x900 and 390x844 go to docs/images/ for
docs/status-page.md."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By

from clinicsync.sync.config.settings import load_settings
from clinicsync.sync.server.app import create_app
from clinicsync.sync.store.store import Store
from tests.ui.chromium import DOC_SIZES, browser, doc_screenshot, follow, serving, set_width
from tests.ui.seed import NOW, SOURCE_LABEL, ask_to_reschedule, name_sql_records, seed, seed_desk, seed_source
from tests.ui.test_pages import HASH, PASSWORD

__all__ = ["browser"]


@pytest.fixture
def served(tmp_path: Path, store_url: str, store: Store) -> Iterator[tuple[str, dict[str, int]]]:
    path = tmp_path / "settings.yaml"
    path.write_text(
        f'clinic:\n  name: Demo Family Practice\n  timezone: America/New_York\nstore:\n  url: "{store_url}"\n'
        f'connectors:\n{seed_source(tmp_path)}ui:\n  users:\n    - name: desk\n      password_hash: "{HASH}"\n'
        '      role: front_desk\n', encoding="utf-8")
    ids = seed_desk(store, seed(store))
    name_sql_records(store)
    ask_to_reschedule(store, ids["A5"], "Mornings please, after the 24th")
    app = create_app(load_settings(path), store)
    app.state.ui_clock = lambda: NOW
    with serving(app) as base:
        yield base, ids


def rows(driver: webdriver.Chrome) -> list[str]:
    return [r.get_attribute("data-id") or "" for r in driver.find_elements(By.CSS_SELECTOR, "li.work-row")]


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_the_front_desk_logs_in_acts_and_logs_out(served: tuple[str, dict[str, int]],
                                                  browser: webdriver.Chrome) -> None:
    base, ids = served
    set_width(browser, *DOC_SIZES["desktop"])
    browser.get(f"{base}/ui/")  # no session: the login form, not a Basic dialog or raw JSON
    assert browser.current_url == f"{base}/ui/login?next=/ui/"
    doc_screenshot(browser, browser.current_url, "login", full_page=False)
    browser.find_element(By.NAME, "user").send_keys("desk")
    browser.find_element(By.NAME, "password").send_keys(PASSWORD)
    follow(browser, By.ID, "log-in")
    assert browser.current_url == f"{base}/ui/"
    assert browser.find_element(By.TAG_NAME, "h1").text == "Today and tomorrow: 3 to act on"
    counts = {a.get_attribute("data-group"): a.find_element(By.TAG_NAME, "strong").text
              for a in browser.find_elements(By.CSS_SELECTOR, "#group-counts a")}
    assert (counts["declined"], counts["reschedule"], counts["no-answer"]) == ("1", "1", "1")
    assert rows(browser) == [str(ids["A7"]), str(ids["A5"]), str(ids["A8"])]
    doc_screenshot(browser, f"{base}/ui/", "desk-home")

    row = browser.find_element(By.CSS_SELECTOR, f"li.work-row[data-id='{ids['A8']}']")
    assert "Ann Lee" in row.text and "tomorrow 11:00\u202fAM" in row.text
    follow(browser, By.CSS_SELECTOR, f"li.work-row[data-id='{ids['A8']}'] button.action-confirmed_by_phone")
    assert rows(browser) == [str(ids["A7"]), str(ids["A5"])]  # the list shrank
    assert browser.find_element(By.TAG_NAME, "h1").text == "Today and tomorrow: 2 to act on"

    # a post without the token, from this logged-in browser, is refused and records nothing
    status = browser.execute_script(
        "return fetch(arguments[0], {method: 'POST', body: new URLSearchParams({action: 'cancel'})})"
        ".then(r => r.status)", f"{base}/ui/appointments/{ids['A7']}/actions")
    assert status == 403
    browser.get(f"{base}/ui/")
    assert rows(browser) == [str(ids["A7"]), str(ids["A5"])]

    browser.get(f"{base}/ui/appointments/{ids['A8']}")
    history = browser.find_element(By.ID, "timeline").text
    assert "front desk: confirmed by phone" in history and "by phone, recorded by user desk" in history
    title = browser.find_element(By.ID, "visit-title").text
    assert title == "Checkup with Dr. Rafael Ortiz, Thu, Nov 19, 2026, 11:00\u202fAM"
    doc_screenshot(browser, browser.current_url, "appointment")

    browser.get(f"{base}/ui/appointments/{ids['A7']}")  # declined in a CSV source: still booked there
    assert f"Still booked in {SOURCE_LABEL}" in browser.find_element(By.CSS_SELECTOR, ".source-hint").text
    assert "3:00\u202fPM CST" in browser.find_element(By.ID, "visit-title").text  # the visit's own zone

    for page, name in (("/ui/appointments", "appointments"), ("/ui/health", "health"),
                       ("/ui/quarantine", "quarantine")):
        doc_screenshot(browser, f"{base}{page}", name)
    set_width(browser, *DOC_SIZES["phone"])
    browser.get(f"{base}/ui/appointments")
    answer = browser.find_element(By.CSS_SELECTOR, "table.appointments td.answer")
    assert answer.rect["x"] + answer.rect["width"] <= DOC_SIZES["phone"][0]  # the answer is on screen
    set_width(browser, *DOC_SIZES["desktop"])

    browser.get(f"{base}/ui/")
    follow(browser, By.ID, "logout")
    assert browser.find_element(By.ID, "signed-out").text == "You are logged out."
    browser.get(f"{base}/ui/appointments")
    assert browser.current_url.startswith(f"{base}/ui/login")
