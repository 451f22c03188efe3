"""SIU messages for the HL7 v2 tests, written the way scheduling systems send them, and
a reader for the ACKs that come back."""

from __future__ import annotations

import io
from dataclasses import dataclass

import hl7
import pytest

from clinicsync.common.logs import configure_logging


@pytest.fixture(name="logs", autouse=True)
def capture_logs() -> io.StringIO:
    """What the HL7 code logs, from any thread, into a buffer of the test's own (a stream
    an earlier in-process CLI run configured may be closed by now). Import it to use it."""
    buffer = io.StringIO()
    configure_logging("info", "json", stream=buffer)
    return buffer


def siu(event: str, control_id: str, sent: str, *, appointment: str = "A100", start: str = "203003041000",
        end: str | None = None, minutes: int = 30, status: str = "Booked", patient: str = "P1",
        doctor: str = "D7^Strange^Stephen", room: str = "CLINIC^Room 3^^Main", sender: str = "EPIC^HOSP",
        timing: str = "TQ1", language: str = "spa") -> str:
    """An SIU^<event> for ``appointment``; ``timing`` TQ1 (v2.5+), SCH11 (v2.3) or none."""
    sch11 = f"^^^{start}" if timing == "SCH11" else ""
    segments = [
        f"MSH|^~\\&|{sender.split('^')[0]}|{sender.split('^')[1]}|CLINICSYNC|CLINIC|{sent}||SIU^{event}^SIU_S12|"
        f"{control_id}|P|2.5",
        f"SCH|PL{appointment}|{appointment}||||ROUTINE|CHK^Checkup|NORMAL|{minutes}|MIN^minutes|{sch11}"
        + "|" * 14 + status,
    ]
    if timing == "TQ1":
        segments.append(f"TQ1|1||||||{start}|{end or ''}")
    segments += [
        f"PID|1||{patient}^^^HOSP^MR~999-99-9999^^^SSA^SS||Doe^Jane^Q||19800101|F|||||"
        f"^PRN^CP^^1^617^5550123~^NET^Internet^jane.doe@example.org||{language}",
        "RGS|1",
        "AIS|1||99213^Office visit^CPT",
        f"AIL|1||{room}",
        f"AIP|1||{doctor}|MD^Physician",
    ]
    return "\r".join(segments) + "\r"


@dataclass(frozen=True)
class Ack:
    code: str
    control_id: str
    text: str

    @classmethod
    def read(cls, data: bytes) -> Ack:
        assert data.startswith(b"\x0b") and data.endswith(b"\x1c\r"), data
        message = hl7.parse(data[1:-2].decode())
        msa = message.segment("MSA")
        return cls(str(msa(1)), str(msa(2)), message.extract_field("MSA", 1, 3) if len(msa) > 3 else "")
