"""The column names that say a row is gone without deleting it: one vocabulary for `discover`,
which writes the query's condition that leaves such rows out (sync/discover/softdelete.py), and
for `check`'s plausibility, which finds live visits imported from rows so marked
(sync/ingest/plausibility/soft_deleted.py).

Why one: the two lists had drifted apart (``del_flag``, ``voided_at`` and ``deletion_date``
known to one, the Spanish names of a Latin American EHR to the other), so a source could pass
`discover` with no condition on a column that `check` then called a deletion, or the other way
round. EHRs void rather than delete (OpenMRS ``voided``, OpenEMR ``deleted``, Django's
``is_active``); a voided visit imported as booked texts a patient about a visit that does not
exist.
"""

from __future__ import annotations

import re
from typing import Literal

Meaning = Literal["gone", "alive", "gone_at"]

# A flag whose true value means deleted: voided, is_deleted, isdeleted, del_flag, anulado, …
_GONE = re.compile(r"^(is_?)?(voided|void|retired|deleted|removed|archived|trashed|del_?flag|"
                   r"anulad[oa]|borrad[oa]|eliminad[oa])$", re.I)
# A flag whose false value means deleted: active, is_active, isactive, enabled, vigente, …
_ALIVE = re.compile(r"^(is_?)?(active|enabled|activ[oa]|vigente)$", re.I)
# A date or time that, when set, says when the row was deleted.
_GONE_AT = re.compile(r"^(deleted_?(at|on)|date_?deleted|deletion_?date|(voided|removed|retired|archived|trashed)_?at|"
                      r"date_?(voided|retired))$", re.I)


def meaning(column: str) -> Meaning | None:
    """What ``column`` (a name) says of its row: ``gone`` (a true value: deleted), ``alive`` (a
    false value: deleted), ``gone_at`` (a value set: deleted), or None (nothing of the kind)."""
    if _GONE.match(column):
        return "gone"
    if _ALIVE.match(column):
        return "alive"
    if _GONE_AT.match(column):
        return "gone_at"
    return None
