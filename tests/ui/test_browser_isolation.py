"""The page tests share one Chromium per worker (tests/ui/chromium.py): each gets a window
that starts as a newly started browser would, whatever the test before it left behind."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from selenium import webdriver
from selenium.webdriver.common.by import By

from tests.ui.chromium import browser, fresh_window, serving, set_width

__all__ = ["browser"]


def echo_app() -> FastAPI:
    app = FastAPI()
    served = []

    @app.get("/echo")
    def echo(request: Request) -> JSONResponse:
        served.append(1)
        return JSONResponse({"cookie": request.headers.get("cookie"), "x-left": request.headers.get("x-left"),
                             "served": len(served)}, headers={"Cache-Control": "max-age=3600"})

    return app


def test_a_fresh_window_has_no_cookies_headers_or_emulation_from_the_last(browser: webdriver.Chrome) -> None:
    with serving(echo_app()) as base, serving(echo_app()) as other:
        # What one test can leave behind: a cookie (sent to every port of 127.0.0.1), a header
        # added to every request, a phone's screen and a cached response.
        browser.get(f"{base}/echo")
        browser.add_cookie({"name": "session", "value": "left-over"})
        browser.execute_cdp_cmd("Network.enable", {})
        browser.execute_cdp_cmd("Network.setExtraHTTPHeaders", {"headers": {"X-Left": "over"}})
        set_width(browser, 390)
        browser.get(f"{other}/echo")
        assert "left-over" in browser.find_element(By.TAG_NAME, "body").text  # the other port gets it too
        assert "over" in browser.find_element(By.TAG_NAME, "body").text
        assert browser.execute_script("return screen.width") == 390
        assert '"served":1' in browser.find_element(By.TAG_NAME, "body").text

        with fresh_window(browser) as driver:
            driver.get(f"{other}/echo")
            body = driver.find_element(By.TAG_NAME, "body").text
            assert '"cookie":null' in body and '"x-left":null' in body  # neither sent
            assert '"served":2' in body  # asked again, not taken from the cache
            assert driver.execute_script("return window.innerWidth") == 1280  # no phone emulation
