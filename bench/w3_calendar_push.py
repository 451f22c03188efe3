"""W3: pushing 10,000 new appointments (about 50 doctors) to Google Calendar.

clinicsync's calendar stage (sync/calendar/) drives the real google-api-python-client and
google-auth against the loopback fake of the Calendar API and token endpoint that the
calendar tests use (tests/sync/calendar/fake_google.py), which counts every HTTP request.
Doctors get an uneven share of the appointments (seeded), as in a real clinic.

Baseline, same run: the naive script — one ``events().insert(...).execute()`` per event
through the same client, one delegated client per doctor — on a sample, its figures
scaled to the whole set. The product goal is at most 1 HTTP request per 40 events.
"""
from __future__ import annotations

import argparse
import random
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.harness import Stopwatch, Table, common_arguments, emit, postgres_schema, ratio, run_case

GOAL = 1 / 40
ZONES = ("America/New_York", "America/Chicago", "America/Los_Angeles")


def doctor_email(index: int) -> str:
    return f"doctor{index:02d}@clinic.example.org"


def doctor_of(events: int, doctors: int, seed: int = 7) -> list[int]:
    """Which doctor each appointment belongs to: uneven shares (weights 1 to 3), seeded."""
    rng = random.Random(seed)
    weights = [rng.uniform(1, 3) for _ in range(doctors)]
    return rng.choices(range(doctors), weights=weights, k=events)


