"""HL7 v2 text into records: segment separators, repeats, escapes, first-component
reading, and what counts as unreadable."""

from __future__ import annotations

from pathlib import Path

import pytest

from clinicsync.connectors.hl7v2.parse import Hl7ParseError, decode, parse_message, split_messages
from clinicsync.mappings.paths import compile_path
from tests.connectors.hl7v2_support import siu


def read(record: dict, path: str) -> str | None:  # type: ignore[type-arg]
    value = compile_path(path)(record)
    return None if value is None else str(value)


def test_a_message_becomes_a_record_of_segments_fields_and_components() -> None:
    parsed = parse_message(siu("S12", "MSG1", "20300301120000", appointment="A9"))
    record = parsed.record
    assert (parsed.message_type, parsed.event, parsed.control_id, parsed.sender) == ("SIU", "S12", "MSG1", "EPIC^HOSP")
    assert (record["event"], record["control_id"], record["message_type"]) == ("S12", "MSG1", "SIU")
    assert read(record, "SCH.2") == read(record, "SCH.2.1") == read(record, "SCH.2.1.1") == "A9"
    assert read(record, "PID.5") == read(record, "PID.5.1") == "Doe"
    assert read(record, "PID.5.2") == "Jane"
    # a repeating field: the first non-empty, or the one a filter picks
    assert read(record, "PID.3.1") == "P1"
    assert read(record, "PID.3[5=SS].1") == "999-99-9999"
    assert read(record, "PID.13[2=NET].4") == "jane.doe@example.org"
    assert read(record, "PID.13[3=CP].7") == "5550123"
    assert read(record, "MSH.9.2") == "S12"
    assert read(record, "MSH.7") == "20300301120000"
    assert record["MSH"]["1"] == "|" and record["MSH"]["2"] == "^~\\&"
    assert record["message"].startswith("MSH|") and "\n" not in record["message"]


def test_repeated_segments_are_lists_read_first_or_by_index() -> None:
    text = ("MSH|^~\\&|A|B|||20300101||SIU^S12|1|P|2.5\rSCH||X\r"
            "AIL|1||ROOM1\rAIP|1||\rAIL|2||ROOM2^Two\rAIP|2||DOC2^Who")
    record = parse_message(text).record
    assert isinstance(record["AIL"], list) and len(record["AIL"]) == 2
    assert read(record, "AIL.3.1") == "ROOM1"
    assert read(record, "AIL[1].3.2") == "Two"
    assert read(record, "AIP.3.1") == "DOC2"  # the first AIP has none: the first non-empty
    assert read(record, "AIP[0].3.1") is None


def test_escapes_are_undone_and_the_hl7_null_is_empty() -> None:
    text = 'MSH|^~\\&|A|B|||20300101||SIU^S12|1|P|2.5\rSCH|A\\F\\B|""|x\\S\\y^z|\\T\\&sub'
    sch = parse_message(text).record["SCH"]
    assert str(sch["1"]) == "A|B"
    assert "2" not in sch
    assert str(sch["3"]) == "x^y" and str(sch["3"].get("2")) == "z"
    assert str(sch["4"]) == "&" and sch["4"].get("1").get("2") == "sub"


@pytest.mark.parametrize("separator", ["\r", "\n", "\r\n"])
def test_segment_separators_cr_lf_and_crlf_are_all_read(separator: str) -> None:
    text = siu("S12", "MSG1", "20300301120000").replace("\r", separator)
    record = parse_message(text).record
    assert read(record, "PID.3.1") == "P1" and read(record, "AIP.3.1") == "D7"


def test_a_batch_file_splits_into_messages_without_its_envelopes() -> None:
    text = ("FHS|^~\\&|EPIC\nBHS|^~\\&|EPIC\n" + siu("S12", "1", "20300301").replace("\r", "\n")
            + "\n\n" + siu("S13", "2", "20300302").replace("\r", "\r\n") + "BTS|2\nFTS|1\n")
    messages = split_messages(text)
    assert [parse_message(m).control_id for m in messages] == ["1", "2"]
    assert all("\n" not in m and m.endswith("\r") for m in messages)


def test_segments_before_the_first_msh_come_back_as_a_chunk_that_fails_to_parse() -> None:
    messages = split_messages("PID|1||X\rNTE|1\r" + siu("S12", "1", "20300301"))
    assert len(messages) == 2
    with pytest.raises(Hl7ParseError, match="does not start with an MSH"):
        parse_message(messages[0])
    assert parse_message(messages[1]).control_id == "1"


@pytest.mark.parametrize(("text", "reason", "has_header"), [
    ("", "does not start with an MSH", False),
    ("hello there", "does not start with an MSH", False),
    ("PID|1||X", "does not start with an MSH", False),
    ("MSH|^~\\&|A|B", "MSH is too short", True),
    ("MSH|^~\\&|A|B|||2030||SIU^S12|1|P|2.5\rthis is no segment", "segment 2 has no valid segment id", True),
])
def test_unreadable_text_names_the_problem_without_quoting_it(text: str, reason: str, has_header: bool) -> None:
    with pytest.raises(Hl7ParseError) as caught:
        parse_message(text)
    assert reason in caught.value.reason
    assert "hello" not in caught.value.reason and "no segment" not in caught.value.reason
    assert (caught.value.message is not None) == has_header


def test_decode_reads_utf8_else_windows_1252_unless_told() -> None:
    assert decode("Müller".encode(), "auto") == "Müller"
    assert decode("Müller".encode("cp1252"), "auto") == "Müller"
    assert decode("Müller".encode("latin-1"), "latin-1") == "Müller"
    with pytest.raises(UnicodeDecodeError):
        decode("Müller".encode("cp1252"), "utf-8")


def test_every_shared_fixture_parses(shared_fixtures: Path) -> None:
    files = sorted((shared_fixtures / "hl7").glob("*.hl7"))
    assert len(files) == 12
    for path in files:
        messages = split_messages(decode(path.read_bytes(), "auto"))
        assert len(messages) == 1, path.name
        parsed = parse_message(messages[0])
        assert parsed.message_type == "SIU" and parsed.event.startswith("S") and parsed.control_id
