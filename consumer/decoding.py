"""Turn fetched Kafka records into sink records, or dead letters with their reason."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from aiokafka.structs import ConsumerRecord

from consumer.dead_letters import DeadLetter
from contracts import DecodeError, decode_event
from contracts.framing import strip_schema_registry_header
from sinks.base import SinkRecord


@dataclass(slots=True)
class DecodedBatch:
    """The good records of a batch and the ones that failed to decode."""

    records: list[SinkRecord] = field(default_factory=list)
    dead_letters: list[DeadLetter] = field(default_factory=list)


def decode_records(fetched: Iterable[ConsumerRecord[bytes, bytes]], max_bytes: int) -> DecodedBatch:
    """Decode every record; a bad one becomes a dead letter and never stops the batch.

    A schema-registry header is stripped first (the dead letter keeps the original value).
    """
    batch = DecodedBatch()
    for record in fetched:
        payload, schema_id = strip_schema_registry_header(record.value or b"")
        try:
            event = decode_event(payload, max_bytes=max_bytes)
        except DecodeError as error:
            batch.dead_letters.append(DeadLetter.from_decode_error(record, error))
            continue
        batch.records.append(
            SinkRecord(event, payload, record.topic, record.partition, record.offset, schema_id)
        )
    return batch


DECODE_SLICE = 10
"""Records decoded between two yields to the event loop (about 0.1 ms of work).

Small on purpose: a database answer takes a few loop iterations to reach the write
(the driver, SQLAlchemy's greenlet), and each may wait for a slice. `runledger bench`
style runs put end to end at 0.78x of its own writes replayed from memory with 200
records a slice, 0.81-0.86x with 25, 0.86-0.89x with 10 (and 0.90-0.93x once the fetch
was sliced too, ``consumer.pipeline.FETCH_SLICE``)."""


async def decode_yielding(
    fetched: Sequence[ConsumerRecord[bytes, bytes]], max_bytes: int
) -> DecodedBatch:
    """``decode_records`` in slices, yielding to the event loop between them.

    The next batch is decoded while the current one is written: a write whose database
    answered goes on after at most one slice, so the database is not kept waiting.
    """
    batch = DecodedBatch()
    for start in range(0, len(fetched), DECODE_SLICE):
        if start:
            await asyncio.sleep(0)
        part = decode_records(fetched[start : start + DECODE_SLICE], max_bytes)
        batch.records += part.records
        batch.dead_letters += part.dead_letters
    return batch
