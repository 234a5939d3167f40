"""Kafka for tests: one admin client, one producer, one topic reader, committed offsets.

Each helper takes the bootstrap address of the broker it talks to, so a test that starts
a broker of its own uses the same helpers as one on the session's broker.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import time
import uuid
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError
from aiokafka.structs import ConsumerRecord, RecordMetadata

from consumer.kafka import admin_client, create_topics, new_producer
from consumer.operations import topic_reader
from consumer.settings import KafkaSettings, Settings

from support.waiting import wait_until

Keyed = tuple[bytes | None, bytes]
"""A record to produce: (key, value)."""


def broker(bootstrap: str) -> KafkaSettings:
    """The settings of a plain broker (no security), for the clients ``consumer.kafka`` builds."""
    return KafkaSettings(bootstrap_servers=bootstrap)


def kafka_admin(bootstrap: str) -> contextlib.AbstractAsyncContextManager[AIOKafkaAdminClient]:
    """A started admin client, closed on exit."""
    return admin_client(broker(bootstrap))


async def create_topic(
    bootstrap: str, name: str, partitions: int = 1, config: Mapping[str, str] | None = None
) -> None:
    """A topic with one replica; ``config`` holds topic settings (``max.message.bytes``)."""
    await create_topics(broker(bootstrap), [name], partitions, config)


async def topic_names(bootstrap: str) -> set[str]:
    async with kafka_admin(bootstrap) as admin:
        return set(await admin.list_topics())


async def delete_topic(bootstrap: str, name: str) -> None:
    """Delete a topic and wait until the broker no longer lists it."""
    async with kafka_admin(bootstrap) as admin:
        await admin.delete_topics([name])

    async def gone() -> bool:
        return name not in await topic_names(bootstrap)

    await wait_until(gone, what=f"topic {name} deleted")


@contextlib.asynccontextmanager
async def kafka_producer(bootstrap: str, **options: Any) -> AsyncIterator[AIOKafkaProducer]:
    """A started producer that waits for every replica (``acks="all"``), stopped on exit."""
    producer = new_producer(broker(bootstrap), **options)
    await producer.start()
    try:
        yield producer
    finally:
        await producer.stop()


async def produce(
    bootstrap: str,
    topic: str,
    records: Iterable[Keyed],
    headers: Sequence[tuple[str, bytes]] = (),
    *,
    max_request_size: int = 1_048_576,
    linger_ms: int = 0,
) -> list[RecordMetadata]:
    """Send (key, value) pairs in order, wait for every acknowledgement; where each landed.

    ``linger_ms`` lets records of one key share a producer batch, as a busy orchestrator's do.
    """
    async with kafka_producer(
        bootstrap, max_request_size=max_request_size, linger_ms=linger_ms
    ) as producer:
        pending = [
            await producer.send(topic, key=key, value=value, headers=list(headers) or None)
            for key, value in records
        ]
        return list(await asyncio.gather(*pending))


def end_offsets(acks: Iterable[RecordMetadata]) -> dict[int, int]:
    """The end offset of each partition the acknowledged records were written to."""
    ends: dict[int, int] = {}
    for ack in acks:
        ends[ack.partition] = max(ends.get(ack.partition, 0), ack.offset + 1)
    return ends


def run_id_key(value: bytes) -> bytes | None:
    """The run_id of a value, as its producer keys it; None when the value names no run."""
    with contextlib.suppress(ValueError, AttributeError, TypeError):
        run_id = json.loads(value).get("run_id")
        if isinstance(run_id, str):
            return run_id.encode()
    return None


def keyed_by_run(values: Iterable[bytes]) -> list[Keyed]:
    """Each value keyed by its run_id: one run's events stay on one partition, in order."""
    return [(run_id_key(v), v) for v in values]


def keyed_at_random(values: Iterable[bytes], seed: int) -> list[Keyed]:
    """Random keys: one run's events land on every partition."""
    rng = random.Random(seed)
    return [(rng.randbytes(8), v) for v in values]


def unkeyed(values: Iterable[bytes]) -> list[Keyed]:
    return [(None, v) for v in values]


async def poisoned_topic(
    bootstrap: str, good: Sequence[bytes], bad: bytes, at: int
) -> tuple[str, dict[int, int]]:
    """A fresh one-partition topic holding ``good`` with ``bad`` slipped in at offset ``at``
    (no keys): its name and its end offset."""
    topic = f"telemetry-{uuid.uuid4().hex[:10]}"
    await create_topic(bootstrap, topic, partitions=1)
    values = [*good[:at], bad, *good[at:]]
    return topic, end_offsets(await produce(bootstrap, topic, unkeyed(values)))


async def read_topic(
    bootstrap: str, topic: str, count: int = 0, timeout: float = 30.0
) -> list[ConsumerRecord[bytes, bytes]]:
    """Every record of a topic, read without a consumer group (nothing to join or commit).

    With ``count``, read again until at least that many records are there (fails if
    fewer arrive in time); a broker that cannot answer yet counts as "not yet".
    """
    settings = Settings(kafka={"bootstrap_servers": bootstrap, "topic": topic})
    deadline = time.monotonic() + timeout
    records: list[ConsumerRecord[bytes, bytes]] = []
    while True:
        left = max(deadline - time.monotonic(), 1.0)
        try:
            records = [r async for r in topic_reader.read_topic(settings, topic, timeout=left)]
        except topic_reader.TopicReadError:
            if not count or time.monotonic() > deadline:
                raise
        if len(records) >= count:
            return records
        if time.monotonic() > deadline:
            raise AssertionError(f"{topic}: {len(records)} of {count} records arrived")
        await asyncio.sleep(0.2)


async def committed_offsets(
    bootstrap: str, group_id: str, topic: str, timeout: float = 30.0
) -> dict[int, int]:
    """The group's committed position per partition (partitions without a commit omitted).

    A broker that cannot tell yet is asked again, for up to ``timeout`` seconds: on a fresh
    or restarted Apache Kafka the group coordinator answers "not available" while it
    loads ``__consumer_offsets``.
    """
    deadline = time.monotonic() + timeout
    while True:
        try:
            async with kafka_admin(bootstrap) as admin:
                offsets = await admin.list_consumer_group_offsets(group_id)
        except KafkaError as error:
            if not error.retriable or time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.2)
            continue
        return {tp.partition: meta.offset for tp, meta in offsets.items() if tp.topic == topic}
