"""The offer page in a real headless Chromium at a phone's width: the slot readable, the two
buttons big enough to tap and no sideways scrolling, and a tap on "Take this slot" (a plain
form, no JavaScript) that takes it; screenshots under .ci/artifacts/."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By

from clinicsync.sync.config.settings import Settings
from clinicsync.sync.server.app import create_app
from clinicsync.sync.store.model.waitlist import FREED_SLOTS
from clinicsync.sync.store.store import Store
from tests.sync.reminders.conftest import SettingsMaker
from tests.ui.chromium import WIDTHS, at_both_widths, browser, follow, screenshot, serving, set_width
from tests.waitlist.test_offers import make, rows
from tests.waitlist.test_offers_page import offered

__all__ = ["browser"]


@pytest.fixture
def settings(reminder_settings: SettingsMaker) -> Settings:
    return make(reminder_settings)


@pytest.fixture
def served(settings: Settings, store: Store) -> Iterator[str]:
    with serving(create_app(settings, store)) as base:
        yield base


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_a_patient_takes_the_slot_on_a_phone(served: str, settings: Settings, store: Store, tmp_path: Path,
                                              browser: webdriver.Chrome) -> None:
    links = offered(settings, store, tmp_path)
    at_both_widths(browser, served + links["W1"], "waitlist-offer-es")
    set_width(browser, WIDTHS["phone"])
    browser.get(served + links["W1"])
    assert browser.find_element(By.TAG_NAME, "html").get_attribute("lang") == "es"
    main = browser.find_element(By.ID, "main").text
    assert "mié, 12 jun 2030" in main and "10:00" in main and "Dr. Amelia Hart" in main
    for button in ("take", "decline"):
        found = browser.find_element(By.ID, button)
        assert found.size["height"] >= 44 and found.size["width"] >= 300, button
    assert browser.execute_script("return document.documentElement.scrollWidth") <= WIDTHS["phone"]
    follow(browser, By.ID, "take")
    assert "Esta cita es suya" in browser.find_element(By.ID, "outcome").text
    screenshot(browser, "waitlist-offer-es-taken")
    assert [s.status for s in rows(store, FREED_SLOTS)] == ["taken"]
