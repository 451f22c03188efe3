"""A column declared on a PostgreSQL domain is typed by the domain's base type.

Why: ``CREATE DOMAIN date_time_string AS character(19)`` (Tamanu keeps every clinical date-time
so) reflects as SQLAlchemy's ``DOMAIN`` type, whose name says nothing: the rules that read a
column's type (a start kept as text gets a window compared as text, a name is text, a key a
whole number) saw no type at all, and the connector read every row of the visit table each run.
A domain is its base type with a name and a check; the base type is what the values are.
Rejected: reading the domain's name (``date_time_string`` happens to say "string", another
product's ``dt19`` would not).
"""

from __future__ import annotations

from typing import Any


def type_name(column_type: Any) -> str:
    """The name of a reflected column's type, a domain's base type for a domain (nested domains
    followed to the base)."""
    seen = 0
    while type(column_type).__name__ == "DOMAIN" and getattr(column_type, "data_type", None) is not None and seen < 8:
        column_type, seen = column_type.data_type, seen + 1
    return str(column_type)
