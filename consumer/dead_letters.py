"""Dead letters: records that cannot be written, parked on a topic with their reason.

The record keeps its original key, value and headers; ``runledger.*`` headers (modelled
on Kafka Connect's ``__connect.errors.*``) say where it came from and why it failed.
``runledger.replay.*`` headers, set by ``runledger dlq replay``, travel with a record
that fails again, so a dead letter shows it was already replayed once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal, Protocol

from aiokafka import AIOKafkaProducer
from aiokafka.structs import ConsumerRecord

from contracts import DecodeError, DecodeReason

Stage = Literal["decode", "validate", "sink"]

HEADER_PREFIX = "runledger."
REPLAY_PREFIX = "runledger.replay."
STAGE = "runledger.error.stage"
REASON = "runledger.error.reason"
ERROR_CLASS = "runledger.error.class"
MESSAGE = "runledger.error.message"
ORIGINAL_TOPIC = "runledger.original.topic"
ORIGINAL_PARTITION = "runledger.original.partition"
ORIGINAL_OFFSET = "runledger.original.offset"
ORIGINAL_TIMESTAMP = "runledger.original.timestamp"
SINK = "runledger.sink"
FAILED_AT = "runledger.failed_at"
CONFLICTING_DUPLICATE = "conflicting_duplicate"
"""Reason of a version of an event id that lost to another with other content."""
_DECODE_REASONS = {
    DecodeReason.EMPTY,
    DecodeReason.TOO_LARGE,
    DecodeReason.NOT_JSON,
    DecodeReason.NOT_OBJECT,
}


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A record that will not be written, with the stage and reason it failed at."""

    record: ConsumerRecord[bytes, bytes]
    stage: Stage
    reason: str  # low-cardinality: a DecodeReason value or "rejected_by_sink"
    error_class: str
    message: str

    @classmethod
    def from_decode_error(
        cls, record: ConsumerRecord[bytes, bytes], error: DecodeError
    ) -> DeadLetter:
        stage: Stage = "decode" if error.reason in _DECODE_REASONS else "validate"
        return cls(record, stage, error.reason.value, type(error).__name__, error.message)

    @classmethod
    def conflicting(cls, record: ConsumerRecord[bytes, bytes], message: str) -> DeadLetter:
        """A version of an event id that lost to one with other content (see duplicates)."""
        return cls(record, "validate", CONFLICTING_DUPLICATE, "ConflictingDuplicate", message)

    @classmethod
    def from_sink_error(cls, record: ConsumerRecord[bytes, bytes], error: Exception) -> DeadLetter:
        return cls(record, "sink", "rejected_by_sink", type(error).__name__, str(error))

    def headers(self, sink: str, failed_at: datetime) -> list[tuple[str, bytes]]:
        """Original headers (minus stale error headers) followed by the error headers."""
        record = self.record
        extra = {
            STAGE: self.stage,
            REASON: self.reason,
            ERROR_CLASS: self.error_class,
            MESSAGE: self.message[:1000],
            ORIGINAL_TOPIC: record.topic,
            ORIGINAL_PARTITION: str(record.partition),
            ORIGINAL_OFFSET: str(record.offset),
            ORIGINAL_TIMESTAMP: str(record.timestamp),
            SINK: sink,
            FAILED_AT: failed_at.isoformat(),
        }
        original = [
            (k, v)
            for k, v in (record.headers or ())
            if not k.startswith(HEADER_PREFIX) or k.startswith(REPLAY_PREFIX)
        ]
        return original + [(k, v.encode()) for k, v in extra.items()]


class DeadLetterQueue(Protocol):
    """Where dead letters go. ``send`` returns only once every letter is acknowledged."""

    async def send(self, letters: Sequence[DeadLetter]) -> None: ...


class KafkaDeadLetterQueue:
    """Produces dead letters to the dead-letter topic and waits for every acknowledgement."""

    def __init__(self, producer: AIOKafkaProducer, topic: str, sink: str) -> None:
        self._producer = producer
        self._topic = topic
        self._sink = sink

    @property
    def topic(self) -> str:
        return self._topic

    async def send(self, letters: Sequence[DeadLetter]) -> None:
        failed_at = datetime.now(UTC)
        pending = [
            await self._producer.send(
                self._topic,
                value=letter.record.value,
                key=letter.record.key,
                headers=letter.headers(self._sink, failed_at),
            )
            for letter in letters
        ]
        await asyncio.gather(*pending)
