"""Bad input at scale for HL7 v2 (hypothesis, bounded): the SIU fixtures with mutated
segments, fields and components, wrong separators, truncation, binary garbage, other
encodings, bad timestamps and huge repetitions, through the receiver's message handling
(what the MLLP listener calls for each frame) and through the drop-folder connector. No
message raises; each gets one ACK (AA stored, AE quarantined with a reason, AR rejected
and quarantined); reasons never repeat values; good messages beside bad ones are stored.
"""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import hl7
import pytest
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from clinicsync.connectors.hl7v2.settings import Hl7v2Settings, MllpSettings
from clinicsync.mappings.engine import load_mapping
from clinicsync.sync.config.settings import settings_model
from clinicsync.sync.ingest.engine import sync_connector
from clinicsync.sync.ingest.mllp_receiver import Receiver
from clinicsync.sync.ingest.reports import new_run_id
from clinicsync.sync.store.db import make_engine, upgrade
from clinicsync.sync.store.store import COUNT_KEYS, Store
from tests.conftest import SHARED_FIXTURES
from tests.reliability.test_properties import MARKER, SCALE, no_values_logged

BOUNDED = settings(max_examples=int(50 * SCALE), deadline=None, suppress_health_check=[HealthCheck.too_slow])
FIXTURES = [p.read_bytes().decode("utf-8") for p in sorted((SHARED_FIXTURES / "hl7").glob("*.hl7"))]
MAPPING = load_mapping("hl7v2_siu", "America/New_York", "US")


# -- messages --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Message:
    data: bytes
    appointment: str  # the SCH-2 it was given
    kind: str  # good (unmutated: AA, stored), fatal (unusable: AE/AR, quarantined), odd or raw
    how: str = ""

    @property
    def good(self) -> bool:
        return self.kind == "good"

    @property
    def fatal(self) -> bool:
        return self.kind == "fatal"

    @property
    def framed(self) -> bool:
        """Starts with its MSH and ends with a line break, so a batch file splits it off."""
        return self.kind != "raw"


def _segments(message: str) -> list[list[str]]:
    return [segment.split("|") for segment in message.strip("\r").split("\r")]


def _join(segments: list[list[str]], separator: str = "\r") -> str:
    return separator.join("|".join(fields) for fields in segments) + separator


def _fresh(template: str) -> tuple[list[list[str]], str]:
    """A fixture with its own control id (MSH-10) and appointment id (SCH-2)."""
    segments = _segments(template)
    appointment = "A" + uuid.uuid4().hex[:12]
    segments[0][9] = "C" + uuid.uuid4().hex[:12]
    for fields in segments:
        if fields[0] == "SCH":
            fields[2] = appointment
    return segments, appointment


TIMESTAMPS = st.sampled_from([
    "", '""', "2030", "203013011000", "203002301000", "20300301256100", "20300310023000", "20301103013000",
    "20300301100000+2500", "20300301100000+05", "20300301100000.123456789", "00000101000000", "99991231235959-1200",
    "2030030110", "203003011000-0000", "1e10", "-20300301", MARKER,
])
GARBAGE_TEXT = st.one_of(
    st.text(max_size=16).map(lambda t: MARKER + t),
    st.sampled_from(["\\F\\", "\\E\\", "\\X0D\\", "\\Zz\\", "\\", "&&&", "^^^^", "~~~", "|", "\x1c", "\x0b",
                     "\\Z" + MARKER + "\\", "\\X" + MARKER + "\\", "\u202e" + MARKER, "é" + MARKER, MARKER * 5000]),
    st.integers(1, 2000).map(lambda n: "~".join([MARKER] * n)),  # huge repetitions
    TIMESTAMPS,
)


@st.composite
def field_mutation(draw: st.DrawFn, segments: list[list[str]]) -> None:
    """Replace (or add) a field, a component or a repetition of some segment."""
    fields = segments[draw(st.integers(0, len(segments) - 1))]
    first = 2 if fields[0] == "MSH" else 1
    number = draw(st.integers(first, max(first, len(fields) + 2)))
    while len(fields) <= number:
        fields.append("")
    value = draw(GARBAGE_TEXT)
    how = draw(st.sampled_from(["field", "component", "repetition"]))
    if how == "component":
        parts = fields[number].split("^")
        index = draw(st.integers(0, len(parts)))
        parts[index:index + 1] = [value]
        value = "^".join(parts)
    elif how == "repetition":
        value = fields[number] + "~" + value
    fields[number] = value


TARGETED = [  # (segment, field number) whose mutation keeps a message readable but odd
    ("MSH", 7), ("MSH", 9), ("MSH", 10), ("MSH", 12), ("SCH", 1), ("SCH", 2), ("SCH", 9), ("SCH", 10),
    ("SCH", 11), ("SCH", 25), ("TQ1", 7), ("TQ1", 8), ("PID", 3), ("PID", 5), ("PID", 13), ("PID", 15),
    ("AIL", 3), ("AIP", 3), ("AIS", 4),
]


