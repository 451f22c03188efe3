"""The status page after months of running, in a real headless Chromium at 390x844 (a phone)
and 1280x800 (the front desk's screen): eight sources, one refused on its first run while
another is orphaned (an error of several hundred characters naming both and two fixes), a
failed stage, set-aside items and a quarantine reason of the same length, and doctors with
long names. Measured on every page: nothing wider than the screen (neither the page nor a
table scrolling sideways inside it), no row or card taller than a bound, and every long text
complete in the page (a clamped one opens in place: <details>). Screenshots under
.ci/artifacts/long-content-*.png (docs/development.md, "Screenshots (browser tests)")."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from selenium import webdriver
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from sqlalchemy import insert, update

from clinicsync.sync.config.settings import load_settings
from clinicsync.sync.ingest.orphans import first_run_refusal
from clinicsync.sync.runs.setaside import Item, set_aside
from clinicsync.sync.server.app import create_app
from clinicsync.sync.store.store import Store
from clinicsync.sync.store.tables import RUN_STAGES, SYNC_RUNS
from tests.ui.chromium import browser, screenshot, serving, set_width
from tests.ui.seed import NOW, T, _appointment, ask_to_reschedule, seed, seed_desk
from tests.ui.test_browser_front_desk import log_in
from tests.ui.test_pages import HASH

__all__ = ["browser"]

SOURCES = ["csv", "sql", "north-annex-export", "south-annex-export", "pediatrics-fhir", "lab-portal",
           "clinic-csv"]  # the settings' seven; "old-front" is in the store only (renamed: orphaned)
DOCTORS = {"D1": "Dr. Maximiliana Alexandra Wolfeschlegelsteinhausen-Bergdorff",
           "D2": "Dr. Bartholomew Konstantinos Papadopoulos-Featherstonehaugh"}
STAGE_ERROR = ("calendar: Google Calendar refused the batch for calendar frontdesk-appointments-"
               "northannex@group.calendar.google.com: HTTP 403 rateLimitExceeded (Calendar usage limits exceeded; "
               "quota user projects/clinicsync-prod-2026/serviceAccounts/calendar-writer@clinicsync-prod-2026"
               ".iam.gserviceaccount.com); retried 5 times with backoff over 31 minutes; the next run tries again")
SET_ASIDE_REASON = ("writeback: the practice-management database refused the update of appointment A5 "
                    "(sql UPDATE appointments SET status='cancelled' WHERE id=...): (1205, 'Lock wait timeout "
                    "exceeded; try restarting transaction') on mariadb://pm.clinic.internal:3306/practice_management"
                    "_production after 50 s; another program holds the row: retry after the nightly export ends")
QUARANTINE_REASON = ("patient.birth_date: '31/02/1987' is not a date in the mapping's format %Y-%m-%d nor in any "
                     "format the source's other rows use; the record is kept out until it is fixed at the source "
                     "(exports/2026-11-18/north-annex/appointments_full_export_with_patients_and_insurance.csv) "
                     "or the mapping names the format; the visit's other fields were read and are not stored")
PHONE, DESKTOP = (390, 844), (1280, 800)
PAGES = ["/ui/health", "/ui/", "/ui/attention", "/ui/quarantine", "/ui/appointments", "/ui/waitlist"]


@pytest.fixture
def served(tmp_path: Path, store_url: str, store: Store) -> Iterator[dict[str, Any]]:
    (tmp_path / "drop").mkdir()
    path = tmp_path / "settings.yaml"
    path.write_text(yaml.safe_dump({
        "clinic": {"name": "Demo Family Practice", "timezone": "America/New_York"}, "store": {"url": store_url},
        "ui": {"users": [{"name": "desk", "password_hash": HASH, "role": "front_desk"}]},
        "connectors": [{"name": name, "kind": "csv", "mapping": "csv_default", "drop_dir": str(tmp_path / "drop")}
                       for name in SOURCES]}), encoding="utf-8")
    settings = load_settings(path)
    ids = seed_desk(store, seed(store))
    ask_to_reschedule(store, ids["A5"], "Mornings please, after the 24th; not Thursdays (school run) and not "
                                        "before 9:30 because of the bus from Wolfeschlegelsteinhausen Street")
    with store.engine.begin() as c:
        for ext, name in DOCTORS.items():
            c.execute(update(T["practitioner"]).where(T["practitioner"].c.external_id == ext).values(name=name))
        # "old-front": a source renamed in the settings months ago (to clinic-csv), with a future visit
        c.execute(insert(T["appointment"]), [_appointment("F1", NOW + timedelta(days=3), "D1", "P1",
                                                          connector="old-front")])
        runs = [{"run_id": f"r-{n}", "connector": name, "status": "ok", "counts": '{"created": 12, "updated": 340}',
                 "error": None, "started_at": NOW - timedelta(minutes=20 + n),
                 "finished_at": NOW - timedelta(minutes=19 + n)}
                for n, name in enumerate(["sql", "north-annex-export", "south-annex-export", "pediatrics-fhir",
                                          "lab-portal", "old-front"])]
        c.execute(insert(SYNC_RUNS), runs)
        refusal = first_run_refusal(c, "clinic-csv", set(SOURCES), NOW)
        assert refusal is not None and len(refusal) > 600
        c.execute(insert(SYNC_RUNS), [{"run_id": "r-refused", "connector": "clinic-csv", "status": "failed",
                                       "counts": "{}", "error": refusal, "started_at": NOW - timedelta(minutes=5),
                                       "finished_at": NOW - timedelta(minutes=5)}])
        c.execute(insert(RUN_STAGES), [{"run_id": "r-1", "stage": "calendar", "status": "failed", "rows": 0,
                                        "error": STAGE_ERROR, "started_at": NOW - timedelta(minutes=9),
                                        "heartbeat_at": NOW - timedelta(minutes=8),
                                        "finished_at": NOW - timedelta(minutes=8)}])
        for n in range(3):
            set_aside(c, Item("writeback", f"wb-{n}", ids["A5"]), SET_ASIDE_REASON, NOW - timedelta(hours=n))
        c.execute(insert(T["quarantine"]), [
            {"run_id": "r-2", "connector": "north-annex-export", "position": f"appointments_full_export.csv:{1200 + n}",
             "record_id": f"NA-2026-11-{n:04d}", "field": "patient.birth_date", "reason": QUARANTINE_REASON,
             "raw": "{}", "created_at": NOW - timedelta(days=40), "last_seen": NOW - timedelta(hours=1),
             "item_key": f"na-{n}", "status": "open", "seen_count": 90} for n in range(2)])
    app = create_app(settings, store)
    app.state.ui_clock = lambda: NOW
    with serving(app) as base:
        yield {"base": base, "refusal": refusal, "visit": f"/ui/appointments/{ids['A5']}"}


# What the page looks like, measured in the browser: the page's own width, each table's
# sideways scroll, the tallest row or card, and anything sticking out to the right.
MEASURE = """
const vw = arguments[0];
const rows = [...document.querySelectorAll('main tr, main li')];
const tallest = rows.reduce((m, r) => Math.max(m, r.getBoundingClientRect().height), 0);
const scrolling = [...document.querySelectorAll('main table, main .table-scroll')]
  .filter(t => t.scrollWidth > t.clientWidth + 1).map(t => t.id || t.className || t.tagName);
