"""The practice's own row: a table that holds the clinic's, the practice's or the company's own
details (its name, address, landline, mobile, email; its settings), one or a few rows that every
visit refers to. Its phone and email are the practice's, never a patient's: a patient reminded at
them texts the clinic itself, and the desk sees its own number on every visit.

The rule: a column of a joined table whose name's head noun says the practice (``clinic``,
``ck_clinic``, ``practice_settings``, ``company``, ``clinic_info``: the last word, or the word
before ``info``/``details``/``profile``) and no person owns (``doctor_settings`` is a doctor's) is never
``patient.phone`` nor ``patient.email``, whatever its column's name or values say. Asked by
``columns.py`` before a column's candidates are scored, so it is not even a fallback.

Rejected: any practice word anywhere in the table's name (a web framework names every table
after its app: ``clinic_contact``, ``clinic_patient`` are the patients' rows); counting the
table's rows (a two-site practice has two, and a trial install's patients table may hold a
handful: the count tells neither apart); refusing every column whose sampled values repeat one
value on every visit (one patient booked many times in a small sample would lose their phone).
"""

from __future__ import annotations

from clinicsync.sync.discover.vocab import name_tokens

PRACTICE_WORDS = frozenset({
    "clinic", "clinics", "clinica", "clinicas", "clinique", "klinik", "practice", "practices", "praxis",
    "settings", "setting", "config", "configuration", "configuracion", "company", "companies", "empresa",
    "entreprise", "organization", "organizations", "organisation", "organisations", "organizacion", "tenant",
})

_ABOUT = frozenset({"info", "information", "details", "detail", "profile", "data", "datos", "daten"})


def is_practice_table(table: str | None, owner: str | None) -> bool:
    """Whether ``table`` (a joined table's name, None for the visit's own) holds the practice's
    own details: its name says the practice and no person owns it (``owner``, columns.py)."""
    if table is None or owner is not None:
        return False
    words = name_tokens(table)
    while len(words) > 1 and words[-1] in _ABOUT:
        words = words[:-1]
    return bool(words) and words[-1] in PRACTICE_WORDS