@st.composite
def targeted_mutation(draw: st.DrawFn, segments: list[list[str]]) -> None:
    name, number = draw(st.sampled_from(TARGETED))
    for fields in segments:
        if fields[0] == name:
            index = number - 1 if name == "MSH" else number  # MSH-1 is the separator itself
            while len(fields) <= index:
                fields.append("")
            fields[index] = draw(st.one_of(TIMESTAMPS, GARBAGE_TEXT, st.just("")))
            return


@st.composite
def message(draw: st.DrawFn) -> Message:
    segments, appointment = _fresh(draw(st.sampled_from(FIXTURES)))
    kind = draw(st.sampled_from(["good", "good", "odd", "fatal", "raw"]))
    if kind == "good":
        return Message(_join(segments).encode(), appointment, kind)
    if kind == "fatal":
        how = draw(st.sampled_from(["no SCH", "not SIU", "only MSH", "no MSH-10", "no start"]))
        if how == "no SCH":
            segments = [s for s in segments if s[0] != "SCH"]
        elif how == "not SIU":
            segments[0][8] = draw(st.sampled_from(["ADT^A04", "ORM^O01", "ACK", "", MARKER + "^S12"]))
        elif how == "only MSH":
            segments = segments[:1]
        elif how == "no MSH-10":
            segments[0][9] = ""
        else:  # every place a start time can come from, gone or broken
            for fields in segments:
                for name, number in (("TQ1", 7), ("SCH", 11), ("AIS", 4), ("AIL", 6), ("AIP", 6)):
                    if fields[0] == name and len(fields) > number:
                        fields[number] = draw(st.sampled_from(["", "tomorrow" + MARKER, "203013321000"]))
        return Message(_join(segments).encode(), appointment, kind, how)
    for _ in range(draw(st.integers(1, 4))):
        draw(st.one_of(field_mutation(segments), targeted_mutation(segments)))
    separator = draw(st.sampled_from(["\r", "\r", "\n", "\r\n", "\n\r"]))
    body = _join(segments, separator)
    if kind == "odd":
        return Message(body.encode(), appointment, kind)
    how = draw(st.sampled_from(["truncate", "separators", "binary", "encoding", "splice", "bytes"]))
    if how == "truncate":
        body = body[:draw(st.integers(0, len(body)))]
    elif how == "separators":  # MSH-1/MSH-2 not what the rest of the message uses
        body = body[:3] + draw(st.sampled_from(["^", "#^~\\&", "|~~~~", "|^", "|", "", "\r", "|^~\\&\\"])) + body[8:]
    elif how == "splice":
        at = draw(st.integers(0, len(body)))
        body = body[:at] + draw(GARBAGE_TEXT) + body[at:]
    if how == "binary":
        at = draw(st.integers(0, len(body)))
        data = body.encode()[:at] + draw(st.binary(min_size=1, max_size=64)) + body.encode()[at:]
    elif how == "encoding":
        data = body.replace("ADAM", "ÅDÄM" + MARKER).encode(
            draw(st.sampled_from(["utf-16", "cp1252", "latin-1", "utf-8-sig"])), "replace")
    elif how == "bytes":
        data = draw(st.binary(max_size=300))
    else:
        data = body.encode("utf-8", "surrogatepass")
    return Message(data, appointment, kind, how)


# -- the store ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('props-hl7') / 'store.db'}")
    upgrade(engine)
    yield Store(engine)
    engine.dispose()


def _rows(store: Store, sql: str, name: str) -> list[Any]:
    with store.engine.connect() as connection:
        return list(connection.execute(text(sql), {"c": name}))


def _stored(store: Store, name: str) -> set[str]:
    return {r[0] for r in _rows(store, "SELECT external_id FROM appointment WHERE connector = :c", name)}


def _check_reasons(reasons: list[str]) -> None:
    for reason in reasons:
        assert reason and MARKER not in reason, reason
        assert not reason.startswith("unexpected"), reason


# -- the receiver (MLLP) --------------------------------------------------------------------
def _ack(reply: str) -> tuple[str, str]:
    """MSA-1 and MSA-3 of an ACK, read back with python-hl7 as a sender would. The ACK is
    written in the separators the message declared (MSH-1, MSH-2), as HL7 asks, so it need
    not start with "MSH|"."""
    assert "\n" not in reply and reply.startswith("MSH"), reply
    msa = hl7.parse(reply).segment("MSA")
    return str(msa(1)), (str(msa(3)) if len(msa) > 3 else "")


def _appointment(item: Message) -> str:
    """Each message of a list stands for its own appointment: a later bad message about the
    appointment a good one stored must not make the good one look like a leak."""
    return item.appointment


@given(st.lists(message(), min_size=1, max_size=8, unique_by=_appointment),
       st.sampled_from(["auto", "auto", "utf-8", "cp1252"]))
