"""What a reply means: a pure function from the text (and the patient's language) to an action.

Confirm/decline words count when the reply starts with them ("yes, thanks"); the carrier
keywords (STOP, START, HELP) count only as the whole reply, as carriers treat them.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Literal

Action = Literal["confirm", "decline", "opt_out", "opt_in", "help", "unknown"]
ACTIONS: tuple[Action, ...] = ("confirm", "decline", "opt_out", "opt_in", "help", "unknown")

# Words already folded (lower case, no accents). English is always understood.
VOCABULARY: dict[str, dict[Action, frozenset[str]]] = {
    "en": {"confirm": frozenset({"yes", "y", "c", "confirm", "confirmed", "ok", "okay", "yep", "yeah"}),
           "decline": frozenset({"no", "n", "x", "cancel", "decline", "nope"}),
           "opt_out": frozenset({"stop", "stopall", "unsubscribe", "end", "quit", "optout"}),
           "opt_in": frozenset({"start", "unstop", "subscribe"}),
           "help": frozenset({"help", "info"})},
    "es": {"confirm": frozenset({"si", "s", "confirmo", "confirmar", "vale"}),
           "decline": frozenset({"no", "cancelar", "cancelo", "anular"}),
           "opt_out": frozenset({"baja", "parar", "alto"}),
           "opt_in": frozenset({"alta", "empezar"}),
           "help": frozenset({"ayuda"})},
    "fr": {"confirm": frozenset({"oui", "o", "confirme", "confirmer"}),
           "decline": frozenset({"non", "annuler", "annule"}),
           "opt_out": frozenset({"arret", "desabonner"}),
           "opt_in": frozenset({"demarrer"}),
           "help": frozenset({"aide"})},
    "de": {"confirm": frozenset({"ja", "j", "bestatigen", "bestatige"}),
           "decline": frozenset({"nein", "absagen", "stornieren"}),
           "opt_out": frozenset({"stopp", "abmelden"}),
           "opt_in": frozenset({"anmelden"}),
           "help": frozenset({"hilfe"})},
    "pt": {"confirm": frozenset({"sim", "s", "confirmo", "confirmar"}),
           "decline": frozenset({"nao", "cancelar"}),
           "opt_out": frozenset({"parar", "sair"}),
           "opt_in": frozenset({"voltar"}),
           "help": frozenset({"ajuda"})},
    "it": {"confirm": frozenset({"si", "s", "confermo", "confermare"}),
           "decline": frozenset({"no", "annulla", "disdico"}),
           "opt_out": frozenset({"basta"}),
           "opt_in": frozenset({"avvia"}),
           "help": frozenset({"aiuto"})},
}
WHOLE_ONLY: tuple[Action, ...] = ("opt_out", "opt_in", "help")
LEADING: tuple[Action, ...] = ("confirm", "decline")
MAX_WORDS = 6  # a longer message is a question for staff, not an answer
_NOT_WORD = re.compile(r"[^\w]+")


def base_language(language: str | None) -> str:
    """"es-MX" -> "es"; None -> "en"."""
    return (language or "en").replace("_", "-").split("-")[0].lower() or "en"


def words(text: str) -> list[str]:
    """The reply folded: lower case, accents and punctuation gone (SÍ -> si, "Yes!" -> yes)."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return [w for w in _NOT_WORD.sub(" ", plain).replace("_", " ").split() if w]


def _vocabulary(language: str | None) -> dict[Action, frozenset[str]]:
    merged: dict[Action, set[str]] = {action: set() for action in ACTIONS}
    for lang in dict.fromkeys(["en", base_language(language)]):
        for action, found in VOCABULARY.get(lang, {}).items():
            merged[action] |= found
    return {action: frozenset(found) for action, found in merged.items()}


def interpret(text: str, language: str | None = None) -> Action:
    """The action a reply asks for, in the patient's language or English; "unknown" otherwise."""
    tokens = words(text)
    if not tokens:
        return "unknown"
    vocabulary = _vocabulary(language)
    whole = "".join(tokens)
    for action in WHOLE_ONLY:
        if whole in vocabulary[action] or (len(tokens) == 1 and tokens[0] in vocabulary[action]):
            return action
    if len(tokens) > MAX_WORDS:
        return "unknown"
    hits = {action for action in LEADING if tokens[0] in vocabulary[action]}
    return hits.pop() if len(hits) == 1 else "unknown"
