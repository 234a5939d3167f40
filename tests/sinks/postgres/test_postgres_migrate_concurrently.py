"""Several ``runledger migrate`` at once on an empty database: all succeed, one migrates.

To make the three really overlap, the test first holds an uncommitted ``CREATE TABLE
alembic_version`` of its own: every migrator piles up behind it (on that table or on
the migration lock), and only once all three wait does the test roll back and let go.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from support.postgres import admin_connection, temporary_database
from support.processes import runledger
from support.waiting import wait_until


async def _is(value: Awaitable[int], wanted: int) -> bool:
    return await value == wanted


@pytest.fixture
async def empty_database_url() -> AsyncIterator[str]:
    """A database with no schema at all, dropped after the test."""
    async with temporary_database("runledger_mig") as url:
        yield url


async def _waiting_backends(admin: asyncpg.Connection, database: str) -> int:
    count: int = await admin.fetchval(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND wait_event_type = 'Lock'",
        database,
    )
    return count


async def _migrate(url: str) -> tuple[int, str]:
    result = await runledger("migrate", env={"RUNLEDGER_POSTGRES__URL": url}, timeout=120)
    return result.code, result.stdout + result.stderr


async def test_three_concurrent_migrations_all_succeed_and_one_applies_the_schema(
    empty_database_url: str,
) -> None:
    database = make_url(empty_database_url).database
    assert database is not None
    blocker = await asyncpg.connect(empty_database_url)
    try:
        async with admin_connection() as admin:
            gate = blocker.transaction()
            await gate.start()
            await blocker.execute(
                "CREATE TABLE alembic_version (version_num varchar(32) PRIMARY KEY)"
            )
            migrations = [asyncio.ensure_future(_migrate(empty_database_url)) for _ in range(3)]
            await wait_until(
                lambda: _is(_waiting_backends(admin, database), 3), timeout=60,
                what="three migrations waiting on one another",
            )  # fmt: skip
            await gate.rollback()
            results = await asyncio.gather(*migrations)
    finally:
        await blocker.close()

    assert [code for code, _ in results] == [0, 0, 0], [out for _, out in results]
    outputs = [out for _, out in results]
    assert sum("applied 0001" in out for out in outputs) == 1, outputs
    assert sum("schema already current" in out for out in outputs) == 2, outputs
