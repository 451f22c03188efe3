"""Raw-record fingerprints: an unchanged source row is recognized before it is mapped (issue 19).

A daily export repeats yesterday's rows byte for byte in a new file; mapping each of them
again only to learn that nothing changed cost ~0.8 of a first ingest. Each appointment row
now keeps ``source_fingerprint``: a digest of the raw record it was mapped from *and* of
the run's mapping epoch — everything besides the record that decides what the record maps
to (the compiled mapping's content, the source zone, the phone region, the connector's
settings, the mapping code and the libraries it relies on). A record whose fingerprint
equals the stored one of the appointment it names maps to exactly what is stored, so
mapping and storing it can be skipped; any change to the record, the mapping or those
settings changes the fingerprint and the record is mapped again.

Why that is safe even though the id is only *peeked* before mapping: the stored
fingerprint describes the record that produced the row's current content (the store sets
it on every write of content and clears it on a deletion), so a match at the peeked id
means this record — same bytes, same epoch — maps to that row as it stands. A peek that
guesses wrong finds no match and the record is simply mapped.
"""

from __future__ import annotations

import hashlib
import re
import zoneinfo
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any

import orjson

from clinicsync.common import timeutil
from clinicsync.connectors.base import Batch, ConnectorSettings
from clinicsync.mappings import engine as mapping_engine
from clinicsync.mappings.engine import CompiledMapping

# Bump when what goes into a fingerprint changes meaning: every stored one stops matching.
FORMAT = 1
_DIGEST_SIZE = 16  # 32 hex characters, the column's width
_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_PASSTHROUGH_SUBCLASS
_USERINFO = re.compile(r"(://)[^/@\s]*@")


_VALUES = (datetime, date, time, timedelta, Decimal, str, int, float)


def _tagged(value: Any) -> Any:
    """A plain value JSON has no type for (a date-time, a Decimal, a str subclass), written
    with its type so that it never hashes like a plain string of the same text. Anything
    else (an object whose repr need not show its content) refuses: the record is not
    fingerprinted, so it is always mapped."""
    if isinstance(value, _VALUES):
        return ["\x00" + type(value).__qualname__, repr(value)]
    raise TypeError(type(value).__name__)


class Fingerprinter:
    """Digests raw records under one mapping epoch (one per connector per run)."""

    def __init__(self, epoch: bytes) -> None:
        self.epoch = epoch
        self._seed = hashlib.blake2b(epoch, digest_size=_DIGEST_SIZE)

    def __call__(self, data: Mapping[str, Any]) -> str | None:
        """The record's fingerprint; None when it cannot be written canonically (then it is
        always mapped). A dict's key order counts: a reordered header is a changed record."""
        try:
            encoded = orjson.dumps(data, default=_tagged, option=_OPTIONS)
        except TypeError:
            return None
        digest = self._seed.copy()
        digest.update(encoded)
        return digest.hexdigest()


def mapping_epoch(mapping: CompiledMapping, config: ConnectorSettings, source_zone: str,
                  default_region: str) -> bytes:
    """What, besides the record, decides what a record maps to. Secrets are left out: a
    pydantic ``SecretStr`` dumps masked, and a URL's user info is dropped."""
    described = {
        "format": FORMAT,
        "code": _code_digest(),
        "mapping": mapping.preset.model_dump(mode="json", by_alias=True),
        "source_zone": source_zone,
        "default_region": default_region,
        "connector": _without_userinfo(config.model_dump(mode="json")),
    }
    return hashlib.blake2b(orjson.dumps(described, option=orjson.OPT_SORT_KEYS, default=str),
                           digest_size=_DIGEST_SIZE).digest()


def _without_userinfo(value: Any) -> Any:
    if isinstance(value, str):
        return _USERINFO.sub(r"\1", value)
    if isinstance(value, dict):
        return {k: _without_userinfo(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_without_userinfo(v) for v in value]
    return value


@lru_cache(maxsize=1)
def _code_digest() -> str:
    """The mapping code and what it leans on: an upgrade that changes how a record maps (a
    transform fixed, new time-zone rules, a newer numbering plan) re-maps every record once."""
    digest = hashlib.blake2b(digest_size=_DIGEST_SIZE)
    for folder in (Path(mapping_engine.__file__).parent, Path(timeutil.__file__).parent):
        for path in sorted(folder.glob("*.py")):
            digest.update(path.name.encode())
            digest.update(path.read_bytes())
    for package in ("clinicsync", "phonenumbers", "tzdata", "email-validator"):
        try:
            digest.update(f"{package}={metadata.version(package)}".encode())
        except metadata.PackageNotFoundError:
            digest.update(f"{package}=-".encode())
    digest.update(_system_zone_rules().encode())
    return digest.hexdigest()


def _system_zone_rules() -> str:
    """The version line of the system's time-zone database, which zoneinfo reads first."""
    for folder in zoneinfo.TZPATH:
        try:
            with open(Path(folder) / "tzdata.zi", encoding="utf-8") as handle:
                return handle.readline().strip()
        except OSError:
            continue
    return "-"


@dataclass
class Unchanged:
    """A batch's fingerprints (one per record, None: not fingerprinted) and the records known
    unchanged before mapping (index in ``batch.records`` -> the appointment id it names)."""

    fingerprints: list[str | None]
    skipped: dict[int, str] = field(default_factory=dict)

    def skipped_ids(self, batch: Batch) -> set[str]:
        """The ids the skipped records are known by (appointment id and the connector's own
        record id): their open quarantine items resolve as a mapped record's would."""
        ids = set(self.skipped.values())
        ids.update(rid for index in self.skipped if (rid := batch.records[index].record_id))
        return ids


def unchanged_records(batch: Batch, mapping: CompiledMapping, fingerprint: Fingerprinter,
                      stored: Callable[[Sequence[str]], Mapping[str, str]]) -> Unchanged:
    """Fingerprint each record and look the ids they name up in bulk (``stored``: id ->
    fingerprint of live appointments). Never skipped: a deletion (it is applied, not
    compared), a record without an id or fingerprint, and records that name the same id as
    another of the batch (the last of them must win, so all are mapped)."""
    records = batch.records
    prints = [None if record.delete else fingerprint(record.data) for record in records]
    ids = [None if printed is None else _peek(mapping, record.data)
           for record, printed in zip(records, prints, strict=True)]
    named = Counter(i for i in ids if i is not None)
    if not named:
        return Unchanged(prints)
    known = stored([i for i, n in named.items() if n == 1])
    skipped = {index: external_id for index, (external_id, printed) in enumerate(zip(ids, prints, strict=True))
               if external_id is not None and printed is not None and known.get(external_id) == printed
               and named[external_id] == 1}
    return Unchanged(prints, skipped)


def _peek(mapping: CompiledMapping, data: Mapping[str, Any]) -> str | None:
    """The id the record names, read as the mapping reads it; None when it cannot be read
    (odd input never stops a run: the record is then simply mapped)."""
    try:
        return mapping.peek_id(data)
    except Exception:
        return None
