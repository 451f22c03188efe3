"""The Waitlist page in Debian's headless Chromium: the front desk logs in, opens the page
from the menu, adds a patient with the form, sees them waiting, and removes them. Its
screenshot at 1366x900 goes to .ci/artifacts/ (docs/images/ with CLINICSYNC_DOC_SCREENSHOTS=1)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select
from sqlalchemy import select

from clinicsync.sync.config.settings import load_settings
from clinicsync.sync.server.app import create_app
from clinicsync.sync.store.model import Appointment
from clinicsync.sync.store.store import Store
from tests.ui.chromium import DOC_SIZES, browser, follow, save_screenshot, serving, set_width
from tests.ui.seed import NOW
from tests.ui.test_pages import HASH, PASSWORD
from tests.waitlist.test_ui import seed_waitlist

__all__ = ["browser"]
A = Appointment.__table__  # type: ignore[attr-defined]


@pytest.fixture
def served(tmp_path: Path, store_url: str, store: Store) -> Iterator[str]:
    (tmp_path / "drop").mkdir()
    path = tmp_path / "settings.yaml"
    path.write_text(
        f'clinic:\n  name: Demo Family Practice\n  timezone: America/New_York\nstore:\n  url: "{store_url}"\n'
        "connectors:\n  - {name: csv, kind: csv, mapping: csv_default, drop_dir: drop}\n"
        f'ui:\n  users:\n    - name: desk\n      password_hash: "{HASH}"\n      role: front_desk\n', encoding="utf-8")
    seed_waitlist(store)
    app = create_app(load_settings(path), store)
    app.state.ui_clock = lambda: NOW
    with serving(app) as base:
        yield base


def waiting(driver: webdriver.Chrome) -> list[str]:
    return [r.text for r in driver.find_elements(By.CSS_SELECTOR, "#waiting td.patient")]


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_the_desk_adds_and_removes_a_waiting_patient(served: str, browser: webdriver.Chrome) -> None:
    base = served
    set_width(browser, *DOC_SIZES["desktop"])
    browser.get(f"{base}/ui/login?next=/ui/")
    browser.find_element(By.NAME, "user").send_keys("desk")
    browser.find_element(By.NAME, "password").send_keys(PASSWORD)
    follow(browser, By.ID, "log-in")
    follow(browser, By.LINK_TEXT, "Waitlist")
    assert browser.current_url == f"{base}/ui/waitlist"
    assert waiting(browser) == ["Yara García", "Umar Nguyen"]

    browser.find_element(By.NAME, "patient_id").send_keys("P4")
    Select(browser.find_element(By.NAME, "doctor_id")).select_by_visible_text("Dr. Rafael Ortiz (csv)")
    browser.find_element(By.NAME, "windows").send_keys("tue-thu 14:00-17:00")
    priority = browser.find_element(By.NAME, "priority")
    priority.clear()
    priority.send_keys("5")
    follow(browser, By.ID, "add-entry")
    assert "done=added-" in browser.current_url
    assert waiting(browser) == ["Ann Lee", "Yara García", "Umar Nguyen"]  # priority 5 first
    row = browser.find_element(By.CSS_SELECTOR, "#waiting tbody tr")
    assert "Dr. Rafael Ortiz" in row.text and "tue,wed,thu 14:00-17:00" in row.text
    save_screenshot(browser, "status-page-waitlist-desktop.png")

    follow(browser, By.CSS_SELECTOR, "#waiting tbody tr button.remove")
    assert "done=removed-" in browser.current_url
    assert waiting(browser) == ["Yara García", "Umar Nguyen"]


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_the_add_form_names_the_patient_and_the_later_visit_and_clips_nothing(
        served: str, browser: webdriver.Chrome, store: Store) -> None:
    base = served
    with store.engine.connect() as connection:
        a5 = connection.execute(select(A.c.id).where(A.c.external_id == "A5")).scalar()
    set_width(browser, 1280, 800)
    browser.get(f"{base}/ui/login?next=/ui/")
    browser.find_element(By.NAME, "user").send_keys("desk")
    browser.find_element(By.NAME, "password").send_keys(PASSWORD)
    follow(browser, By.ID, "log-in")
    for width, height in ((1280, 800), (390, 844)):
        set_width(browser, width, height)
        browser.get(f"{base}/ui/waitlist?appointment={a5}#add")
        who = browser.find_element(By.ID, "add-who").text
        assert "Jamal Weber" in who and "+1 201-555-0165" in who and "Thu, Nov 19, 2026" in who
        assert browser.find_elements(By.NAME, "patient_id")[0].get_attribute("type") == "hidden"
        for name, value in (("visit_type", "Annual physical"), ("windows", "mon-fri 09:00-13:00")):
            field = browser.find_element(By.NAME, name)
            field.clear()
            field.send_keys(value)
            seen = browser.execute_script("return [arguments[0].scrollWidth, arguments[0].clientWidth]", field)
            assert seen[0] <= seen[1], f"{name} at {width}px: {value!r} is cut ({seen[0]} > {seen[1]} px)"
        browser.execute_script("document.getElementById('add').scrollIntoView()")
        save_screenshot(browser, f"status-page-waitlist-add-{'desktop' if width > 600 else 'phone'}.png")
    follow(browser, By.ID, "add-entry")
    assert browser.find_element(By.ID, "done").text == "Added Jamal Weber to the waitlist."
    follow(browser, By.CSS_SELECTOR, "button.remove[aria-label='Remove Jamal Weber from the waitlist']")
    assert browser.find_element(By.ID, "done").text == "Took Jamal Weber off the waitlist."
