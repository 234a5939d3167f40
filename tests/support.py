"""Helpers shared by the tests: topics, producing, waiting on conditions, reading state."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import neo4j.time
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.structs import ConsumerRecord
from redis.exceptions import ResponseError
from sqlalchemy import select
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from consumer.kafka import create_topics
from consumer.metrics import Metrics
from consumer.runner import run_sinks
from consumer.settings import KafkaSettings, Settings
from sinks.base import Sink
from sinks.graph import GraphSink
from sinks.graph.falkordb_engine import FalkorDBEngine
from sinks.graph.neo4j_engine import Neo4jEngine
from sinks.postgres.settings import PostgresSettings
from sinks.postgres.tables import runs, task_executions

from tcp_proxy import TcpProxy

EXAMPLES = Path(__file__).resolve().parent / "data"
EXAMPLE_RUN_ID = "exec-1763134573643"

# Columns that record when a row was written, not what it says.
VOLATILE = {"updated_at", "ingested_at"}


def example_lines() -> list[bytes]:
    return [line.encode() for line in (EXAMPLES / "mimir_run.jsonl").read_text().splitlines()]


def example_expected() -> dict[str, Any]:
    expected: dict[str, Any] = json.loads((EXAMPLES / "mimir_run.expected.json").read_text())
    return expected


def parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


async def wait_until(
    condition: Callable[[], Awaitable[bool]], timeout: float = 30.0, what: str = "condition"
) -> None:
    """Poll ``condition`` until it holds; fail with ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        if await condition():
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        await asyncio.sleep(0.1)


async def create_topic(bootstrap: str, name: str, partitions: int = 1) -> None:
    await create_topics(KafkaSettings(bootstrap_servers=bootstrap), [name], partitions)


async def produce(
    bootstrap: str,
    topic: str,
    values: Sequence[bytes],
    key: Callable[[bytes], bytes | None] | None = None,
    headers: Sequence[tuple[str, bytes]] = (),
) -> None:
    """Send every value (keyed by run_id when it parses) and wait for the acknowledgements."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        futures = [
            await producer.send(
                topic, value=v, key=(key or run_id_key)(v), headers=list(headers) or None
            )
            for v in values
        ]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


def run_id_key(value: bytes) -> bytes | None:
    with contextlib.suppress(ValueError, AttributeError, TypeError):
        run_id = json.loads(value).get("run_id")
        if isinstance(run_id, str):
            return run_id.encode()
    return None


async def read_topic(
    bootstrap: str, topic: str, count: int, timeout: float = 30.0
) -> list[ConsumerRecord[bytes, bytes]]:
    """The first ``count`` records of a topic (fails if fewer arrive in time)."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=f"reader-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    records: list[ConsumerRecord[bytes, bytes]] = []
    try:
        deadline = time.monotonic() + timeout
        while len(records) < count and time.monotonic() < deadline:
            for batch in (await consumer.getmany(timeout_ms=200)).values():
                records.extend(batch)
    finally:
        await consumer.stop()
    assert len(records) >= count, f"{topic}: {len(records)} of {count} records arrived"
    return records


def make_settings(bootstrap: str, topic: str, **overrides: Any) -> Settings:
    """Settings for one test: its own topic and group prefix, short backoffs, no HTTP port."""
    values: dict[str, Any] = {
        "kafka": {
            "bootstrap_servers": bootstrap,
            "topic": topic,
            "group_id_prefix": f"rl-{uuid.uuid4().hex[:8]}",
            "poll_timeout_ms": 100,
            "session_timeout_ms": 10_000,
        },
        "retry": {"initial_backoff_seconds": 0.05, "max_backoff_seconds": 0.5},
        "metrics": {"port": 0},
        "shutdown_timeout_seconds": 15,
    }
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(values.get(key), dict):
            values[key] = {**values[key], **value}
        else:
            values[key] = value
    return Settings(**values)


@contextlib.asynccontextmanager
async def consuming(
    settings: Settings, sinks: Sequence[Sink], metrics: Metrics | None = None
) -> AsyncIterator[Metrics]:
    """Run the real pipelines in the background; stop them cleanly on exit."""
    metrics = metrics or Metrics()
    running = run_sinks(settings, sinks, metrics)
    try:
        yield metrics
    finally:
        running.stop()
        await asyncio.wait_for(running, timeout=60)


def metric(metrics: Metrics, name: str, **labels: str) -> float:
    """A sample's value; a missing sample fails the test instead of reading as zero."""
    value = metrics.registry.get_sample_value(name, labels)
    assert value is not None, f"metric {name}{labels} is not exported"
    return value


async def dump_state(engine: AsyncEngine) -> dict[str, Any]:
    """Everything the relational sink derived (runs and attempts), minus write times."""
    async with engine.connect() as conn:
        run_rows = (await conn.execute(select(runs).order_by(runs.c.run_id))).mappings().all()
        task_rows = (
            (
                await conn.execute(
                    select(task_executions).order_by(
                        task_executions.c.run_id,
                        task_executions.c.task_id,
                        task_executions.c.attempt,
                    )
                )
            )
            .mappings()
            .all()
        )
    strip = lambda row: {k: v for k, v in row.items() if k not in VOLATILE}  # noqa: E731
    return {"runs": [strip(r) for r in run_rows], "tasks": [strip(t) for t in task_rows]}


async def count_events(engine: AsyncEngine) -> int:
    from sqlalchemy import func

    from sinks.postgres.tables import run_events

    async with engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(run_events))).scalar_one())


async def proxied_postgres(settings: PostgresSettings) -> tuple[TcpProxy, PostgresSettings]:
    """A started proxy in front of the test's database, and settings that go through it
    (``proxy.cut()`` is the outage; the caller stops the proxy)."""
    url = make_url(settings.url.get_secret_value())
    proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5432)
    through = url.set(port=await proxy.start()).render_as_string(hide_password=False)
    return proxy, PostgresSettings(url=through)  # type: ignore[arg-type]


def _plain(value: Any) -> Any:
    """A Neo4j value as FalkorDB returns it: times as epoch milliseconds, nodes as dicts."""
    if isinstance(value, neo4j.time.DateTime):
        return round(value.to_native().timestamp() * 1000)
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


async def graph_query(
    sink: GraphSink, cypher: str, params: dict[str, Any] | None = None, *, write: bool = False
) -> list[list[Any]]:
    """Rows of a query on the sink's graph, whichever engine; none before the first write.

    Values come back alike from both engines (times as epoch milliseconds), so one
    assertion serves both. ``write`` allows a statement that changes the graph."""
    engine = sink.engine
    if isinstance(engine, Neo4jEngine):
        routing = neo4j.RoutingControl.WRITE if write else neo4j.RoutingControl.READ
        records, _, _ = await engine.driver.execute_query(
            cypher, params or {}, database_=engine.database, routing_=routing
        )
        return [[_plain(v) for v in record.values()] for record in records]
    assert isinstance(engine, FalkorDBEngine)
    graph = await engine.connect()
    try:
        if write:
            result = await graph.query(cypher, params or None)
        else:
            result = await graph.ro_query(cypher, params or None)
    except ResponseError as error:
        if "empty key" in str(error):  # nothing written yet
            return []
        raise
    return [list(row) for row in result.result_set]
