"""`clinicsync discover` for HL7 v2 SIU files: read the messages the way the
``hl7v2`` connector reads them (``connectors/hl7v2/parse.py``: the same decoding, message
split and records), and report which segments and fields carry values, the trigger events
and filler status codes (SCH-25) seen, and whether times carry a UTC offset.

The proposal is the ``hl7v2_siu`` preset, overridden only where this feed differs: a status
word the preset does not map but the status vocabulary knows (``Confirmed``), and a field
the preset reads nowhere in this feed while another field of the feed carries it (the
visit type in AIS-3 only, the location in PV1-3 with no AIL, a phone in PID-14 only). The
proposed mapping is then run over every message read, through the real mapping engine.
"""

from __future__ import annotations

import copy
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from clinicsync.common.vocabulary import STATUSES
from clinicsync.connectors.hl7v2.parse import Hl7ParseError, Hl7Value, decode, parse_message, split_messages
from clinicsync.connectors.hl7v2.settings import APPOINTMENT_EVENTS
from clinicsync.mappings.model import MappingError
from clinicsync.mappings.paths import compile_path
from clinicsync.sync.discover.clock import given_convention, write_clock
from clinicsync.sync.discover.compiled import compile_proposal
from clinicsync.sync.discover.hl7_clock import sent_file, settle_hl7_clock
from clinicsync.sync.discover.naming import connector_name, region_of
from clinicsync.sync.discover.presets import carriers, present, preset, spec_paths
from clinicsync.sync.discover.proposal import Guess, Proposal, StatusWord
from clinicsync.sync.discover.statuses import status_word

PRESET = "hl7v2_siu"
# The segments an appointment lives in; the rest (NTE, OBX, DG1, …) are not reported.
SEGMENTS = ("SCH", "TQ1", "PID", "PV1", "RGS", "AIS", "AIG", "AIL", "AIP")
# Where else a feed puts what the preset reads: tried, in order, for a field the preset's own
# paths find in no message. Each is a path the preset does not read.
ALTERNATIVES: dict[str, tuple[str, ...]] = {
    "type": ("AIS.3.1", "SCH.8.2", "SCH.8.1", "AIG.3.2"),
    "location": ("PV1.3.1", "AIL.3.2", "SCH.21.1"),
    "patient.phone": ("PID.14.12", "PID.14.1"),
    "patient.language": ("PID.15.2",),
    "practitioner.external_id": ("PV1.8.1", "SCH.16.1"),
    "start": ("AIG.8", "AIS.4.1"),
}
# Fields that say something about the appointment, its patient or its clinician: one that
# carries values and no path reads is listed as not placed (demographics such as PID-7 are not).
TELLING = frozenset({
    "SCH-6", "SCH-7", "SCH-8", "SCH-9", "SCH-10", "SCH-11", "SCH-16", "SCH-20", "SCH-25", "TQ1-7", "TQ1-8",
    "PID-3", "PID-5", "PID-13", "PID-14", "PID-15", "PV1-3", "PV1-7", "PV1-8", "AIS-3", "AIS-4", "AIG-3",
    "AIL-3", "AIP-3"})
_OFFSET = re.compile(r"[+-]\d{4}$")
_TIME_PATHS = ("TQ1.7", "SCH.11.4", "AIS.4", "AIL.6", "AIP.6")
_PATH_FIELD = re.compile(r"^([A-Z][A-Z0-9]{2})(?:\[[^\]]*\])?\.(\d+)")


@dataclass
class Feed:
    """What the files hold: the parsed records, and what could not be read."""

    files: list[Path]
    records: list[dict[str, Any]] = field(default_factory=list)
    unreadable: int = 0
    not_siu: int = 0
    events: Counter[str] = field(default_factory=Counter)
    versions: Counter[str] = field(default_factory=Counter)
    segments: Counter[str] = field(default_factory=Counter)  # messages carrying the segment
    fields: Counter[str] = field(default_factory=Counter)  # messages carrying a value in SEG-n
    sent: dict[Path, list[str]] = field(default_factory=dict)  # each file's MSH-7 texts (hl7_clock.py)


def feed_files(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise ValueError(f"no such file or folder: {path}")
    files = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() == ".hl7")
    files = files or sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in (".txt", ".msg")
                            and p.read_bytes()[:3] == b"MSH")
    if not files:
        raise ValueError(f"no .hl7 file in {path}: give the folder the interface engine writes SIU batch files to")
    return files


