"""Put events on a topic fast: whole record batches per partition, many in flight.

Sending records one by one costs tens of microseconds each in the client; a million
events would take longer to load than to consume. Records are keyed by run_id and
partitioned by a hash of it, as a producer keying by run would.
"""

from __future__ import annotations

import asyncio
import zlib
from collections.abc import Iterable
from typing import Any

from aiokafka import AIOKafkaProducer

from consumer.kafka import create_topics, new_producer
from consumer.sandbox.bench.events import Keyed
from consumer.settings import KafkaSettings

BATCH_BYTES = 512 * 1024
IN_FLIGHT = 16


async def load_topic(kafka: KafkaSettings, events: Iterable[Keyed], partitions: int) -> int:
    """Create the settings' topic and send every event, acknowledged; return the count."""
    await create_topics(kafka, [kafka.topic], partitions)
    producer = new_producer(
        kafka, max_batch_size=BATCH_BYTES, max_request_size=BATCH_BYTES * 2, linger_ms=0
    )
    await producer.start()
    try:
        return await _send_all(producer, kafka.topic, events, partitions)
    finally:
        await producer.stop()


async def _send_all(
    producer: AIOKafkaProducer, topic: str, events: Iterable[Keyed], partitions: int
) -> int:
    builders: list[Any] = [producer.create_batch() for _ in range(partitions)]
    pending: set[asyncio.Future[Any]] = set()
    sent = 0

    async def flush(partition: int) -> None:
        builder = builders[partition]
        builders[partition] = producer.create_batch()
        if builder.record_count():
            pending.add(await producer.send_batch(builder, topic, partition=partition))
        while len(pending) >= IN_FLIGHT:
            done, _ = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            for future in done:
                pending.discard(future)
                future.result()

    for key, value in events:
        partition = zlib.crc32(key) % partitions
        if builders[partition].append(key=key, value=value, timestamp=None) is None:
            await flush(partition)
            builders[partition].append(key=key, value=value, timestamp=None)
        sent += 1
    for partition in range(partitions):
        await flush(partition)
    await asyncio.gather(*pending)
    return sent
