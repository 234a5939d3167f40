"""The raw ceiling: fetch and decode with the contract, write nowhere.

No sink can make runledger faster than this; it is what the broker, the client and
the contract's validation cost together on this machine.
"""

from __future__ import annotations

import time

from aiokafka import TopicPartition

from consumer.decoding import decode_records
from consumer.kafka import new_consumer
from consumer.settings import KafkaSettings


async def raw_eps(kafka: KafkaSettings, partitions: int, expected: int, max_bytes: int) -> float:
    """Events per second to fetch and decode ``expected`` events from the start of the topic."""
    consumer = new_consumer(kafka, fetch_max_bytes=kafka.max_batch_bytes)
    await consumer.start()
    try:
        consumer.assign([TopicPartition(kafka.topic, p) for p in range(partitions)])
        await consumer.seek_to_beginning()
        done = 0
        started = time.perf_counter()
        while done < expected:
            fetched = await consumer.getmany(timeout_ms=1000, max_records=kafka.max_batch_records)
            records = [r for batch in fetched.values() for r in batch]
            decode_records(records, max_bytes)
            done += len(records)
        return done / (time.perf_counter() - started)
    finally:
        await consumer.stop()
