"""Real SIU feeds and the shapes they show, through the shipped hl7v2_siu mapping: a
hospital's S12/S13 (Renalware's Barts Health examples, tests/fixtures/hl7_siu/SOURCE.txt)
with SCH-25 `Confirmed`, email as `addr^EMAIL` and the clinician only in AIG/PV1-7; one
table per class; and a control id reused for a different message, handled alike over MLLP
(Receiver.handle) and from a file (the hl7v2 drop folder through sync_connector)."""

from __future__ import annotations

import io
import os
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from clinicsync.connectors.hl7v2.model import MESSAGES
from clinicsync.connectors.hl7v2.parse import decode, parse_message, split_messages
from clinicsync.connectors.hl7v2.settings import Hl7v2Settings, MllpSettings
from clinicsync.mappings.engine import CompiledMapping, load_mapping
from clinicsync.mappings.model import NormalizedAppointment
from clinicsync.sync.config.settings import Settings
from clinicsync.sync.ingest.engine import sync_connector
from clinicsync.sync.ingest.mllp_receiver import Receiver
from clinicsync.sync.store.model import Appointment, Event
from clinicsync.sync.store.store import Store
from tests.connectors.hl7v2_support import capture_logs, siu  # noqa: F401 - an autouse fixture

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "hl7_siu"
A = Appointment.__table__.c  # type: ignore[attr-defined]
E = Event.__table__.c  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def mapping() -> CompiledMapping:
    return load_mapping("hl7v2_siu", "Europe/London", "GB")


def mapped(mapping: CompiledMapping, text: str) -> NormalizedAppointment:
    return mapping.apply(dict(parse_message(text).record))


def fixture_text(name: str) -> str:
    [message] = split_messages(decode((FIXTURES / name).read_bytes(), "auto"))
    return message


# -- a hospital's real S12/S13 import with no site mapping -------------------------------------
@pytest.mark.parametrize(("name", "start_hour", "email", "doctor"), [
    ("renalware_blt_siu_s12.hl7", 12, "testrenal@test.co", "Baxter, Stanley"),
    ("renalware_blt_siu_s13.hl7", 11, "testrenal@co.in", "Stevens, Stanley")])
def test_a_hospitals_siu_imports_with_the_shipped_mapping(mapping: CompiledMapping, name: str,
                                                          start_hour: int, email: str, doctor: str) -> None:
    appointment = mapped(mapping, fixture_text(name))
    assert appointment.status == "booked"  # SCH-25 `Confirmed`: the trigger event says
    assert appointment.notes[0].startswith("status: dropped 'Confirmed'")
    assert appointment.start.hour == start_hour and appointment.timezone == "Europe/London"  # GMT in November
    assert appointment.patient is not None
    assert appointment.patient.email == email  # `addr^EMAIL`
    # its test number 0766655652 is one digit short of a UK mobile: dropped, with a note
    assert appointment.patient.phone is None
    assert "patient.phone: dropped (not a valid phone number (region GB))" in appointment.notes
    assert appointment.practitioner is not None  # no AIP: the clinician is in AIG
    assert appointment.practitioner.name == doctor


# -- email in XTN, by use code (XTN-2) or type (XTN-3), address in XTN-4 or XTN-1 --------------
EMAIL_CASES = [
    ("v2.5: ^NET^Internet^addr", "^PRN^PH^^1^617^5550123~^NET^Internet^ana@example.org", "ana@example.org"),
    ("v2.3: addr^NET^Internet", "(617)555-0123^PRN^PH~ana@example.org^NET^Internet", "ana@example.org"),
    ("addr^EMAIL (use code EMAIL)", "6175550123^MOBILE~ana@example.org^EMAIL", "ana@example.org"),
    ("^^EMAIL^addr (type EMAIL)", "^^EMAIL^ana@example.org", "ana@example.org"),
    ("INTERNET in capitals", "^NET^INTERNET^ana@example.org", "ana@example.org"),
    ("X.400", "^^X.400^ana@example.org", "ana@example.org"),
    ("a phone only", "^PRN^PH^^1^617^5550123", None),
]


@pytest.mark.parametrize(("xtn", "email"), [c[1:] for c in EMAIL_CASES], ids=[c[0] for c in EMAIL_CASES])
def test_an_email_in_xtn_is_read_by_use_or_type_code(xtn: str, email: str | None) -> None:
    mapping = load_mapping("hl7v2_siu", "America/New_York", "US")
    text = siu("S12", "1", "20300301120000")
    pid = next(s for s in text.split("\r") if s.startswith("PID"))
    fields = pid.split("|")
    fields[13] = xtn
    appointment = mapped(mapping, text.replace(pid, "|".join(fields)))
    assert appointment.patient is not None and appointment.patient.email == email
    assert not any(n.startswith("patient.phone") for n in appointment.notes)  # an email is no phone


# -- the clinician: AIP, else AIG, else PV1-7 ------------------------------------------------
CLINICIAN_CASES = [
    ("AIP (XCN)", ["AIP|1||D7^Strange^Stephen|MD"], ("D7", "Stephen Strange")),
    ("AIP wins over AIG and PV1-7", ["AIP|1||D7^Strange^Stephen|MD", "AIG|1||R9^Room nine"],
     ("D7", "Stephen Strange")),
    ("AIG id^text", ["AIG|1||G12^Dr Grey^L"], ("G12", "Dr Grey")),
    ("AIG free text only (a hospital feed)", ["AIG|1||Baxter, Stanley"], ("Baxter, Stanley", "Baxter, Stanley")),
    ("PV1-7 attending doctor", ["PV1|1|O|||||Z3590850^Smith^John^^^Dr"], ("Z3590850", "John Smith")),
    ("nobody", [], None),
]


