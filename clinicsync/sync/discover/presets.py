"""A shipped mapping preset, read as data, and which of its paths a source's sampled
records answer: the FHIR and HL7 discoverers report, for each field, where this source
carries it (the first of the preset's paths with a value, message by message)."""

from __future__ import annotations

from collections import Counter
from typing import Any

import yaml

from clinicsync.mappings.paths import compile_path
from clinicsync.mappings.preset_files import PRESETS_DIR


def preset(name: str) -> dict[str, Any]:
    """mappings/NAME.yaml as data (its own keys, not merged with what it extends)."""
    data = yaml.safe_load((PRESETS_DIR / f"{name}.yaml").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def spec_paths(spec: dict[str, Any]) -> list[str]:
    """Every path a field spec reads, in order: from, concat, then its fallback's."""
    found: list[str] = []
    for key in ("from", "concat"):
        value = spec.get(key)
        found.extend([value] if isinstance(value, str) else value or [])
    fallback = spec.get("fallback")
    if isinstance(fallback, dict):
        found.extend(spec_paths(fallback))
    return found


def present(value: Any) -> bool:
    if isinstance(value, list):
        return any(present(v) for v in value)
    return value is not None and str(value).strip() != ""


def carriers(records: list[dict[str, Any]], paths: list[str]) -> Counter[str]:
    """For each record, the first of ``paths`` with a value: how many records each path answered."""
    getters = [(p, compile_path(p)) for p in paths]
    answered: Counter[str] = Counter()
    for record in records:
        for path, get in getters:
            try:
                value = get(record)
            except (KeyError, IndexError, TypeError, ValueError):
                continue
            if present(value):
                answered[path] += 1
                break
    return answered
