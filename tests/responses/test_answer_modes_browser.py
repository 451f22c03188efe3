"""A video visit's answer page and a cancelled page in Debian's headless Chromium at a
phone's 390 x 844 (issue 30, obs 8, 11): the join link as a full-width button when it is time,
no address or map; after confirm-then-cancel, the page names the visit it cancelled.
Screenshots under .ci/artifacts/ (docs/images/answer-video-phone.png and
answer-cancelled-phone.png are copies)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By

from clinicsync.sync.config.settings import Settings
from clinicsync.sync.store.store import Store
from tests.responses.test_answer_browser import served, settings
from tests.responses.test_answer_modes import JOIN, book
from tests.responses.test_links import START
from tests.responses.test_record import participation
from tests.ui.chromium import browser, follow, screenshot, set_width

__all__ = ["browser", "served", "settings"]
PHONE = (390, 844)


def test_a_video_visit_at_its_time_then_a_change_of_mind(served: str, settings: Settings, store: Store,
                                                          tmp_path: Path, browser: webdriver.Chrome,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    url = served + book(settings, store, tmp_path, "en", visit_mode="video", join_url=JOIN)
    monkeypatch.setattr("clinicsync.sync.responses.link_page.utcnow", lambda: START - timedelta(minutes=10))
    set_width(browser, *PHONE)
    browser.get(url)
    join = browser.find_element(By.ID, "join")
    assert join.get_attribute("href") == JOIN and join.size["height"] >= 44 and join.size["width"] >= 300
    main = browser.find_element(By.ID, "main").text
    assert "Video visit" in main and "Open in a map" not in main and "Main Street" not in main
    assert browser.execute_script("return document.documentElement.scrollWidth") <= PHONE[0]
    screenshot(browser, "answer-video")

    set_width(browser, *PHONE)
    follow(browser, By.ID, "confirm")
    assert "Thank you, your appointment is confirmed." in browser.find_element(By.TAG_NAME, "h1").text
    follow(browser, By.ID, "cancel")
    follow(browser, By.ID, "cancel-yes")
    assert participation(store) == {"A1": "declined"}
    set_width(browser, *PHONE)
    browser.get(url)  # the link again, later: it names the visit it cancelled
    page = browser.find_element(By.ID, "main").text
    assert "This appointment is cancelled." in page and "Wed, Jun 12, 2030" in page and "Dr. Amelia Hart" in page
    assert "To book another time, please call the clinic." in page
    assert not browser.find_elements(By.ID, "confirm") and not browser.find_elements(By.ID, "join")
    screenshot(browser, "answer-cancelled")
