"""`check` names a status word the mapping does not know once it repeats: a product's own
vocabulary ('Facturado' on six visits) is what the admin must map, so the quarantine reason
and the whole-source list show it; a name typed once into the status column, a word on two
rows, or one carrying a phone's digits stays described, never shown. A real PostgreSQL table
read through the connector's query, as the admin runs `check`."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import pytest

from tests.conftest import postgres_schema

ZONE = "America/New_York"
WORDS = ["scheduled"] * 10 + ["Facturado"] * 6 + ["Maria Lopez"] + ["Side Door"] * 2 + ["Ext 5551234"] * 6


def _check(tmp_path: Path, write_settings: Callable[..., Path], cli: Any, status: str) -> tuple[dict[str, Any], str]:
    """`check --json --offline` and `check --offline` of upcoming visits with ``WORDS`` as statuses."""
    with postgres_schema() as url, psycopg.connect(url, autocommit=True) as connection:
        connection.execute("CREATE TABLE visits (id integer PRIMARY KEY, patient_id integer NOT NULL, "
                           "phone text, starts_at timestamp NOT NULL, status text NOT NULL)")
        day = datetime.now(ZoneInfo(ZONE)).date()
        rows = [(n, 100 + n, f"+1 212 555 {1000 + n}", datetime.combine(day + timedelta(days=2 + n), time(9 + n % 8)),
                 word) for n, word in enumerate(WORDS, 1)]
        with connection.cursor() as cursor:
            cursor.executemany("INSERT INTO visits VALUES (%s, %s, %s, %s, %s)", rows)
        (tmp_path / "visits.yaml").write_text(
            "name: visits\nstatus_map: {scheduled: booked}\nfields:\n  external_id: {from: id}\n"
            f"  start: {{from: starts_at}}\n  duration_minutes: {{value: 30}}\n  status: {status}\n"
            "  patient.external_id: {from: patient_id}\n  patient.phone: {from: phone}\n"
            "  practitioner.external_id: {value: dr-1}\n  practitioner.name: {value: Dr One}\n", encoding="utf-8")
        connector = {"name": "visits", "kind": "sql", "mapping": str(tmp_path / "visits.yaml"), "url": url,
                     "mode": "snapshot", "query": "SELECT * FROM visits WHERE starts_at BETWEEN :window_start "
                                                  "AND :window_end"}
        text = "- " + "\n  ".join(f"{k}: {json.dumps(v)}" for k, v in connector.items()) + "\n"
        run = cli(write_settings(text, timezone=ZONE))
        _, out, _ = run("check", "--json", "--offline", expect=1)
        _, plain, _ = run("check", "--offline", expect=1)
    for private in ("Maria", "Lopez", "Side Door", "5551234"):
        assert private not in out + plain, private
    result: dict[str, Any] = json.loads(out)["connectors"][0]
    return result, plain


@pytest.mark.postgres
def test_a_repeated_unknown_status_word_is_named_and_a_rare_or_odd_one_is_not(
        tmp_path: Path, write_settings: Callable[..., Path], cli: Any) -> None:
    result, plain = _check(tmp_path, write_settings, cli, "{from: status}")
    quarantined = result["sample"]["quarantined"]
    named = [reason for reason in quarantined if "'Facturado'" in reason]
    assert named == ["status: unknown status word 'Facturado' (add it to the mapping's status_map, or map it "
                     "under `status: map:`)"] and quarantined[named[0]] == 6, quarantined
    # the name (one row), 'Side Door' (two rows) and the phone-like word (digits) stay described
    hidden = {reason: count for reason, count in quarantined.items() if "value not shown" in reason}
    assert sum(hidden.values()) == 9 and sum(quarantined.values()) == 15, quarantined
    assert "would quarantine x6: status: unknown status word 'Facturado'" in plain
    (finding,) = [f for f in result["plausibility"]["findings"] if f["check"] == "statuses"]
    assert "'Facturado' (6 row(s))" in finding["message"] and "4 word(s)" in finding["message"]


@pytest.mark.postgres
def test_a_repeated_word_a_status_map_lacks_is_named_too(tmp_path: Path, write_settings: Callable[..., Path],
                                                        cli: Any) -> None:
    """The field's own `map:` (no `quote: true`) named no value at all: now the repeated word."""
    result, _ = _check(tmp_path, write_settings, cli, "{from: status, map: {scheduled: booked}}")
    quarantined = result["sample"]["quarantined"]
    assert quarantined.get("status: value 'Facturado' not in the mapping's value map (add it under `status: map:` "
                           "in a site mapping that extends this one)") == 6, quarantined
    assert sum(quarantined.values()) == 15