const outside = [...document.querySelectorAll('main *')]
  .filter(e => e.getClientRects().length && e.getBoundingClientRect().right > vw + 1 && !e.closest('svg'))
  .map(e => e.tagName + '.' + e.className).slice(0, 5);
return {page: document.documentElement.scrollWidth, vw: window.innerWidth, tallest: Math.round(tallest),
        scrolling: scrolling, outside: outside};
"""


@pytest.mark.parametrize("size", [PHONE, DESKTOP], ids=["phone", "desktop"])
@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_months_of_long_content_fit_the_screen(served: dict[str, Any], browser: webdriver.Chrome,
                                               size: tuple[int, int]) -> None:
    log_in(browser)
    width, height = size
    bound = 360 if width < 600 else 240  # px: the tallest row or card a page may have
    problems = {}
    for page in [*PAGES, served["visit"]]:
        set_width(browser, width, height)
        browser.get(served["base"] + page)
        facts = browser.execute_script(MEASURE, width)
        name = page.strip("/").removeprefix("ui").strip("/").split("/")[0] or "desk"
        screenshot(browser, f"long-content-{name}{'-visit' if page == served['visit'] else ''}")
        wide = max(facts["page"], facts["vw"]) > width or facts["scrolling"] or facts["outside"]
        if wide or facts["tallest"] > bound:
            problems[page] = facts
    assert problems == {}, json.dumps(problems, indent=1)

    # The refused source's error: clamped in its row, complete once opened, with both names and both fixes.
    set_width(browser, width, height)
    browser.get(served["base"] + "/ui/health")
    error = browser.find_element(By.CSS_SELECTOR, "#connectors details.long")
    whole = error.find_element(By.CSS_SELECTOR, ".full")
    assert whole.get_attribute("textContent").split() == served["refusal"].split() and not whole.is_displayed()
    closed = error.rect["height"]
    error.find_element(By.TAG_NAME, "summary").click()
    assert whole.is_displayed() and error.rect["height"] > closed  # it grew: all of it shows now
    assert browser.execute_script("return arguments[0].scrollHeight <= arguments[0].clientHeight + 1", whole)
    assert browser.execute_script("return document.documentElement.scrollWidth") <= width
    # Selecting the text to copy a command leaves it open (a drag inside a <summary> would toggle it).
    ActionChains(browser).move_to_element_with_offset(whole, -whole.rect["width"] // 3, 0).click_and_hold() \
        .move_by_offset(whole.rect["width"] // 2, 10).release().perform()
    assert browser.execute_script("return String(window.getSelection())") and error.get_attribute("open")
    for needle in ("'old-front'", "clinicsync source rename old-front clinic-csv", "clinicsync source retire"):
        assert needle in whole.text
    zone = browser.find_elements(By.ID, "zone")
    assert len(zone) == 1 and zone[0].text.startswith("Times in America/New_York")
