"""The calendar settings edited months after go-live: what each edit does to the doctors'
calendars, through the pipeline's calendar stage (`sync --once`) against the fake Google
and the .ics files on disk. A calendar must never keep a visit the store no longer wants
there: not after the provider changes (a doctor still subscribed to the old feed), not
after a doctor's calendar changes, not after the stage is switched off."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest
from icalendar import Calendar

from clinicsync.sync.calendar import push as push_module
from clinicsync.sync.calendar.google import GoogleCalendar
from clinicsync.sync.calendar.provider import event_id
from clinicsync.sync.calendar.push import calendar_stage, push
from clinicsync.sync.calendar.reconcile import reconcile
from clinicsync.sync.calendar.status import calendar_status
from clinicsync.sync.config.settings import Settings
from clinicsync.sync.config.settings.calendar import CalendarSettings
from clinicsync.sync.store.store import Store
from tests.sync.calendar.conftest import FAST_RETRY
from tests.sync.calendar.fake_google import FakeGoogle
from tests.sync.calendar.helpers import DOCTORS, apply, appointment, base_time, moved

AMELIA, RAFAEL = DOCTORS["D01"][1], DOCTORS["D02"][1]
SHARED = "c_amelia@group.calendar.google.com"


def stage(calendar: CalendarSettings, store: Store) -> dict[str, int]:
    """The calendar stage of one `sync --once` with these settings (it reads only `calendar`)."""
    return calendar_stage(cast(Settings, SimpleNamespace(calendar=calendar)), store, "run")


def live_in_file(path: Path) -> set[str]:
    """The event ids a calendar app subscribed to the file shows (not STATUS:CANCELLED)."""
    if not path.exists():
        return set()
    return {str(e["uid"]).removesuffix("@clinicsync") for e in Calendar.from_ical(path.read_bytes()).walk("VEVENT")
            if str(e.get("status", "")).upper() != "CANCELLED"}


@pytest.fixture
def settings(tmp_path: Path, key_file: Path, fake_google: FakeGoogle):  # type: ignore[no-untyped-def]
    """CalendarSettings as an admin edits them: the google section kept (``google=None``: removed)."""

    def make(provider: str, **overrides: Any) -> CalendarSettings:
        more = overrides.pop("google", {})
        data: dict[str, Any] = {"provider": provider, "ics": {"directory": "calendars"}, **overrides}
        if more is not None:
            data["google"] = {"key_file": str(key_file), "api_root": fake_google.url, "retry": FAST_RETRY, **more}
        return CalendarSettings.model_validate(data, context={"base_dir": tmp_path})

    return make


def amelia_file(tmp_path: Path) -> Path:
    return tmp_path / "calendars" / f"{AMELIA}.ics"


# The calendar stage's store writes (links inserted ON CONFLICT DO NOTHING, moved, retired,
# patched; the .ics events) and the retirement's queries run on PostgreSQL in the switches,
# moves, renames and template edits of this module; the tests narrowed to SQLite add only
# choices made in Python (which calendar a doctor's events go to, what Google is sent, pacing,
# bounds, the warning) over those same writes. Link failures are recorded on PostgreSQL in
# test_push.py.


# -- 1. the provider switched ---------------------------------------------------------------

def test_ics_to_google_retires_the_old_feed(settings, store: Store, fake_google: FakeGoogle,  # type: ignore[no-untyped-def]
                                            tmp_path: Path) -> None:
    apply(store, appointment("A1"), appointment("A2", start=base_time() + timedelta(hours=1)))
    assert stage(settings("ics"), store)["inserted"] == 2
    assert live_in_file(amelia_file(tmp_path)) == {event_id("csv", "A1"), event_id("csv", "A2")}

    google = settings("google")
    result = stage(google, store)
    assert set(fake_google.live(AMELIA)) == {event_id("csv", "A1"), event_id("csv", "A2")}
    # A doctor still subscribed to the old feed sees neither visit twice, nor a stale one later:
    assert live_in_file(amelia_file(tmp_path)) == set()
    assert result["inserted"] == 2 and result["retired"] == 2
    apply(store, appointment("A1", status="cancelled"))
    assert stage(google, store)["deleted"] == 1
    assert live_in_file(amelia_file(tmp_path)) == set()
    assert set(fake_google.live(AMELIA)) == {event_id("csv", "A2")}
    assert calendar_status(google, store.engine)["left_behind"] == []
    fake_google.reset_counts()
    assert "retired" not in stage(google, store)  # nothing left: the next run does nothing more
    assert fake_google.api_requests == []


def test_google_to_ics_and_back_moves_every_event(settings, store: Store, fake_google: FakeGoogle,  # type: ignore[no-untyped-def]
                                                  tmp_path: Path) -> None:
    apply(store, appointment("A1"), appointment("A2", start=base_time() + timedelta(hours=1)))
    stage(settings("google"), store)
    assert len(fake_google.live(AMELIA)) == 2

    result = stage(settings("ics"), store)  # google's key still in the settings: its events are deleted
    assert fake_google.live(AMELIA) == {}
    assert live_in_file(amelia_file(tmp_path)) == {event_id("csv", "A1"), event_id("csv", "A2")}
    assert result["inserted"] == 2 and result["retired"] == 2

    apply(store, appointment("A2", status="cancelled"))
    result = stage(settings("google"), store)  # and back: the deleted Google event comes back, the file empties
    assert set(fake_google.live(AMELIA)) == {event_id("csv", "A1")}
    assert live_in_file(amelia_file(tmp_path)) == set()
    assert result["patched"] == 1 and result["retired"] == 2  # A2 too: the file still showed it

    result = stage(settings("ics"), store)  # and back again: the file's cancelled event comes back
    assert live_in_file(amelia_file(tmp_path)) == {event_id("csv", "A1")}
    assert fake_google.live(AMELIA) == {}
    assert result["patched"] == 1 and result["retired"] == 1


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_retiring_never_emails_invited_patients(settings, store: Store, fake_google: FakeGoogle) -> None:  # type: ignore[no-untyped-def]
    apply(store, appointment("A1"))
    stage(settings("google", invite_patient=True), store)
    fake_google.reset_counts()
    result = stage(settings("ics", invite_patient=True), store)
    deletes = [c for c in fake_google.calls if c.method == "DELETE"]
    assert deletes and all(c.query.get("sendUpdates") == ["none"] for c in deletes)  # the visit is not cancelled
    assert result["retired"] == 1


# -- 4. the calendar switched off ------------------------------------------------------------

@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_provider_none_with_the_key_kept_removes_the_events(settings, store: Store,  # type: ignore[no-untyped-def]
                                                            fake_google: FakeGoogle) -> None:
    apply(store, appointment("A1"))
    stage(settings("google"), store)
    result = stage(settings("none"), store)
    assert fake_google.live(AMELIA) == {}
    assert result["retired"] == 1
    assert calendar_status(settings("none"), store.engine)["left_behind"] == []


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_section_removed_leaves_the_events_and_status_says_so(settings, store: Store,  # type: ignore[no-untyped-def]
                                                              fake_google: FakeGoogle) -> None:
    apply(store, appointment("A1"))
    stage(settings("google"), store)
    off = CalendarSettings()  # the whole `calendar:` section removed: no key to reach Google with
    result = stage(off, store)
    assert len(fake_google.live(AMELIA)) == 1  # nothing can remove it: status must say so
    assert calendar_status(off, store.engine).get("left_behind") == [
        {"provider": "google", "calendar": AMELIA, "events": 1}]
    assert result["left"] == 1
    # Put back with the key (provider none): removed, and status is clear.
    assert stage(settings("none"), store)["retired"] == 1
    assert fake_google.live(AMELIA) == {}
    assert calendar_status(off, store.engine)["left_behind"] == []


# -- 2. one doctor's calendar changed (pinned: right on main) ----------------------------------

def test_a_doctor_moved_to_another_calendar_leaves_none_behind(settings, store: Store,  # type: ignore[no-untyped-def]
                                                               fake_google: FakeGoogle) -> None:
    fake_google.shared[SHARED] = {"frontdesk@clinic.example.org"}
    apply(store, appointment("A1"), appointment("A2", start=base_time() + timedelta(hours=1)))
    stage(settings("google"), store)
    moved = settings("google", calendars=[
        {"practitioner": "D01", "calendar_id": SHARED, "user": "frontdesk@clinic.example.org"}])
    result = stage(moved, store)
    assert (result["inserted"], result["deleted"]) == (2, 2)
    assert fake_google.live(AMELIA) == {}
    assert len(fake_google.live(SHARED)) == 2
    apply(store, appointment("A1", status="cancelled"))  # cancelled later: gone from the new calendar
    assert stage(moved, store)["deleted"] == 1
    assert set(fake_google.live(SHARED)) == {event_id("csv", "A2")}
    assert fake_google.live(AMELIA) == {}


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_a_doctor_removed_from_the_mapping_loses_their_events(settings, store: Store,  # type: ignore[no-untyped-def]
                                                              fake_google: FakeGoogle) -> None:
    apply(store, appointment("A1"), appointment("A2", doctor="D02"))
    stage(settings("google", calendars=[{"practitioner": "D01"}, {"practitioner": "D02"}], default="skip"), store)
    left = settings("google", calendars=[{"practitioner": "D02"}], default="skip")
    result = stage(left, store)
    assert (result["deleted"], result["skipped"]) == (1, 1)
    assert fake_google.live(AMELIA) == {}
    assert len(fake_google.live(RAFAEL)) == 1


def test_an_ics_calendar_renamed_empties_the_old_file(settings, store: Store, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    apply(store, appointment("A1"))
    stage(settings("ics"), store)
    renamed = settings("ics", calendars=[{"practitioner": "D01", "calendar_id": "dr-hart"}])
    assert stage(renamed, store)["deleted"] == 1
    assert live_in_file(amelia_file(tmp_path)) == set()
    assert live_in_file(tmp_path / "calendars" / "dr-hart.ics") == {event_id("csv", "A1")}


# -- 3. what an event says changed (pinned: right on main) ------------------------------------

def test_a_title_template_edit_repushes_the_window_only(settings, store: Store,  # type: ignore[no-untyped-def]
                                                        fake_google: FakeGoogle) -> None:
    long_ago = base_time() - timedelta(days=60)
    apply(store, appointment("A1"), appointment("A0", start=long_ago))
    stage(settings("google", past_days=90), store)  # A0 was pushed while it was inside a wider window
    assert len(fake_google.live(AMELIA)) == 2
    edited = settings("google", summary="Visit")  # past_days back to 30: A0 is history now
    result = stage(edited, store)
    assert (result["patched"], result["unchanged"]) == (1, 0)
    events = fake_google.live(AMELIA)
    assert events[event_id("csv", "A1")]["summary"] == "Visit"
    assert events[event_id("csv", "A0")]["summary"] != "Visit"  # the past is left as it was
    fake_google.reset_counts()
    assert stage(edited, store)["unchanged"] == 1 and fake_google.api_requests == []


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_a_shared_calendar_written_as_another_user_keeps_its_events(settings, store: Store,  # type: ignore[no-untyped-def]
                                                                    fake_google: FakeGoogle,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """The front desk's account that wrote a shared calendar changes (the person left): the same
    calendar, the same event ids, another user acting. The events must stay, not be deleted by
    the old user after the new one wrote them. Rounds of two operations: a calendar of
    hundreds of events, whose new user's calls fill a round before the old user's deletes."""
    monkeypatch.setattr(push_module, "CHUNK", 2)
    fake_google.shared[SHARED] = {"frontdesk@clinic.example.org", "newdesk@clinic.example.org"}
    apply(store, appointment("A1"), appointment("A2", start=base_time() + timedelta(hours=1)))
    stage(settings("google", calendars=[
        {"practitioner": "D01", "calendar_id": SHARED, "user": "newdesk@clinic.example.org"}]), store)
    assert len(fake_google.live(SHARED)) == 2
    edited = settings("google", calendars=[
        {"practitioner": "D01", "calendar_id": SHARED, "user": "frontdesk@clinic.example.org"}])
    stage(edited, store)
    assert set(fake_google.live(SHARED)) == {event_id("csv", "A1"), event_id("csv", "A2")}
    fake_google.reset_counts()
    stage(edited, store)
    assert set(fake_google.live(SHARED)) == {event_id("csv", "A1"), event_id("csv", "A2")}
    apply(store, appointment("A1", status="cancelled"))  # and a later cancellation still reaches it
    stage(edited, store)
    assert set(fake_google.live(SHARED)) == {event_id("csv", "A2")}


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_a_doctors_primary_named_by_its_id_keeps_its_events(settings, store: Store,  # type: ignore[no-untyped-def]
                                                            fake_google: FakeGoogle,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """A rule naming the doctor's own calendar by its id (their email) instead of the default
    primary: the same calendar; its events must stay (rounds of one operation: the insert's
    update goes before the old target's delete)."""
    monkeypatch.setattr(push_module, "CHUNK", 1)
    apply(store, appointment("A1"))
    stage(settings("google"), store)
    stage(settings("google", calendars=[{"practitioner": "D01", "calendar_id": AMELIA, "user": AMELIA}]), store)
    assert set(fake_google.live(AMELIA)) == {event_id("csv", "A1")}


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_reconcile_of_one_calendar_written_as_two_users_finds_no_orphans(settings, store: Store,  # type: ignore[no-untyped-def]
                                                                         fake_google: FakeGoogle) -> None:
    """Two doctors' rules send them to one shared calendar, each written as its own user (a rule
    edited to name another user, beside one that was not): each user's listing of the calendar
    holds the other's events too; none is an orphan, and --fix deletes none."""
    fake_google.shared[SHARED] = {"frontdesk@clinic.example.org", "newdesk@clinic.example.org"}
    calendar = settings("google", calendars=[
        {"practitioner": "D01", "calendar_id": SHARED, "user": "frontdesk@clinic.example.org"},
        {"practitioner": "D02", "calendar_id": SHARED, "user": "newdesk@clinic.example.org"}])
    apply(store, appointment("A1"), appointment("A2", doctor="D02"))
    stage(calendar, store)
    assert len(fake_google.live(SHARED)) == 2
    whole = cast(Settings, SimpleNamespace(calendar=calendar, connectors=[SimpleNamespace(name="csv")]))
    provider = GoogleCalendar(calendar.google, sleep=lambda _: None)
    try:
        report = reconcile(whole, store.engine, provider, fix=True)
    finally:
        provider.close()
    assert [f for f in report.findings if f.kind == "orphan"] == []
    assert report.orphans_deleted == 0
    assert len(fake_google.live(SHARED)) == 2


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_a_switch_meeting_calendars_usage_limit_sends_one_batch_and_keeps_the_old_feed(  # type: ignore[no-untyped-def]
        settings, store: Store, fake_google: FakeGoogle, tmp_path: Path) -> None:
    """Google's answer to a user who created too many events in a short time (the first push
    after a switch): 403 usageLimits/quotaExceeded, for hours. The rest of that doctor's events
    wait for the next run unsent (not one failing call per event per run), another doctor's go,
    and the doctor's old .ics feed keeps the visits Google has not taken yet."""
    start = base_time()
    apply(store, *[appointment(f"A{i}", start=start + timedelta(minutes=30 * i)) for i in range(120)],
          appointment("R1", doctor="D02"))
    stage(settings("ics"), store)
    fake_google.fail(403, "quotaExceeded", times=10**6, principal=AMELIA)
    result = stage(settings("google"), store)
    assert len([c for c in fake_google.calls if c.principal == AMELIA]) <= 50  # one batch, not 120 calls
    assert set(fake_google.live(RAFAEL)) == {event_id("csv", "R1")}
    assert len(live_in_file(amelia_file(tmp_path))) == 120  # she still sees her visits where she did
    assert live_in_file(tmp_path / "calendars" / f"{RAFAEL}.ics") == set()
    assert (result["inserted"], result["failed"], result["retired"], result["left"]) == (1, 120, 1, 120)
    status = calendar_status(settings("google"), store.engine)
    assert {row["calendar"]: row["failing"] for row in status["calendars"]} == {AMELIA: 120, RAFAEL: 0}
    assert status["left_behind"] == [{"provider": "ics", "calendar": AMELIA, "events": 120}]

    fake_google.faults.clear()  # hours later: Google takes them, and the old feed empties
    result = stage(settings("google"), store)
    assert (result["inserted"], result["retired"]) == (120, 120)
    assert len(fake_google.live(AMELIA)) == 120 and live_in_file(amelia_file(tmp_path)) == set()


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_retiring_is_bounded_per_run(settings, store: Store, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    apply(store, *[appointment(f"A{i}", start=base_time() + timedelta(minutes=30 * i)) for i in range(3)])
    stage(settings("ics"), store)
    off = settings("none")
    assert push_module.retire_others(off, store.engine, limit=2) == {"retired": 2, "left": 1}
    assert len(live_in_file(amelia_file(tmp_path))) == 1
    assert push_module.retire_others(off, store.engine, limit=2) == {"retired": 1}
    assert live_in_file(amelia_file(tmp_path)) == set()
    assert push_module.retire_others(off, store.engine, limit=2) == {}


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_the_first_push_after_a_switch_paces_every_doctor_at_once(settings, store: Store,  # type: ignore[no-untyped-def]
                                                                  fake_google: FakeGoogle) -> None:
    """Calls are paced per user (google.user_calls_per_minute): with each doctor's calls in
    batches of their own, one after another, the pacer waited on one doctor while the other's
    quota went unused (120 s here); spread over the batches, both are paced together."""
    start = base_time()
    apply(store, *[appointment(f"A{i}", start=start + timedelta(minutes=30 * i)) for i in range(20)],
          *[appointment(f"R{i}", doctor="D02", start=start + timedelta(minutes=30 * i)) for i in range(20)])
    google = settings("google", google={"batch_size": 10, "user_calls_per_minute": 10})
    clock = [0.0]

    def sleep(seconds: float) -> None:
        clock[0] += seconds

    provider = GoogleCalendar(google.google, sleep=sleep, clock=lambda: clock[0])
    try:
        assert push(google, store.engine, provider).inserted == 40
    finally:
        provider.close()
    assert clock[0] <= 60, clock


def test_the_switches_on_mariadb(settings, mariadb_store: Store, fake_google: FakeGoogle,  # type: ignore[no-untyped-def]
                                 tmp_path: Path) -> None:
    """The retirement's queries (another provider's live links, the new provider's pending ones,
    the day's record) on MariaDB: back and forth, then the section removed and put back."""
    test_google_to_ics_and_back_moves_every_event(settings, mariadb_store, fake_google, tmp_path)
    test_section_removed_leaves_the_events_and_status_says_so(settings, mariadb_store, fake_google)


# -- 5. a template edit over many events: bounded per run, the soonest first --------------------

def test_a_template_edit_is_patched_a_bounded_number_a_run_the_soonest_first(  # type: ignore[no-untyped-def]
        settings, store: Store, fake_google: FakeGoogle, monkeypatch: pytest.MonkeyPatch) -> None:
    """A title edit renders every event in the window again: Google takes at most
    RERENDER_PER_RUN of those patches a run, the soonest visits first, and the rest wait for
    the next runs (``rerender_left``, `calendar status`). A visit moved or cancelled in the
    same run goes anyway and is not counted against the bound."""
    start = base_time()
    visits = [appointment(f"A{i}", start=start + timedelta(hours=i)) for i in range(30)]
    apply(store, *visits)
    assert stage(settings("google"), store)["inserted"] == 30
    monkeypatch.setattr(push_module, "RERENDER_PER_RUN", 12, raising=False)
    edited = settings("google", summary="Visit")
    apply(store, moved(visits[28], 30), appointment("A29", start=visits[29].start, status="cancelled"))
    result = stage(edited, store)
    assert (result["patched"], result["deleted"], result["rerender_left"]) == (13, 1, 16)
    events = fake_google.live(AMELIA)
    new = {i for i in range(29) if events[event_id("csv", f"A{i}")]["summary"] == "Visit"}
    assert new == {*range(12), 28}  # the soonest twelve, and the visit moved (with the new title)
    assert event_id("csv", "A29") not in events
    status = calendar_status(edited, store.engine)
    assert [row["rerender_left"] for row in status["calendars"]] == [16]

    assert (stage(edited, store)["patched"], stage(edited, store)["patched"]) == (12, 4)
    assert all(e["summary"] == "Visit" for e in fake_google.live(AMELIA).values())
    result = stage(edited, store)
    assert (result["patched"], "rerender_left" in result) == (0, False)
    assert [row["rerender_left"] for row in calendar_status(edited, store.engine)["calendars"]] == [0]


@pytest.mark.parametrize("count", [80])
def test_a_cancellation_during_a_template_catch_up_goes_first(  # type: ignore[no-untyped-def]
        settings, store: Store, fake_google: FakeGoogle, monkeypatch: pytest.MonkeyPatch, count: int) -> None:
    """Measured with the pacer's clock: a template edit over ``count`` events of two doctors
    (10 calls a minute each, 20 re-renders a run) takes ceil(count / 20) runs of about a
    simulated minute each, not one run of the whole window. A cancellation of the last visit
    arriving after the first run is sent in the next run, before any re-rendered event."""
    start = base_time()
    visits = [appointment(f"{d}{i}", doctor=doctor, start=start + timedelta(hours=i))
              for d, doctor in (("A", "D01"), ("R", "D02")) for i in range(count // 2)]
    apply(store, *visits)
    monkeypatch.setattr(push_module, "RERENDER_PER_RUN", 20, raising=False)
    google = settings("google", google={"batch_size": 10, "user_calls_per_minute": 10})
    clock = [0.0]

    def sleep(seconds: float) -> None:
        clock[0] += seconds

    def run(calendar: CalendarSettings) -> tuple[dict[str, int], float]:
        began = clock[0]
        provider = GoogleCalendar(calendar.google, sleep=sleep, clock=lambda: clock[0])
        try:
            return push(calendar, store.engine, provider).as_dict(), clock[0] - began
        finally:
            provider.close()

    assert run(google)[0]["inserted"] == count
    edited = google.model_copy(update={"summary": "Visit"})
    seconds: list[float] = []
    result, took = run(edited)
    seconds.append(took)
    assert (result["patched"], result["rerender_left"]) == (20, count - 20)
    last = event_id("csv", f"A{count // 2 - 1}")
    apply(store, appointment(f"A{count // 2 - 1}", start=start + timedelta(hours=count // 2 - 1),
                             status="cancelled"))
    fake_google.reset_counts()
    result, took = run(edited)
    seconds.append(took)
    assert (result["deleted"], result["patched"]) == (1, 20)
    assert fake_google.calls[0].method == "DELETE" and fake_google.calls[0].event_id == last
    runs = 2
    while "rerender_left" in result:
        result, took = run(edited)
        seconds.append(took)
        runs += 1
    assert runs == -(-(count - 1) // 20)  # the cancelled visit is not re-rendered
    assert all(took <= 70 for took in seconds), seconds  # 20 calls of two users paced at 10 a minute
    assert all(e["summary"] == "Visit" for e in fake_google.live(AMELIA).values())
    assert last not in fake_google.live(AMELIA)


def test_an_ics_template_edit_rewrites_every_event_in_one_run(settings, store: Store,  # type: ignore[no-untyped-def]
                                                              tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """.ics is not bounded: a file is written whole once per doctor and run, and a bound would
    leave a doctor's feed half old, half new for several runs, for no call saved."""
    apply(store, *[appointment(f"A{i}", start=base_time() + timedelta(hours=i)) for i in range(30)])
    stage(settings("ics"), store)
    monkeypatch.setattr(push_module, "RERENDER_PER_RUN", 12, raising=False)
    result = stage(settings("ics", summary="Visit"), store)
    assert result["patched"] == 30 and "rerender_left" not in result
    titles = {str(e["summary"]) for e in Calendar.from_ical(amelia_file(tmp_path).read_bytes()).walk("VEVENT")}
    assert titles == {"Visit"}


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_events_left_behind_are_one_warning_not_one_per_run(settings, store: Store,  # type: ignore[no-untyped-def]
                                                            fake_google: FakeGoogle) -> None:
    """Events nothing can remove were a `calendar.left_behind` warning at
    every run (288 a day under cron); now one, the runs after it at debug, and a `.resolved`
    line once they are gone (sync/runs/standing.py). `calendar status` says so all along."""
    from structlog.testing import capture_logs

    apply(store, appointment("A1"))
    stage(settings("google"), store)
    off = CalendarSettings()
    with capture_logs() as logs:
        for _ in range(4):
            assert stage(off, store)["left"] == 1
        assert stage(settings("none"), store)["retired"] == 1
    left = [line["log_level"] for line in logs if line["event"] == "calendar.left_behind"]
    assert left == ["warning", "debug", "debug", "debug"]  # main: four warnings
    assert [line["provider"] for line in logs if line["event"] == "calendar.left_behind.resolved"] == ["google"]
