"""A column name's words, one way for every layer: discover reads a column by its words, and
``check``'s plausibility hints judge whose contact a raw column holds by the same words. Kept
here, below both (ingest may not import discover), so the two never split a name differently
('fechaCita', 'doctor_docEmail', 'Teléfono móvil', 'HTTPServer')."""

from __future__ import annotations

import re
import unicodedata

_HUMP = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_SPLIT = re.compile(r"[^a-z0-9]+")


def plain(text: str) -> str:
    """Lower case without accents: 'Teléfono' -> 'telefono', 'Ärztin' -> 'arztin'."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).lower()


def name_words(name: str) -> list[str]:
    """A column name's words, split at humps, separators and accents: 'fechaCita' -> ['fecha',
    'cita'], 'Teléfono móvil' -> ['telefono', 'movil'], 'patient_ID' -> ['patient', 'id'].
    Digits stay attached ('tel2' -> ['tel2'])."""
    spaced = _HUMP.sub(" ", name.replace("º", "o").replace("°", "o"))
    return [t for t in _SPLIT.split(plain(spaced)) if t]
