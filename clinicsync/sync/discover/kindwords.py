"""What an event kind's words say: a visit (``Meeting``, ``Appointment``), a phone call (``Call``,
``Phone call``, ``Outbound call``, ``Anruf``, ``Llamada``), or another thing a CRM logs against a
contact beside the meetings (an email, a note, a task, a lunch): read by the kind rules from a
kind column's values (eventkinds.py) and from a shared list's labels (optionkinds.py).

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


# A visit's kind words; a kind that says one of them is read, whatever else it says ('Phone consultation').
VISITS = frozenset({"meeting", "appointment", "consultation", "visit", "session", "booking", "examination",
                    "checkup", "treatment", "therapy", "interview"})
# Things logged against a contact that are no visits: messages, notes, tasks, money, social events.
NOT_VISITS = frozenset({"email", "mail", "sms", "text", "message", "letter", "fax", "print", "pdf", "task", "todo",
                        "note", "reminder", "newsletter", "mailing", "contribution", "payment", "membership", "pledge",
                        "deadline", "lunch", "dinner", "breakfast", "holiday", "vacation", "absence", "leave"})


def words_of(kind: str) -> set[str]:
    """A kind's words, lower case, ``e-mail`` as ``email``."""
    return {w.lower() for w in _WORD.findall(kind.replace("e-mail", "email").replace("E-mail", "email"))}


def is_no_visit(kind: str | None) -> bool:
    """Whether a kind says a message, a note, a task or a social event and no visit: ``Email``,
    ``Note``, ``Lunch``; not ``Meeting``, not a word it does not know (that one is read)."""
    if kind is None:
        return False
    found = words_of(kind)
    return bool(found & NOT_VISITS) and not found & VISITS
