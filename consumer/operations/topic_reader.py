"""Read a whole topic once, from its beginning to its current end, without a group.

Nothing is committed, so reading never changes anything. The end is the high watermark
seen in fetch responses: some Kafka-protocol brokers report too small a latest offset
through ``ListOffsets`` when a producer batch holds many records.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Sequence

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.structs import ConsumerRecord

from consumer.kafka import new_consumer, topic_partitions
from consumer.settings import Settings


class TopicReadError(Exception):
    """The topic cannot be read to its end (missing, or the brokers do not answer)."""


async def read_topic(
    settings: Settings, topic: str, timeout: float = 60.0
) -> AsyncIterator[ConsumerRecord[bytes, bytes]]:
    """Every record of ``topic``, each partition in offset order."""
    consumer = new_consumer(settings.kafka)
    await consumer.start()
    try:
        partitions = await _partitions(consumer, topic, timeout)
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        deadline = time.monotonic() + timeout
        while not await _at_end(consumer, partitions):
            if time.monotonic() > deadline:
                raise TopicReadError(f"{topic}: not read to its end in {timeout:.0f}s")
            fetched = await consumer.getmany(*partitions, timeout_ms=500)
            for batch in fetched.values():
                for record in batch:
                    yield record
    finally:
        await consumer.stop()


async def _partitions(
    consumer: AIOKafkaConsumer, topic: str, timeout: float
) -> list[TopicPartition]:
    try:
        async with asyncio.timeout(timeout):
            found = await topic_partitions(consumer, topic)
    except TimeoutError:
        raise TopicReadError(f"no answer from the brokers in {timeout:.0f}s") from None
    if not found:
        raise TopicReadError(f"no topic {topic!r} on the brokers")
    return found


async def _at_end(consumer: AIOKafkaConsumer, partitions: Sequence[TopicPartition]) -> bool:
    for tp in partitions:
        highwater = consumer.highwater(tp)
        if highwater is None or await consumer.position(tp) < highwater:
            return False
    return True
