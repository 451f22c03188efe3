"""A proposal's mapping compiled by the real mapping engine, as the connector will compile it
from the files `discover --write` writes: a preset name as it is, or the proposed mapping
file (which may ``extends:`` a preset). Used to rehearse the proposal over what was read,
and to read the visits' times as written (hl7_clock.py, csv_clock.py)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import yaml

from clinicsync.mappings.engine import CompiledMapping, load_mapping
from clinicsync.sync.discover.proposal import Proposal


def compile_proposal(proposal: Proposal, zone: str, region: str, stored_times: str = "local",
                     preset: str | None = None) -> CompiledMapping:
    """``zone``: the mapping's default zone; ``preset``: the one to use when the proposal names
    none of its own (an HL7 feed needing no override uses hl7v2_siu as it is)."""
    with tempfile.TemporaryDirectory() as folder:
        ref = proposal.mapping_preset or preset or ""
        if proposal.mapping is not None:
            (Path(folder) / "proposed.yaml").write_text(
                yaml.safe_dump({"name": proposal.name, **proposal.mapping}, sort_keys=False), encoding="utf-8")
            ref = "proposed.yaml"
        return load_mapping(ref, zone, region, base_dir=Path(folder), stored_times=stored_times)
