"""The column names that say a row is gone without deleting it: one vocabulary for `discover`,
which writes the query's condition that leaves such rows out (sync/discover/softdelete.py), and
for `check`, which finds live visits imported from rows so marked
(sync/ingest/plausibility/soft_deleted.py) and flags left out of the query
(sync/checks/soft_delete_columns.py).

Why one: the two lists had drifted apart (``del_flag``, ``voided_at`` and ``deletion_date``
known to one, the Spanish names of a Latin American EHR to the other), so a source could pass
`discover` with no condition on a column that `check` then called a deletion, or the other way
round. EHRs void rather than delete (OpenMRS ``voided``, OpenEMR ``deleted``, Django's
``is_active``); a voided visit imported as booked texts a patient about a visit that does not
exist.

Schemas that mark every column with their table (``APT_ID``, ``APT_START``, ``APT_ACTIVE``)
name the flag the same way: a prefix most of the table's columns share is taken off before the
name is read, so ``APT_ACTIVE`` is read as ``active`` — but only there: ``sms_enabled`` beside
columns that share no ``sms_`` is a preference, not a deletion.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Literal

Meaning = Literal["gone", "alive", "gone_at"]

# A flag whose true value means deleted: voided, is_deleted, isdeleted, del_flag, anulado, …; a visit's
# cancelled flag (`is_cancelled`, French `annule` '0'/'1') too: set, the visit is off like a voided one; WordPress's
# word for a row moved to the trash, `trash` 1 (Booking Calendar), as `trashed`.
_GONE = re.compile(r"^(is_?)?(voided|void|retired|deleted|removed|archived|trash|trashed|inactive|del_?flag|"
                   r"cancell?ed|anulad[oa]|borrad[oa]|eliminad[oa]|annul[eé]e?|supprim[eé]e?|"
                   # German, Portuguese, Italian, Dutch and Indonesian: deleted, removed
                   r"gel(oe|ö)scht|entfernt|exclu[ií]d[oa]|eliminat[oa]|cancellat[oa]|verwijderd|dihapus|hapus)$",
                   re.I)
# A flag whose false value means deleted: active, is_active, isactive, enabled, vigente, …
_ALIVE = re.compile(r"^(is_?)?(active|enabled|activ[oa]|vigente|aktiv|attiv[oa]|ativ[oa]|actif|aktif)$", re.I)
# A date or time that, when set, says when the row was deleted.
_GONE_AT = re.compile(r"^(deleted_?(at|on)|date_?deleted|deletion_?date|(voided|removed|retired|archived|trashed)_?at|"
                      r"date_?(voided|retired)|cancell?(ed_?(at|on|date)|ation_?date)|date_?cancell?ed|"
                      r"gel(oe|ö)scht_?(am|um|datum))$", re.I)
# ``cancelled_at``, ``CANCELATIONDATE``: a visit with a cancellation date is gone like a voided one
# (products that keep the row and date its cancellation rather than change a status word).
# The tables whose deleted row takes its visits with it: the patient (or the person behind it).
# A doctor, a service or a room retired later keeps the visits it had.
_OWNER = re.compile(r"patient|person|client|customer|demograph|party|paciente|utente|member", re.I)
_PREFIX = re.compile(r"^([A-Za-z][A-Za-z0-9]{0,7})_(.+)$")
_PREFIX2 = re.compile(r"^([A-Za-z][A-Za-z0-9]{0,7}_[A-Za-z][A-Za-z0-9]{0,15})_(.+)$")  # OC_PLANNING_ of OpenClinic
MIN_PREFIXED = 3  # other columns sharing the prefix, and at least half of the table's


def _plain(column: str) -> Meaning | None:
    if _GONE.match(column):
        return "gone"
    if _ALIVE.match(column):
        return "alive"
    if _GONE_AT.match(column):
        return "gone_at"
    return None


def table_prefix(column: str, siblings: Sequence[str]) -> str | None:
    """The prefix ``column`` shares with most of its table's columns (``APT_`` of ``APT_ACTIVE``
    among ``APT_ID``, ``APT_START`` …), None when it has none of the kind."""
    for pattern in (_PREFIX, _PREFIX2):
        found = pattern.match(column)
        if found is None:
            continue
        head = found.group(1).lower() + "_"
        sharing = sum(1 for other in siblings if other != column and other.lower().startswith(head))
        if sharing >= MIN_PREFIXED and 2 * (sharing + 1) >= len(siblings) and _plain(found.group(2)) is not None:
            return found.group(1)
    return None


def meaning(column: str, siblings: Sequence[str] = ()) -> Meaning | None:
    """What ``column`` (a name) says of its row: ``gone`` (a true value: deleted), ``alive`` (a
    false value: deleted), ``gone_at`` (a value set: deleted), or None (nothing of the kind).
    ``siblings``: the other column names of its table (or record), for a table-prefixed name."""
    said = _plain(column)
    if said is not None or not siblings:
        return said
    prefix = table_prefix(column, siblings)
    return _plain(column[len(prefix) + 1:]) if prefix else None


def owns_visits(table: str) -> bool:
    """A table whose deleted row withdraws its visits: the patient's (or its person's)."""
    return bool(_OWNER.search(table))