@pytest.mark.parametrize(("segments", "doctor"), [c[1:] for c in CLINICIAN_CASES],
                         ids=[c[0] for c in CLINICIAN_CASES])
def test_the_clinician_comes_from_aip_else_aig_else_pv1(mapping: CompiledMapping, segments: list[str],
                                                        doctor: tuple[str, str] | None) -> None:
    text = siu("S12", "1", "20300301120000")
    kept = [s for s in text.split("\r") if s and not s.startswith("AIP")]
    appointment = mapped(mapping, "\r".join(kept + segments) + "\r")
    got = appointment.practitioner
    assert (None if got is None else (got.external_id, got.name)) == doctor


# -- a control id reused: the same on both paths ------------------------------------------------
FIRST = siu("S12", "MSG1", "20300301090000", start="203003041000")
REPLAY_RESTAMPED = siu("S12", "MSG1", "20300301091500", start="203003041000")  # only MSH-7 differs
DIFFERENT = siu("S14", "MSG1", "20300301100000", start="203003061000")  # a restarted counter

# (case, messages in order, the start stored at the end (day of March), reused-id warnings)
CONTROL_ID_CASES = [
    ("an identical replay changes nothing", [FIRST, FIRST], 4, 0),
    ("a replay restamped in MSH-7 is the same message", [FIRST, REPLAY_RESTAMPED], 4, 0),
    ("a different message under a used id is applied, with a warning", [FIRST, DIFFERENT], 6, 1),
]


def _day(store: Store) -> int:
    with store.engine.connect() as connection:
        return int(connection.execute(select(A.start_utc)).scalar_one().day)


def _events(store: Store) -> list[str]:
    with store.engine.connect() as connection:
        return [r[0] for r in connection.execute(select(E.kind).order_by(E.id))]


@pytest.mark.parametrize(("messages", "day", "warnings"), [c[1:] for c in CONTROL_ID_CASES],
                         ids=[c[0] for c in CONTROL_ID_CASES])
def test_a_reused_control_id_over_mllp(store: Store, logs: io.StringIO, messages: list[str], day: int,
                                       warnings: int) -> None:
    config = Hl7v2Settings(name="siu", listen=MllpSettings())
    handler = Receiver(config, load_mapping(config.mapping, "America/New_York", "US"), store, "run")
    replies = [handler.handle(m.encode(), "10.0.0.1") for m in messages]
    assert [r.code for r in replies] == ["AA", "AA"]
    assert replies[1].duplicate == (warnings == 0)  # a replay is answered, not applied
    assert _day(store) == day
    assert logs.getvalue().count("hl7.control_id_reused") == warnings
    if warnings:
        assert '"control_id": "MSG1"' in logs.getvalue() or "control_id=MSG1" in logs.getvalue()


@pytest.mark.parametrize(("messages", "day", "warnings"), [c[1:] for c in CONTROL_ID_CASES],
                         ids=[c[0] for c in CONTROL_ID_CASES])
def test_a_reused_control_id_from_files(store: Store, store_url: str, tmp_path: Path, logs: io.StringIO,
                                        messages: list[str], day: int, warnings: int) -> None:
    drop, archive = tmp_path / "drop", tmp_path / "archive"
    drop.mkdir()
    config = Hl7v2Settings(name="siu", drop_dir=drop, archive_dir=archive, settle_seconds=0)
    settings = Settings.model_validate({"clinic": {"timezone": "America/New_York"}, "store": {"url": store_url},
                                        "connectors": []})
    for number, message in enumerate(messages, start=1):  # one file per run, as a feed drops them
        path = drop / f"{number}.hl7"
        path.write_text(message, encoding="utf-8")
        past = time.time() - 60
        os.utime(path, (past, past))
        report = sync_connector(settings, store, config, f"run{number}")
        assert report.error is None, report.error
    assert _day(store) == day
    assert logs.getvalue().count("hl7.control_id_reused") == warnings
    assert _events(store) == (["created", "rescheduled"] if warnings else ["created"])
    with store.engine.connect() as connection:  # recorded, so that MLLP sees the same id as used
        assert connection.execute(select(MESSAGES.c.control_id)).scalars().all() == ["MSG1"]


def test_a_message_recorded_from_a_file_is_a_replay_over_mllp(store: Store, store_url: str,
                                                              tmp_path: Path) -> None:
    drop = tmp_path / "drop"
    drop.mkdir()
    path = drop / "1.hl7"
    path.write_text(FIRST, encoding="utf-8")
    os.utime(path, (time.time() - 60, time.time() - 60))
    settings = Settings.model_validate({"clinic": {"timezone": "America/New_York"}, "store": {"url": store_url},
                                        "connectors": []})
    files = Hl7v2Settings(name="siu", drop_dir=drop, archive_dir=tmp_path / "archive", settle_seconds=0)
    assert sync_connector(settings, store, files, "run1").error is None
    mllp = Hl7v2Settings(name="siu", listen=MllpSettings())
    reply = Receiver(mllp, load_mapping(mllp.mapping, "America/New_York", "US"), store, "run2").handle(
        FIRST.encode(), "10.0.0.1")
    assert (reply.code, reply.duplicate) == ("AA", True)
