"""The "All to act on" page (/ui/attention) in Debian's headless Chromium (issue 30): the front
desk logs in, acts on a row with the work list's buttons and the row leaves the list. Its
screenshot at 1366x900 goes to docs/images/ for docs/status-page.md."""

from __future__ import annotations

import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By

from tests.ui.chromium import DOC_SIZES, browser, follow, save_screenshot, set_width
from tests.ui.test_browser_desk import served
from tests.ui.test_pages import PASSWORD

__all__ = ["browser", "served"]  # fixtures (the same seeded app as the work list's browser test)
FORMS = "table.attention form.actions"


def targets(driver: webdriver.Chrome) -> list[str]:
    return [(f.get_attribute("action") or "").split("/")[-2] for f in driver.find_elements(By.CSS_SELECTOR, FORMS)]


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_the_desk_acts_on_the_attention_page(served: tuple[str, dict[str, int]], browser: webdriver.Chrome) -> None:
    base, ids = served
    set_width(browser, *DOC_SIZES["desktop"])
    browser.get(f"{base}/ui/login?next=/ui/attention")
    browser.find_element(By.NAME, "user").send_keys("desk")
    browser.find_element(By.NAME, "password").send_keys(PASSWORD)
    follow(browser, By.ID, "log-in")
    assert browser.current_url == f"{base}/ui/attention"
    before = targets(browser)
    assert str(ids["A8"]) in before and len(before) >= 2
    cells = [[td.text for td in tr.find_elements(By.CSS_SELECTOR, "td")[1:4:2]]
             for tr in browser.find_elements(By.CSS_SELECTOR, "table.attention tbody tr")]
    assert ["Yara García", "Dr. Rafael Ortiz"] in cells  # the source's names, not its ids
    assert all(patient not in ("", "—") and doctor.startswith("Dr. ") for patient, doctor in cells), cells
    save_screenshot(browser, "status-page-attention-desktop.png")

    follow(browser, By.CSS_SELECTOR, f"form[action='/ui/appointments/{ids['A8']}/actions'] "
                                     "button.action-left_message")
    assert browser.current_url.startswith(f"{base}/ui/attention?done=a")  # the desk action's id: its Undo
    assert targets(browser) == [t for t in before if t != str(ids["A8"])]  # the row left the list
    assert browser.find_element(By.CSS_SELECTOR, "p[role=status]").text.startswith("Recorded: left a message — ")
