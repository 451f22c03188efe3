"""A patient table no name says: a table the visit refers to whose own columns are a person's
(a name and a phone or an email), though its name is an abbreviation nothing knows (``patreg``,
the PHP hospital apps' patient registrations); or, where the person is kept de-identified (a
research study's participant: a study label, a person id, sex and birth date, no name), a table
whose rows, or the rows they refer to, carry a birth date and a sex (``demographic``).

Why: the patient is followed only through tables or columns named for a person; a visit that
refers to ``patreg`` by ``pid`` then reaches no patient, and its patient columns, read from a
table that is nobody's, are all left out. A doctor's table (named so) and a table without a
person's name and contact are never taken this way.
"""

from __future__ import annotations

from collections.abc import Sequence

from clinicsync.sync.discover.graph import Table, audit
from clinicsync.sync.discover.kinds import name_columns
from clinicsync.sync.discover.logins import holds_logins
from clinicsync.sync.discover.vocab import name_tokens, token_role


def holds_a_person(table: Table, extensions: Sequence[Table] = ()) -> bool:
    """Whether ``table``'s columns are a person's: a name (given and family, or a full name)
    and a phone or an email column (or one named ``contact``, as these apps call the phone), on
    the table or on one of its one-to-one ``extensions`` (MedinTux's patient index names the
    person, the patient's sheet that holds the same GUID keeps the phones: twinrows.py). Never
    a table of accounts that sign in (logins.py): the system's users are its staff."""
    if not name_columns(table)[0] or holds_logins(table):
        return False
    return any(not audit(c) and any(token_role(t) in ("phone", "email") or t.startswith("contact")
                                    for t in name_tokens(c)) for shape in (table, *extensions) for c in shape.columns)


_BIRTH = frozenset({"birth", "dob", "birthday", "birthdate", "born", "nacimiento", "geburtsdatum", "naissance"})
_SEX = frozenset({"sex", "gender", "sexo", "genero", "geschlecht", "sexe"})


def demographic(table: Table, referred: list[Table]) -> bool:
    """Whether ``table``'s rows are people by their demographics: a birth date and a sex column,
    on the table or on a row it refers to (``referred``: a participant row naming its person).
    Why: a trial's participant has no name or contact, so neither names nor ``holds_a_person``
    find it, and the visit's participant id is then left out. A birth date alone is rejected (a
    newborn's record, a document's date of birth field); both together are a person's. Only
    a row with no name of its own: a named person (a CRM contact a phone row refers to) is found
    by its name, through the routes that say which person is the patient."""
    for shape in (table, *referred):
        tokens = {t for c in shape.columns if not audit(c) for t in name_tokens(c)}
        if tokens & _BIRTH and tokens & _SEX and not name_columns(shape)[0]:
            return True
    return False
