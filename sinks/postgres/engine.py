"""Build the async SQLAlchemy engine for PostgreSQL (asyncpg) or SQLite (aiosqlite).

Every wait is bounded on the client side, because the server's ``statement_timeout``
cannot fire when the server or the network is frozen: opening a connection
(``connect_timeout_seconds``, asyncpg's ``timeout``), getting one from the pool (the
same, SQLAlchemy's ``pool_timeout``), and every statement including ``COMMIT`` and the
pre-ping (asyncpg's ``command_timeout``, 5 s beyond the server's timeout). A timeout is
a transient error: the batch is retried on a fresh connection.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from sinks.postgres.json_values import json_serializer
from sinks.postgres.settings import PostgresSettings


def engine_url(settings: PostgresSettings) -> tuple[URL, dict[str, Any]]:
    """The URL and driver arguments; ``sslmode`` is translated for asyncpg."""
    url = settings.sqlalchemy_url()
    connect_args: dict[str, Any] = {}
    if url.get_backend_name() == "postgresql":
        sslmode = url.query.get("sslmode")
        if isinstance(sslmode, str):
            url = url.difference_update_query(["sslmode"])
            connect_args["ssl"] = sslmode
        timeout_ms = int(settings.statement_timeout_seconds * 1000)
        connect_args["timeout"] = settings.connect_timeout_seconds
        connect_args["command_timeout"] = settings.client_timeout_seconds
        connect_args["server_settings"] = {
            "statement_timeout": str(timeout_ms),
            "application_name": "runledger",
        }
    return url, connect_args


def create_engine(settings: PostgresSettings) -> AsyncEngine:
    """An engine with pre-ping (stale connections after an outage are replaced)."""
    url, connect_args = engine_url(settings)
    options: dict[str, Any] = {
        "connect_args": connect_args,
        "json_serializer": json_serializer,
        "pool_pre_ping": True,
    }
    if url.get_backend_name() == "postgresql":
        options["pool_size"] = settings.pool_size
        options["pool_timeout"] = settings.connect_timeout_seconds
    engine = create_async_engine(url, **options)
    if url.get_backend_name() == "sqlite":
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()
