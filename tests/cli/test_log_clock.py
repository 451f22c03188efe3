"""Issue 31, obs 5: console log lines carry the clinic's clock, as the CLI's tables do;
JSON lines for machines keep UTC."""

from __future__ import annotations

import io
import json
import re

import structlog

from clinicsync.common.logs import configure_logging


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_console_lines_in_the_clinic_zone_json_in_utc() -> None:
    try:
        screen = Terminal()
        configure_logging("warning", "console", stream=screen, zone="Asia/Tokyo")
        structlog.get_logger("t").warning("store.slow", seconds=3)
        structlog.get_logger("t").info("hidden.at.warning")
        line = re.sub(r"\x1b\[[0-9;]*m", "", screen.getvalue())  # colours: it is a terminal
        assert re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d JST ", line), line
        assert "hidden.at.warning" not in screen.getvalue()
        machine = io.StringIO()
        configure_logging("info", "json", stream=machine, zone="Asia/Tokyo")
        structlog.get_logger("t").info("store.slow")
        assert json.loads(machine.getvalue())["timestamp"].endswith("Z")
    finally:
        structlog.reset_defaults()
