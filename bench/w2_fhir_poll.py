"""W2: poll 50,000 FHIR R4 Appointments (with their included Patients, Practitioners and
Locations, pages of 100 followed by ``next`` links) from a loopback server in its own
process, through the fhir connector and ``sync_once`` into a store; against the wire's
floor: the same pages fetched with a plain httpx.Client and parsed, nothing else.

Also times the second poll (incremental: ``_lastUpdated``, nothing changed). The goal
is pipeline / raw <= 4 in wall seconds; it is printed, never asserted.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench.harness import ROOT, Stopwatch, Table, child_env, common_arguments, emit, postgres_schema, ratio, run_case

PAGE_SIZE = 100
GOAL = 4.0
SETTINGS = """\
clinic:
  timezone: America/New_York
  default_region: US
store:
  url: "{store_url}"
connectors:
  - name: ehr
    kind: fhir
    base_url: {base_url}
    page_size: {page_size}
    include: [patient, practitioner, location]
    timezone: America/Chicago
"""


@contextmanager
def fhir_server(appointments: int, latency_ms: float = 0) -> Iterator[tuple[str, int]]:
    """The pre-rendered server (bench/fhir_server.py) in its own process: (base_url, bytes)."""
    process = subprocess.Popen([sys.executable, "-m", "bench.fhir_server", str(appointments), str(PAGE_SIZE),
                                str(latency_ms)],
                               stdout=subprocess.PIPE, text=True, cwd=ROOT, env=child_env())
    try:
        assert process.stdout is not None
        line = process.stdout.readline().split()
        if not line or line[0] != "ready":
            raise RuntimeError(f"the FHIR bench server did not start (exit code {process.poll()})")
        yield line[1], int(line[2])
    finally:
        process.terminate()
        process.wait(timeout=10)


def raw_case(base_url: str) -> dict[str, Any]:
    """The floor: GET the search, follow ``next``, parse each body; nothing else."""
    import httpx
    import orjson

    params = [("_count", str(PAGE_SIZE))] + [("_include", f"Appointment:{n}")
                                             for n in ("patient", "practitioner", "location")]
    appointments = pages = 0
    with httpx.Client(headers={"Accept": "application/fhir+json"}) as client:
        client.get(f"{base_url}/metadata")  # connect outside the timing, as the connector's first request does
        with Stopwatch() as watch:
            url: str | None = f"{base_url}/Appointment"
            query: list[tuple[str, str]] | None = params
            while url:
                bundle = orjson.loads(client.get(url, params=query).content)
                pages += 1
                appointments += sum(1 for e in bundle.get("entry", []) if e["search"]["mode"] == "match")
                url = next((link["url"] for link in bundle.get("link", []) if link["relation"] == "next"), None)
                query = None
    return {"seconds": watch.seconds, "cpu_seconds": watch.cpu_seconds, "appointments": appointments,
            "pages": pages}


def clinicsync_case(base_url: str, store_url: str | None) -> dict[str, Any]:
    """sync_once over the fhir connector into the store, twice: the full listing, then the
    incremental poll that finds nothing new. Setup (settings, schema) is outside the timing."""
    from clinicsync.sync.config.settings import load_settings
    from clinicsync.sync.ingest.engine import sync_once
    from clinicsync.sync.store.db import make_engine, upgrade
    from clinicsync.sync.store.store import Store

    with tempfile.TemporaryDirectory(prefix="w2-") as scratch:
        url = store_url or f"sqlite:///{scratch}/store.db"
        if not url.startswith("sqlite"):
            engine = make_engine(url)
            upgrade(engine)
            engine.dispose()
        path = Path(scratch) / "settings.yaml"
        path.write_text(SETTINGS.format(store_url=url, base_url=base_url, page_size=PAGE_SIZE), encoding="utf-8")
        settings = load_settings(path)
        store = Store.open(settings.store)
        try:
            with Stopwatch() as first:
                report = sync_once(settings, store).connectors["ehr"]
            with Stopwatch() as second:
                again = sync_once(settings, store).connectors["ehr"]
        finally:
            store.close()
    if report.error or again.error:
        raise RuntimeError(f"the poll failed: {report.error or again.error}")
    return {"seconds": first.seconds, "cpu_seconds": first.cpu_seconds, "second_seconds": second.seconds,
            "appointments": report.counts.created, "second_fetched": again.counts.fetched}


def stage_case(base_url: str, mapping: bool) -> dict[str, Any]:
    """Part of the pipeline, to see where the time goes: the connector's batches alone
    (fetch, parse, resolve includes), or those batches mapped too; nothing is stored."""
    from clinicsync.common.gc_tuning import bulk_stage
    from clinicsync.connectors.registry import build_connector
    from clinicsync.mappings.engine import load_mapping
    from clinicsync.sync.config.settings import load_settings
    from clinicsync.sync.ingest.engine import map_batch

    with tempfile.TemporaryDirectory(prefix="w2-") as scratch:
        path = Path(scratch) / "settings.yaml"
        path.write_text(SETTINGS.format(store_url=f"sqlite:///{scratch}/unused.db", base_url=base_url,
                                        page_size=PAGE_SIZE), encoding="utf-8")
        settings = load_settings(path)
    config = settings.connectors[0]
    compiled = load_mapping(config.mapping, settings.clinic.timezone, settings.clinic.default_region,
                            settings.base_dir)
    records = 0
    with Stopwatch() as watch, bulk_stage():  # as sync_once runs it
        connector = build_connector(config)
        try:
            for batch in connector.fetch(None):
                if mapping:
                    mapped, _ = map_batch(compiled, batch)
                    records += len(mapped)
                else:
                    records += len(batch.records)
        finally:
            connector.close()
    return {"seconds": watch.seconds, "cpu_seconds": watch.cpu_seconds, "appointments": records}


def profile_case(base_url: str) -> dict[str, Any]:
    """The SQLite pipeline under pyinstrument (``--profile``): the report goes to stderr."""
    from pyinstrument import Profiler

    profiler = Profiler(interval=0.001)
    profiler.start()
    figures = clinicsync_case(base_url, None)
    profiler.stop()
    print(profiler.output_text(unicode=False, color=False, show_all=False), file=sys.stderr)
    return figures


PURPOSE = "FHIR R4 poll of a loopback server into the store, against a plain httpx fetch of the same pages"


def arguments() -> argparse.ArgumentParser:
    """This workload's options (``python -m bench`` lists them without running anything)."""
    parser = common_arguments(__doc__ or "")
    parser.add_argument("--appointments", type=int, default=None, help="default 50,000 (201 with --smoke)")
    parser.add_argument("--latency-ms", type=float, default=0,
                        help="the server answers each page this much later (a real server's search time)")
    parser.add_argument("--profile", action="store_true", help="print a pyinstrument profile of the SQLite poll")
    return parser


