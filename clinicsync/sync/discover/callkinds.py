"""A kind code that says a phone call (``Call``, ``Phone call``, ``Outbound call``, ``Anruf``,
``Llamada``): a CRM's activity table logs the calls it makes to a contact beside the meetings.

Why: a call is logged against the contact it was made to, so it names the patient as a visit
does, and the kind rule (eventkinds.py) that tells visits by the patient they name keeps it. A
call is no visit: imported, it would remind the patient of an appointment that is a note of a
ringing phone. Nor is it read as a phone visit: a clinic's phone consultation is a kind of its
own (``Phone consultation``, ``Telefonsprechstunde``), and those say more than a call; so only a
code made of call words and the words that qualify a call (phone, outbound, logged …) is one,
and ``Video call`` (a video visit) is not.
"""

from __future__ import annotations

import re

_CALL = frozenset({"call", "calls", "phonecall", "phonecalls", "anruf", "anrufe", "rückruf", "rueckruf", "ruckruf",
                   "llamada", "llamadas", "appel", "appels", "chiamata", "chiamate", "telefonata", "telefonate",
                   "ligação", "ligacao", "telefonema", "callback"})
_QUALIFIER = frozenset({"phone", "telephone", "tel", "inbound", "outbound", "incoming", "outgoing", "in", "out",
                        "log", "logged", "scheduled", "planned", "missed", "return", "returned", "back",
                        "telefonica", "telefónica", "telefonico", "telefónico", "téléphonique", "telephonique",
                        "telefonischer", "telefonisch", "de", "a", "the"})
_WORD = re.compile(r"[^\W\d_]+")


def is_call(kind: str | None) -> bool:
    """Whether a kind code names a phone call: a call word, with nothing but words that qualify a
    call beside it (not ``Video call``, not ``Phone consultation``)."""
    if kind is None:
        return False
    found = {w.lower() for w in _WORD.findall(kind)}
    return bool(found & _CALL) and found <= _CALL | _QUALIFIER
