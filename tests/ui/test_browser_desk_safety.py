"""The front desk's safer actions in Debian's headless Chromium (issue 58): a no-show offered
only once the visit has started, on Today's "Earlier today" strip, then a state on the
Appointments page; a cancel that asks for its reason and is undone, restoring the answer and
the reminders. Screenshots at 1366x900 and 390x844 (docs/status-page.md)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By
from sqlalchemy import select, update

from clinicsync.sync.config.settings import load_settings
from clinicsync.sync.server.app import create_app
from clinicsync.sync.store.model.reminders import REMINDERS
from clinicsync.sync.store.store import Store
from tests.ui.chromium import DOC_SIZES, browser, doc_screenshot, follow, save_screenshot, serving, set_width
from tests.ui.seed import NOW, SOURCE_LABEL, ask_to_reschedule, seed, seed_desk, seed_source
from tests.ui.test_desk_earlier import NOON, started_visits
from tests.ui.test_pages import HASH, PASSWORD

__all__ = ["browser"]
Served = tuple[str, dict[str, int], list[datetime]]


@pytest.fixture
def served(tmp_path: Path, store_url: str, store: Store) -> Iterator[Served]:
    path = tmp_path / "settings.yaml"
    path.write_text(
        f'clinic:\n  name: Demo Family Practice\n  timezone: America/New_York\nstore:\n  url: "{store_url}"\n'
        f'connectors:\n{seed_source(tmp_path)}ui:\n  users:\n    - name: desk\n      password_hash: "{HASH}"\n'
        '      role: front_desk\n', encoding="utf-8")
    ids = seed_desk(store, seed(store))
    ask_to_reschedule(store, ids["A5"], "Mornings please, after the 24th")
    with store.engine.begin() as connection:  # r6 is Jamal's own reminder (the seed names no recipient)
        connection.execute(update(REMINDERS).where(REMINDERS.c.key == "r6").values(recipient_ref="P1"))
    clock = [NOW]
    app = create_app(load_settings(path), store)
    app.state.ui_clock = lambda: clock[0]
    with serving(app) as base:
        yield base, ids, clock


def _log_in(driver: webdriver.Chrome, base: str) -> None:
    driver.get(f"{base}/ui/login")
    driver.find_element(By.NAME, "user").send_keys("desk")
    driver.find_element(By.NAME, "password").send_keys(PASSWORD)
    follow(driver, By.ID, "log-in")


def _buttons(driver: webdriver.Chrome, scope: str = "form.actions") -> list[str]:
    return [b.get_attribute("value") or "" for b in driver.find_elements(By.CSS_SELECTOR, f"{scope} button")]


def _both_sizes(driver: webdriver.Chrome, name: str) -> None:
    """The page as it is (a POST's answer cannot be fetched again) at both documented sizes."""
    for size, (width, height) in DOC_SIZES.items():
        set_width(driver, width, height)
        tall = int(driver.execute_script("return document.documentElement.scrollHeight"))
        set_width(driver, width, max(height, min(tall, 3000)))
        save_screenshot(driver, f"status-page-{name}-{size}.png")
    set_width(driver, *DOC_SIZES["desktop"])


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_no_show_is_offered_once_the_visit_started_and_shows_as_a_state(
        served: Served, browser: webdriver.Chrome) -> None:
    base, ids, clock = served
    set_width(browser, *DOC_SIZES["desktop"])
    _log_in(browser, base)
    browser.get(f"{base}/ui/appointments/{ids['A7']}")  # 3:00 PM CST today; it is 10:00 AM in New York
    assert "no_show" not in _buttons(browser) and "confirmed_by_phone" in _buttons(browser)
    clock[0] = NOW + timedelta(hours=6, minutes=20)  # 20 minutes after it started
    browser.get(f"{base}/ui/")
    strip = browser.find_element(By.ID, "earlier-today")
    assert "Umar Nguyen" not in strip.text  # folded under its count
    browser.find_element(By.CSS_SELECTOR, "#earlier-today > summary").click()
    assert "Umar Nguyen" in strip.text
    assert _buttons(browser, "#earlier-today li form.actions") == ["arrived", "no_show"]
    doc_screenshot(browser, f"{base}/ui/?earlier=open", "earlier-today")
    set_width(browser, *DOC_SIZES["phone"])
    browser.get(f"{base}/ui/")
    follow(browser, By.ID, "earlier-count")  # the header's count opens the strip
    no_show = browser.find_element(By.CSS_SELECTOR, "#earlier-today button.action-no_show")
    assert no_show.rect["x"] + no_show.rect["width"] <= DOC_SIZES["phone"][0]  # on screen on a phone
    follow(browser, By.CSS_SELECTOR, "#earlier-today button.action-no_show")
    assert browser.find_elements(By.ID, "earlier-today") == []
    assert "Recorded: no-show" in browser.find_element(By.ID, "undo-form").text
    set_width(browser, *DOC_SIZES["desktop"])
    browser.get(f"{base}/ui/appointments")
    badges = [b.text for b in browser.find_elements(By.CSS_SELECTOR, "td.answer .badge.desk-state")]
    assert badges == ["no-show"]


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_cancel_asks_for_a_reason_and_undo_restores_the_visit(served: Served, browser: webdriver.Chrome,
                                                              store: Store) -> None:
    base, ids, _ = served
    set_width(browser, *DOC_SIZES["phone"])
    _log_in(browser, base)
    browser.get(f"{base}/ui/appointments/{ids['A5']}")
    history = browser.find_element(By.ID, "timeline").text
    assert "patient asked for another time" in history and "Mornings please, after the 24th" in history
    follow(browser, By.CSS_SELECTOR, "button.action-cancel")
    assert browser.find_element(By.TAG_NAME, "h1").text == "Cancel this visit?"
    _both_sizes(browser, "cancel-step")
    set_width(browser, *DOC_SIZES["phone"])
    browser.find_element(By.CSS_SELECTOR, "input[name='reason'][value='patient_ill']").click()
    follow(browser, By.ID, "confirm-cancel")
    assert "Recorded: cancelled" in browser.find_element(By.ID, "undo-form").text
    assert "reason: the patient is ill" in browser.find_element(By.ID, "timeline").text
    with store.engine.connect() as connection:
        assert connection.execute(select(REMINDERS.c.status).where(REMINDERS.c.key == "r6")).scalar() == "cancelled"
    words, hint = (browser.find_element(By.CSS_SELECTOR, f"dl.facts {css}").rect
                   for css in ("#asked-words", ".source-hint"))
    assert hint["y"] >= words["y"] + words["height"], (words, hint)  # a line of its own, not run on after the quote
    assert f"Still booked in {SOURCE_LABEL}" in browser.find_element(By.CSS_SELECTOR, "dl.facts .source-hint").text
    _both_sizes(browser, "undo")
    follow(browser, By.ID, "undo")
    assert browser.find_element(By.ID, "undone").is_displayed()
    assert "confirmed" in browser.find_element(By.CSS_SELECTOR, "dl.facts .badge.accepted").text
    with store.engine.connect() as connection:
        assert connection.execute(select(REMINDERS.c.status).where(REMINDERS.c.key == "r6")).scalar() == "pending"
    assert "undone by user desk" in browser.find_element(By.ID, "timeline").text


FIRST_SCREEN = {"desktop": (1280, 800), "phone": (390, 844)}


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_at_noon_with_twelve_unclosed_visits_the_calls_are_on_the_first_screen(
        served: Served, browser: webdriver.Chrome, store: Store) -> None:
    base, _, clock = served
    started = started_visits(store, 12)  # 8:00 to 11:40 AM, nobody said who came
    clock[0] = NOON
    _log_in(browser, base)
    for size, (width, height) in FIRST_SCREEN.items():
        set_width(browser, width, height)
        browser.get(f"{base}/ui/")
        save_screenshot(browser, f"status-page-today-work-first-{size}.png")
        # the work list's first row (here the patient who declined: call to cancel or move), whole
        first_call = browser.find_element(By.CSS_SELECTOR, "section.group li.work-row:not(.earlier-row)")
        bottom = first_call.rect["y"] + first_call.rect["height"]
        assert bottom <= height, f"{size}: the first person to phone ends at {bottom} px, below the {height} px screen"
        assert browser.find_element(By.ID, "earlier-count").text == "Earlier today 12"
    set_width(browser, *FIRST_SCREEN["desktop"])
    browser.get(f"{base}/ui/?earlier=open")
    rows = browser.find_elements(By.CSS_SELECTOR, "#earlier-today li.earlier-row")
    assert [int(r.get_attribute("data-id") or 0) for r in rows] == started
    follow(browser, By.CSS_SELECTOR, f"#earlier-today li[data-id='{started[0]}'] button.action-no_show")
    browser.get(f"{base}/ui/?earlier=open")
    assert browser.find_element(By.ID, "all-came-in").text == "All 11 came in"
    follow(browser, By.ID, "all-came-in")
    assert "Recorded: came in, for 11 visits." in browser.find_element(By.ID, "undo-form").text
    assert browser.find_elements(By.ID, "earlier-today") == []
    save_screenshot(browser, "status-page-all-came-in-desktop.png")
    follow(browser, By.ID, "undo")
    assert browser.find_element(By.ID, "undone").is_displayed()
    assert browser.find_element(By.ID, "earlier-count").text == "Earlier today 11"
