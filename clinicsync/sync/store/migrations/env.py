"""Alembic environment: the engine comes from clinicsync (sync.db), not from an ini file."""

from alembic import context
from sqlmodel import SQLModel

import clinicsync.sync.store.model  # noqa: F401 - registers the tables on SQLModel.metadata

target_metadata = SQLModel.metadata
engine = context.config.attributes["engine"]

with engine.begin() as connection:
    context.configure(connection=connection, target_metadata=target_metadata,
                      render_as_batch=connection.dialect.name == "sqlite")
    context.run_migrations()