def main(argv: list[str]) -> list[Table]:
    args = arguments().parse_args(argv)
    appointments = args.appointments or (201 if args.smoke else 50_000)  # smoke: three pages
    latency = f", server latency {args.latency_ms:g} ms/page" if args.latency_ms else ""
    table = Table(f"W2 FHIR poll: {appointments:,} Appointments (+ includes), pages of {PAGE_SIZE}{latency}",
                  ["case", "seconds", "cpu_seconds", "appointments", "per_second", "peak_rss_mb", "ratio", "goal",
                   "second_poll_seconds"])
    with fhir_server(appointments, args.latency_ms) as (base_url, size):
        if args.profile:
            subprocess.run(  # the child prints the profile to stderr
                [sys.executable, "-m", "bench.harness", "bench.w2_fhir_poll:profile_case",
                 json.dumps({"base_url": base_url})], cwd=ROOT, env=child_env(), check=True)
            return []
        raw = run_case("bench.w2_fhir_poll:raw_case", base_url=base_url)
        rows = [("raw httpx + orjson (floor)", raw),
                ("connector alone (no mapping, no store)",
                 run_case("bench.w2_fhir_poll:stage_case", base_url=base_url, mapping=False)),
                ("connector + mapping (no store)",
                 run_case("bench.w2_fhir_poll:stage_case", base_url=base_url, mapping=True)),
                ("clinicsync → SQLite", run_case("bench.w2_fhir_poll:clinicsync_case", base_url=base_url,
                                                 store_url=None))]
        if args.postgres:
            with postgres_schema() as url:
                rows.append(("clinicsync → PostgreSQL",
                             run_case("bench.w2_fhir_poll:clinicsync_case", base_url=base_url, store_url=url)))
    for name, figures in rows:
        pipeline = name.startswith("clinicsync")
        share = ratio(figures["seconds"], raw["seconds"])
        table.add(case=name, seconds=figures["seconds"], cpu_seconds=figures["cpu_seconds"],
                  appointments=figures["appointments"],
                  per_second=round(figures["appointments"] / figures["seconds"]) if figures["seconds"] else None,
                  peak_rss_mb=figures["peak_rss_mb"], ratio=share,
                  goal=(("met" if share is not None and share <= GOAL else "not met") + f" (<= {GOAL})")
                  if pipeline else ("baseline" if name == rows[0][0] else "(part)"),
                  second_poll_seconds=figures.get("second_seconds"))
    table.notes.append(f"{size / 1e6:,.1f} MB of Bundle JSON in {raw['pages']} pages; each case in its own "
                       "process, timed without interpreter start; the server runs in a third process.")
    table.notes.append("cpu_seconds: the measuring process's CPU time (all its threads), steadier than wall "
                       "time on a shared machine; the server's CPU is not in it.")
    table.notes.append("ratio = seconds / raw; second_poll_seconds: the incremental poll that finds nothing new; "
                       "the two partial rows show where the pipeline's time goes (the goal is for the full rows).")
    return emit([table], args)


if __name__ == "__main__":
    main(sys.argv[1:])
