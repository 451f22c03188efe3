"""End to end in a real headless Chromium (Debian's `chromium` + `chromium-driver`, driven by
Selenium) against `clinicsync serve` on the embedded default after `sync --once` and
`remind --once`. Screenshots go to .ci/artifacts/ for CI to keep."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from pathlib import Path

import httpx
import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By

from clinicsync.common.passwords import hash_password
from clinicsync.sync.cli.demo import generate_rows, write_csv
from tests.conftest import Cli
from tests.server.test_serve import free_port
from tests.ui.chromium import ROOT, WIDTHS, at_both_widths, browser, follow, set_width

__all__ = ["browser"]

PASSWORD = "front-desk-pass"

@pytest.fixture
def served(tmp_path: Path, cli: Callable[[Path | None], Cli]) -> Iterator[str]:
    """The embedded default settings.yaml (its sample drop, SQLite under tmp) plus one ui user,
    synced and reminded once, served by `clinicsync serve` on a loopback ephemeral port."""
    text = (ROOT / "settings.yaml").read_text(encoding="utf-8")
    drop = tmp_path / "drop"
    write_csv(generate_rows(date.today() + timedelta(days=1)), drop / "appointments.csv")
    text = text.replace("drop_dir: examples/drop", f"drop_dir: {drop}")
    text += f'\nui:\n  users:\n    - name: desk\n      password_hash: "{hash_password(PASSWORD)}"\n'
    config = tmp_path / "settings.yaml"
    config.write_text(text, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k != "CLINICSYNC_STORE_URL"}
    run = cli(config)
    run("sync", "--once", expect=None)  # the sample has quarantined rows on purpose
    run("remind", "--once")
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "clinicsync.sync.cli", "--config", str(config), "serve", "--port",
                                str(port)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 300  # a bound, not a speed check: a loaded CI box is slow
        while True:
            try:
                httpx.get(f"{base}/healthz", timeout=2)
                break
            except httpx.TransportError:
                assert process.poll() is None, process.stdout.read().decode()  # type: ignore[union-attr]
                assert time.monotonic() < deadline, "server did not start"
                time.sleep(0.05)  # ~1 s to start: a coarser poll only adds to it
        yield base
    finally:
        process.terminate()
        process.wait(timeout=30)


def shot(driver: webdriver.Chrome, name: str) -> None:
    """This page at the phone and the desktop widths, then back to the desktop's screen (the
    page is the one loaded at the desktop width: no need to load it again)."""
    at_both_widths(driver, driver.current_url, f"status-page-{name}")
    set_width(driver, WIDTHS["desktop"])


def test_status_page_in_a_real_browser(served: str, browser: webdriver.Chrome) -> None:
    # Unauthenticated: refused, with a challenge.
    refused = httpx.get(f"{served}/ui/")
    assert refused.status_code == 401 and refused.headers["www-authenticate"].startswith("Basic")
    browser.get(f"{served}/ui/")
    assert "demo-csv" not in browser.page_source  # the challenge is declined: nothing shown
    assert not browser.find_elements(By.ID, "connectors")

    # Log in: the browser sends the front desk's basic credentials with every request.
    token = base64.b64encode(f"desk:{PASSWORD}".encode()).decode()
    browser.execute_cdp_cmd("Network.enable", {})
    browser.execute_cdp_cmd("Network.setExtraHTTPHeaders", {"headers": {"Authorization": f"Basic {token}"}})

    browser.get(f"{served}/ui/")
    connectors = browser.find_element(By.ID, "connectors")
    assert "demo-csv" in connectors.text and "ok" in connectors.text
    assert "outbox" in browser.find_element(By.ID, "notifiers").text
    assert browser.find_element(By.ID, "quarantine-link").text.startswith("6 records")
    # A chart has drawn: its bars have a size and the stylesheet (served under the CSP) coloured them.
    bars = browser.find_elements(By.CSS_SELECTOR, "#chart-funnel svg rect.bar")
    assert len(bars) == 4 and bars[0].size["width"] > 100 and bars[0].size["height"] > 10
    assert bars[0].value_of_css_property("fill") == "rgb(46, 90, 172)"
    shot(browser, "health")

    browser.get(f"{served}/ui/appointments")
    rows = browser.find_elements(By.CSS_SELECTOR, "table.appointments tbody tr")
    assert rows, "the sample's upcoming appointments are listed"
    page = browser.page_source
    assert "planned" in page and "@clinic.example.org" not in page
    shot(browser, "appointments")
    # An appointment with reminders planned (the sample's first one is cancelled).
    planned = "//tr[.//span[contains(@class, 'planned')]]//a[@class='timeline-link']"
    follow(browser, By.XPATH, planned)
    timeline = browser.find_element(By.ID, "timeline")
    assert "created" in timeline.text and "planned" in timeline.text
    shot(browser, "timeline")

    browser.get(f"{served}/ui/quarantine")
    assert len(browser.find_elements(By.CSS_SELECTOR, "#quarantine tbody tr")) == 6
    shot(browser, "quarantine")

    browser.get(f"{served}/ui/attention")  # the sample's user is a viewer: patients masked
    assert "Patients are shown by initials" in browser.find_element(By.ID, "attention").text
    shot(browser, "attention-viewer")
