"""``runledger migrate``: bring the relational sink's schema up to date."""

from __future__ import annotations

import asyncio
import os

import typer

from consumer.config import load
from consumer.unknown_settings import unknown_variables
from sinks.postgres.engine import create_engine
from sinks.postgres.migrate import upgrade
from sinks.postgres.settings import PostgresSettings


def migrate() -> None:
    """Apply the PostgreSQL (or SQLite) schema migrations; safe to run repeatedly.

    Reads RUNLEDGER_POSTGRES__URL, RUNLEDGER_POSTGRES__USER and RUNLEDGER_POSTGRES__PASSWORD.
    Use a user that owns the schema; the consumers need data rights only.
    """
    settings = load(PostgresSettings)
    for problem in unknown_variables(os.environ):
        typer.echo(f"runledger: warning: {problem}", err=True)
    typer.echo(f"migrating {settings.display_url()}")
    applied = asyncio.run(_migrate(settings))
    typer.echo(f"applied {', '.join(applied)}" if applied else "schema already current")


async def _migrate(settings: PostgresSettings) -> list[str]:
    engine = create_engine(settings)
    try:
        return await upgrade(engine)
    finally:
        await engine.dispose()
