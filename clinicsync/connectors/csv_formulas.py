"""CSV injection: a cell a spreadsheet would run as a formula is written as text.

Spreadsheets read a cell starting with ``=``, ``+``, ``-`` or ``@`` (and, after trimming,
one starting with a tab or carriage return) as a formula: ``=HYPERLINK(...)`` in a source
id would become a live link, or worse, in the clinic's spreadsheet. As OWASP recommends
(https://owasp.org/www-community/attacks/CSV_Injection), such a cell is prefixed with a
single quote, which spreadsheets show as text; quoting of delimiters and quotes stays the
csv module's job.

One exception keeps real data intact: a cell starting with ``+`` or ``-`` that holds only
digits and the punctuation of numbers and phone numbers (``+1 555 0100``, ``-12.5``,
``+1 (212) 555-0100``) is left as is. Without letters, ``@``, ``=`` or ``!`` such a cell
can name no function, reference or DDE command, so at worst it computes a number.
"""

from __future__ import annotations

import re

_ALWAYS = ("=", "@", "\t", "\r")
_SIGNS = ("+", "-")
_NUMBER_LIKE = re.compile(r"[+-][0-9 .()+-]*[0-9][0-9 .()+-]*")


def neutralize_formula(value: str) -> str:
    """``value`` as a cell no spreadsheet runs as a formula."""
    if value.startswith(_ALWAYS) or (value.startswith(_SIGNS) and not _NUMBER_LIKE.fullmatch(value)):
        return "'" + value
    return value
