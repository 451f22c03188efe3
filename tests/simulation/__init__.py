"""A deterministic simulation of a clinic's months (issue 28), the way FoundationDB and
TigerBeetle test: simulated time (time-machine), injected faults, and an oracle that says from
the scenario alone what every patient and doctor should receive and when.

- scenario.py: the seeded generator (a clinic, its people, each day's bookings, moves,
  cancellations and deletions; nothing else is random);
- faults.py: the registry of named fault classes, and those known to fail at this base;
- clinic.py: the real code paths (settings.yaml, the CSV drop in snapshot mode, the REST
  API through FastAPI's TestClient, `sync --once` / `remind --once` in-process) under a fake clock;
- mailbag.py: what the dry-run outbox notifier wrote, read back per remind tick;
- oracle.py: the expected messages, per docs/reminders.md, independent of the planner;
- verdict.py: expected vs got, as a readable report;
- run.py: one simulation from a seed; ``python -m tests.simulation`` is the soak.
"""
