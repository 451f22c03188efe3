""""All came in" names each visit it recorded, and its Undo says what it takes back, in Debian's
headless Chromium at 1280x800 and 390x844: the names wrap under the sentence, the page never
wider than the screen. Screenshots under .ci/artifacts/ (status-page-all-came-in-named-*)."""

from __future__ import annotations

import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By

from clinicsync.sync.store.store import Store
from tests.ui.chromium import browser, follow, save_screenshot, set_width
from tests.ui.test_browser_desk_safety import Served, _log_in, served
from tests.ui.test_desk_earlier import NOON, started_visits

__all__ = ["browser", "served"]
SIZES = {"1280": (1280, 800), "390": (390, 844)}
NAMES = ["Jamal Weber", "Yara García", "Umar Nguyen"]  # started_visits' patients, in start order


def _shots(driver: webdriver.Chrome, name: str) -> None:
    """The page as it is (a POST's answer cannot be fetched again) at both widths, never wider."""
    for size, (width, height) in SIZES.items():
        set_width(driver, width, height)
        wide = int(driver.execute_script("return document.documentElement.scrollWidth"))
        assert wide <= width, f"{name} at {size}: the page is {wide} px wide"
        save_screenshot(driver, f"status-page-{name}-{size}.png")
    set_width(driver, *SIZES["1280"])


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_all_came_in_names_the_visits_and_the_undo_what_it_takes_back(
        served: Served, browser: webdriver.Chrome, store: Store) -> None:
    base, _, clock = served
    started_visits(store, 3)
    clock[0] = NOON
    _log_in(browser, base)
    set_width(browser, *SIZES["1280"])
    browser.get(f"{base}/ui/?earlier=open")
    follow(browser, By.ID, "all-came-in")
    line = browser.find_element(By.ID, "undo-form")
    assert "Recorded: came in, for 3 visits." in line.text
    named = [e.text.replace("\u202f", " ") for e in line.find_elements(By.CSS_SELECTOR, "ul.batch-visits li")]
    assert [n.split(",")[0] for n in named] == NAMES and named[0].endswith("8:00 AM"), named
    assert browser.find_element(By.ID, "undo").text == "Undo came in for these 3"
    _shots(browser, "all-came-in-named")
    follow(browser, By.ID, "undo")
    back = browser.find_element(By.ID, "undone")
    assert "Undone: came in, for 3 visits; they are on Earlier today again." in back.text
    assert [e.text.split(",")[0] for e in back.find_elements(By.CSS_SELECTOR, "li")] == NAMES
    _shots(browser, "all-came-in-undone-named")
