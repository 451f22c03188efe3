"""quarantine: an item without a record id is known by what the record said, not where it
was read, so a daily re-export of the same bad row counts a sighting instead of opening a
new item each day. Existing items without an id get their new key; items that now share a
key (the same row seen in several files) become one: the most recently seen is kept, with
its status, and it carries the sum of the sightings and the first and last seen of all.

Revision ID: 0019
Revises: 0018
Create Date: 2026-11-23 21:00:00
"""

import hashlib
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

import clinicsync.common.types

revision: str = '0019'
down_revision: str | None = '0018'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_CHUNK = 500


def _item_key(position: str, field: str | None, reason: str, raw: str | None) -> str:
    """sync.quarantine.item_key for a record without an id, frozen here as this migration wrote it."""
    record = f"raw:{hashlib.sha256(raw.encode()).hexdigest()}" if raw else f"at:{position}"
    return hashlib.sha256("\x1f".join((record, field or "", reason)).encode()).hexdigest()


def _table() -> sa.TableClause:
    return sa.table('quarantine', sa.column('id', sa.Integer), sa.column('connector', sa.String),
                    sa.column('position', sa.String), sa.column('record_id', sa.String),
                    sa.column('field', sa.String), sa.column('reason', sa.Text), sa.column('raw', sa.Text),
                    sa.column('item_key', sa.String), sa.column('seen_count', sa.Integer),
                    sa.column('created_at', clinicsync.common.types.UtcDateTime()),
                    sa.column('last_seen', clinicsync.common.types.UtcDateTime()))


def upgrade() -> None:
    connection = op.get_bind()
    table = _table()
    groups: dict[tuple[str, str], list[Any]] = {}
    rows = connection.execute(sa.select(table.c.id, table.c.connector, table.c.position, table.c.field,
                                        table.c.reason, table.c.raw, table.c.seen_count, table.c.created_at,
                                        table.c.last_seen)
                              .where(table.c.record_id.is_(None)).order_by(table.c.id))
    for row in rows:
        key = _item_key(row.position, row.field, row.reason, row.raw)
        groups.setdefault((row.connector, key), []).append(row)
    keep: list[dict[str, Any]] = []
    drop: list[int] = []
    for (_, key), sightings in groups.items():
        newest = max(sightings, key=lambda s: (s.last_seen, s.id))
        keep.append({"_id": newest.id, "_key": key, "_count": sum(s.seen_count for s in sightings),
                     "_first": min(s.created_at for s in sightings),
                     "_last": max(s.last_seen for s in sightings)})
        drop.extend(s.id for s in sightings if s.id != newest.id)
    for start in range(0, len(drop), _CHUNK):
        connection.execute(sa.delete(table).where(table.c.id.in_(drop[start:start + _CHUNK])))
    if keep:  # after the deletes: a kept item may take a key another (now deleted) item held
        connection.execute(sa.update(table).where(table.c.id == sa.bindparam('_id')).values(
            item_key=sa.bindparam('_key'), seen_count=sa.bindparam('_count'),
            created_at=sa.bindparam('_first'), last_seen=sa.bindparam('_last')), keep)


def downgrade() -> None:
    """The merged sightings cannot be told apart again; the keys stay as they are (the old
    code then opens new items for rows it sees again, as it always did)."""
