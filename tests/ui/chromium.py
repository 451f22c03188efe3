"""Debian's headless Chromium for page tests (selenium + chromium-driver), a loopback
uvicorn for an app built in the test, and screenshots at desktop and phone widths saved
under .ci/artifacts/ for CI to keep (and for people to look at)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import pytest
import uvicorn
from fastapi import FastAPI

from tests.server.test_serve import free_port
from tests.server.uvicorn_thread import running

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / ".ci" / "artifacts"
CHROMIUM, DRIVER = shutil.which("chromium"), shutil.which("chromedriver")
WIDTHS = {"desktop": 1280, "phone": 390}

if not (CHROMIUM and DRIVER):
    if os.environ.get("CLINICSYNC_REQUIRE_SERVICES") == "1":
        raise RuntimeError("chromium and chromium-driver are required (CLINICSYNC_REQUIRE_SERVICES=1): "
                           "apt-get install -y chromium chromium-driver")
    pytest.skip("chromium or chromedriver not installed (apt-get install -y chromium chromium-driver)",
                allow_module_level=True)

from selenium import webdriver  # noqa: E402 - only once we know a browser is there
from selenium.common.exceptions import StaleElementReferenceException, WebDriverException  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.remote.webelement import WebElement  # noqa: E402
from selenium.webdriver.support.wait import WebDriverWait  # noqa: E402


def _launch(profile: Path) -> webdriver.Chrome:
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run", "--window-size=1280,1800",
                "--hide-scrollbars", f"--user-data-dir={profile}"):
        options.add_argument(arg)
    return webdriver.Chrome(options=options, service=Service(executable_path=str(DRIVER)))


def _alive(driver: webdriver.Chrome) -> bool:
    try:
        driver.switch_to.window(driver.window_handles[0])
    except WebDriverException:
        return False
    return True


# The worker's Chromium (and chromedriver), started by the first page test and quit when the
# run ends: starting one costs about a second of wall time, most of it CPU, for each page test.
# (Not a session fixture: the test modules import `browser` by name, and a fixture it needed
# would have to be imported alongside it everywhere.)
_RUNNING: list[webdriver.Chrome] = []


def _worker_chromium(config: pytest.Config, tmp_path_factory: pytest.TempPathFactory) -> webdriver.Chrome:
    if _RUNNING and not _alive(_RUNNING[0]):  # a test brought it down: start another
        with suppress(WebDriverException):
            _RUNNING.pop().quit()
        _RUNNING.clear()
    if not _RUNNING:
        driver = _launch(tmp_path_factory.mktemp("chromium-profile"))
        _RUNNING.append(driver)
        config.add_cleanup(driver.quit)
    return _RUNNING[0]


@contextmanager
def fresh_window(driver: webdriver.Chrome) -> Iterator[webdriver.Chrome]:
    """``driver`` in a new window of its own, as if the browser had just started: a new window
    has no device-metrics emulation, extra request headers or page state from an earlier test,
    and the cookies and cache, which the browser's windows share (cookies across every port of
    127.0.0.1 too), are cleared first and checked empty. The app keeps nothing in web storage.
    Every window but the first is closed afterwards."""
    home = driver.current_window_handle
    driver.switch_to.new_window("window")
    driver.execute_cdp_cmd("Network.clearBrowserCookies", {})
    driver.execute_cdp_cmd("Network.clearBrowserCache", {})
    assert driver.execute_cdp_cmd("Storage.getCookies", {})["cookies"] == []
    try:
        yield driver
    finally:
        with suppress(WebDriverException):  # if the browser went down, the next test starts another
            for handle in driver.window_handles:
                if handle != home:
                    driver.switch_to.window(handle)
                    driver.close()
            driver.switch_to.window(home)


@pytest.fixture
def browser(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[webdriver.Chrome]:
    """The worker's Chromium in a fresh window (fresh_window)."""
    with fresh_window(_worker_chromium(request.config, tmp_path_factory)) as driver:
        yield driver


def set_width(driver: webdriver.Chrome, width: int, height: int = 900) -> None:
    """Emulate a screen this wide (a phone is `mobile`: touch viewport, no desktop scaling)."""
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
        "width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600})


