"""FalkorDB through its asyncio client: one query per batch, so one atomic write.

FalkorDB runs each query atomically (a failing query leaves nothing behind) and writes
to a graph one query at a time, so concurrent consumers cannot interleave inside a batch.
The batch's statements are therefore sent as one query, each wrapped in a ``CALL { }``
subquery (run in order, each seeing the previous ones' writes), after read-only queries
that find what the graph holds of the batch. Another writer's query may run between
those reads and the write, so the write query starts with a guard (``GUARD``) that lets
it write only if what the plan read still holds; otherwise the batch is planned again.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Any

import redis.exceptions as redis_errors
from falkordb.asyncio import FalkorDB

from sinks.base import TransientSinkError, WriteResult
from sinks.graph.cypher_params import header
from sinks.graph.dialects import (
    FALKORDB,
    LEGACY_UNIQUE_IDS,
    LOOKUP_INDEXES,
    UNIQUE_KEYS,
    Dialect,
)
from sinks.graph.engine import Call, Plan
from sinks.graph.settings import GraphSettings
from sinks.graph.statements import HEALTH, Statement

CONSTRAINT_READY_SECONDS = 30.0
GUARD_ATTEMPTS = 5


def combine(calls: Sequence[Call], guard: Call) -> tuple[str, dict[str, Any]]:
    """One query running every call in order after the guard, and the union of their
    parameters. It returns one row if the guard held, none (and writes nothing) if not."""
    params: dict[str, Any] = {}
    for statement, values in (guard, *calls):
        for name, value in values.items():
            if name in params and params[name] != value:
                raise ValueError(f"{statement.name}: parameter {name} differs between statements")
            params[name] = value
    text = " ".join(f"CALL {{ {statement.text} }}" for statement, _ in (guard, *calls))
    return f"{text} RETURN 1 AS done", params


class FalkorDBEngine:
    """One connection pool to one graph for the sink's lifetime."""

    def __init__(self, settings: GraphSettings) -> None:
        address = settings.falkordb_address()
        self.graph_name = address.graph
        self._timeout_ms = int(settings.transaction_timeout_seconds * 1000)
        options: dict[str, Any] = {
            "host": address.host,
            "port": address.port,
            "username": address.username,
            "password": address.password,
            "socket_timeout": settings.transaction_timeout_seconds + 5,
            "socket_connect_timeout": settings.connection_timeout_seconds,
        }
        if address.tls:
            options.update(
                ssl=True,
                ssl_ca_certs=str(settings.tls_ca_file) if settings.tls_ca_file else None,
                ssl_certfile=str(settings.tls_client_cert_file)
                if settings.tls_client_cert_file
                else None,
                ssl_keyfile=str(settings.tls_client_key_file)
                if settings.tls_client_key_file
                else None,
            )
        self._options = options
        self._db: FalkorDB | None = None
        self._graph: Any = None
        self._connecting = asyncio.Lock()

    @property
    def dialect(self) -> Dialect:
        return FALKORDB

    async def connect(self) -> Any:
        """The client's graph handle (``falkordb.asyncio.AsyncGraph``), connecting first.

        The client probes the server synchronously when built (is it a cluster?), so it is
        built in a thread, on first use: a server that is down then fails a write (and is
        retried) instead of blocking the event loop or failing the configuration.
        """
        async with self._connecting:
            if self._graph is None:
                db = await asyncio.to_thread(FalkorDB, **self._options)
                self._db, self._graph = db, db.select_graph(self.graph_name)
            return self._graph

    async def create_schema(self) -> None:
        graph = await self.connect()
        for label, prop in LOOKUP_INDEXES:
            await self._ignore_existing(graph.create_node_range_index(label, prop))
        existing = {
            (str(c["label"]), tuple(str(p) for p in c["properties"]))
            for c in await graph.list_constraints()
        }
        for label in LEGACY_UNIQUE_IDS:  # runledger 0.1's unique ``id`` (see dialects)
            if (label, ("id",)) in existing:
                await graph.drop_node_unique_constraint(label, "id")
        for label, props in UNIQUE_KEYS:
            await self._ignore_existing(graph.create_node_unique_constraint(label, *props))
        await self._constraints_ready(graph)

    @staticmethod
    async def _ignore_existing(creation: Any) -> None:
        try:
            await creation
        except redis_errors.ResponseError as error:
            if "already" not in str(error).lower():
                raise

    @staticmethod
    async def _constraints_ready(graph: Any) -> None:
        """Constraints are built in the background; writing before would not be guarded."""
        deadline = time.monotonic() + CONSTRAINT_READY_SECONDS
        while True:
            statuses = {str(c["status"]) for c in await graph.list_constraints()}
            if statuses <= {"OPERATIONAL"}:
                return
            if "FAILED" in statuses:
                raise RuntimeError("a uniqueness constraint failed: the graph holds duplicate ids")
            if time.monotonic() > deadline:
                raise TimeoutError("uniqueness constraints are still being built")
            await asyncio.sleep(0.05)

    async def write_batch(self, plan: Plan) -> WriteResult:
        for _ in range(GUARD_ATTEMPTS):
            planned = await plan(self)
            if not planned.calls:
                return planned.result
            text, params = combine(planned.calls, planned.guard)
            graph = await self.connect()
            result = await graph.query(header(params) + text, timeout=self._timeout_ms)
            if result.result_set:  # the guard held: the batch is written
                return planned.result
        raise TransientSinkError(
            f"the graph changed under {GUARD_ATTEMPTS} plans of the batch in a row "
            "(other writers of the same events or runs); retrying later"
        )

    async def lock(self, statement: Statement, params: dict[str, Any]) -> None:
        """Nothing: FalkorDB runs one write query at a time, and the guard checks the reads."""

    async def read(self, statement: Statement, params: dict[str, Any]) -> list[dict[str, Any]]:
        query = header(statement.bind(params)) + statement.text
        graph = await self.connect()
        try:
            result = await graph.ro_query(query, timeout=self._timeout_ms)
        except redis_errors.ResponseError as error:
            if _is_missing_graph(error):  # nothing written yet: the server answered
                return []
            raise
        names = [column[1] if isinstance(column, list) else column for column in result.header]
        return [dict(zip(names, row, strict=True)) for row in result.result_set]

    async def ping(self) -> None:
        await self.read(HEALTH, {})

    async def delete_graph(self) -> None:
        """Drop the whole graph (tests and benchmarks use a throwaway graph each)."""
        graph = await self.connect()
        try:
            await graph.delete()
        except redis_errors.ResponseError as error:
            if not _is_missing_graph(error):
                raise

    async def close(self) -> None:
        if self._db is not None:
            await self._db.connection.aclose()
            self._db = self._graph = None


def _is_missing_graph(error: redis_errors.ResponseError) -> bool:
    return "empty key" in str(error).lower()
