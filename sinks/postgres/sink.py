"""The relational sink: one transaction per batch into runs, task_executions, run_events."""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Sequence

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from sinks.base import RunSnapshot, SinkRecord, WriteResult
from sinks.postgres.engine import create_engine
from sinks.postgres.errors import SchemaNotReadyError, classify
from sinks.postgres.migrate import pending_revisions, upgrade
from sinks.postgres.queries import run_snapshots
from sinks.postgres.settings import PostgresSettings
from sinks.postgres.writer import BatchWriter

# Errors below the database layer that mean "could not reach it": always worth a retry.
_NETWORK_ERRORS = (OSError, asyncio.TimeoutError, ConnectionError)


class PostgresSink:
    """Writes batches with ``BatchWriter`` inside one transaction and classifies failures."""

    def __init__(self, settings: PostgresSettings, engine: AsyncEngine | None = None) -> None:
        self._settings = settings
        self._engine = engine or create_engine(settings)
        self._writer = BatchWriter(self._engine.dialect.name)

    @property
    def name(self) -> str:
        return "postgres"

    @property
    def engine(self) -> AsyncEngine:
        return self._engine

    async def start(self) -> None:
        """Migrate when asked, then refuse to write into a schema that is behind."""
        try:
            if self._settings.migrate_on_start:
                await upgrade(self._engine)
            missing = await pending_revisions(self._engine)
        except (SQLAlchemyError, *_NETWORK_ERRORS) as exc:
            raise classify(exc) from exc
        if missing:
            raise SchemaNotReadyError(
                f"database schema is not current (missing {', '.join(missing)}): "
                "run `runledger migrate` or set RUNLEDGER_POSTGRES__MIGRATE_ON_START=true"
            )

    async def write(self, batch: Sequence[SinkRecord]) -> WriteResult:
        if not batch:
            return WriteResult()
        try:
            async with self._engine.begin() as conn:
                return await conn.run_sync(self._writer.write, batch)
        except (SQLAlchemyError, *_NETWORK_ERRORS) as exc:
            raise classify(exc) from exc

    async def run_snapshots(self, run_ids: Collection[str] | None = None) -> dict[str, RunSnapshot]:
        """What the ledger holds per run, for ``runledger reconcile``."""
        return await run_snapshots(self._engine, run_ids)

    async def health(self) -> None:
        try:
            async with self._engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        except (SQLAlchemyError, *_NETWORK_ERRORS) as exc:
            raise classify(exc) from exc

    async def close(self) -> None:
        await self._engine.dispose()
