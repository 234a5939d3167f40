"""Schema migrations through Alembic, configured in code (no alembic.ini to ship).

On PostgreSQL every upgrade holds a transaction-scoped advisory lock: replicas or Jobs
that migrate at the same moment queue up behind the first one, and each of the others
then finds the schema current instead of failing on a duplicate ``CREATE``.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import AsyncEngine

MIGRATIONS = Path(__file__).with_name("migrations")
# pg_advisory_xact_lock key: any constant shared by every runledger version.
# (A bigint spelling "runledgr" in ASCII, so it is recognisable in pg_locks.)
MIGRATION_LOCK_KEY = int.from_bytes(b"runledgr", "big") & 0x7FFF_FFFF_FFFF_FFFF


def alembic_config(connection: Connection | None = None) -> Config:
    """Alembic's config pointing at our migrations; the connection is handed to env.py."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


async def upgrade(engine: AsyncEngine, revision: str = "head") -> list[str]:
    """Bring the schema to ``revision``; return the revisions applied, oldest first.

    Idempotent and safe to run concurrently: on PostgreSQL the pending revisions are
    read and applied under the migration advisory lock, in one transaction.
    """
    async with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            await conn.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY}
            )
        pending = await conn.run_sync(_pending)
        if pending:
            await conn.run_sync(lambda sync: command.upgrade(alembic_config(sync), revision))
    return list(reversed(pending))


async def pending_revisions(engine: AsyncEngine) -> list[str]:
    """Revisions not yet applied, newest first; empty when the schema is current."""
    async with engine.connect() as conn:
        return await conn.run_sync(_pending)


def _pending(sync: Connection) -> list[str]:
    script = ScriptDirectory.from_config(alembic_config())
    head = script.get_current_head()
    with _quiet_alembic():
        applied = MigrationContext.configure(sync).get_current_revision()
    if applied == head:
        return []
    return [rev.revision for rev in script.iterate_revisions(head, applied)]


@contextlib.contextmanager
def _quiet_alembic() -> Iterator[None]:
    """Mute alembic's "Context impl ..." start-up lines while only reading the revision.

    A consumer whose schema is behind checks again on every retry; those lines would
    otherwise be logged each time, burying the one warning that says what to do.
    """
    logger = logging.getLogger("alembic.runtime.migration")
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(level)
