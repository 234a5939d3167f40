"""Alembic environment: runs on the connection handed over by ``sinks.postgres.migrate``."""

from __future__ import annotations

from alembic import context

from sinks.postgres.tables import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through `runledger migrate`, not the alembic CLI")
context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