@example([Message(b"MSH|^~\\&|A|B|||2030||" + MARKER.encode() + b"^S12|C1|P|2.5\rSCH|1|X1\r", "X1", "fatal")], "auto")
@example([Message(b"MSH|^~\\&|A|B\rSCH|1|X1\r", "X1", "fatal"),  # an MSH too short for create_ack
          Message(b"MSH|^~\\&|A|B|||2030||ACK|C2|P|2.5\rSCH|1|X2\r", "X2", "fatal"),  # MSH-9 no components
          Message(b"MSH|^~\\&|A|B|||2030||SIU^S12|C3|P|2.5\rSCH|1|X3\rPID|1||P1||Doe\\Z" + MARKER.encode()
                  + b"\\\r", "X3", "fatal")], "auto")  # python-hl7 logged the field it could not unescape
@BOUNDED
def test_every_message_gets_one_ack_and_bad_ones_are_quarantined(store: Store, messages: list[Message],
                                                                  encoding: str) -> None:
    name = f"h{uuid.uuid4().hex[:12]}"
    config = Hl7v2Settings(name=name, listen=MllpSettings(), encoding=encoding)
    receiver = Receiver(config, MAPPING, store, new_run_id())
    with no_values_logged("control_id", "trigger"):
        _answer_each(store, receiver, messages)
    _check_reasons([r[0] for r in _rows(store, "SELECT reason FROM quarantine WHERE connector = :c", name)])


def _sightings(store: Store, name: str) -> int:
    return int(_rows(store, "SELECT COALESCE(SUM(seen_count), 0) FROM quarantine WHERE connector = :c", name)[0][0])


def _answer_each(store: Store, receiver: Receiver, messages: list[Message]) -> None:
    name = receiver.name
    for item in messages:
        # Sightings, not rows: the same bad record again is one work-list item seen twice (issue 17).
        before = _sightings(store, name)
        reply = receiver.handle(item.data, "10.0.0.1")  # never raises: the property is that this returns
        code, detail = _ack(reply.ack)
        assert code == reply.code and code in ("AA", "AE", "AR")
        assert MARKER not in detail, detail
        added = _sightings(store, name) - before
        assert added == (0 if code == "AA" or reply.duplicate else 1), (code, added)
        if item.good:
            assert code == "AA" and not reply.duplicate, detail
            assert item.appointment in _stored(store, name)
        if item.fatal:
            assert code in ("AE", "AR"), code
            assert item.appointment not in _stored(store, name)
        event(f"{item.kind}: {code}")


# -- the drop folder ------------------------------------------------------------------------
@given(st.lists(message(), min_size=1, max_size=10, unique_by=_appointment))
@BOUNDED
def test_a_batch_file_with_bad_messages_stores_the_good_ones(store: Store, messages: list[Message]) -> None:
    """One file of messages: each good one that no garbage follows is stored (garbage
    without an MSH belongs to the message before it, which is rejected whole); each fatal
    one is quarantined; the run reports no error and its counts add up."""
    name = f"d{uuid.uuid4().hex[:12]}"
    with tempfile.TemporaryDirectory() as folder:
        drop = Path(folder)
        (drop / "batch.hl7").write_bytes(b"".join(m.data for m in messages))
        data = {"clinic": {"timezone": "America/New_York"}, "connectors": [
            {"name": name, "kind": "hl7v2", "drop_dir": str(drop), "settle_seconds": 0, "batch_size": 3}]}
        config = settings_model().model_validate({**data, "base_dir": drop}, context={"base_dir": drop})
        with no_values_logged("control_id", "trigger"):
            report = sync_connector(config, store, config.connectors[0], new_run_id())
        again = sync_connector(config, store, config.connectors[0], new_run_id())
    assert report.error is None, report.error
    assert again.error is None and again.counts.fetched == 0, "a stored file was read again"
    counts = report.counts.as_dict()
    assert counts["fetched"] == sum(counts[k] for k in COUNT_KEYS if k != "fetched")
    # Every sighting is recorded (unnamed messages that say the same share an item).
    quarantine = [r[0] for r in _rows(store, "SELECT reason, seen_count FROM quarantine WHERE connector = :c", name)
                  for _ in range(r[1])]
    assert len(quarantine) == counts["quarantined"]
    _check_reasons(quarantine)
    stored = _stored(store, name)
    checked = 0
    for n, item in enumerate(messages):
        neighbours = messages[max(n - 1, 0):n + 2]
        if item.good and all(m.framed for m in neighbours):
            assert item.appointment in stored, n
            checked += 1
        # A file needs no control ids; and a fatal message that an unframed one runs into (no segment
        # terminator before its MSH) is read as part of that one, which decides its fate.
        if item.fatal and item.how != "no MSH-10" and (n == 0 or messages[n - 1].framed):
            assert item.appointment not in stored
    if all(m.good for m in messages):
        assert counts["quarantined"] == 0
    event(f"good messages checked as stored: {min(checked, 3)}; quarantined: {min(counts['quarantined'], 3)}")
