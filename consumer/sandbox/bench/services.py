"""The engines a benchmark runs against, started or borrowed, and always cleaned up.

The broker is the one in ``RUNLEDGER_KAFKA__BOOTSTRAP_SERVERS`` or an Apache Kafka
started from Maven Central jars in a temporary folder (what production runs, unlike
the demo's Tansu); PostgreSQL is a server the user names, on which a scratch database
is created and dropped; FalkorDB is embedded and Neo4j started from its jars, both
holding nothing but the benchmark's graphs.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
from sqlalchemy import text
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncEngine

from consumer.config import ConfigurationError
from consumer.sandbox.embedded import running, start_falkordb
from consumer.sandbox.kafka_server import start_kafka
from consumer.sandbox.neo4j_server import start_neo4j
from sinks.postgres.engine import create_engine
from sinks.postgres.migrate import upgrade
from sinks.postgres.settings import PostgresSettings


@contextlib.contextmanager
def broker() -> Iterator[str]:
    """The bootstrap address: the configured cluster, or an Apache Kafka broker of our own,
    stopped and its log directory removed on exit."""
    external = os.environ.get("RUNLEDGER_KAFKA__BOOTSTRAP_SERVERS")
    if external:
        yield external
        return
    with (
        tempfile.TemporaryDirectory(prefix="runledger-bench-kafka-") as folder,
        running(start_kafka(Path(folder))) as kafka,
    ):
        yield kafka.address


@contextlib.contextmanager
def neo4j() -> Iterator[str]:
    """A Neo4j server of our own (Bolt, no authentication), as a ``bolt://`` URI; its store
    is removed on exit."""
    with (
        tempfile.TemporaryDirectory(prefix="runledger-bench-neo4j-") as folder,
        running(start_neo4j(Path(folder))) as server,
    ):
        yield f"bolt://{server.address}"


@contextlib.contextmanager
def falkordb() -> Iterator[str]:
    """An embedded FalkorDB, as a ``falkordb://`` URI, stopped on exit."""
    with running(start_falkordb()) as server:
        yield f"falkordb://{server.address}"


def server_url(given: str | None) -> URL:
    """The PostgreSQL server to create the scratch database on (one clear error otherwise)."""
    raw = given or os.environ.get("RUNLEDGER_POSTGRES__URL")
    if not raw:
        raise ConfigurationError(
            "the benchmark needs PostgreSQL: pass --postgres-url or set RUNLEDGER_POSTGRES__URL"
        )
    url = PostgresSettings(url=raw).sqlalchemy_url()
    if url.get_backend_name() != "postgresql":
        raise ConfigurationError(
            f"the benchmark measures PostgreSQL, not {url.get_backend_name()}: "
            "pass --postgres-url postgresql://user@host:5432/postgres"
        )
    return url


def _asyncpg_dsn(url: URL) -> str:
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


@contextlib.asynccontextmanager
async def scratch_database(server: URL) -> AsyncIterator[PostgresSettings]:
    """A migrated database of its own, dropped on exit whatever happens."""
    name = f"runledger_bench_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(_asyncpg_dsn(server))
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        target = server.set(database=name).render_as_string(hide_password=False)
        settings = PostgresSettings(url=target)
        try:
            engine = create_engine(settings)
            try:
                await upgrade(engine)
            finally:
                await engine.dispose()
            yield settings
        finally:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


PEER_TABLE = "peer_events"
"""The table the peer (Quix Streams) writes into, in the same scratch database."""


async def empty_tables(engine: AsyncEngine) -> None:
    """Start a measurement from empty tables, so every repeat does the same work."""
    async with engine.begin() as conn:
        await conn.execute(text("TRUNCATE runs, task_executions, run_events"))
        await conn.execute(text(f"DROP TABLE IF EXISTS {PEER_TABLE}"))
