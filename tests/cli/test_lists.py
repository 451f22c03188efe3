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
from datetime import datetime, timedelta

import pytest

from tests.cli.conftest import APPOINTMENTS, QUARANTINED, REMINDER_ROWS, SET_ASIDE, BigStore, Run, clinic_day

BOX = re.compile(r"[\u2500-\u257f]")  # rich's box drawing: ┏ ━ ┃ │ ╭ …
SHOWING = re.compile(r"^showing ([\d,]+) of ([\d,]+) ", re.MULTILINE)
LISTS = {  # command -> (every row there is, the noun it counts)
    ("quarantine", "list"): QUARANTINED,
    ("reminders", "list", "--from", "-30d", "--to", "+90d"): REMINDER_ROWS,
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


def test_reminders_list_has_a_default_window_of_the_last_and_the_next_week(run: Run, big: BigStore) -> None:
    """A store keeps every reminder it ever planned: by default the list shows those due from
    seven days ago to seven days ahead (each reminder is due a day before its visit), counted
    in the window; the lists to act on (unknown, failed) show every one."""
    first, end = clinic_day(-7) + timedelta(days=1), clinic_day(8) + timedelta(days=1)
    window = sum(1 for start in big.starts[:REMINDER_ROWS] if first <= start < end)  # the first visits have one
    assert 200 < window < REMINDER_ROWS
    _, out, err = run("reminders", "list", "--format", "csv", "--utc", "--limit", "100000")
    assert said(err) == (window, window)
    due = [datetime.fromisoformat(row["due (UTC)"]) for row in csv.DictReader(io.StringIO(out))]
    assert due == sorted(due) and clinic_day(-7) <= due[0] and due[-1] < clinic_day(8)
    assert said(run("reminders", "list", "--status", "pending", "--all")[2])[1] == REMINDER_ROWS // 3
    assert json.loads(run("reminders", "list", "--json", "--status", "failed")[1])["total"] == 0


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
