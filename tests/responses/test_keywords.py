"""Keyword interpretation: a table of replies, languages and the action they ask for."""

from __future__ import annotations

import pytest

from clinicsync.sync.responses.keywords import base_language, interpret, words


@pytest.mark.parametrize(("text", "language", "action"), [
    ("YES", None, "confirm"), ("yes!", "en", "confirm"), ("  Y ", None, "confirm"), ("c", None, "confirm"),
    ("Confirm.", None, "confirm"), ("Yes, thanks, see you then", None, "confirm"),
    ("SÍ", "es", "confirm"), ("si", "es-MX", "confirm"), ("¡Sí!", "es", "confirm"), ("oui", "fr", "confirm"),
    ("Ja", "de", "confirm"), ("sim", "pt-BR", "confirm"), ("yes", "es", "confirm"),  # English always works
    ("NO", None, "decline"), ("n", None, "decline"), ("X", None, "decline"), ("cancel", None, "decline"),
    ("No, I can't come", None, "decline"), ("Cancelar", "es", "decline"), ("nein", "de", "decline"),
    ("non", "fr", "decline"), ("não", "pt", "decline"),
    ("STOP", None, "opt_out"), ("Stop.", None, "opt_out"), ("unsubscribe", None, "opt_out"),
    ("baja", "es", "opt_out"), ("STOPP", "de", "opt_out"), ("stop all", None, "opt_out"),
    ("START", None, "opt_in"), ("unstop", None, "opt_in"), ("HELP", None, "help"), ("ayuda", "es", "help"),
])
def test_keywords_in_the_patients_language_and_english(text: str, language: str | None, action: str) -> None:
    assert interpret(text, language) == action


@pytest.mark.parametrize(("text", "language"), [
    ("", None), ("   ", None), ("?!", None), ("maybe", None), ("Can I come at 5 instead?", None),
    ("si", None),  # Spanish words need a Spanish-speaking patient
    ("ja", "es"), ("oui", "de"),
    ("stop sending me these please", None),  # carrier keywords count only as the whole reply
    ("perhaps yes", None),
    ("yes I will come but can we talk about the bill first please", None),  # too long to be an answer
])
def test_anything_else_is_unknown(text: str, language: str | None) -> None:
    assert interpret(text, language) == "unknown"


def test_folding_and_languages() -> None:
    assert words("¡SÍ, Señor!") == ["si", "senor"]
    assert [base_language(x) for x in (None, "es-MX", "pt_BR", "EN")] == ["en", "es", "pt", "en"]
