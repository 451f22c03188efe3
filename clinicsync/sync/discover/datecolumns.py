"""The columns of a table that may hold a visit's day or time, read from their types and names:
the table picker's reading of a date (tablechoice.py), shared with the rules that ask whether a
row is dated (datedslots.py) without importing the picker itself.
"""

from __future__ import annotations

import re

from clinicsync.sync.discover.graph import Table
from clinicsync.sync.discover.vocab import column_roles, name_tokens

DATE_TYPES = re.compile(r"date|time", re.I)
_STAMP_NAMES = re.compile(r"creat|modif|updat|chang|login|birth|insert|sent|void|retir", re.I)


_TIME_ROLES = frozenset({"start", "date", "time", "end"})


def date_columns(table: Table) -> list[str]:
    """The columns that may hold a visit's day or time: a date type or a date-like name, a row's
    own stamps (created, modified, voided, last login, birth) aside. A text column's name is read
    in the languages the vocabulary knows: a diary that keeps its day and time as text (SQLite, a
    PHP app's VARCHAR) under ``datum`` and ``uhrzeit``, ``tanggal`` and ``jam``, ``debut`` has
    dates as much as one that names them ``fecha`` and ``hora``."""
    return [c for c, t in table.columns.items()
            if (bool(DATE_TYPES.search(t)) or bool(re.search(r"fecha|date|start|inicio|hora", c, re.I))
                or (_TEXT_TYPES.search(t) is not None and _named_for_time(c)))
            and not _STAMP_NAMES.search(c)]


_TEXT_TYPES = re.compile(r"char|text|clob|string|^$", re.I)  # SQLite's untyped column declares ''
# Words beside a time word that make the column no moment: a zone, a key, a length, a setting.
_NOT_A_MOMENT = frozenset({"zone", "id", "duration", "status", "phone", "email", "created", "updated"})


def _named_for_time(column: str) -> bool:
    """Whether a text column's own words say a day, a time, a start or an end, and nothing that
    makes it no moment (``time_zone``, ``time_slot_id``, ``hour_format``, ``is_all_day``,
    ``day_of_week``). ``data`` is Portuguese's and Italian's date only first of several words
    (``data_consulta``); alone or last it is English's blob (``data``, ``form_data``). Weak words
    alone (``from``, ``to``, a day, an hour, the abbreviation ``tgl``) say no moment: ``tags``,
    ``amended_from``, ``almt_tgl`` (an address) are no dates."""
    tokens = name_tokens(column)
    if set(tokens) & _SETTING_WORDS:
        return False
    if "data" in tokens and not (tokens[0] == "data" and len(tokens) > 1):
        tokens = [t for t in tokens if t != "data"]
    roles = column_roles([t for t in tokens if t not in _WEAK_TIME_WORDS])
    return bool(roles & _TIME_ROLES) and not roles & _NOT_A_MOMENT


_WEAK_TIME_WORDS = frozenset({"from", "to", "day", "days", "hour", "hours", "week", "tgl", "dt", "tags"})
_SETTING_WORDS = frozenset({"format", "type", "of", "is", "all", "next", "limit", "value", "max", "min", "ping",
                            "offset"})