def _occurrences(record: dict[str, Any], segment: str) -> list[dict[str, Any]]:
    value = record.get(segment)
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def read_feed(files: list[Path], limit: int = 5000) -> Feed:
    """Every message of ``files`` (up to ``limit``), parsed as the connector parses them."""
    feed = Feed(files)
    for path in files:
        for text in split_messages(decode(path.read_bytes(), "auto")):
            if len(feed.records) + feed.unreadable + feed.not_siu >= limit:
                return feed
            try:
                parsed = parse_message(text)
            except Hl7ParseError:
                feed.unreadable += 1
                continue
            if parsed.message_type != "SIU":
                feed.not_siu += 1
                continue
            feed.records.append(parsed.record)
            feed.events[parsed.event or "(none)"] += 1
            msh = parsed.record.get("MSH") or {}
            feed.versions[str(msh.get("12") or "?")] += 1
            feed.sent.setdefault(path, []).append(_text(msh.get("7")))
            for segment in SEGMENTS:
                occurrences = _occurrences(parsed.record, segment)
                if occurrences:
                    feed.segments[segment] += 1
                carried = {number for occ in occurrences for number, value in occ.items() if value not in (None, "")}
                feed.fields.update(f"{segment}-{n}" for n in carried)
    return feed


def _field_of(path: str) -> str | None:
    """'PID.13[3=CP].12' -> 'PID-13'; 'AIL[0].3.1' -> 'AIL-3'; 'event' -> None."""
    match = _PATH_FIELD.match(path)
    return f"{match.group(1)}-{match.group(2)}" if match else None


def _text(value: Any) -> str:
    """A time field's text: its first component when it has components (TS/DR: DTM^degree)."""
    return str(value.get("1") if isinstance(value, Hl7Value) else value or "").strip()


def appointment_times(records: list[dict[str, Any]]) -> list[str]:
    """Each message's appointment time as written (the first of the time fields it carries)."""
    times = []
    getters = [compile_path(p) for p in _TIME_PATHS]
    for record in records:
        for get in getters:
            try:
                value = get(record)
            except (KeyError, IndexError, TypeError, ValueError):
                continue
            if present(value):
                times.append(_text(value))
                break
    return times


def discover_hl7(path: Path | str, *, name: str | None = None, timezone: str | None = None,
                 stored_times: str | None = None, clinic_zone: str | None = None) -> Proposal:
    """Read the SIU file(s) at ``path`` (a file, or a folder of batch files) and propose an
    ``hl7v2`` connector reading that folder with the ``hl7v2_siu`` preset, overridden only
    where this feed differs from it. ``timezone``: the visits' zone (else ``clinic_zone``, the
    settings file's); ``stored_times``: how the sender writes times without an offset, when
    the admin knows (else told from the feed, hl7_clock.py)."""
    given_convention(stored_times)
    target = Path(path)
    files = feed_files(target)
    feed = read_feed(files)
    if not feed.records:
        raise ValueError(f"no SIU message could be read in {target} ({feed.unreadable} unreadable, "
                         f"{feed.not_siu} of another message type)")
    folder = files[0].parent
    name = name or connector_name(folder.name, "hl7-siu")
    connector: dict[str, Any] = {"name": name, "kind": "hl7v2", "drop_dir": str(folder.resolve())}
    notes = {"name": "from the folder's name", "drop_dir": "the folder the SIU batch files are in"}
    suffixes = {p.suffix.lower() for p in files}
    if suffixes != {".hl7"}:
        connector["pattern"] = f"*{sorted(suffixes)[0]}"
        notes["pattern"] = "the files' own extension"
    times = appointment_times(feed.records)
    local = sum(not _OFFSET.search(t) for t in times)
    offsets = len(times) - local
    proposal = Proposal(kind="hl7v2", name=name, product=None, product_confidence=0.0, connector=connector,
                        connector_notes=notes)
    convention = "local"
    if local:
        clock = settle_hl7_clock([sent_file(p, sent) for p, sent in feed.sent.items()], times,
                                 timezone or clinic_zone, stored_times)
        convention = clock.stored_times
        write_clock(proposal, clock)
        if timezone:
            connector["timezone"] = timezone
            notes["timezone"] = (f"{local} appointment time(s) carry no UTC offset: read in this zone"
                                 if convention == "local" else "the zone of the visits (the sender's times are UTC)")
        elif convention == "local":
            proposal.notes.append(f"{local} of {local + offsets} appointment times carry no UTC offset: set "
                                  "`timezone:` to the sender's zone (else clinic.timezone is used)")
    elif timezone:
        connector["timezone"] = timezone
        notes["timezone"] = "the zone appointments are reminded in (every time carries its own offset)"
    outside = sorted(e for e in feed.events if e not in APPOINTMENT_EVENTS)
    if outside:
        proposal.notes.append(f"events outside the connector's default `events` seen: {', '.join(outside)} "
                              "(acknowledged and ignored unless listed)")
    proposal.notes.append(_inventory(feed))
    if feed.unreadable or feed.not_siu:
        proposal.notes.append(f"{feed.unreadable} unreadable message(s), {feed.not_siu} of another type than SIU: "
                              "set aside at import")
    shipped = preset(PRESET)
    overrides = _placements(proposal, feed, shipped)
    _statuses(proposal, feed, shipped, overrides)
    proposal.unplaced = _unread_fields(feed, shipped, overrides)
    if overrides:
        proposal.mapping = {"extends": PRESET, "fields": overrides}
    else:
        proposal.mapping_preset = PRESET
    _rehearse(proposal, feed, region_of(timezone), timezone, convention)
    return proposal


