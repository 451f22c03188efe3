"""go-live: the connector baseline table; the quarantine becomes a work list (one item
per connector + record + field + reason, with a status, a count and last_seen). Existing
quarantine rows are collapsed into their items (the newest sighting kept, the count and
first/last seen from all); connectors that already ran are recorded as live, so an
upgrade never turns their next sync into a baseline.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23 07:00:00
"""

import hashlib
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

import clinicsync.common.types

revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _item_key(record_id: str | None, position: str, field: str | None, reason: str, raw: str | None) -> str:
    """sync.quarantine.item_key, frozen here as it was when this migration was written."""
    content = hashlib.sha256((raw or "").encode()).hexdigest()
    record = f"id:{record_id}" if record_id else f"at:{position}\x1f{content}"
    return hashlib.sha256("\x1f".join((record, field or "", reason)).encode()).hexdigest()


def _collapse(connection: sa.Connection) -> None:
    table = sa.table('quarantine', sa.column('id', sa.Integer), sa.column('connector', sa.String),
                     sa.column('position', sa.String), sa.column('record_id', sa.String),
                     sa.column('field', sa.String), sa.column('reason', sa.Text), sa.column('raw', sa.Text),
                     sa.column('created_at', clinicsync.common.types.UtcDateTime()),
                     sa.column('item_key', sa.String), sa.column('seen_count', sa.Integer),
                     sa.column('last_seen', clinicsync.common.types.UtcDateTime()))
    groups: dict[tuple[str, str], list[Any]] = {}
    rows = connection.execute(sa.select(table.c.id, table.c.connector, table.c.position, table.c.record_id,
                                        table.c.field, table.c.reason, table.c.raw, table.c.created_at)
                              .order_by(table.c.id))
    for row in rows:
        key = _item_key(row.record_id, row.position, row.field, row.reason, row.raw)
        groups.setdefault((row.connector, key), []).append(row)
    keep: list[dict[str, Any]] = []
    drop: list[int] = []
    for (_, key), sightings in groups.items():
        newest = sightings[-1]
        keep.append({"_id": newest.id, "_key": key, "_count": len(sightings),
                     "_first": min(s.created_at for s in sightings), "_last": max(s.created_at for s in sightings)})
        drop.extend(s.id for s in sightings[:-1])
    for start in range(0, len(drop), 500):
        connection.execute(sa.delete(table).where(table.c.id.in_(drop[start:start + 500])))
    if keep:
        connection.execute(sa.update(table).where(table.c.id == sa.bindparam('_id')).values(
            item_key=sa.bindparam('_key'), seen_count=sa.bindparam('_count'),
            created_at=sa.bindparam('_first'), last_seen=sa.bindparam('_last')), keep)


def _live_connectors(connection: sa.Connection) -> None:
    """Connectors with a stored cursor or a good run went live before this upgrade."""
    names = set(connection.execute(sa.text("SELECT connector FROM connectorstate")).scalars())
    names |= set(connection.execute(sa.text("SELECT DISTINCT connector FROM syncrun WHERE status = 'ok'")).scalars())
    if names:
        baselines = sa.table('connectorbaseline', sa.column('connector', sa.String), sa.column('run_id', sa.String),
                             sa.column('recorded_at', clinicsync.common.types.UtcDateTime()))
        now = clinicsync.common.types.utcnow()
        connection.execute(sa.insert(baselines), [
            {"connector": name, "run_id": "before-0007", "recorded_at": now} for name in sorted(names)])


def upgrade() -> None:
    op.create_table('connectorbaseline',
    sa.Column('connector', sa.String(length=64), nullable=False),
    sa.Column('run_id', sa.String(length=32), nullable=False),
    sa.Column('recorded_at', clinicsync.common.types.UtcDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('connector')
    )
    with op.batch_alter_table('quarantine', schema=None) as batch_op:
        batch_op.add_column(sa.Column('item_key', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('status', sa.String(length=16), nullable=False, server_default='open'))
        batch_op.add_column(sa.Column('seen_count', sa.Integer(), nullable=False, server_default='1'))
        batch_op.add_column(sa.Column('last_seen', clinicsync.common.types.UtcDateTime(), nullable=True))
        batch_op.add_column(sa.Column('resolved_at', clinicsync.common.types.UtcDateTime(), nullable=True))
        batch_op.add_column(sa.Column('resolution', sa.String(length=255), nullable=True))
    connection = op.get_bind()
    _collapse(connection)
    _live_connectors(connection)
    with op.batch_alter_table('quarantine', schema=None) as batch_op:
        batch_op.alter_column('item_key', existing_type=sa.String(length=64), nullable=False)
        batch_op.alter_column('last_seen', existing_type=clinicsync.common.types.UtcDateTime(), nullable=False)
        batch_op.alter_column('status', existing_type=sa.String(length=16), server_default=None)
        batch_op.alter_column('seen_count', existing_type=sa.Integer(), server_default=None)
        batch_op.create_unique_constraint('uq_quarantine_item', ['connector', 'item_key'])
        batch_op.create_index('ix_quarantine_open', ['connector', 'status', 'record_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('quarantine', schema=None) as batch_op:
        batch_op.drop_index('ix_quarantine_open')
        batch_op.drop_constraint('uq_quarantine_item', type_='unique')
        batch_op.drop_column('resolution')
        batch_op.drop_column('resolved_at')
        batch_op.drop_column('last_seen')
        batch_op.drop_column('seen_count')
        batch_op.drop_column('status')
        batch_op.drop_column('item_key')
    op.drop_table('connectorbaseline')
