"""The front desk in the simulation (DESK): its actions pressed through the page's own code, the
oracle working out which are recorded, what the patient and the doctor must then receive, and
what each visit's History must read. The month with every combinable fault carries it
(test_simulation.py); these runs are short and aimed, for the main suite."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from clinicsync.sync.desk import actions
from clinicsync.sync.desk.doctor_word import cancel_undone
from clinicsync.sync.reminders import answers
from clinicsync.sync.reminders.planned_rows import reminder_key
from tests.simulation.faults import COMBINABLE, Fault
from tests.simulation.run import Driver, quiet_logs
from tests.simulation.scenario import TICK, TZ, Change, DeskAct, Reply, Scenario, Version, generate

SEED, DAYS = 7, 2


def _aimed() -> tuple[Scenario, Version, Version]:
    """Two days with the desk's acts replaced by aimed ones on visits of the go-live export:
    cancel, Undo and cancel again; two desks confirming at once; a cancel undone five minutes
    later, once the doctor was told; a cancel on a page drawn before the tick's sync moved the
    visit."""
    s = generate(SEED, DAYS, frozenset({Fault.DESK}))
    at = s.golive + 8 * TICK  # 10:00 on the first day
    ahead = sorted((c.version for c in s.changes if c.at <= s.golive and c.version.source == "front"
                    and c.version.start > at + timedelta(days=1)), key=lambda v: v.external_id)
    target, raced, later = ahead[0], ahead[1], ahead[2]
    moved = next(c for c in s.changes if c.at > s.golive and c.kind in ("move", "cancel"))
    s.desk = sorted([DeskAct(at, "front", target.external_id, ("cancel", "undo", "cancel"), "other"),
                     DeskAct(at + TICK, "front", raced.external_id, ("confirmed_by_phone",), race=True),
                     DeskAct(at + 2 * TICK, "front", later.external_id, ("cancel", "undo-later")),
                     DeskAct(moved.at, moved.version.source, moved.version.external_id, ("cancel",), stale=True)],
                    key=lambda a: a.at)
    return s, target, later


def _run(s: Scenario, tmp_path: Path) -> Driver:
    quiet_logs()
    driver = Driver(s, f"sqlite:///{tmp_path / 'store.db'}", tmp_path)
    driver.verdict = driver.run()  # type: ignore[attr-defined]
    return driver


def test_cancel_undo_cancel_tells_the_doctor_once_and_the_refused_leave_no_trace(tmp_path: Path) -> None:
    s, target, later = _aimed()
    driver = _run(s, tmp_path)
    verdict = driver.verdict  # type: ignore[attr-defined]
    assert verdict.ok, verdict.report()
    told = [m for m in driver.mailbag.sent
            if m.identity.kind == "declined" and m.identity.subject == f"front/{target.external_id}"]
    assert len(told) == 1, told
    # the cancel undone once its notice went: the doctor hears it is off, then on again
    assert [m.identity.kind for m in driver.mailbag.sent if m.identity.person.startswith("D")
            and m.identity.subject == f"front/{later.external_id}"] == ["declined", "confirmation"]
    assert driver.desk is not None
    tally = driver.desk.tally
    assert (tally["recorded cancel"], tally["undone"]) == (3, 2), tally
    assert tally["recorded confirmed_by_phone"] == 1 and tally["refused as changed"] == 2, tally


def test_the_oracle_sees_a_second_cancel_that_tells_the_doctor_nothing(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """The gap the desk actors are there to find: a desk cancel's notice keyed by the visit's
    version alone, so that the cancel taken again after its Undo lands on the withdrawn one."""
    def by_version_alone(appointment: Any, desk_action: int | None) -> str:
        return reminder_key(appointment.id, "practitioner", "declined", None, appointment.version)

    monkeypatch.setattr(answers, "declined_notice_key", by_version_alone)
    s, target, _ = _aimed()
    verdict = _run(s, tmp_path).verdict  # type: ignore[attr-defined]
    assert not verdict.ok
    assert f"declined [front/{target.external_id}]" in verdict.report(), verdict.report()


def _declined_then_phoned() -> tuple[Scenario, Version, Version]:
    """Two days, two visits of the go-live export the source leaves alone, each its texting
    patient's earliest: each patient declines by SMS at 10:00, then phones; the desk records
    "Confirmed by phone" an hour later, on the second taking it back five minutes after (once
    the doctor was told it is on again)."""
    s = generate(SEED, DAYS, frozenset({Fault.DESK}))
    at = s.golive + 8 * TICK  # 10:00 on the first day
    phoned, undone = _texters_earliest_untouched(s, at)[:2]
    s.replies = [Reply(at, v.patient, "No", f"SMaimed{i}") for i, v in enumerate((phoned, undone))]
    s.desk = [DeskAct(at + 4 * TICK, "front", phoned.external_id, ("confirmed_by_phone",)),
              DeskAct(at + 4 * TICK, "front", undone.external_id, ("confirmed_by_phone", "undo-later"))]
    return s, phoned, undone


def _doctors_word(driver: Driver, visit: Version) -> list[str]:
    return [m.identity.kind for m in driver.mailbag.sent if m.identity.person.startswith("D")
            and m.identity.subject == f"front/{visit.external_id}"]


def test_a_phone_confirmation_after_an_sms_decline_tells_the_doctor_it_is_on_again(tmp_path: Path) -> None:
    s, phoned, undone = _declined_then_phoned()
    driver = _run(s, tmp_path)
    verdict = driver.verdict  # type: ignore[attr-defined]
    assert verdict.ok, verdict.report()
    assert _doctors_word(driver, phoned) == ["declined", "confirmation"]
    assert _doctors_word(driver, undone) == ["declined", "confirmation", "declined"]


def test_the_oracle_sees_a_phone_confirmation_that_tells_the_doctor_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The gap as it was: the doctor told the visit is off and never that it is on again."""
    monkeypatch.setattr(actions, "tell_doctor_confirmed", lambda *args: None)
    s, phoned, _ = _declined_then_phoned()
    verdict = _run(s, tmp_path).verdict  # type: ignore[attr-defined]
    assert not verdict.ok
    assert f"confirmation [front/{phoned.external_id}]" in verdict.report(), verdict.report()


