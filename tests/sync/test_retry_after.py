"""Retry-After, as every HTTP peer's retries read it."""

from __future__ import annotations

from email.utils import formatdate

import pytest

from clinicsync.common.retry_after import retry_after

NOW = 1_800_000_000.0


@pytest.mark.parametrize(("header", "seconds"), [
    ("120", 120.0),
    (" 7 ", 7.0),
    ("0.5", 0.5),
    ("-3", 0.0),                                       # never a negative wait
    (formatdate(NOW + 90, usegmt=True), 90.0),         # an HTTP-date, GMT
    (formatdate(NOW + 30), 30.0),                      # "-0000": no zone given, read as UTC
    (formatdate(NOW - 60, usegmt=True), 0.0),          # a date in the past: go now
    ("soon", None), ("", None), (None, None),
])
def test_retry_after(header: str | None, seconds: float | None) -> None:
    assert retry_after(header, now=NOW) == seconds
