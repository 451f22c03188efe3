"""A batch's records mapped: each record through the connector's compiled mapping, a record
whose mapping fails set aside as a quarantine entry with its reason (the run goes on), the
records a fingerprint found unchanged left out unless another record of the batch needs them."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import orjson

from clinicsync.connectors.base import Batch, RawRecord
from clinicsync.mappings.engine import CompiledMapping
from clinicsync.mappings.model import MappingError
from clinicsync.sync.ingest.fingerprint import Unchanged
from clinicsync.sync.store.store import Mapped, QuarantineEntry, build_mapped


def raw_text(data: Any) -> str:
    """The record as text for the quarantine (control characters escaped). orjson refuses
    some values a JSON source can give (integers past 64 bits, lone surrogates); the
    standard library takes them, escaped to ASCII so that no store refuses the text."""
    try:
        return orjson.dumps(data, default=str).decode()
    except TypeError:
        return json.dumps(data, default=str)


def map_batch(mapping: CompiledMapping, batch: Batch,
              known: Unchanged | None = None) -> tuple[list[Mapped], list[QuarantineEntry]]:
    """Map each record; a record that fails goes to quarantine with its reason. ``known``:
    records already known unchanged by their fingerprint are left out (unless a mapped
    record of the batch turns out to have the same id: then they are mapped too, so that
    the last row of an id still wins as it did, and leave ``known.skipped`` / ``known.lines``);
    each mapped record carries its fingerprint."""
    prints = known.fingerprints if known is not None else None
    skipped = known.skipped if known is not None else {}
    lines = known.lines if known is not None else None
    quarantined = [QuarantineEntry(r.position, r.reason, record_id=r.record_id, raw=r.raw)
                   for r in batch.rejected]
    if not skipped and not lines:
        # Every record is mapped and none can be mapped again or placed before another (a
        # first import, a source without fingerprints): one loop without a call, a sort key
        # or a second list per record; the same results and quarantine entries as
        # _map_one's, in record order.
        return _map_all(mapping, batch.records, prints, quarantined, batch.texts), quarantined
    # Sort keys in file order: a record by its index; a recognized line before the record
    # that was kept after it (SkippedLine.kept), after the one before.
    mapped: list[tuple[tuple[int, int, int], Mapped]] = []
    for index, record in enumerate(batch.records):
        if index not in skipped:
            _map_one(mapping, (index, 1, 0), record, prints[index] if prints else None, mapped, quarantined)
    if (skipped or lines) and mapped:
        ids = {m.appointment.external_id for _, m in mapped}
        clashing = sorted(index for index, external_id in skipped.items() if external_id in ids)
        for index in clashing:
            del skipped[index]
            _map_one(mapping, (index, 1, 0), batch.records[index], prints[index] if prints else None, mapped,
                     quarantined)
        recognizer = known.recognizer if known is not None else None
        again = lines.take_named(ids) if recognizer is not None and lines is not None else []
        if again:
            for line in again:
                assert recognizer is not None
                _map_one(mapping, (line.kept, 0, line.number), recognizer.record(line), line.fingerprint,
                         mapped, quarantined)
        if clashing or again:
            mapped.sort(key=lambda pair: pair[0])
    return [m for _, m in mapped], quarantined


def _map_all(mapping: CompiledMapping, records: Sequence[RawRecord], prints: Sequence[str | None] | None,
             quarantined: list[QuarantineEntry], texts: bool = False) -> list[Mapped]:
    """``_map_one`` of every record in order, inlined: the mapped records, each failure added
    to ``quarantined``. ``mapping.apply`` is looked up once per batch (CompiledMapping.applier:
    a patch of the class's method before the batch still takes effect). ``texts``: every
    record's data is a dict of exactly-``str`` values (``Batch.texts``): the code for those."""
    apply = mapping.applier(texts)
    mapped: list[Mapped] = []
    keep = mapped.append
    for index, record in enumerate(records):
        fingerprint = prints[index] if prints else None
        try:
            keep(build_mapped(record.position, apply(record.data), record.delete, record.record_id, fingerprint,
                              None))
        except Exception as exc:  # a mapping must never crash a run on odd input
            quarantined.append(_failure(mapping, record, fingerprint, exc))
    return mapped


def _map_one(mapping: CompiledMapping, index: tuple[int, int, int], record: RawRecord, fingerprint: str | None,
             mapped: list[tuple[tuple[int, int, int], Mapped]], quarantined: list[QuarantineEntry]) -> None:
    try:
        mapped.append((index, build_mapped(record.position, mapping.apply(record.data), record.delete,
                                           record.record_id, fingerprint, None)))
    except Exception as exc:  # a mapping must never crash a run on odd input
        quarantined.append(_failure(mapping, record, fingerprint, exc))


def _failure(mapping: CompiledMapping, record: RawRecord, fingerprint: str | None,
             exc: Exception) -> QuarantineEntry:
    """The quarantine entry of a record whose mapping raised ``exc``: a MappingError's reason
    and field, remembered by fingerprint; anything else as an unexpected failure, not
    remembered (it may not recur)."""
    if isinstance(exc, MappingError):
        return QuarantineEntry(record.position, exc.reason, field=exc.field,
                               record_id=record.record_id or mapping.peek_id(record.data),
                               raw=raw_text(record.data), fingerprint=fingerprint)
    return QuarantineEntry(record.position, f"unexpected mapping failure ({type(exc).__name__})",
                           record_id=record.record_id, raw=raw_text(record.data))
