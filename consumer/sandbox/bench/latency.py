"""Event age at write under a fixed offered load.

A separate process plays the orchestrators: it publishes fresh events (``occurred_at``
= the moment of sending) at a steady rate, in small batches every few milliseconds
(the events are generated before its clock starts, so there is no opening burst),
while runledger consumes them. The age of an event is the time from its
``occurred_at`` to the end of the sink transaction that wrote it.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import time
import zlib
from datetime import UTC, datetime
from typing import Any

import pydantic_core
from aiokafka import AIOKafkaProducer

from consumer.kafka import new_producer
from consumer.sandbox.bench.events import keyed_events
from consumer.settings import KafkaSettings

TICK_SECONDS = 0.005


def publish_paced(kafka: KafkaSettings, partitions: int, rate: float, count: int) -> None:
    """Publish ``count`` fresh events at ``rate`` per second (runs in its own process)."""
    asyncio.run(_publish(kafka, partitions, rate, count))


def start_publisher(
    kafka: KafkaSettings, partitions: int, rate: float, count: int
) -> multiprocessing.process.BaseProcess:
    """The paced publisher as a child process (spawned: no state shared with us)."""
    context = multiprocessing.get_context("spawn")
    process = context.Process(
        target=publish_paced, args=(kafka, partitions, rate, count), daemon=True
    )
    process.start()
    return process


async def _publish(kafka: KafkaSettings, partitions: int, rate: float, count: int) -> None:
    topic = kafka.topic
    producer = new_producer(kafka, linger_ms=0)
    await producer.start()
    try:
        # Generated and parsed before the clock starts: the load must be steady from the
        # first tick, not a burst after a pause spent generating.
        events = iter(
            [(key, pydantic_core.from_json(value)) for key, value in keyed_events(count, seed=7)]
        )
        pending: list[asyncio.Future[Any]] = []
        started = time.perf_counter()
        sent = 0
        while sent < count:
            due = min(count, int((time.perf_counter() - started) * rate)) - sent
            if due > 0:
                pending.extend(await _send_now(producer, topic, partitions, events, due))
                sent += due
                pending = [f for f in pending if not f.done()]
            await asyncio.sleep(TICK_SECONDS)
        await asyncio.gather(*pending)
    finally:
        await producer.stop()


async def _send_now(
    producer: AIOKafkaProducer, topic: str, partitions: int, events: Any, due: int
) -> list[asyncio.Future[Any]]:
    """Stamp ``due`` events with the current time and send them, one batch per partition."""
    now = datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
    builders = [producer.create_batch() for _ in range(partitions)]
    futures = []
    for _ in range(due):
        key, event = next(events)
        event["occurred_at"] = now
        partition = zlib.crc32(key) % partitions
        builder = builders[partition]
        fresh = pydantic_core.to_json(event)
        if builder.append(key=key, value=fresh, timestamp=None) is None:
            futures.append(await producer.send_batch(builder, topic, partition=partition))
            builders[partition] = builder = producer.create_batch()
            builder.append(key=key, value=fresh, timestamp=None)
    for partition, builder in enumerate(builders):
        if builder.record_count():
            futures.append(await producer.send_batch(builder, topic, partition=partition))
    return futures


def percentile(values: list[float], fraction: float) -> float:
    """The value below which ``fraction`` of ``values`` lie (nearest rank)."""
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))
    return ordered[index]
