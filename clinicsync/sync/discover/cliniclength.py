"""The clinic's own visit length, where the settings file sets one, over discover's 30 minutes.

Why: a source with no end and no length column gets ``duration_minutes: {value: 30}`` from the
scorer, so that its visits are not quarantined for a missing end. But a constant in the mapping
is a length the source "gives": ``clinic.default_visit_minutes`` (the clinic's usual slot, which
the engine uses for a visit with neither, and says so on the visit) would then never apply. So
when the settings file discover writes into sets it, the constant is left out and the notes
say which length the visits take instead.
"""

from __future__ import annotations

from typing import Any

import yaml

from clinicsync.sync.discover.proposal import Proposal
from clinicsync.sync.discover.scoring import DEFAULT_MINUTES

_FALLBACK = {"value": DEFAULT_MINUTES}


def clinic_minutes(settings_text: str | None) -> int | None:
    """``clinic.default_visit_minutes`` of a settings file's text, None when unset or unreadable."""
    try:
        data: Any = yaml.safe_load(settings_text or "")
    except yaml.YAMLError:
        return None
    clinic = data.get("clinic") if isinstance(data, dict) else None
    value = clinic.get("default_visit_minutes") if isinstance(clinic, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 1440 else None


def use_clinic_length(proposal: Proposal, settings_text: str | None) -> None:
    """Leave the scorer's constant length out of ``proposal`` when the settings set the clinic's."""
    minutes = clinic_minutes(settings_text)
    fields = (proposal.mapping or {}).get("fields")
    if minutes is None or not isinstance(fields, dict) or fields.get("duration_minutes") != _FALLBACK:
        return
    del fields["duration_minutes"]
    proposal.guesses = [g for g in proposal.guesses if g.field != "duration_minutes"]
    proposal.notes = [n for n in proposal.notes if "(fields.duration_minutes.value)" not in n]
    proposal.notes.append(f"no end or length in the source: each visit takes clinic.default_visit_minutes "
                          f"({minutes} min), noted on the visit")