def appointments(events: int, doctors: int) -> list[Any]:
    """Future appointments, 20 minutes each, spread over the next weeks (no PHI: made-up)."""
    from clinicsync.mappings.model import NormalizedAppointment, NormalizedPatient, NormalizedPractitioner

    start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(days=1)
    owners = doctor_of(events, doctors)
    out = []
    for i, owner in enumerate(owners):
        begins = start + timedelta(minutes=20 * (i // doctors))
        out.append(NormalizedAppointment(
            external_id=f"A{i:06d}", status="booked", start=begins, end=begins + timedelta(minutes=20),
            timezone=ZONES[owner % len(ZONES)], type="Follow-up", location="Main Street Clinic",
            patient=NormalizedPatient(f"P{i:06d}", name="Test Patient", phone=None, email=None),
            practitioner=NormalizedPractitioner(f"D{owner:02d}", name=f"Dr. {owner:02d}",
                                                email=doctor_email(owner))))
    return out


@contextmanager
def fake_google(folder: Path) -> Iterator[tuple[Any, Path]]:
    """The calendar tests' fake Google on loopback, and a service-account key file for it."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    from tests.sync.calendar.fake_google import FakeGoogle

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    public = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    fake = FakeGoogle(public).start()
    try:
        yield fake, fake.key_file(folder, private)
    finally:
        fake.stop()


def requests_of(fake: Any) -> dict[str, int]:
    with fake.lock:
        batches = sum(1 for _method, path in fake.api_requests if path.startswith("/batch/"))
        figures = {"token": fake.token_requests, "batch": batches, "other": len(fake.api_requests) - batches}
        fake.reset_counts()
    figures["requests"] = sum(figures.values())
    return figures


def clinicsync_push(events: int, doctors: int, store_url: str | None) -> dict[str, Any]:
    """The calendar stage, three runs as three `sync --once` (a fresh provider each): all new;
    nothing new; one appointment per doctor moved."""
    from clinicsync.sync.calendar.google import GoogleCalendar
    from clinicsync.sync.calendar.push import push
    from clinicsync.sync.config.settings.calendar import CalendarSettings
    from clinicsync.sync.store.db import make_engine, upgrade
    from clinicsync.sync.store.store import Mapped, Store

    with tempfile.TemporaryDirectory() as tmp, fake_google(Path(tmp)) as (fake, key_file):
        engine = make_engine(store_url or f"sqlite:///{tmp}/store.db")
        upgrade(engine)
        store = Store(engine)
        booked = appointments(events, doctors)
        for start in range(0, len(booked), 2000):
            _counts, error = store.apply_batch("emr", "bench", [Mapped(a.external_id, a)
                                                                 for a in booked[start:start + 2000]], [], None)
            assert error is None, error
        settings = CalendarSettings.model_validate(
            {"provider": "google", "google": {"key_file": str(key_file), "api_root": fake.url}},
            context={"base_dir": Path(tmp)})

        def one_run() -> tuple[dict[str, int], Stopwatch]:
            with Stopwatch() as watch:
                provider = GoogleCalendar(settings.google)
                try:
                    report = push(settings, engine, provider).as_dict()
                finally:
                    provider.close()
            return report, watch

        first, watch = one_run()
        seconds, cpu_seconds = watch.seconds, watch.cpu_seconds
        assert first["inserted"] == events and first["failed"] == 0, first
        counted = requests_of(fake)
        stored = sum(len(fake.live(doctor_email(d))) for d in range(doctors))
        assert stored == events, stored
        second, _ = one_run()
        assert second["unchanged"] == events, second
        again = requests_of(fake)["requests"]
        moved: dict[str, Any] = {}
        for a in booked:  # the first appointment of each doctor is moved by an hour
            moved.setdefault(a.practitioner.email, a)
        store.apply_batch("emr", "bench", [Mapped(a.external_id, _moved(a)) for a in moved.values()], [], None)
        third, _ = one_run()
        assert third["patched"] == len(moved), third
        engine.dispose()
    return {**counted, "seconds": seconds, "cpu_seconds": cpu_seconds, "second_run_requests": again,
            "change_requests": requests_of(fake)["requests"], "changed": len(moved)}


def _moved(a: Any) -> Any:
    from dataclasses import replace

    return replace(a, start=a.start + timedelta(hours=1), end=a.end + timedelta(hours=1))


def naive_insert(events: int, doctors: int, sample: int) -> dict[str, Any]:
    """The naive script on the first ``sample`` appointments: one insert call per event."""
    import google_auth_httplib2
    import httplib2
    from googleapiclient.discovery import build

    from clinicsync.sync.calendar.google import SERVICE_PATH, service_account_credentials
    from clinicsync.sync.calendar.provider import event_id

    booked = appointments(events, doctors)[:sample]
    with tempfile.TemporaryDirectory() as tmp, fake_google(Path(tmp)) as (fake, key_file):
        with Stopwatch() as watch:
            clients: dict[str, Any] = {}
            for a in booked:
                email = a.practitioner.email
                if email not in clients:
                    credentials = service_account_credentials(key_file).with_subject(email)
                    http = google_auth_httplib2.AuthorizedHttp(credentials, http=httplib2.Http(timeout=30))
                    clients[email] = build("calendar", "v3", http=http, static_discovery=True,
                                           cache_discovery=False,
                                           client_options={"api_endpoint": fake.url + SERVICE_PATH}).events()
                body = {"id": event_id("emr", a.external_id), "summary": f"{a.type}",
                        "location": a.location,
                        "start": {"dateTime": a.start.isoformat(), "timeZone": a.timezone},
                        "end": {"dateTime": a.end.isoformat(), "timeZone": a.timezone}}
                clients[email].insert(calendarId="primary", body=body, sendUpdates="none").execute()
        counted = requests_of(fake)
    return {**counted, "seconds": watch.seconds}


PURPOSE = "Google Calendar push (loopback fake), HTTP requests per event against the naive one-insert-per-event script"


def arguments() -> argparse.ArgumentParser:
    """This workload's options (``python -m bench`` lists them without running anything)."""
    parser = common_arguments(__doc__ or "")
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--doctors", type=int, default=50)
    parser.add_argument("--sample", type=int, default=1_000, help="events the naive baseline sends (scaled)")
    return parser


def main(argv: list[str]) -> list[Table]:
    args = arguments().parse_args(argv)
    events, doctors, sample = (30, 3, 10) if args.smoke else (args.events, args.doctors, min(args.sample, args.events))

    naive = run_case("bench.w3_calendar_push:naive_insert", events=events, doctors=doctors, sample=sample)
    scale = events / sample
    table = Table(f"W3 calendar push: {events:,} new appointments, {doctors} doctors (fake Google on loopback)",
                  ["case", "store", "events", "requests", "token", "batch", "other", "req_per_event",
                   "goal", "seconds", "cpu_us_per_event", "events_per_s", "run2_requests", "peak_rss_mb", "ratio"])
    naive_per_event = (naive["token"] + naive["batch"] + naive["other"] * scale) / events
    table.add(case=f"naive, 1 call/event (x{scale:,.0f})", store="—", events=events,
              requests=naive["token"] + naive["batch"] + round(naive["other"] * scale), token=naive["token"],
              batch=naive["batch"], other=round(naive["other"] * scale), req_per_event=naive_per_event, goal="—",
              seconds=naive["seconds"] * scale, cpu_us_per_event=None, events_per_s=sample / naive["seconds"],
              run2_requests=None, peak_rss_mb=naive["peak_rss_mb"], ratio=1.0)
    stores: list[tuple[str, str | None]] = [("sqlite", None)]
    changes = []
    for name, url in stores + ([("postgres", "pg")] if args.postgres else []):
        if url == "pg":
            with postgres_schema() as pg_url:
                result = run_case("bench.w3_calendar_push:clinicsync_push", events=events, doctors=doctors,
                                  store_url=pg_url)
        else:
            result = run_case("bench.w3_calendar_push:clinicsync_push", events=events, doctors=doctors,
                              store_url=None)
        per_event = result["requests"] / events
        table.add(case="clinicsync push", store=name, events=events, requests=result["requests"],
                  token=result["token"], batch=result["batch"], other=result["other"],
                  req_per_event=per_event, goal="met" if per_event <= GOAL else "NOT met",
                  seconds=result["seconds"], cpu_us_per_event=result["cpu_seconds"] / events * 1e6,
                  events_per_s=events / result["seconds"],
                  run2_requests=result["second_run_requests"], peak_rss_mb=result["peak_rss_mb"],
                  ratio=ratio(per_event, naive_per_event))
        changes.append(f"{name}: a later run with {result['changed']} appointments moved (one per doctor) made "
                       f"{result['change_requests']} requests")
    table.notes += [
        f"naive: the first {sample:,} events, one insert().execute() each, scaled to all",
        f"goal: requests per event <= 1/40 = {GOAL:.3f}; ratio = requests per event against the naive script's",
        "requests counted at the fake: token = OAuth token requests, batch = batch requests, other = single calls",
        "run2_requests: the same push again with nothing new (a fresh provider, as the next sync --once)",
        "cpu_us_per_event: CPU of the first push per event, the loopback fake's threads included (same process); "
        "flat across --events sizes = linear",
        *changes,
    ]
    return emit([table], args)


if __name__ == "__main__":
    main(sys.argv[1:])