def _inventory(feed: Feed) -> str:
    """Which segments and fields carry values, in how many messages (no value is quoted)."""
    total = len(feed.records)
    events = ", ".join(f"{e} x{n}" for e, n in sorted(feed.events.items()))
    versions = ", ".join(sorted(feed.versions))
    parts = []
    for segment in SEGMENTS:
        if not feed.segments[segment]:
            continue
        numbers = sorted(int(k.split("-")[1]) for k in feed.fields if k.startswith(f"{segment}-"))
        parts.append(f"{segment} in {feed.segments[segment]}/{total} ({', '.join(map(str, numbers))})")
    return f"read {total} SIU message(s) (HL7 {versions}; events {events}); fields carrying values: " + "; ".join(parts)


def _placements(proposal: Proposal, feed: Feed, shipped: dict[str, Any]) -> dict[str, Any]:
    """One guess per preset field the feed carries (the path that answered most), and an
    override for each field found only in an alternative place."""
    total = len(feed.records)
    overrides: dict[str, Any] = {}
    for target, spec in shipped["fields"].items():
        paths = spec_paths(spec)
        answered = carriers(feed.records, paths) if paths else Counter()
        carried = sum(answered.values())
        if carried:
            best, count = answered.most_common(1)[0]
            proposal.guesses.append(Guess(target, best, round(0.6 + 0.4 * carried / total, 2),
                                          f"{PRESET} reads it; {carried}/{total} messages carry it "
                                          f"({count} at {best})", {}))
            continue
        alternatives = ALTERNATIVES.get(target, ())
        found = carriers(feed.records, list(alternatives))
        if not found:
            continue
        best, count = found.most_common(1)[0]
        extra = [p for p in alternatives if p in found]
        override = copy.deepcopy(spec)
        override["fallback"] = {"from": extra if len(extra) > 1 else extra[0]}
        overrides[target] = override
        proposal.guesses.append(Guess(target, best, round(0.5 + 0.3 * count / total, 2),
                                      f"{PRESET}'s paths find nothing in this feed; {count}/{total} messages "
                                      f"carry it at {best}: added as the fallback", {"fallback": override["fallback"]}))
    return overrides


def _statuses(proposal: Proposal, feed: Feed, shipped: dict[str, Any], overrides: dict[str, Any]) -> None:
    """SCH-25 filler status words seen: mapped by the preset, by the vocabulary, or unknown."""
    spec = shipped["fields"]["status"]
    table = {str(k).lower(): v for k, v in (spec.get("map") or {}).items()}
    filler_status = compile_path("SCH.25.1")
    counts = Counter(str(v).strip() for r in feed.records if present(v := filler_status(r)))
    added: dict[str, str] = {}
    for word, count in counts.most_common():
        mapped = table.get(word.lower())
        if mapped is not None or word.lower() in STATUSES:
            proposal.status_words.append(StatusWord(word, mapped or word.lower(), count, 1.0))
            continue
        status, confidence = status_word(word)
        proposal.status_words.append(StatusWord(word, status, count, confidence))
        if status is not None:
            added[word] = status
    unknown = [w.value for w in proposal.status_words if w.status is None]
    if unknown:
        proposal.notes.append(f"{len(unknown)} SCH-25 status word(s) not known: those bookings take their status "
                              "from the trigger event with a data-quality note; map them under fields.status.map")
    if added:
        override = copy.deepcopy(spec)
        override["map"] = {**(spec.get("map") or {}), **added}
        overrides["status"] = override


def _unread_fields(feed: Feed, shipped: dict[str, Any], overrides: dict[str, Any]) -> list[str]:
    """Fields of the appointment's segments that carry values no path of the mapping reads."""
    read = {f for spec in (*shipped["fields"].values(), *overrides.values()) for p in spec_paths(spec)
            if (f := _field_of(p)) is not None}
    return sorted((f for f in feed.fields if f in TELLING and f not in read),
                  key=lambda f: (SEGMENTS.index(f[:3]), int(f[4:])))


def _rehearse(proposal: Proposal, feed: Feed, region: str, timezone: str | None, stored_times: str) -> None:
    """Map every message read with the proposed mapping, as the connector will (its zone and
    time convention: files.py ``raw_record``): how many map, and why others do not."""
    compiled = compile_proposal(proposal, timezone or "UTC", region, stored_times, preset=PRESET)
    failed: Counter[str] = Counter()
    for record in feed.records:
        try:
            compiled.apply({**record, "timezone": timezone} if timezone and stored_times == "local" else record)
        except MappingError as exc:
            failed[exc.field] += 1
    mapped = len(feed.records) - sum(failed.values())
    line = f"the proposed mapping maps {mapped} of {len(feed.records)} message(s)"
    if failed:
        line += "; would quarantine: " + ", ".join(f"{f} x{n}" for f, n in failed.most_common())
    proposal.notes.append(line)
