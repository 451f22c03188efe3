"""What a mapping maps: appointments, or a waiting list (its ``record:`` key).

Apart from mappings/waitlist.py, whose waitlist engine (four dataclasses, two pydantic
models: ~17 M instructions to import) only a waitlist source needs: every poll, probe and
check asks this question, and an idle `sync --once` of an appointment source asks nothing else
of the waiting list."""

from __future__ import annotations

from pathlib import Path

from clinicsync.mappings.model import MappingLoadError
from clinicsync.mappings.preset_files import merged_preset

RECORD_KINDS = ("appointment", "waitlist")


def mapping_record(ref: str, base_dir: Path = Path(".")) -> str:
    """What a mapping maps: ``appointment`` (every mapping until now) or ``waitlist`` (its
    ``record:`` key). A mapping that does not load says ``appointment``: the appointment
    engine reports its problem as it always did."""
    try:
        data, _, _ = merged_preset(ref, base_dir)  # asked at every poll: read again only when edited
    except MappingLoadError:
        return "appointment"
    record = data.get("record", "appointment")
    return record if record in RECORD_KINDS else "appointment"
