"""The graph sink: one transaction per batch into Neo4j or FalkorDB, errors classified."""

from __future__ import annotations

from collections.abc import Sequence

import neo4j.exceptions as neo4j_errors
import redis.exceptions as redis_errors

from sinks.base import SinkRecord, WriteResult
from sinks.graph.engine import Call, GraphEngine
from sinks.graph.errors import NETWORK_ERRORS, classify
from sinks.graph.falkordb_engine import FalkorDBEngine
from sinks.graph.neo4j_engine import Neo4jEngine
from sinks.graph.settings import GraphSettings
from sinks.graph.writer import BatchPlanner

ENGINE_ERRORS: tuple[type[BaseException], ...] = (
    neo4j_errors.Neo4jError,
    neo4j_errors.DriverError,
    redis_errors.RedisError,
    *NETWORK_ERRORS,
)


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
        events = [record.event for record in batch]
        ids = sorted({event.event_id for event in events})

        def plan(existing: frozenset[str]) -> list[Call]:
            return self._planner.calls(events, existing)

        try:
            duplicates = await self._engine.write_batch(ids, plan)
        except ENGINE_ERRORS as exc:
            raise classify(exc) from exc
        return WriteResult(duplicate_event_ids=duplicates)

    async def health(self) -> None:
        try:
            await self._engine.ping()
        except ENGINE_ERRORS as exc:
            raise classify(exc) from exc

    async def close(self) -> None:
        await self._engine.close()