def screenshot(driver: webdriver.Chrome, name: str) -> Path:
    """The whole page (not just the viewport) as .ci/artifacts/<name>-<phone|desktop>.png."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    width = int(driver.execute_script("return window.innerWidth"))
    name = f"{name}-{'phone' if width < 600 else 'desktop'}"
    height = int(driver.execute_script("return Math.max(document.documentElement.scrollHeight, 400)"))
    set_width(driver, width, min(height, 6000))
    path = ARTIFACTS / f"{name}.png"
    driver.save_screenshot(str(path))
    return path


def follow(driver: webdriver.Chrome, by: str, value: str) -> None:
    """Find the link or submit button at (``by``, ``value``), click it, and wait until the next
    page has loaded.

    A click returns once the browser has taken it, not once the new page is there: a form's
    POST and its redirect can still be under way, and a find on the old page then goes stale
    (this made CI red once). The old page's root going away is the sign that it has left."""
    old_root = driver.find_element(By.TAG_NAME, "html")
    driver.find_element(by, value).click()
    # 30 s is a bound, not a speed check; asked every 50 ms, not WebDriverWait's 500 ms, which
    # a page that is not there at the first look would otherwise wait out whole.
    wait = WebDriverWait(driver, 30, poll_frequency=0.05)
    wait.until(lambda _: _gone(old_root))
    wait.until(lambda d: d.execute_script("return document.readyState") == "complete")


def _gone(element: WebElement) -> bool:
    """Has ``element``'s page been replaced? Chromium says so either as a stale reference or,
    asked at the wrong moment, as "Node with given id does not belong to the document" (which
    made CI red twice when read as a failure)."""
    try:
        element.is_enabled()
    except StaleElementReferenceException:
        return True
    except WebDriverException as exc:
        if "does not belong to the document" in str(exc.msg):
            return True
        raise
    return False


def at_both_widths(driver: webdriver.Chrome, url: str, name: str) -> None:
    """Open ``url`` at the phone width, then the desktop width, with a screenshot of each."""
    for width in (WIDTHS["phone"], WIDTHS["desktop"]):
        set_width(driver, width)
        driver.get(url)
        screenshot(driver, name)


@contextmanager
def serving(app: FastAPI) -> Iterator[str]:
    """``app`` under uvicorn on a loopback ephemeral port, in a thread; yields its base URL."""
    with running(uvicorn.Config(app, host="127.0.0.1", port=free_port(), log_level="warning",
                                lifespan="off")) as url:
        yield url


DOCS_IMAGES = ROOT / "docs" / "images"
DOC_SIZES = {"desktop": (1366, 900), "phone": (390, 844)}
# The screenshots in docs/ are refreshed only on request: a run of the suite must not leave
# the working tree changed (the pages show the day's dates and times).
REFRESH_DOCS = os.environ.get("CLINICSYNC_DOC_SCREENSHOTS") == "1"


def save_screenshot(driver: webdriver.Chrome, file_name: str) -> Path:
    """The page as it is now, under .ci/artifacts/ (to look at after any run), and into
    docs/images/ too with CLINICSYNC_DOC_SCREENSHOTS=1 (docs/development.md)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / file_name
    driver.save_screenshot(str(path))
    if REFRESH_DOCS:
        DOCS_IMAGES.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, DOCS_IMAGES / file_name)
    return path


def doc_screenshot(driver: webdriver.Chrome, url: str, name: str, full_page: bool = True) -> list[Path]:
    """``url`` at 1366x900 and at 390x844 (a phone), saved as status-page-<name>-<desktop|phone>.png
    (save_screenshot: .ci/artifacts/, and docs/images/ for docs/status-page.md on request).
    ``full_page``: the whole page, not only the first screen."""
    paths = []
    for size, (width, height) in DOC_SIZES.items():
        set_width(driver, width, height)
        driver.get(url)
        if full_page:
            tall = int(driver.execute_script("return document.documentElement.scrollHeight"))
            set_width(driver, width, max(height, min(tall, 3000)))
        paths.append(save_screenshot(driver, f"status-page-{name}-{size}.png"))
    set_width(driver, *DOC_SIZES["desktop"])
    return paths
