"""Whose phone or email a raw column holds, for the "likeliest columns" hint of ``reach``.

When nobody can be reminded, `check` names the columns of the raw rows that hold a phone or
an email on the unreachable visits: the likeliest fix is to map the patient's contact from
one of them. A query that joins the doctor's row carries the doctor's phone and email too
(``doctor_contactno``, ``doctor_docEmail``), on every visit: offering them as the patient's
would send every patient's reminder to the doctor. So a column is never offered when its name
is a practitioner's, a staff member's or an emergency contact's (by its words), or when it
shares its table prefix with the columns the mapping reads the practitioner from (``doctor_``
of ``doctor_doctorName``). Columns that share the prefix of the patient's own fields
(``user_`` of ``user_fullName``) come first: the patient's own table is where their phone is.
"""

from __future__ import annotations

import re

from clinicsync.common.names import name_words
from clinicsync.common.vocabulary import SOMEONE_ELSES_CONTACT
from clinicsync.mappings.audit import column_of, field_paths
from clinicsync.mappings.preset_schema import MappingPreset

# Words of a column name that make it someone else's contact than the patient's.
_OTHERS = SOMEONE_ELSES_CONTACT | {"doctor", "doc", "dr", "physician", "practitioner", "provider", "prov", "staff",
                                   "employee", "clinician", "therapist", "nurse", "dentist", "resource", "referrer",
                                   "referring", "pcp"}
_OTHER_PARTS = ("doctor", "physician", "practitioner", "provider", "staff", "emergenc", "nextofkin")
_PREFIX = re.compile(r"^([A-Za-z0-9]+)[_.]")


def _prefix(column: str) -> str | None:
    """``doctor_`` of ``doctor_docEmail`` (a joined table's alias, as discover names them)."""
    match = _PREFIX.match(column)
    return match.group(1).lower() if match else None


class ContactColumns:
    """Judges raw column names as the patient's contact, from their names and the mapping."""

    def __init__(self, preset: MappingPreset | None) -> None:
        theirs: set[str] = set()
        ours: set[str] = set()
        self.practitioner_columns: set[str] = set()
        for target, path in field_paths(preset) if preset is not None else []:
            column = column_of(path)
            prefix = _prefix(column)
            person = target.split(".")[0]
            if person == "practitioner":
                self.practitioner_columns.add(column)
            if not prefix or target.endswith(".external_id"):  # the visit's own row names both ids
                continue
            if person == "practitioner":
                theirs.add(prefix)
            elif person == "patient":
                ours.add(prefix)
        self.patient_prefixes = ours
        self.other_prefixes = theirs - ours
        self._judged: dict[str, bool] = {}  # column -> someone else's (asked once per unreachable visit)

    def someone_else(self, column: str) -> bool:
        """The column holds a practitioner's, a staff member's or an emergency contact's contact."""
        judged = self._judged.get(column)
        if judged is None:
            judged = self._judge(column)
            if len(self._judged) < 1000:
                self._judged[column] = judged
        return judged

    def _judge(self, column: str) -> bool:
        if column in self.practitioner_columns or _prefix(column) in self.other_prefixes:
            return True
        lowered = column.lower()
        return bool(_OTHERS.intersection(name_words(column))) or any(part in lowered for part in _OTHER_PARTS)

    def patients_own(self, column: str) -> bool:
        """The column comes from the patient's own table (shares the prefix of the patient's fields)."""
        return _prefix(column) in self.patient_prefixes
