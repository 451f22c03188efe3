"""Issue 31, obs 1 and 5, on a 50,000-row store: every list says what it left out ("showing
N of M", a `total` in JSON, counted without reading every row), stops at a stated --limit
(and --all), `appointments list` has a default window and takes words for days, and piped
output is plain columns with no box characters."""

from __future__ import annotations

import csv
import io
import json
import re
import time

import pytest

from tests.cli.conftest import APPOINTMENTS, QUARANTINED, REMINDER_ROWS, SET_ASIDE, BigStore, Run, clinic_day

BOX = re.compile(r"[\u2500-\u257f]")  # rich's box drawing: ┏ ━ ┃ │ ╭ …
SHOWING = re.compile(r"^showing ([\d,]+) of ([\d,]+) ", re.MULTILINE)
LISTS = {  # command -> (every row there is, the noun it counts)
    ("quarantine", "list"): QUARANTINED,
    ("reminders", "list"): REMINDER_ROWS,
    ("set-aside", "list"): SET_ASIDE,
    ("appointments", "list", "--from", "-30d", "--to", "+90d"): APPOINTMENTS,
}


def said(err: str) -> tuple[int, int]:
    match = SHOWING.search(err)
    assert match, err
    return int(match[1].replace(",", "")), int(match[2].replace(",", ""))


@pytest.mark.parametrize("command", list(LISTS), ids=lambda c: " ".join(c[:2]))
def test_every_list_states_its_total_and_its_limit(run: Run, command: tuple[str, ...]) -> None:
    total = LISTS[command]
    _, out, err = run(*command)
    assert said(err) == (200, total) and "--all" in err  # the default limit, said with how to see more
    assert len(out.splitlines()) == 1 + 200  # a header and the rows, nothing else in the pipe
    assert not BOX.search(out) and not BOX.search(err)
    _, out, err = run(*command, "--limit", "7")
    assert said(err) == (7, total) and len(out.splitlines()) == 8
    page = json.loads(run(*command, "--format", "json", "--limit", "5")[1])
    assert (page["total"], page["shown"], page["limit"], len(page["items"])) == (total, 5, 5, 5)
    assert json.loads(run(*command, "--json", "--limit", "3")[1])["total"] == total  # --json: the same object
    rows = list(csv.reader(io.StringIO(run(*command, "--format", "csv", "--limit", "4")[1])))
    assert len(rows) == 5 and all(len(row) == len(rows[0]) for row in rows)


def test_all_shows_every_row_and_says_so(run: Run) -> None:
    _, out, err = run("quarantine", "list", "--all")
    assert said(err) == (QUARANTINED, QUARANTINED) and "--limit" not in err
    assert len(out.splitlines()) == 1 + QUARANTINED
    page = json.loads(run("reminders", "list", "--all", "--json", "--status", "pending")[1])
    assert page["total"] == page["shown"] == len(page["items"]) == REMINDER_ROWS // 3 and page["limit"] is None


def test_appointments_list_has_a_default_window_from_today_for_seven_days(run: Run, big: BigStore) -> None:
    window = big.in_window(clinic_day(0), clinic_day(7))
    assert 200 < window < APPOINTMENTS
    started = time.perf_counter()
    page = json.loads(run("appointments", "list", "--json")[1])
    elapsed = time.perf_counter() - started
    assert (page["total"], page["shown"]) == (window, 200)
    assert clinic_day(0).isoformat().replace("+00:00", "Z") <= page["items"][0]["start"]
    assert elapsed < 5, elapsed  # was 3 min 50 s for every row; one COUNT and one page now
    assert "(default: today, for 7 days)" in " ".join(run("appointments", "list", "--help")[1].split())


def test_appointments_list_takes_words_for_days(run: Run, big: BigStore) -> None:
    _, out, err = run("appointments", "list", "--from", "today", "--to", "tomorrow", "--limit", "1000")
    assert said(err) == (min(1000, big.in_window(clinic_day(0), clinic_day(2))),
                         big.in_window(clinic_day(0), clinic_day(2)))
    assert json.loads(run("appointments", "list", "--json", "--from", "+3d", "--to", "+3d")[1])["total"] == \
        big.in_window(clinic_day(3), clinic_day(4))
    _, out, err = run("appointments", "list", "--from", "yesterdayy", expect=2)
    assert len(err.strip().splitlines()) == 1 and "did you mean 'yesterday'" in err
    assert out == "" and "Traceback" not in err


def test_piped_output_has_no_box_characters(run: Run) -> None:
    for command in (("status",), ("appointments", "list", "--limit", "3"),
                    ("quarantine", "list", "--limit", "3")):
        _, out, _ = run(*command, expect=None)
        assert not BOX.search(out), (command, out[:500])
    _, out, _ = run("quarantine", "list", "--limit", "2", "--format", "table")
    assert BOX.search(out) and "showing 2 of 1,168 quarantine items" in " ".join(out.split())  # asked for
