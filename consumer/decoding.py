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
    """Decode every record; a bad one becomes a dead letter and never stops the batch."""
    batch = DecodedBatch()
    _decode_into(batch, fetched, max_bytes)
    return batch


DECODE_SLICE = 10
"""Records decoded between two yields to the event loop (about 0.1 ms of work).

Small on purpose: a database answer takes a few loop iterations to reach the write
(the driver, SQLAlchemy's greenlet) and each may wait for a slice; with whole batches
the writes waited about as long as the decoding saved (README, Performance)."""


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
        _decode_into(batch, fetched[start : start + DECODE_SLICE], max_bytes)
    return batch


def _decode_into(
    batch: DecodedBatch, fetched: Iterable[ConsumerRecord[bytes, bytes]], max_bytes: int
) -> None:
    """Append each record to ``batch``: decoded, or a dead letter with its reason.

    A schema-registry header is stripped first (the dead letter keeps the original value).
    """
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
