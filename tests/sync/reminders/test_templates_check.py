"""`templates check` against worst-case samples (issue 30, obs 10): the longest or
costliest weekday and month names of each language (a Spanish Saturday, "sáb", is not
GSM-7), accented names, long doctors' names, every visit mode. It fails, one line per
problem, when an SMS would take more than one segment or lose its answer link."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

SERVER = "server:\n  public_url: https://clinic.example.org\n  secret_key: test-only\n"


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_templates_check_fails_on_a_saturday_spanish_sms(write_settings, cli) -> None:  # type: ignore[no-untyped-def]
    """Today's Spanish SMS on a Saturday: "sáb" and "Lucía" force UCS-2 (70 characters a
    segment), so the reminder takes 3 segments and its answer link is left out."""
    config = write_settings(extra=SERVER)
    code, out, _ = cli(config)("templates", "check", "--json", expect=None)
    results = json.loads(out)
    [reminder] = [r for r in results if (r["language"], r["template"], r["channel"]) == ("es", "reminder", "sms")]
    assert reminder["encoding"] == "UCS-2" and reminder["segments"] == 3
    assert "sáb" in reminder["sample"]
    assert reminder["answer_link"] is False
    assert code == 1
    code, table, _ = cli(config)("templates", "check", expect=None)
    lines = [line for line in table.splitlines() if line.startswith("es/reminder.sms:")]
    assert any("3 SMS segments" in line and "sáb" in line for line in lines), table
    assert any("answer link left out" in line for line in lines), table
