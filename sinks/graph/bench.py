"""How fast the graph sink writes from memory: batched (one transaction per batch) and per event.

``runledger bench`` calls ``measure_graph`` for the graph's sink ceiling and its per-event
way, and ``scratch_graph`` for a fresh graph per end-to-end measurement. On FalkorDB each
measurement writes into a throwaway graph next to the one the URI names, deleted
afterwards; on Neo4j (Community has one database) the configured database is emptied
before each measurement, so point it only at a server of the benchmark's own.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from sinks.base import SinkRecord
from sinks.graph.falkordb_engine import FalkorDBEngine
from sinks.graph.neo4j_engine import Neo4jEngine
from sinks.graph.settings import GraphSettings
from sinks.graph.sink import GraphSink

DEFAULT_BATCH_SIZE = 2000  # the pipeline's default max_batch_records


@dataclass(frozen=True)
class GraphFigures:
    """Events per second into the graph, batched and one transaction per event."""

    batched_eps: float
    per_event_eps: float


@contextlib.asynccontextmanager
async def scratch_graph(settings: GraphSettings) -> AsyncIterator[GraphSettings]:
    """Settings for a fresh graph: on FalkorDB a new graph deleted on exit, on Neo4j the
    configured database emptied first."""
    if settings.engine != "falkordb":
        await _empty_neo4j(settings)
        yield settings
        return
    parts = urlsplit(settings.uri)
    graph = f"{settings.falkordb_address().graph}-bench-{uuid.uuid4().hex[:8]}"
    scratch = settings.model_copy(update={"uri": parts._replace(path=f"/{graph}").geturl()})
    try:
        yield scratch
    finally:
        engine = FalkorDBEngine(scratch)
        try:
            await engine.delete_graph()
        finally:
            await engine.close()


async def _empty_neo4j(settings: GraphSettings) -> None:
    """Delete every node, a chunk per transaction (one transaction could exhaust the heap)."""
    engine = Neo4jEngine(settings)
    try:
        async with engine.driver.session(database=engine.database) as session:
            result = await session.run(
                "MATCH (n) CALL (n) { DETACH DELETE n } IN TRANSACTIONS OF 10000 ROWS"
            )
            await result.consume()
    finally:
        await engine.close()


async def _timed_writes(settings: GraphSettings, batches: Sequence[Sequence[SinkRecord]]) -> float:
    """Seconds to write the batches in order into a fresh graph (schema set up beforehand)."""
    async with scratch_graph(settings) as scratch:
        sink = GraphSink(scratch)
        try:
            await sink.start()
            started = time.perf_counter()
            for batch in batches:
                await sink.write(batch)
            return time.perf_counter() - started
        finally:
            await sink.close()


async def measure_graph(
    settings: GraphSettings,
    records: Sequence[SinkRecord],
    per_event_sample: int,
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> GraphFigures:
    """Write ``records`` in batches of ``batch_size``, then the first ``per_event_sample``
    of them one transaction each, each into its own fresh graph."""
    batches = [records[i : i + batch_size] for i in range(0, len(records), batch_size)]
    batched_seconds = await _timed_writes(settings, batches)
    sample = records[: max(1, per_event_sample)]
    per_event_seconds = await _timed_writes(settings, [[r] for r in sample])
    return GraphFigures(len(records) / batched_seconds, len(sample) / per_event_seconds)
