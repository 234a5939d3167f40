"""Several ``runledger migrate`` at once on an empty database: all succeed, one migrates.

To make the three really overlap, the test first holds an uncommitted ``CREATE TABLE
alembic_version`` of its own: every migrator piles up behind it (on that table or on
the migration lock), and only once all three wait does the test roll back and let go.
"""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from support import wait_until

ADMIN_URL = os.environ.get(
    "RUNLEDGER_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)


async def _is(value: Awaitable[int], wanted: int) -> bool:
    return await value == wanted


@pytest.fixture
async def empty_database_url() -> AsyncIterator[str]:
    """A database with no schema at all, dropped after the test."""
    name = f"runledger_mig_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(ADMIN_URL.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        yield make_url(ADMIN_URL).set(database=name).render_as_string(hide_password=False)
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


async def _waiting_backends(admin: asyncpg.Connection, database: str) -> int:
    count: int = await admin.fetchval(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND wait_event_type = 'Lock'",
        database,
    )
    return count


async def _migrate(url: str) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "consumer.cli", "migrate",
        env={**os.environ, "RUNLEDGER_POSTGRES__URL": url},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    output, _ = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode is not None
    return process.returncode, output.decode()


async def test_three_concurrent_migrations_all_succeed_and_one_applies_the_schema(
    empty_database_url: str,
) -> None:
    database = make_url(empty_database_url).database
    assert database is not None
    blocker = await asyncpg.connect(empty_database_url)
    admin = await asyncpg.connect(ADMIN_URL)
    try:
        gate = blocker.transaction()
        await gate.start()
        await blocker.execute("CREATE TABLE alembic_version (version_num varchar(32) PRIMARY KEY)")
        migrations = [asyncio.ensure_future(_migrate(empty_database_url)) for _ in range(3)]
        await wait_until(
            lambda: _is(_waiting_backends(admin, database), 3), timeout=60,
            what="three migrations waiting on one another",
        )  # fmt: skip
        await gate.rollback()
        results = await asyncio.gather(*migrations)
    finally:
        await blocker.close()
        await admin.close()

    assert [code for code, _ in results] == [0, 0, 0], [out for _, out in results]
    outputs = [out for _, out in results]
    assert sum("applied 0001" in out for out in outputs) == 1, outputs
    assert sum("schema already current" in out for out in outputs) == 2, outputs
