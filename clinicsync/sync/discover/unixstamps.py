"""A whole-number column of Unix seconds is no column of phone numbers.

Why: ten bare digits read both as seconds since 1970 and, in some regions, as a phone number
without its trunk 0 (Germany's ``17xxxxxxxx`` is a mobile to the phone parser and, since
November 2023, also this decade's Unix time). A stamp column whose name says nothing
(``ts``, ``t1``) was then placed as the patient's phone by its values, and every reminder
would have gone to a number made of a moment.

The rule, from the values and the declared type together: every sampled value is bare digits
(no '+', no leading 0, no separator, ten digits: how a whole-number column prints), each one a
moment from 2000 to three years ahead (``RECENT_AHEAD``: a visit booked ahead, a recall), all
of them within ``CLUSTER`` of each other (the sampled rows are the newest visits, booked or
changed in the same stretch of time), in a column declared a whole number. A phone number typed
as a desk types it (a leading 0, '+49', spaces or dashes) is never bare; a column of patients'
mobiles spreads over the carriers' prefixes (Germany's 015 to 017 span a decade of seconds, one
prefix alone three years); a US number's area code (201 and up) reads as 2033 or later, past
``RECENT_AHEAD``.

Rejected: refusing a phone to every 10-digit number inside the Unix range (a US area code 2xx
or 3xx reads as 2033-2100, and a clinic's patients often share one: ``RECENT_AHEAD`` keeps them
phones); reading a text column of bare numbers as stamps (phones kept as text without their 0
are more common than stamps kept as text, whose column then has a name that says a time).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime

from clinicsync.mappings.transforms import UNIX_SECONDS_RANGE

RECENT_AHEAD = 3 * 365 * 86_400  # seconds past now a booked visit's or a row's moment may lie
CLUSTER = 2 * 365 * 86_400  # the most seconds between the earliest and latest sampled stamp
_BARE = re.compile(r"[1-9]\d{9}")


def are_stamps(values: Sequence[str | None], declared: str | None, now: float | None = None) -> bool:
    """Whether ``values`` of a column declared ``declared`` (columns.py's kind of its SQL type)
    are Unix seconds, not phone numbers (see the module docstring)."""
    if declared != "integer":
        return False
    present = [v.strip() for v in values if v is not None and v.strip()]
    if not present or not all(_BARE.fullmatch(v) for v in present):
        return False
    seconds = [int(v) for v in present]
    ahead = (datetime.now(UTC).timestamp() if now is None else now) + RECENT_AHEAD
    if min(seconds) < UNIX_SECONDS_RANGE[0] or max(seconds) > ahead:
        return False
    return max(seconds) - min(seconds) <= CLUSTER
