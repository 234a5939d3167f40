"""The real pipelines in the test's process: settings, running them, reading their metrics."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from aiokafka import AIOKafkaConsumer
from sqlalchemy.ext.asyncio import AsyncEngine

from consumer.dead_letters import KafkaDeadLetterQueue
from consumer.kafka import new_consumer, new_producer
from consumer.metrics import Metrics
from consumer.pipeline import SinkPipeline
from consumer.runner import pipeline_options, run_sinks
from consumer.settings import Settings
from sinks.base import Sink
from sinks.postgres.settings import PostgresSettings


@dataclass(frozen=True)
class Flow:
    """What most delivery tests need (the ``flow`` fixture): a fresh topic on the session's
    broker and a fresh, migrated database to consume it into, with an engine to read it."""

    bootstrap: str
    topic: str
    postgres: PostgresSettings
    engine: AsyncEngine


S = TypeVar("S", bound=Sink)


@contextlib.asynccontextmanager
async def started(sink: S) -> AsyncIterator[S]:
    """The sink, started; closed on exit."""
    await sink.start()
    try:
        yield sink
    finally:
        await sink.close()


def make_settings(bootstrap: str, topic: str, **overrides: Any) -> Settings:
    """Settings for one test: its own topic and group prefix, short backoffs, no HTTP port.

    An override that is a dict is merged into that section (``kafka={...}``)."""
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


def metric(metrics: Metrics, name: str, default: float | None = None, **labels: str) -> float:
    """A sample's value; a missing sample fails the test instead of reading as zero, unless
    a ``default`` says what it reads as (a gauge not exported yet)."""
    value = metrics.registry.get_sample_value(name, labels)
    if value is None and default is not None:
        return default
    assert value is not None, f"metric {name}{labels} is not exported"
    return value


@contextlib.asynccontextmanager
async def hand_wired(
    settings: Settings,
    sink: Sink,
    *,
    metrics: Metrics | None = None,
    pipeline_type: type[SinkPipeline] = SinkPipeline,
    max_request_size: int | None = None,
) -> AsyncIterator[tuple[SinkPipeline, AIOKafkaConsumer]]:
    """One sink's pipeline wired as the runner wires it, but by hand, so a test can watch
    it or cripple a part: its clients are started and subscribed, not the pipeline; on
    exit the clients are stopped and the sink closed. The dead-letter queue cannot create
    its topic."""
    consumer = new_consumer(settings.kafka, sink.name)
    limit = {} if max_request_size is None else {"max_request_size": max_request_size}
    producer = new_producer(settings.kafka, **limit)
    pipeline = pipeline_type(
        sink=sink,
        consumer=consumer,
        dead_letters=KafkaDeadLetterQueue(producer, settings.dead_letter_topic, sink.name),
        metrics=metrics or Metrics(),
        options=pipeline_options(settings, sink.name),
    )
    await producer.start()
    await consumer.start()
    consumer.subscribe([settings.kafka.topic], listener=pipeline)
    try:
        yield pipeline, consumer
    finally:
        await consumer.stop()
        await producer.stop()
        await sink.close()
