"""Does every connector's mapping load? What `config validate`, `check` and `sync` ask before
reading any source (a mapping that does not load is a settings error, exit 2).

Apart from sync/checks/source_check.py (reading and auditing a whole source for `check`: its
dataclasses and the mapping audit, ~12 M instructions to import), which an idle `sync --once`
does not need."""

from __future__ import annotations

from typing import TYPE_CHECKING

from clinicsync.mappings.model import MappingLoadError
from clinicsync.mappings.record_kind import mapping_record
from clinicsync.sync.ingest.source_settings import mapping_for

if TYPE_CHECKING:
    from clinicsync.sync.config.settings import Settings


def mapping_problems(settings: Settings, only: list[str] | None = None) -> list[str]:
    """Every connector's mapping (of those named in ``only``, if given) that does not load —
    missing file, misspelt key, bad default or zone — named by its settings key (for
    `config validate`, `check` and `sync`)."""
    problems = []
    for index, config in enumerate(settings.connectors):
        if only and config.name not in only:
            continue
        try:
            if mapping_record(config.mapping, settings.base_dir) == "waitlist":  # a waitlist source
                from clinicsync.mappings.waitlist import load_waitlist_mapping

                clinic = settings.clinic_for(config.name)  # the source's site's
                load_waitlist_mapping(config.mapping, clinic.timezone, clinic.default_region, settings.base_dir)
            else:
                mapping_for(settings, config)  # as a sync loads it (source_check.connector_mapping)
        except MappingLoadError as exc:
            problems.append(f"connectors[{index}].mapping ({config.name}): {exc}")
        waitlist_mapping = getattr(config, "waitlist_mapping", None)
        if getattr(config, "waitlist", False) and isinstance(waitlist_mapping, str):
            from clinicsync.mappings.waitlist import load_waitlist_mapping

            try:
                clinic = settings.clinic_for(config.name)
                load_waitlist_mapping(waitlist_mapping, clinic.timezone, clinic.default_region, settings.base_dir)
            except MappingLoadError as exc:
                problems.append(f"connectors[{index}].waitlist_mapping ({config.name}): {exc}")
    return problems