def test_the_desk_draws_from_its_own_stream_and_moves_no_other_draw() -> None:
    s = generate(SEED, 30, frozenset(COMBINABLE))
    base = generate(SEED, 30, frozenset(COMBINABLE) - {Fault.DESK})
    assert replace(s, desk=[], faults=base.faults) == base
    assert len(s.desk) > 20 and any(a.race for a in s.desk) and any(a.stale for a in s.desk)
    assert any("undo" in a.steps for a in s.desk) and any("undo-later" in a.steps for a in s.desk)
    assert all(isinstance(a.at, datetime) and a.at > s.golive for a in s.desk)


def _declined_then_cancelled() -> tuple[Scenario, Version, Version]:
    """Two days, two visits of the go-live export the source leaves alone, each its texting
    patient's earliest: each patient declines by SMS at 10:00; the source gives the second to
    another doctor at 10:30 (a new version: that doctor was told nothing); at 11:00 the desk
    cancels the first, undoes it and cancels again, and cancels the second and undoes it."""
    s = generate(SEED, DAYS, frozenset({Fault.DESK}))
    at = s.golive + 8 * TICK  # 10:00 on the first day
    again, undone = _texters_earliest_untouched(s, at)[:2]
    other = next(d.id for d in s.doctors if d.id != undone.doctor)
    s.changes = sorted([*s.changes, Change(at + 2 * TICK, "move", replace(undone, doctor=other,
                                                                         updated_at=at + 2 * TICK))],
                       key=lambda c: c.at)
    s.replies = [Reply(at, v.patient, "No", f"SMaimed{i}") for i, v in enumerate((again, undone))]
    s.desk = [DeskAct(at + 4 * TICK, "front", again.external_id, ("cancel", "undo", "cancel"), "moved"),
              DeskAct(at + 4 * TICK, "front", undone.external_id, ("cancel", "undo"), "moved")]
    return s, again, undone


def test_undo_of_a_cancel_after_an_sms_decline_tells_the_doctor_only_of_the_decline(tmp_path: Path) -> None:
    s, again, undone = _declined_then_cancelled()
    driver = _run(s, tmp_path)
    verdict = driver.verdict  # type: ignore[attr-defined]
    assert verdict.ok, verdict.report()
    assert _doctors_word(driver, again) == ["declined"]  # the patient's; the desk's cancels add nothing
    assert _doctors_word(driver, undone) == ["declined"]  # the first doctor's, of the patient's decline
    assert driver.desk is not None
    assert (driver.desk.tally["recorded cancel"], driver.desk.tally["undone"]) == (3, 2), driver.desk.tally


