"""FORGETFUL's pieces on their own: the scenario's late events, and the driver's check of the
store after a run (tests/simulation/forgetting.py) against a store that forgot nothing."""

from __future__ import annotations

from datetime import timedelta

from clinicsync.sync.store.store import Store
from tests.simulation.faults import COMBINABLE, Fault
from tests.simulation.forgetting import held_too_long
from tests.simulation.scenario import generate
from tests.sync.test_retention import NOW, seed


def test_forgetful_draws_its_late_events_after_every_other_fault() -> None:
    """Re-sent webhooks 32-40 days after the visit, cancellations 32-45 days after it ended,
    late replies; the other faults' scenario is what it was without FORGETFUL."""
    others = frozenset(COMBINABLE) - {Fault.FORGETFUL, Fault.OVERLAPPING_SYNC}  # the one drawn after it
    s = generate(7, 60, others | {Fault.FORGETFUL})
    base = generate(7, 60, others)
    resent = [d for d in s.deliveries if d not in base.deliveries]
    assert resent and all(timedelta(days=31) < d.at - d.version.start < timedelta(days=41) for d in resent)
    late = [c for c in s.changes if c not in base.changes]
    assert late and all(c.kind == "cancel" and c.at - c.version.start > timedelta(days=31) for c in late)
    assert any(r.sid.startswith("LATE") for r in s.replies)
    assert [c for c in s.changes if c in base.changes] == base.changes
    assert (s.down, s.provider_down, s.throttled, s.kill_plan_at) == (base.down, base.provider_down, base.throttled,
                                                                      base.kill_plan_at)


def test_the_check_sees_patient_data_held_too_long(store: Store) -> None:
    """Before the prune: the old visits, the patient with none since and the old replies are
    named (ids only); after it, nothing."""
    ids = seed(store)
    found = [text for _, text in held_too_long(store, NOW)]
    assert sorted(t.split()[2] for t in found if t.startswith("retention: visit")) == [
        "emr/V-back-old", "emr/V-old", "emr/V-wait-old"]
    assert [t.split()[2] for t in found if t.startswith("retention: patient")] == ["emr/P-old"]
    assert sum(t.startswith("retention: reply") for t in found) == 2
    assert not any("+49" in t or "Name" in t for t in found), found  # no PHI in a problem
    assert ids and store.forget_patient_data(NOW)
    assert held_too_long(store, NOW) == []
