"""Neo4j through the official async driver: managed write transactions, one per batch.

``execute_write`` retries the transaction function on transient errors (deadlocks,
leader switches, lost connections) for up to ``transaction_timeout_seconds``; what still
fails reaches the pipeline, which retries the batch with backoff. The first statement of
every batch write-locks the batch's Run nodes in ``run_id`` order, so two consumers
writing the same run serialise instead of computing aggregates from stale reads.

Writes and reads share one bookmark manager, so a read (``runledger reconcile``, the
health probe) sees every batch this process committed, even on a cluster member that
has not caught up yet. The schema is ready only once its indexes are online: creating a
constraint returns before its index is populated, and writes before then are unguarded.
"""

from __future__ import annotations

from typing import Any

import neo4j
from neo4j import AsyncDriver, AsyncGraphDatabase, AsyncManagedTransaction

from sinks.base import WriteResult
from sinks.graph.dialects import NEO4J, Dialect
from sinks.graph.engine import Plan
from sinks.graph.settings import GraphSettings
from sinks.graph.statements import HEALTH, Statement


def driver_options(settings: GraphSettings) -> dict[str, Any]:
    """Keyword arguments of ``AsyncGraphDatabase.driver`` (auth, TLS, timeouts)."""
    options: dict[str, Any] = {
        "connection_timeout": settings.connection_timeout_seconds,
        "connection_acquisition_timeout": settings.connection_timeout_seconds,
        "max_transaction_retry_time": settings.transaction_timeout_seconds,
        "user_agent": "runledger",
    }
    if settings.user is not None or settings.password is not None:
        password = settings.password.get_secret_value() if settings.password else ""
        options["auth"] = neo4j.basic_auth(settings.user or "neo4j", password)
    if settings.tls or settings.tls_ca_file or settings.tls_client_cert_file:
        options["encrypted"] = True
        options["trusted_certificates"] = (
            neo4j.TrustCustomCAs(str(settings.tls_ca_file))
            if settings.tls_ca_file
            else neo4j.TrustSystemCAs()
        )
    if settings.tls_client_cert_file and settings.tls_client_key_file:
        options["client_certificate"] = neo4j.ClientCertificate(
            str(settings.tls_client_cert_file), str(settings.tls_client_key_file)
        )
    return options


class _TransactionSession:
    """A plan's reads and locks, inside the batch's transaction."""

    def __init__(self, tx: AsyncManagedTransaction) -> None:
        self._tx = tx

    async def read(self, statement: Statement, params: dict[str, Any]) -> list[dict[str, Any]]:
        result = await self._tx.run(statement.text, statement.bind(params))
        return [record.data() async for record in result]

    async def lock(self, statement: Statement, params: dict[str, Any]) -> None:
        await (await self._tx.run(statement.text, statement.bind(params))).consume()


class Neo4jEngine:
    """One driver for the sink's lifetime, closed by ``close``; one session per call."""

    def __init__(self, settings: GraphSettings) -> None:
        self._database = settings.database
        self._timeout = settings.transaction_timeout_seconds
        self._driver: AsyncDriver = AsyncGraphDatabase.driver(
            settings.uri, **driver_options(settings)
        )
        self._bookmarks = AsyncGraphDatabase.bookmark_manager()
        self.transaction_retries = 0
        """Batches the driver ran again after a transient error (deadlock, conflict)."""

    @property
    def dialect(self) -> Dialect:
        return NEO4J

    @property
    def driver(self) -> AsyncDriver:
        """The shared driver, for tools and tests."""
        return self._driver

    @property
    def database(self) -> str | None:
        return self._database

    async def create_schema(self) -> None:
        async with self._session() as session:
            for text in NEO4J.schema_statements():
                result = await session.run(text)
                await result.consume()

    async def write_batch(self, plan: Plan) -> WriteResult:
        attempts = 0

        @neo4j.unit_of_work(timeout=self._timeout)
        async def work(tx: AsyncManagedTransaction) -> WriteResult:
            nonlocal attempts
            attempts += 1
            if attempts > 1:
                self.transaction_retries += 1
            planned = await plan(_TransactionSession(tx))
            for statement, params in planned.calls:
                await (await tx.run(statement.text, params)).consume()
            return planned.result

        async with self._session() as session:
            return await session.execute_write(work)

    async def read(self, statement: Statement, params: dict[str, Any]) -> list[dict[str, Any]]:
        async with self._session(neo4j.READ_ACCESS) as session:
            result = await session.run(statement.text, statement.bind(params))
            return [record.data() async for record in result]

    def _session(self, access_mode: str = neo4j.WRITE_ACCESS) -> neo4j.AsyncSession:
        return self._driver.session(
            database=self._database,
            default_access_mode=access_mode,
            bookmark_manager=self._bookmarks,
        )

    async def ping(self) -> None:
        await self.read(HEALTH, {})

    async def close(self) -> None:
        await self._driver.close()
