"""PostgreSQL for tests: throwaway databases, and reading back what the sink wrote.

The server is the one in RUNLEDGER_TEST_POSTGRES_URL (a superuser's URL), by default the
local one; every database a test creates is dropped again.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
from sqlalchemy import func, select, text
from sqlalchemy.engine import RowMapping, make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from sinks.postgres.settings import PostgresSettings
from sinks.postgres.tables import run_events, runs, task_executions

from support.processes import TcpProxy
from support.waiting import wait_until

ADMIN_URL = os.environ.get(
    "RUNLEDGER_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)

# Columns that record when a row was written, not what it says.
VOLATILE = {"updated_at", "ingested_at"}


@contextlib.asynccontextmanager
async def admin_connection() -> AsyncIterator[asyncpg.Connection]:
    """A connection to the server's maintenance database, as the superuser."""
    url = make_url(ADMIN_URL).set(drivername="postgresql")
    conn = await asyncpg.connect(url.render_as_string(hide_password=False))
    try:
        yield conn
    finally:
        await conn.close()


def database_url(name: str) -> str:
    """The URL of database ``name`` on the test server."""
    return make_url(ADMIN_URL).set(database=name).render_as_string(hide_password=False)


@contextlib.asynccontextmanager
async def temporary_database(prefix: str, template: str | None = None) -> AsyncIterator[str]:
    """A new database (empty, or a copy of ``template``), dropped on exit: its URL."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    copy = f' TEMPLATE "{template}"' if template else ""
    async with admin_connection() as admin:
        await admin.execute(f'CREATE DATABASE "{name}"{copy}')
    try:
        yield database_url(name)
    finally:
        async with admin_connection() as admin:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def settings_for(url: str) -> PostgresSettings:
    return PostgresSettings(url=url)


async def clear_ledger(engine: AsyncEngine) -> None:
    """Delete every row the sink wrote (the schema stays)."""
    async with engine.begin() as conn:
        await conn.execute(text("TRUNCATE runs, task_executions, run_events"))


async def count_events(engine: AsyncEngine) -> int:
    """How many events the relational sink stored."""
    async with engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(run_events))).scalar_one())


async def stored_event_ids(engine: AsyncEngine) -> set[str]:
    async with engine.connect() as conn:
        return set((await conn.execute(select(run_events.c.event_id))).scalars())


async def dump_state(engine: AsyncEngine) -> dict[str, Any]:
    """Everything the relational sink derived (runs and attempts), minus write times."""
    attempt_order = (task_executions.c.run_id, task_executions.c.task_id, task_executions.c.attempt)
    async with engine.connect() as conn:
        run_rows = (await conn.execute(select(runs).order_by(runs.c.run_id))).mappings().all()
        task_rows = (
            (await conn.execute(select(task_executions).order_by(*attempt_order))).mappings().all()
        )
    return {"runs": [_lasting(r) for r in run_rows], "tasks": [_lasting(t) for t in task_rows]}


def _lasting(row: RowMapping) -> dict[str, Any]:
    return {key: value for key, value in row.items() if key not in VOLATILE}


async def proxied_postgres(settings: PostgresSettings) -> tuple[TcpProxy, PostgresSettings]:
    """A started proxy in front of the test's database, and settings that go through it
    (``proxy.cut()`` is the outage; the caller stops the proxy)."""
    url = make_url(settings.url.get_secret_value())
    proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5432)
    through = url.set(port=await proxy.start()).render_as_string(hide_password=False)
    return proxy, settings_for(through)


async def wait_for_events(
    engine: AsyncEngine, count: int, timeout: float = 30.0, *, at_least: bool = False
) -> None:
    """Wait until the relational sink holds ``count`` events (or more, with ``at_least``)."""

    async def reached() -> bool:
        stored = await count_events(engine)
        return stored >= count if at_least else stored == count

    await wait_until(reached, timeout, f"{'at least ' if at_least else ''}{count} stored events")
