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

from clinicsync.sync.discover.vocab import name_tokens, token_role

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


def reached_as_a_place(tokens: list[str], table: str | None, owner: str | None) -> bool:
    """Whether a joined column (``table`` not None) no person owns is a place's: its own name's
    words (the reference it was reached through, ``institution_phone`` from ``institution_id``,
    ``clinic_email``, ``location_phone``) say a location. Its phone and email are the place's,
    never a patient's.

    Why: an ERP keeps people and places in one contacts table (Odoo's ``res_partner`` holds the
    patient, the doctor and the medical centre), so the table's name says nothing and only the
    reference tells the medical centre's row apart; read as the patient's fallback phone and
    email, every patient without one was texted and mailed at the clinic's own desk.
    Rejected: refusing a location word in any column (a patient's own ``office_phone`` on the
    patients table is theirs: an owned column is never asked here)."""
    if table is None or owner is not None:
        return False
    return names_a_place(tokens)


def names_a_place(tokens: list[str]) -> bool:
    """Whether a column's words say a location (``institution_id``, ``facility_id``,
    ``clinic_phone``): a reference so named is the visit's place, never its patient, even into a
    contacts table that holds people too (people.py does not weigh it as the patient, so it is
    joined with the visit's other references and its name read as the location).
    Rejected: weighing it as the patient and passing it over as weak (few distinct values, like
    who entered the rows): passed over, it was never joined, and the visit's location was lost."""
    return any(token_role(t) == "location" for t in tokens)
