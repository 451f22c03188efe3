"""The many-sources bench's judgement of the polls (bench/many_sources.py): the figures of
docs/performance.md, "A worker, and sizing", rest on it, and a wrong rule would pass a scheduler that polls twice
or misses sources. Pure functions on made-up polls and the workers' log lines they are read from;
the bench itself runs for minutes."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from bench.many_sources import Poll, Source, judge_polls, logged_polls, plan_sources, worker_polls

INTERVAL = 300.0
W0 = 1_800_000_000.0  # the window's start (epoch seconds)
W1 = W0 + 4 * INTERVAL


def _history(polls: dict[str, list[float]]) -> list[tuple[str, str, datetime, datetime | None]]:
    return [(name, "ok", datetime.fromtimestamp(t, UTC), datetime.fromtimestamp(t + 0.1, UTC))
            for name, times in polls.items() for t in times]


def _judge(polls: dict[str, list[float]], sources: list[Source], killed: float | None = None) -> dict[str, object]:
    logged = [Poll(name, 1, t + 0.1, False) for name, times in polls.items() for t in times]
    return judge_polls(logged, _history(polls), sources, W0, W1, INTERVAL, killed)


def _every(offset: float, until: float = W1) -> list[float]:
    """A source polled every interval from W0 - INTERVAL + offset."""
    times, t = [], W0 - INTERVAL + offset
    while t < until:
        times.append(t)
        t += INTERVAL
    return times


def test_the_mix_is_kept_and_one_in_a_hundred_hangs_alternately_sql_and_fhir() -> None:
    sources = plan_sources(1000, (50, 30, 20), 0.01)
    kinds = [s.kind for s in sources]
    assert (kinds.count("sql"), kinds.count("csv"), kinds.count("fhir")) == (500, 300, 200)
    hung = [s for s in sources if s.hung]
    assert len(hung) == 10 and {s.kind for s in hung} == {"sql", "fhir"}
    assert sorted(s.index for s in sources if s.kind == "fhir") == list(range(200))
    assert len({s.name for s in sources}) == 1000
    assert sum(s.hung for s in plan_sources(12, (50, 30, 20), 0.01)) == 1  # at least one


def test_a_source_polled_once_per_interval_passes_and_one_polled_by_both_workers_is_polled_twice() -> None:
    sources = [Source("good", "sql", 0), Source("twice", "sql", 1), Source("hung", "fhir", 0, hung=True)]
    polls = {"good": _every(17.0), "twice": sorted(_every(17.0) + _every(19.0)), "hung": [W0 + 5]}
    figures = _judge(polls, sources)
    assert (figures["polled_twice"], figures["missed"]) == (1, 0)
    assert figures["twice_examples"] == ["twice"]
    assert figures["sources_judged"] == 2  # the hung source is not judged


def test_a_skipped_interval_and_a_source_never_polled_in_the_window_are_missed() -> None:
    sources = [Source("gap", "csv", 0), Source("late_start", "csv", 1), Source("stopped", "csv", 2)]
    gap = [t for t in _every(10.0) if not W0 + INTERVAL <= t < W0 + 2 * INTERVAL]
    polls = {"gap": gap, "late_start": [W0 + INTERVAL + 60], "stopped": _every(10.0, until=W0 + INTERVAL)}
    figures = _judge(polls, sources)
    assert figures["missed"] == 3 and figures["polled_twice"] == 0


def test_after_a_kill_the_wait_for_each_sources_next_poll_is_measured_not_counted_as_missed() -> None:
    killed = W0 + 2 * INTERVAL + 100
    sources = [Source("survivor", "sql", 0), Source("orphan", "sql", 1), Source("lost", "sql", 2)]
    before = [t for t in _every(50.0) if t < killed]
    polls = {"survivor": _every(150.0),
             "orphan": [*before, killed + INTERVAL + 20],  # taken over within interval + 30 s
             "lost": before}  # never polled again
    figures = _judge(polls, sources, killed)
    assert figures["after_kill_unpolled"] == 1 and figures["after_kill_late"] == 1
    assert figures["missed"] == 0  # a gap over the kill is judged by the kill's rule alone, not counted twice


def _line(event: str, source: str, at: float, **fields: object) -> str:
    stamp = datetime.fromtimestamp(at, UTC).isoformat().replace("+00:00", "Z")
    return json.dumps({"event": event, "job": f"poll:{source}", "level": "info", "timestamp": stamp, **fields})


def test_each_poll_is_read_from_the_workers_log_where_the_run_history_folds_idle_ones(tmp_path: Path) -> None:
    """Consecutive idle polls share one run row, moved to the latest (RunLog.note_idle_poll): a
    source polled every interval showed in the history as polled once, then silent (missed).
    The workers log each poll's end: every idle poll is there, a skip (another worker held the
    source) is none, a crash is a failed poll; other jobs' lines are not polls."""
    idle = {"fetched": 30, "unchanged": 30, "error": None, "skipped": None}
    times = _every(17.0)
    log = tmp_path / "worker1.log"
    log.write_text("\n".join([
        *(_line("job.finished", "s1", t, failed=False, result={"failed": False, "s1": idle}) for t in times),
        _line("job.finished", "s1", W0 + 30, failed=False,
              result={"failed": False, "s1": {**idle, "skipped": "skipped: another worker is polling it right now"}}),
        _line("job.crashed", "s2", W0 + 40, error="RuntimeError"),
        json.dumps({"event": "job.finished", "job": "stages", "timestamp": "2027-01-15T08:00:00Z"}),
        "not json"]) + "\n", encoding="utf-8")
    polls = logged_polls(log, 1)
    assert polls is not None
    assert [p.ended for p in polls if p.source == "s1"] == times
    assert [(p.source, p.failed) for p in polls if p.source != "s1"] == [("s2", True)]
    folded = [("s1", "ok", datetime.fromtimestamp(times[-1], UTC), datetime.fromtimestamp(times[-1] + 0.1, UTC))]
    figures = judge_polls(polls, folded, [Source("s1", "csv", 0)], W0, W1, INTERVAL, None)
    assert (figures["missed"], figures["polled_twice"], figures["polls_in_window"]) == (0, 0, 4)
    assert worker_polls(log, W0, W1) == 5  # s1's four in the window and s2's crash
    quiet = tmp_path / "worker2.log"  # a log naming no poll job: no count, rather than none
    quiet.write_text(json.dumps({"event": "job.finished", "job": "stages"}) + "\n", encoding="utf-8")
    assert logged_polls(quiet, 2) is None and worker_polls(quiet, W0, W1) is None
