"""`clinicsync check` for one connector: reach the source, read it WHOLE without moving any
cursor or file, and map every record as a sync would — so a mapping that reads a column
the source does not have fails here, not as a null on every appointment, and a bad row in
the middle or at the end of an export is found, with every distinct quarantine reason.

Reading and mapping are cheap (~80,000 records/s), so the whole source is the sample, up
to ``max_records``; the report states what was read (first, middle and last position, and
an example position for each quarantine reason). Sources that cannot be read as a sync
reads them (push sources, a CSV folder holding only its archived file) give a sample (up to
``SAMPLE_LIMIT``). Every mapped visit also feeds the plausibility profile (sync/plausibility):
a mapping that maps every row can still shift every time or take the wrong person. A waitlist
source (``record: waitlist``) is read the same way and mapped as the waitlist stage maps it.

What it reports is safe to print: counts, positions (file:line), column and path names,
field names, location names and quarantine reasons; never a record's values.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from clinicsync.connectors.base import Connector, ConnectorError, ConnectorSettings, RawRecord, Rejected, Sample
from clinicsync.connectors.registry import build_connector
from clinicsync.mappings.audit import Finding, audit_columns, audit_paths
from clinicsync.mappings.engine import CompiledMapping
from clinicsync.mappings.model import MappingError, MappingLoadError, NormalizedAppointment
from clinicsync.mappings.record_kind import mapping_record
from clinicsync.sync.checks.status_vocabulary import HiddenStatusWords
from clinicsync.sync.config.settings import Settings
from clinicsync.sync.ingest.empty_fields import FieldFill
from clinicsync.sync.ingest.plausibility.shape import status_column
from clinicsync.sync.ingest.source_settings import mapping_for, source_clock, source_timezone, stored_times

if TYPE_CHECKING:
    from clinicsync.mappings.waitlist import NormalizedWaitlistEntry
    from clinicsync.sync.checks.soft_delete_columns import Unfiltered
    from clinicsync.sync.ingest.plausibility import Finding as PlausibilityFinding
    from clinicsync.sync.ingest.plausibility import ProfileReport

SAMPLE_SIZE = 20  # records the mapping's path audit looks at
SAMPLE_LIMIT = 1_000  # a push source's or an archived file's sample: enough for the plausibility profile
MAX_RECORDS = 1_000_000  # read whole up to this many records per source
PAIRS_KEPT = 200_000  # distinct (id, start) of the mapped visits counted, for the rehearsed import's fold
_FLAT = frozenset({"csv", "sql"})  # sources with exact columns (audit_columns), others by path
_UNIT = {"fhir": "Appointment", "hl7v2": "message"}
NOTHING_READ = ("0 records sampled: the source answers but returns no record in its window, so nothing can be "
                "synced or reminded. An empty table, file or look-alike table, or a query whose filter leaves every "
                "row out: point the connector's query (or table) at the one holding the visits")


@dataclass
class SourceCheck:
    """One connector's check: ``problems`` fail it, ``findings`` explain the mapping."""

    connector: str
    kind: str
    reached: str = ""  # the connector's own check() detail
    problems: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    sample_source: str | None = None
    sampled: int = 0
    mapped: int = 0
    quarantined: Counter[str] = field(default_factory=Counter)  # reason -> records
    empty_fields: list[str] = field(default_factory=list)  # mapped, yet empty on every sampled record
    note: str | None = None
    whole: bool = False  # the whole source was read (else a sample, or cut at max_records)
    positions: dict[str, str] = field(default_factory=dict)  # first / middle / last record read
    examples: dict[str, str] = field(default_factory=dict)  # quarantine reason -> first position
    locations: Counter[str] = field(default_factory=Counter)  # location -> mapped records
    languages: Counter[str] = field(default_factory=Counter)  # patient language -> mapped records
    plausibility: ProfileReport | None = None  # the mapped visits as a whole (sync/plausibility)
    implausible_allowed: bool = False  # `check --allow-implausible`: its errors do not fail the source
    unfiltered: list[Unfiltered] = field(default_factory=list)  # soft-delete flags the query leaves out
    whole_source: list[PlausibilityFinding] = field(default_factory=list)  # status words beyond the window
    visit_pairs: int = 0  # distinct (id, start) among the mapped visits (bounded: PAIRS_KEPT)
    whole_rows: int | None = None  # a SQL source's rows with its window opened wide

    @property
    def implausible(self) -> int:
        """The plausibility profile's errors (a wrong time, person or deleted visit)."""
        return len(self.plausibility.errors) if self.plausibility is not None else 0

    @property
    def quarantined_count(self) -> int:
        return sum(self.quarantined.values())

    @property
    def failures(self) -> int:
        """What fails this source, each counted as `check` prints it (a problem, an ``error:``
        line of the mapping audit or of the plausibility profile): the summary's count is the
        lines the admin reads, not one per source."""
        return (len(self.problems) + sum(f.level == "error" for f in self.findings)
                + (0 if self.implausible_allowed else self.implausible))

    @property
    def ok(self) -> bool:
        return not self.failures

    def as_dict(self) -> dict[str, Any]:
        return {"connector": self.connector, "kind": self.kind, "ok": self.ok, "reached": self.reached,
                "problems": self.problems, "findings": [f.as_dict() for f in self.findings],
                "sample": {"source": self.sample_source, "records": self.sampled, "mapped": self.mapped,
                           "quarantined": dict(self.quarantined), "empty_fields": self.empty_fields,
                           "whole": self.whole, "positions": self.positions, "examples": self.examples,
                           "locations": dict(self.locations), "languages": dict(self.languages)},
                "plausibility": self.plausibility.as_dict() if self.plausibility is not None else None,
                "note": self.note}


