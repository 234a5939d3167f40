"""Turn fetched Kafka records into sink records, or dead letters with their reason."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from aiokafka.structs import ConsumerRecord

from consumer.dead_letters import DeadLetter
from contracts import DecodeError, decode_event
from sinks.base import SinkRecord


@dataclass(slots=True)
class DecodedBatch:
    """The good records of a batch and the ones that failed to decode."""

    records: list[SinkRecord] = field(default_factory=list)
    dead_letters: list[DeadLetter] = field(default_factory=list)


def decode_records(fetched: Iterable[ConsumerRecord[bytes, bytes]], max_bytes: int) -> DecodedBatch:
    """Decode every record; a bad one becomes a dead letter and never stops the batch."""
    batch = DecodedBatch()
    for record in fetched:
        try:
            event = decode_event(record.value, max_bytes=max_bytes)
        except DecodeError as error:
            batch.dead_letters.append(DeadLetter.from_decode_error(record, error))
            continue
        batch.records.append(
            SinkRecord(event, record.value or b"", record.topic, record.partition, record.offset)
        )
    return batch
