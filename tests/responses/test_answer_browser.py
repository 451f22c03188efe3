"""The answer page in a real headless Chromium at phone and desktop widths: the patient's
way through it by clicking (no JavaScript on the page), with screenshots under .ci/artifacts/."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from clinicsync.sync.config.settings import Settings
from clinicsync.sync.server.app import create_app
from clinicsync.sync.store.model.responses import RESPONSES
from clinicsync.sync.store.store import Store
from tests.responses.test_answer_page import clinic_settings
from tests.responses.test_links import SERVER, booked, links
from tests.responses.test_record import BASE, participation, rows
from tests.sync.reminders.conftest import SettingsMaker
from tests.ui.chromium import WIDTHS, at_both_widths, browser, follow, screenshot, serving, set_width

__all__ = ["browser"]


@pytest.fixture
def settings(reminder_settings: SettingsMaker, tmp_path: Path) -> Settings:
    return clinic_settings(reminder_settings(BASE, extra_notifiers=SERVER), tmp_path)


@pytest.fixture
def served(settings: Settings, store: Store) -> Iterator[str]:
    with serving(create_app(settings, store)) as base:
        yield base


def test_a_spanish_patient_cancels_after_confirming_the_step(served: str, settings: Settings, store: Store,
                                                             tmp_path: Path, browser: webdriver.Chrome) -> None:
    urls = {k: served + v for k, v in links(booked(settings, store, tmp_path, language="es")).items()}
    at_both_widths(browser, urls["confirm"], "answer-es-choose")
    assert browser.find_element(By.TAG_NAME, "html").get_attribute("lang") == "es"
    main = browser.find_element(By.ID, "main").text
    assert "mié, 12 jun 2030" in main and "10:00" in main and "Dr. Amelia Hart" in main
    assert "Demo Family Practice" in browser.find_element(By.CSS_SELECTOR, "header").text
    # Phone width: the buttons fill the width and are big enough to tap.
    set_width(browser, WIDTHS["phone"])
    browser.get(urls["confirm"])
    confirm = browser.find_element(By.ID, "confirm")
    assert confirm.size["height"] >= 44 and confirm.size["width"] >= 300
    assert browser.execute_script("return document.documentElement.scrollWidth") <= WIDTHS["phone"]
    # Keyboard users see where they are.
    body = browser.find_element(By.TAG_NAME, "body")
    for _ in range(10):
        body.send_keys(Keys.TAB)
        if browser.switch_to.active_element.get_attribute("id") == "confirm":
            break
    assert browser.switch_to.active_element.get_attribute("id") == "confirm"
    assert confirm.value_of_css_property("outline-style") == "solid"

    follow(browser, By.ID, "cancel")
    assert "¿Cancelar esta cita?" in browser.find_element(By.TAG_NAME, "h1").text
    screenshot(browser, "answer-es-cancel")
    assert participation(store) == {"A1": None}
    follow(browser, By.ID, "keep")  # changed my mind: back, nothing recorded
    assert browser.find_element(By.TAG_NAME, "h1").text == "Su cita" and participation(store) == {"A1": None}
    follow(browser, By.ID, "cancel")
    follow(browser, By.ID, "cancel-yes")
    assert "Su cita está cancelada" in browser.find_element(By.TAG_NAME, "h1").text
    screenshot(browser, "answer-es-cancelled")
    assert participation(store) == {"A1": "declined"}

    at_both_widths(browser, urls["confirm"], "answer-es-used")  # the email's other link
    page = browser.find_element(By.TAG_NAME, "body").text
    assert "Esta cita está cancelada." in page and "mié, 12 jun 2030" in page and "Dr. Amelia Hart" in page
    assert "Para pedir otra cita, llame a la clínica." in page and "(212) 555-0100" in page


def test_an_english_patient_asks_for_another_time(served: str, settings: Settings, store: Store, tmp_path: Path,
                                                  browser: webdriver.Chrome) -> None:
    url = served + links(booked(settings, store, tmp_path, language="en"))["confirm"]
    at_both_widths(browser, url, "answer-en-choose")
    assert "Eastern Daylight Time" in browser.find_element(By.CSS_SELECTOR, ".zone").text
    follow(browser, By.ID, "reschedule")
    browser.find_element(By.CSS_SELECTOR, "label[for=note]").click()  # the label focuses its field
    browser.switch_to.active_element.send_keys("Mornings, any day after the 20th")
    screenshot(browser, "answer-en-reschedule")
    follow(browser, By.ID, "reschedule-send")
    assert "The front desk will call you" in browser.find_element(By.TAG_NAME, "h1").text
    screenshot(browser, "answer-en-requested")
    [response] = rows(store, RESPONSES)
    assert (response.action, response.body) == ("reschedule", "Mornings, any day after the 20th")
    at_both_widths(browser, served + "/r/expired-or-mangled", "answer-en-invalid")
    assert "This link is not valid." in browser.find_element(By.TAG_NAME, "h1").text