def connector_mapping(settings: Settings, config: ConnectorSettings) -> CompiledMapping:
    """The connector's compiled mapping, exactly as a sync loads it — its time convention and
    zone — so the visits checked are the visits a sync would store (MappingLoadError names the key)."""
    return mapping_for(settings, config)


def own_fields(ref: str, base_dir: Path) -> frozenset[str]:
    """The targets a site's own mapping file defines itself (not inherited from a preset
    through ``extends``); a shipped preset's fields are all optional guesses."""
    if not (ref.endswith((".yaml", ".yml")) or "/" in ref):
        return frozenset()
    try:
        data = yaml.safe_load((base_dir / ref).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return frozenset()
    fields = data.get("fields") if isinstance(data, dict) else None
    return frozenset(fields) if isinstance(fields, dict) else frozenset()


class _Mapper:
    """Maps records one by one as a sync does, keeping only what is safe to report.
    ``apply`` is the mapping's (an appointment's or a waitlist entry's); ``observe`` sees
    each record that mapped, with what it mapped to."""

    def __init__(self, result: SourceCheck, apply: Callable[[Mapping[str, Any]], Any],
                 observe: Callable[[Mapping[str, Any], Any], None] | None = None,
                 words: HiddenStatusWords | None = None) -> None:
        self.result, self.apply, self.observe = result, apply, observe
        self.words = words  # status words a reason hid: named once they repeat (status_vocabulary.py)
        self.positions: list[str] = []
        self.head: list[Mapping[str, Any]] = []  # the first records, for the mapping's path audit

    def rejected(self, rejected: Rejected) -> None:
        self._quarantine(rejected.reason, rejected.position)

    def _quarantine(self, reason: str, position: str) -> None:
        self.positions.append(position)
        self.result.quarantined[reason] += 1
        self.result.examples.setdefault(reason, position)

    def record(self, record: RawRecord) -> None:
        if len(self.head) < SAMPLE_SIZE:
            self.head.append(record.data)
        try:
            mapped = self.apply(record.data)
        except MappingError as exc:
            reason = f"{exc.field}: {exc.reason}"
            self._quarantine(reason, record.position)
            if self.words is not None:
                self.words.add(reason, record.data, record.position)
            return
        except Exception as exc:  # as in a sync: odd input never crashes the check
            self._quarantine(f"unexpected mapping failure ({type(exc).__name__})", record.position)
            return
        self.positions.append(record.position)
        self.result.mapped += 1
        if self.observe is not None:
            self.observe(record.data, mapped)

    def finish(self) -> None:
        result, positions = self.result, self.positions
        if self.words is not None:
            self.words.name(result.quarantined, result.examples)
        result.sampled = len(positions)
        if positions:
            result.positions = {"first": positions[0], "middle": positions[len(positions) // 2],
                                "last": positions[-1]}


class _Appointments:
    """What `check` learns from the mapped appointments: fields empty on every one, the
    plausibility profile, locations and patients' languages."""

    def __init__(self, result: SourceCheck, mapping: CompiledMapping, settings: Settings) -> None:
        from clinicsync.sync.ingest.plausibility import Needs, Profile  # `check`'s, not `sync`'s

        self.result, self.fill = result, FieldFill(mapping)
        self.pairs: set[tuple[str, Any]] = set()
        self.profile = Profile(mapping.preset, settings.clinic_for(result.connector).timezone,
                               needs=Needs.of(settings))

    def __call__(self, record: Mapping[str, Any], appointment: NormalizedAppointment) -> None:
        self.fill.add((appointment,))
        if len(self.pairs) < PAIRS_KEPT:
            self.pairs.add((appointment.external_id, appointment.start))
        self.profile.add(record, appointment)
        if appointment.location and appointment.visit_mode in (None, "in_person"):
            self.result.locations[appointment.location] += 1
        if appointment.patient is not None and appointment.patient.language:
            self.result.languages[appointment.patient.language] += 1

    def finish(self) -> None:
        self.result.empty_fields = self.fill.empty()
        self.result.visit_pairs = len(self.pairs)
        report = self.profile.report()
        named = self.profile.soft_deleted.columns  # flags the rows carry: the profile's finding already names them
        unfiltered = [u.finding for u in self.result.unfiltered if u.column not in named]
        if report.visits:  # the flags the query leaves out (errors), words beyond the window (warnings)
            report.findings = [*unfiltered, *report.findings, *self.result.whole_source]
        self.result.plausibility = report


def _read(connector: Connector, mapper: _Mapper, max_records: int) -> str | None:
    """Read the source as a sync would (from the start, dry run: nothing archived, no cursor
    stored) and map every record; the name of what was read, None when nothing was there."""
    connector.dry_run = True
    sources: list[str] = []
    seen = 0
    batches = connector.fetch(None)
    try:
        for batch in batches:
            if batch.source and batch.source not in sources:
                sources.append(batch.source)
            for rejected in batch.rejected[:max_records - seen]:
                mapper.rejected(rejected)
                seen += 1
            for record in batch.records[:max_records - seen]:
                mapper.record(record)
                seen += 1
            if seen >= max_records:
                mapper.result.note = (f"stopped after {seen} records (--max-records): the rest of the source "
                                      "was not read")
                return ", ".join(sources) or "the source"
    finally:
        close = getattr(batches, "close", None)
        if close is not None:
            close()  # a generator left early closes its file or cursor now
    if not seen:
        return None
    mapper.result.whole = True
    return ", ".join(sources) or "the source"


def _reach_and_read(config: ConnectorSettings, result: SourceCheck, mapper: _Mapper, zone: str, max_records: int,
                    required: frozenset[str] = frozenset(), mapping: CompiledMapping | None = None
                    ) -> tuple[bool, str | None, Sample | None]:
    """Build the connector, reach the source (``check()``), then read it whole through
    ``mapper`` (a polled source) or take a sample (any other). ``(False, …)`` when it ended
    early: a problem or a note in ``result`` says why. The connector is always closed.
    ``mapping``: an appointments mapping; with it, a SQL source's tables are also read for
    soft-delete flags the query leaves out and its status words over the whole source."""
    connector = None
    try:
        connector = build_connector(config)
        connector.required_columns = required
        connector.source_zone = zone
        reached = connector.check()
        result.reached = reached.detail
        if not reached.ok:
            result.problems.append(reached.detail)
            return False, None, None
        if mapping is not None and connector.kind == "sql":
            from clinicsync.sync.checks.soft_delete_columns import left_out
            from clinicsync.sync.checks.status_words import unknown_words
            from clinicsync.sync.checks.would_store import whole_rows

            result.unfiltered = left_out(connector)
            result.whole_source = unknown_words(connector, mapping)
            result.whole_rows = whole_rows(connector)
        read = _read(connector, mapper, max_records) if connector.polled else None
        sample = None if read is not None else connector.sample(min(SAMPLE_LIMIT, max_records))
        return True, read, sample
    except NotImplementedError as exc:
        result.note = f"{exc}: the mapping was not compared with the source"
    except ConnectorError as exc:
        result.problems.append(str(exc))
    except Exception as exc:  # the diagnosis command reports, it does not crash
        result.problems.append(f"{type(exc).__name__}: {exc}")
    finally:
        if connector is not None:
            connector.close()
    return False, None, None


def check_waitlist_source(settings: Settings, config: ConnectorSettings, max_records: int = MAX_RECORDS
                          ) -> SourceCheck:
    """A waitlist source (its mapping says ``record: waitlist``): reached, read whole and
    each record mapped as the waitlist_sources stage maps it, so a row that would be
    quarantined there is named here, by field, with an example position."""
    from clinicsync.mappings.waitlist import load_waitlist_mapping

    result = SourceCheck(config.name, config.kind)
    zone = source_timezone(settings, config)
    try:
        mapping = load_waitlist_mapping(config.mapping, zone, settings.clinic_for(config.name).default_region,
                                        settings.base_dir,
                                        stored_times(config))
    except MappingLoadError as exc:  # the file's problem, named; any other error is a bug, raised as one
        result.problems.append(f"waitlist mapping does not load: {exc}")
        return result

    def seen(_record: Mapping[str, Any], entry: NormalizedWaitlistEntry) -> None:
        if entry.patient.language:
            result.languages[entry.patient.language] += 1

    mapper = _Mapper(result, mapping.apply, seen)
    going, read, sample = _reach_and_read(config, result, mapper, zone, max_records)
    if not going:
        return result
    what = "a waitlist source (its mapping says record: waitlist): its entries are read by the waitlist_sources stage"
    if sample is not None:
        result.sample_source = sample.source
        for rejected in sample.rejected:
            mapper.rejected(rejected)
        for record in sample.records:
            mapper.record(record)
    elif read is None:
        result.note = f"{what}; nothing to read now (no file waiting or archived)"
        return result
    else:
        result.sample_source = read
    mapper.finish()
    result.note = f"{what}; {result.mapped} of {result.sampled} entries map"
    return result


def check_connector(settings: Settings, config: ConnectorSettings, max_records: int = MAX_RECORDS) -> SourceCheck:
    """Reach the source, read it whole (up to ``max_records``), map every record; a push
    source or a folder whose only file is archived gives a sample of up to ``SAMPLE_LIMIT``."""
    if mapping_record(config.mapping, settings.base_dir) == "waitlist":
        return check_waitlist_source(settings, config, max_records)
    result = SourceCheck(config.name, config.kind)
    try:
        mapping = connector_mapping(settings, config)
    except MappingLoadError as exc:  # the file's problem, named; any other error is a bug, raised as one
        result.problems.append(f"mapping does not load: {exc}")
        return result
    seen = _Appointments(result, mapping, settings)
    mapper = _Mapper(result, mapping.apply, seen, HiddenStatusWords(status_column(mapping.preset)))
    going, read, sample = _reach_and_read(config, result, mapper, source_clock(settings, config), max_records,
                                          mapping.required_sources(), mapping)
    if not going:
        return result
    if read is not None:
        result.sample_source = read
        mapper.finish()
        seen.finish()
        _rehearsed(settings, config, result, mapping)
        if config.kind in _FLAT and mapper.head:  # a CSV header / SQL result set: the record's keys
            result.findings = audit_columns(mapping.preset, list(mapper.head[0]),
                                            own_fields(config.mapping, settings.base_dir))
        else:
            result.findings = audit_paths(mapping.preset, mapper.head, _UNIT.get(config.kind, "record"))
        return result
    if sample is None:
        result.note = ("nothing to sample (no file waiting or archived, or a listener-only source): the mapping "
                       "was not compared with the source")
        return result
    if sample.columns is not None:
        result.findings = audit_columns(mapping.preset, sample.columns, own_fields(config.mapping, settings.base_dir))
    else:
        records = [r.data for r in sample.records]
        result.findings = audit_paths(mapping.preset, records, _UNIT.get(config.kind, "record"))
    result.sample_source = sample.source
    for rejected in sample.rejected:
        mapper.rejected(rejected)
    for record in sample.records:
        mapper.record(record)
    mapper.finish()
    seen.finish()
    if not sample.records and not sample.rejected:
        result.problems.append(NOTHING_READ)
    return result


def _rehearsed(settings: Settings, config: ConnectorSettings, result: SourceCheck, mapping: CompiledMapping) -> None:
    """The import a sync would make of the source, rehearsed by the sync on a scratch store
    (would_store.py), set against what was read: an import that keeps none of the mapped records
    is a problem; visits folded by a shared id, or none ahead while the source holds more rows,
    are the plausibility profile's errors (``--allow-implausible`` passes them).

    Not for a FHIR server: the rehearsal reads the source a second time, which a database or a
    file takes at no one's cost, but an EHR's production API counts (a second token, a second
    paging through its rate limit) at every `check`; its ids and window are the server's own
    (``Appointment.id``, its ``date`` search), not a query an admin wrote."""
    from clinicsync.sync.checks.would_store import findings, rehearse
    from clinicsync.sync.ingest.plausibility.finding import Finding as Judged

    if not result.whole or not result.mapped or config.kind == "fhir":
        return
    kept = rehearse(settings, config)
    if kept is None:
        return
    spec = mapping.preset.fields.get("start")
    start = getattr(spec, "from_", None) if spec is not None else None
    found = findings(kept, result.mapped, result.visit_pairs, result.whole_rows,
                     start if isinstance(start, str) else None, settings)
    result.problems.extend(message for field_name, message in found if not field_name)
    report = result.plausibility
    if report is not None and report.visits:
        report.findings = [*(Judged("stored", "error", field_name, message) for field_name, message in found
                             if field_name), *report.findings]
