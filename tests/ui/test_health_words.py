"""Health in people's words (issue 58, obs 9): one labelled zone (the clinic's) on the page, weeks
as the dates they span, an outcome said once, chart text that a phone can read."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

from clinicsync.sync.config.settings import load_settings
from clinicsync.sync.server.app import create_app
from clinicsync.sync.store.store import Store
from clinicsync.sync.ui import charts
from clinicsync.sync.ui.render import Times
from tests.ui.seed import NOW, seed
from tests.ui.test_desk import MANAGER, settings_text

NEW_YORK = Times("America/New_York", "en-US")


def test_weeks_read_as_the_dates_they_span() -> None:
    assert NEW_YORK.week("2026-W48") == "Nov 23 \u2013 29"
    assert NEW_YORK.week("2026-W49") == "Nov 30 \u2013 Dec 6"
    assert NEW_YORK.week("2020-W53") == "Dec 28 \u2013 Jan 3"
    assert Times("Europe/Madrid", "es-ES").week("2026-W48") == "23 nov \u2013 29 nov"
    assert NEW_YORK.week("Dr Ana Doc") == "Dr Ana Doc"


def test_utc_stamps_in_a_sentence_read_in_the_clinics_time() -> None:
    text = "not heard from since 2026-11-24T13:45:00Z; expected by 2026-11-24T14:00:00Z (its schedule)"
    shown = NEW_YORK.in_text(text).replace("\u202f", " ")  # CLDR's narrow space before AM
    assert shown == ("not heard from since Tue, Nov 24, 2026, 8:45 AM; expected by "
                     "Tue, Nov 24, 2026, 9:00 AM (its schedule)")
    assert NEW_YORK.in_text("no stamp 2026-11-24 here") == "no stamp 2026-11-24 here"


def test_chart_labels_that_fit_only_a_wide_screen_are_marked() -> None:
    weeks = [NEW_YORK.week(f"2026-W{w}") for w in range(42, 50)]  # 'Oct 12 - 18' ... 'Nov 30 - Dec 6'
    svg = str(charts.grouped_bar_chart(weeks, {"confirmed %": [50.0] * 8, "no-show %": [5.0] * 8}, "per week"))
    shown = re.findall(r'<text class="(axis(?: dense)?)" x="[\d.]+" y="\d+" text-anchor="middle">', svg)
    assert shown == ["axis", "axis dense", "axis dense", "axis"]  # wide: every second; phone: every sixth
    assert not re.search(r'x="-', svg)


@pytest.mark.anyio
async def test_health_page_has_one_zone_and_says_sent_once(tmp_path: Path, store_url: str, store: Store) -> None:
    drop = tmp_path / "drop"
    drop.mkdir()
    path = tmp_path / "settings.yaml"
    path.write_text(settings_text(store_url, f"connectors:\n  - name: csv\n    kind: csv\n    drop_dir: {drop}\n"
                                             "    mapping: csv_default\n"), encoding="utf-8")
    seed(store)
    app = create_app(load_settings(path), store)
    app.state.ui_clock = lambda: NOW
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        html = (await client.get("/ui/health", headers=MANAGER)).text
    stalls = html[html.index('id="stalls"'):html.index('id="connectors"')]
    assert "source silent: csv" in stalls and "not heard from since" in stalls
    assert not re.search(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}", re.sub(r'datetime="[^"]+"', "", stalls))  # no raw UTC
    assert re.search(r"not heard from since \w{3}, \w{3} \d+, 2026, \d+:\d{2}\s[AP]M", stalls)
    assert not re.search(r"(\w+) \(\1\)", re.sub(r"<[^>]+>", "", html))  # never "sent (sent)"
    assert "-W4" not in html and "-W5" not in html


def test_doctors_whose_cut_names_would_read_alike_are_told_apart() -> None:
    """The per-doctor chart cuts a long name to fit under its bars: two doctors whose names begin
    alike keep their family names' end, and a cut label carries the whole name on hover."""
    doctors = ["Dr. Amelia Hartwell", "Dr. Amelia Hartley", "Dr. Amelia Hughes", "Dr. Moses"]
    svg = str(charts.grouped_bar_chart(doctors, {"confirmed %": [50.0] * 4}, "per doctor"))
    shown = re.findall(r'text-anchor="middle">(?:<title>([^<]*)</title>)?([^<]*)</text>', svg)
    assert [text for _, text in shown] == ["Dr. Am…artwell", "Dr. Am…Hartley", "Dr. Amelia Hu…", "Dr. Moses"]
    assert [title for title, _ in shown] == ["Dr. Amelia Hartwell", "Dr. Amelia Hartley", "Dr. Amelia Hughes", ""]
