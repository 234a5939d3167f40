"""The graph sink: one transaction per batch into Neo4j or FalkorDB, errors classified."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Collection, Sequence
from typing import Any

from sinks.base import PermanentSinkError, RunSnapshot, SinkRecord, TaskSnapshot, WriteResult
from sinks.graph.engine import GraphEngine, GraphSession, Planned
from sinks.graph.errors import ENGINE_ERRORS, classify
from sinks.graph.falkordb_engine import FalkorDBEngine
from sinks.graph.neo4j_engine import Neo4jEngine
from sinks.graph.planner import BatchPlanner
from sinks.graph.settings import GraphSettings
from sinks.graph.statements import RUN_SNAPSHOTS, RUN_SNAPSHOTS_OF

# A JSON escape of U+0000 (not an escaped backslash followed by "u0000"). Raw NUL bytes
# cannot occur: the decoder refuses them as invalid JSON.
_NUL_ESCAPE = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")

# RunSnapshot's counters and the Run properties that hold them.
_COUNTERS = {
    "tasks_total": "tasksTotal", "tasks_successful": "tasksSuccessful",
    "tasks_failed": "tasksFailed", "tasks_running": "tasksRunning",
    "tasks_waiting": "tasksWaiting", "tokens_input": "tokensInput",
    "tokens_output": "tokensOutput", "tokens_total": "tokensTotal", "tool_calls": "toolCalls",
}  # fmt: skip


def create_engine(settings: GraphSettings) -> GraphEngine:
    """The engine the URI's scheme names."""
    if settings.engine == "neo4j":
        return Neo4jEngine(settings)
    return FalkorDBEngine(settings)


class GraphSink:
    """Writes the graph model of each batch; see ``sinks.graph.statements`` for the model."""

    def __init__(self, settings: GraphSettings, engine: GraphEngine | None = None) -> None:
        self._settings = settings
        self._engine = engine or create_engine(settings)
        self._planner = BatchPlanner(self._engine.dialect, settings.generic_node_label)

    @property
    def name(self) -> str:
        return "graph"

    @property
    def engine(self) -> GraphEngine:
        return self._engine

    async def start(self) -> None:
        """Create the uniqueness constraints and indexes (idempotent) before any write."""
        try:
            await self._engine.create_schema()
        except ENGINE_ERRORS as exc:
            raise classify(exc) from exc

    async def write(self, batch: Sequence[SinkRecord]) -> WriteResult:
        if not batch:
            return WriteResult()
        _refuse_nul(batch)

        async def plan(session: GraphSession) -> Planned:
            return await self._planner.plan(batch, session)

        try:
            async with asyncio.timeout(self._write_bound()):
                return await self._engine.write_batch(plan)
        except ENGINE_ERRORS as exc:
            raise classify(exc) from exc

    def _write_bound(self) -> float:
        """The client-side bound of one batch: the server's transaction timeout cannot fire
        when the server or the network is frozen. The Neo4j driver may run a transaction
        again for up to ``transaction_timeout_seconds`` after a transient error, so a batch
        may legitimately take two transaction timeouts, plus a connection."""
        settings = self._settings
        return 2 * settings.transaction_timeout_seconds + settings.connection_timeout_seconds + 5

    async def run_snapshots(self, run_ids: Collection[str] | None = None) -> dict[str, RunSnapshot]:
        """What the graph holds per run, for ``runledger reconcile`` (works before ``start``)."""
        try:
            if run_ids is None:
                rows = await self._engine.read(RUN_SNAPSHOTS, {})
            else:
                rows = await self._engine.read(RUN_SNAPSHOTS_OF, {"runIds": sorted(set(run_ids))})
        except ENGINE_ERRORS as exc:
            raise classify(exc) from exc
        return {str(row["id"]): _snapshot(row) for row in rows}

    async def health(self) -> None:
        try:
            async with asyncio.timeout(self._settings.connection_timeout_seconds + 5):
                await self._engine.ping()
        except ENGINE_ERRORS as exc:
            raise classify(exc) from exc

    async def close(self) -> None:
        await self._engine.close()


def _snapshot(row: dict[str, Any]) -> RunSnapshot:
    """A row of ``RUN_SNAPSHOTS`` as the snapshot every sink answers with."""
    return RunSnapshot(
        run_id=str(row["id"]),
        status=str(row["status"]),
        **{field: int(row[prop]) for field, prop in _COUNTERS.items()},
        tasks={
            str(task_id): TaskSnapshot(int(attempt), str(status))
            for task_id, attempt, status in row["tasks"]
        },
    )


def _refuse_nul(batch: Sequence[SinkRecord]) -> None:
    """Refuse a batch holding U+0000 in any string, as the other sinks do.

    PostgreSQL stores no NUL in text or JSONB, and FalkorDB refuses it; Neo4j would store
    it, and the sinks would then disagree about the same event. Refusing it here, as a
    permanent error, makes the pipeline isolate and dead-letter that record for every
    sink alike.
    """
    for record in batch:
        if b"\\u0000" in record.value and _NUL_ESCAPE.search(record.value):
            raise PermanentSinkError(
                f"event {record.event.event_id!r} holds U+0000 (NUL) in a string, which "
                "no sink of the ledger can store alike"
            )
