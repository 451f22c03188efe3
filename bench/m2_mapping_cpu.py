"""Mapping CPU alone: the generated code (CompiledMapping.apply) against the interpreted
reference engine (apply_interpreted) on the same records, each in a fresh process.

    python -m bench.m2_mapping_cpu [--rows 100000] [--appointments 50000] [--smoke]

W1's CSV rows (bench/data.py: 20,000 patients, a few percent bad rows) through
csv_default, and W2-shaped FHIR records (bench/fhir_server.py's resources, enriched as the
connector does: _patient, _practitioner, _location) through fhir_r4. Records are built
before the clock starts; only the mapping is timed.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

from bench.harness import Stopwatch, Table, common_arguments, emit, ratio, row_count, run_case


def _csv_records(count: int) -> list[dict[str, str]]:
    from bench import data
    from clinicsync.sync.cli.demo import COLUMNS

    return [dict(zip(COLUMNS, row, strict=True)) for row, _bad, _changed in data.rows(count)]


def _fhir_records(count: int) -> list[dict[str, Any]]:
    from bench import fhir_server as fhir

    updated = "2027-01-01T00:00:00.000Z"
    first = datetime(2027, 1, 4, 8, tzinfo=UTC)
    patients = max(1, count // fhir.PATIENTS_PER_APPOINTMENTS)
    records = []
    for aid in range(count):
        record = fhir.appointment(aid, first + timedelta(minutes=15 * aid), updated, patients)
        # A fresh dict per appointment, as the connector gives across pages.
        record["_patient"] = fhir.patient(aid % patients, updated)
        record["_practitioner"] = fhir.practitioner(aid % fhir.PRACTITIONERS, updated)
        record["_location"] = fhir.location(aid % fhir.LOCATIONS, updated)
        records.append(record)
    return records


def mapping_case(mapping: str, records: str, count: int, generated: bool) -> dict[str, Any]:
    """Load ``mapping`` and apply it to ``count`` records of kind ``records`` (csv | fhir)."""
    from clinicsync.mappings.engine import load_mapping
    from clinicsync.mappings.model import MappingError

    rows = _csv_records(count) if records == "csv" else _fhir_records(count)
    compiled = load_mapping(mapping, "America/New_York", "US")
    apply = compiled.apply if generated else compiled.apply_interpreted
    quarantined = 0
    with Stopwatch() as watch:
        for row in rows:
            try:
                apply(row)
            except MappingError:
                quarantined += 1
    return {"cpu_seconds": watch.cpu_seconds, "records": len(rows), "quarantined": quarantined}


PURPOSE = "mapping CPU alone: generated code against the interpreted reference engine"


def arguments() -> argparse.ArgumentParser:
    """This workload's options (``python -m bench`` lists them without running anything)."""
    parser = common_arguments(__doc__ or "")
    parser.add_argument("--rows", type=row_count, default=None, help="W1 CSV rows (default 100,000; 200 with --smoke)")
    parser.add_argument("--appointments", type=int, default=None,
                        help="FHIR appointments (default 50,000; 150 with --smoke)")
    return parser


def main(argv: list[str]) -> list[Table]:
    args = arguments().parse_args(argv)
    rows = args.rows or (200 if args.smoke else 100_000)
    appointments = args.appointments or (150 if args.smoke else 50_000)
    table = Table("M2 mapping CPU: generated code against the interpreted engine (same records, fresh processes)",
                  ["case", "records", "quarantined", "interpreted_cpu", "generated_cpu", "ratio"])
    for case, mapping, kind, count in (("W1 CSV rows, csv_default", "csv_default", "csv", rows),
                                       ("W2 FHIR records, fhir_r4", "fhir_r4", "fhir", appointments)):
        interpreted = run_case("bench.m2_mapping_cpu:mapping_case", mapping=mapping, records=kind, count=count,
                               generated=False)
        generated = run_case("bench.m2_mapping_cpu:mapping_case", mapping=mapping, records=kind, count=count,
                             generated=True)
        table.add(case=case, records=generated["records"], quarantined=generated["quarantined"],
                  interpreted_cpu=interpreted["cpu_seconds"], generated_cpu=generated["cpu_seconds"],
                  ratio=ratio(generated["cpu_seconds"], interpreted["cpu_seconds"]))
    table.notes.append("ratio: generated / interpreted CPU seconds (lower is better); both give the same "
                       "results (tests/mappings/test_compiled.py)")
    return emit([table], args)


if __name__ == "__main__":
    main(sys.argv[1:])
