"""How fast the graph sink writes: batched (one transaction per batch) against per event.

``measure_graph`` is what ``runledger bench`` calls. On FalkorDB each measurement writes
into a throwaway graph next to the one the URI names, deleted afterwards; on Neo4j it
writes into the configured database as it is (use a scratch database).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from urllib.parse import urlsplit

from contracts import Event
from sinks.base import SinkRecord
from sinks.graph.falkordb_engine import FalkorDBEngine
from sinks.graph.settings import GraphSettings
from sinks.graph.sink import GraphSink

DEFAULT_BATCH_SIZE = 2000  # the pipeline's default max_batch_records


def _records(events: Sequence[SinkRecord | Event]) -> list[SinkRecord]:
    return [
        e if isinstance(e, SinkRecord) else SinkRecord(e, b"", "bench", 0, i)
        for i, e in enumerate(events)
    ]


def _scratch(settings: GraphSettings) -> GraphSettings:
    """The same server, a fresh graph (FalkorDB only)."""
    if settings.engine != "falkordb":
        return settings
    parts = urlsplit(settings.uri)
    graph = f"{settings.falkordb_address().graph}-bench-{uuid.uuid4().hex[:8]}"
    return settings.model_copy(update={"uri": parts._replace(path=f"/{graph}").geturl()})


async def _timed_writes(settings: GraphSettings, batches: Sequence[Sequence[SinkRecord]]) -> float:
    """Seconds to write the batches in order into a fresh graph (schema set up beforehand)."""
    sink = GraphSink(_scratch(settings))
    try:
        await sink.start()
        started = time.perf_counter()
        for batch in batches:
            await sink.write(batch)
        return time.perf_counter() - started
    finally:
        engine = sink.engine
        if isinstance(engine, FalkorDBEngine):
            await engine.delete_graph()
        await sink.close()


async def measure_graph(
    uri: str,
    events: Sequence[SinkRecord | Event],
    per_event_sample: int,
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> dict[str, float]:
    """Events per second into the graph: batched, and one transaction per event.

    ``events`` are written in batches of ``batch_size``; the first ``per_event_sample`` of
    them again, one write each, into another fresh graph.
    """
    settings = GraphSettings(uri=uri)
    records = _records(events)
    batches = [records[i : i + batch_size] for i in range(0, len(records), batch_size)]
    batched_seconds = await _timed_writes(settings, batches)
    sample = records[: max(0, per_event_sample)]
    per_event_seconds = await _timed_writes(settings, [[r] for r in sample]) if sample else 0.0
    batched_eps = len(records) / batched_seconds if batched_seconds else 0.0
    per_event_eps = len(sample) / per_event_seconds if per_event_seconds else 0.0
    return {
        "batched_eps": batched_eps,
        "per_event_eps": per_event_eps,
        "speedup": batched_eps / per_event_eps if per_event_eps else 0.0,
        "events": float(len(records)),
        "per_event_events": float(len(sample)),
        "batch_size": float(batch_size),
    }
