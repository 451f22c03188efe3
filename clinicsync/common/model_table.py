"""The one typed way from a SQLModel table class to its SQLAlchemy Core `Table`.

Why: SQLModel builds ``__table__`` on each ``table=True`` class at run time but declares no
such attribute, so every ``Model.__table__`` needed its own ``# type: ignore``, and a typo in
a model's name or a class that is no table went unnoticed until a statement ran. Here the
attribute is read once, checked to be a `Table` (a class without ``table=True`` fails at
import, naming the class), and typed for every caller.

It lives in ``common`` because the connectors' own tables (the HL7 v2 message ids) need it
too and may not import the sync package; ``sync/store/model`` re-exports it for the store's
tables and the features.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import Table

if TYPE_CHECKING:
    from sqlmodel import SQLModel


def table_of(model: type[SQLModel]) -> Table:
    """The Core table that SQLModel declared for ``model`` (a ``table=True`` class)."""
    table = vars(model).get("__table__")
    if not isinstance(table, Table):
        raise TypeError(f"{model.__name__} is not a table model (no __table__ of its own)")
    return table
