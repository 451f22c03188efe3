"""A person kept as a supertype row (supertypes.py): the rows a diary refers to hold no name,
a one-to-one extension of them does; they are people all the same when the visit table is told
from its look-alikes."""

from __future__ import annotations

from clinicsync.sync.discover.graph import Schema, Table
from clinicsync.sync.discover.tablechoice import pick_table


def _schema() -> Schema:
    """Every party in ``actor``, the people's names in ``human`` (keyed by the actor), a
    ``gathering`` with its members by role as link rows, and each actor's contact channels valid
    over a range (a date-ranged link to a contact table: the look-alike)."""
    tables = [
        Table("actor", {"actor_id": "VARCHAR(20)", "kind": "VARCHAR(20)"}, ["actor_id"], []),
        Table("human", {"actor_id": "VARCHAR(20)", "given_name": "VARCHAR(100)", "family_name": "VARCHAR(100)"},
              ["actor_id"], [("actor_id", "actor", "actor_id")]),
        Table("gathering", {"gathering_id": "VARCHAR(20)", "begins": "DATETIME", "finishes": "DATETIME",
                            "title": "VARCHAR(100)"}, ["gathering_id"], []),
        Table("gathering_member", {"gathering_id": "VARCHAR(20)", "actor_id": "VARCHAR(20)", "role": "VARCHAR(20)",
                                   "since": "DATETIME", "until": "DATETIME"},
              ["gathering_id", "actor_id", "role", "since"],
              [("gathering_id", "gathering", "gathering_id"), ("actor_id", "actor", "actor_id")]),
        Table("contact_channel", {"channel_id": "VARCHAR(20)", "address": "VARCHAR(255)"}, ["channel_id"], []),
        Table("actor_channel", {"actor_id": "VARCHAR(20)", "channel_id": "VARCHAR(20)", "since": "DATETIME",
                                "until": "DATETIME"}, ["actor_id", "channel_id", "since"],
              [("actor_id", "actor", "actor_id"), ("channel_id", "contact_channel", "channel_id")]),
    ]
    return Schema({t.name: t for t in tables})


def test_a_row_whose_extension_names_a_person_is_a_person() -> None:
    from clinicsync.sync.discover.supertypes import named_by_extension

    schema = _schema()
    assert named_by_extension(schema, "actor")
    assert not named_by_extension(schema, "contact_channel")
    assert not named_by_extension(schema, "gathering")


def test_the_diary_of_parties_outranks_their_dated_contact_links() -> None:
    """The gathering holds days ahead and its members are people through their extension; the
    actors' contact links are dated too, all in the past. Before, the members counted as no one
    and the link named for a contact won (or tied)."""
    schema = _schema()
    picked = pick_table(schema, None, filled=lambda table, columns: set(columns),
                        ahead=lambda table: table.name == "gathering")
    assert picked.name == "gathering"