def test_the_oracle_sees_a_doctor_told_of_a_cancel_that_was_undone(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The gap as it was: the Undo put back the patient's decline and left the cancel's own notice,
    planned for the doctor who took the visit over, to go out."""
    def kept_when_declined(connection: Any, appointment: Any, target: Any, now: datetime) -> None:
        if target.prior_answer != "declined":
            cancel_undone(connection, appointment, target, now)

    monkeypatch.setattr(actions, "cancel_undone", kept_when_declined)
    s, _, undone = _declined_then_cancelled()
    verdict = _run(s, tmp_path).verdict  # type: ignore[attr-defined]
    assert not verdict.ok
    assert f"declined [front/{undone.external_id}]" in verdict.report(), verdict.report()


def _texters_earliest_untouched(s: Scenario, at: datetime) -> list[Version]:
    """The go-live export's visits of the front source that the source leaves alone, each its
    texting patient's earliest (any visit, any version), more than a day after ``at``, by id."""
    texting = {p.id for p in s.patients if p.channel == "sms"}
    changed = {(c.version.source, c.version.external_id) for c in s.changes if c.at > s.golive}
    first: dict[str, datetime] = {}
    for c in s.changes:
        first[c.version.patient] = min(first.get(c.version.patient, c.version.start), c.version.start)
    return sorted((c.version for c in s.changes if c.at <= s.golive and c.version.source == "front"
                   and c.version.start > at + timedelta(days=1) and c.version.patient in texting
                   and ("front", c.version.external_id) not in changed
                   and first[c.version.patient] == c.version.start), key=lambda v: v.external_id)


def test_the_oracle_undoes_a_cancel_whose_time_the_waiting_list_offered_later_in_the_same_tick() -> None:
    """At a tick the desk's steps come before the waitlist's cycle: a time freed by a cancel and
    offered at the tick of its Undo went out after the Undo, which stands (seed 7303: cancel,
    Undo, cancel at 13:00, the slot offered and taken at 13:00). Offered a tick before, the
    Undo is refused and the cancel stands alone."""
    from tests.simulation.oracle import Oracle

    s, target, _ = _aimed()
    act = next(a for a in s.desk if a.external_id == target.external_id)
    key = ("front", target.external_id)
    same_tick = Oracle(s, {(target.external_id, target.start): act.at})
    same_tick.run()
    assert [(a, u) for _, a, _, u in same_tick.desk_record()[key]] == [("cancel", True), ("cancel", False)]
    before = Oracle(s, {(target.external_id, target.start): act.at - TICK})
    before.run()
    assert [(a, u) for _, a, _, u in before.desk_record()[key]] == [("cancel", False)]


def test_a_visit_declined_phoned_and_given_to_another_doctor_gets_its_reminders_again(tmp_path: Path) -> None:
    """Declined by SMS (its reminders dropped), confirmed by phone, then given to another doctor
    at the same start: a move (docs/reminders.md), so the offsets are planned again and, the
    answer no longer a decline, go (seed 8812's F00018, which the oracle expected silent)."""
    s, phoned, _ = _declined_then_phoned()
    s.desk = [a for a in s.desk if a.external_id == phoned.external_id]
    at = s.golive + 14 * TICK  # 13:00, after the phone confirmation
    other = next(d.id for d in s.doctors if d.id != phoned.doctor)
    s.changes = sorted([*s.changes, Change(at, "move", replace(phoned, doctor=other, updated_at=at))],
                       key=lambda c: c.at)
    s.days = max(s.days, (phoned.start.astimezone(TZ).date() - s.first_day).days + 1)  # quiet days to its start
    driver = _run(s, tmp_path)
    verdict = driver.verdict  # type: ignore[attr-defined]
    assert verdict.ok, verdict.report()
    went = [m.identity.detail.split()[0] for m in driver.mailbag.sent if m.identity.kind == "reminder"
            and m.identity.subject == f"front/{phoned.external_id}"]
    assert {"1d", "1h"} <= set(went), went
