"""Yes/no columns on an email's or phone number's own row that say the address must not be used:
the number is known wrong (``invalid``, ``bounced``) or its owner asked not to be contacted on it
(``opt_out``, ``unsubscribed``, ``do_not_call``), as CRMs keep them on a shared table of numbers
and addresses.

Why: such a row is still the person's, often marked primary, so picking it by the primary flag
sends a reminder to a number that cannot or may not receive it while a usable one sits beside
it. Rows flagged so are passed over; a person with no other is left without that contact.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from clinicsync.sync.discover.graph import Table, audit
from clinicsync.sync.discover.kinds import WHOLE
from clinicsync.sync.discover.vocab import name_tokens

_UNUSABLE = re.compile(r"^(is)?(invalid|bounced?|optedout|optout|unsubscribed|donot(call|email|text|sms|contact))$")
_FLAG = re.compile(r"bool|bit", re.I)


def flags(table: Table) -> list[str]:
    """``table``'s yes/no columns whose words say its address may not be used."""
    return [c for c, t in table.columns.items() if (WHOLE.search(t) or _FLAG.search(t)) and not audit(c)
            and c != table.key and _UNUSABLE.match("".join(name_tokens(c)))]


def clear(columns: list[str], alias: str, q: Callable[[str], str]) -> str:
    """A condition true on a row ``alias`` none of whose ``columns`` says yes ('' with none)."""
    return " AND ".join(f"COALESCE({alias}.{q(c)}, 0) = 0" for c in columns)
