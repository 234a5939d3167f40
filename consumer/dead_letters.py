"""Dead letters: records that cannot be written, parked on a topic with their reason.

The record keeps its original key, value and headers; ``runledger.*`` headers (modelled
on Kafka Connect's ``__connect.errors.*``) say where it came from and why it failed.
``runledger.replay.*`` headers, set by ``runledger dlq replay``, travel with a record
that fails again, so a dead letter shows it was already replayed once.

Two rules keep a bad record from ever stopping its partition or vanishing:

* **Too large to park whole**: a record the broker accepted on the main topic can still
  be over the dead-letter producer's request limit or the dead-letter topic's
  ``max.message.bytes``. It is then parked without its value (and, if still too large,
  without its key and original headers); ``runledger.original.omitted`` says what was
  left out and why, ``runledger.original.value_bytes`` how large the value was, and the
  ``runledger.original.*`` coordinates say where the original still lies.
* **Parked means acknowledged to an existing topic**: before sending, the dead-letter
  topic is looked up in the cluster's metadata (which does not create it); a missing
  topic is created again, or, if that fails, the send fails (retried, nothing committed
  past the record). Each acknowledgement must name the dead-letter topic and an offset.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal, Protocol

import structlog
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError, MessageSizeTooLargeError, RecordListTooLargeError
from aiokafka.structs import ConsumerRecord, RecordMetadata

from contracts import DecodeError, DecodeReason
from sinks.base import Displaced

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
OMITTED = "runledger.original.omitted"
VALUE_BYTES = "runledger.original.value_bytes"
CONFLICTING_DUPLICATE = "conflicting_duplicate"
"""Reason of a version of an event id that lost to another with other content."""
_DECODE_REASONS = {
    DecodeReason.EMPTY,
    DecodeReason.TOO_LARGE,
    DecodeReason.NOT_JSON,
    DecodeReason.NOT_OBJECT,
}
_UNKNOWN = -1  # a displaced version's position, when its sink did not keep it
_TOO_LARGE = (MessageSizeTooLargeError, RecordListTooLargeError)
# What a letter leaves out, step by step, while it is too large to be acknowledged.
_SHRINK_STEPS = ("value", "value, key and original headers")

log = structlog.get_logger("runledger.dead_letters")


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A record that will not be written, with the stage and reason it failed at."""

    record: ConsumerRecord[bytes, bytes]
    stage: Stage
    reason: str  # low-cardinality: a DecodeReason value or "rejected_by_sink"
    error_class: str
    message: str
    omitted: str | None = None
    """What was left out of the dead letter (``_SHRINK_STEPS``) and why; None if whole."""
    shrink_step: int = 0

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
    def displaced(cls, version: Displaced, topic: str) -> DeadLetter:
        """A stored version a sink replaced by one sorting first: its value is the stored
        version's canonical JSON, its position the one it was written from, if known."""
        record: ConsumerRecord[bytes, bytes] = ConsumerRecord(
            topic=version.topic or topic,
            partition=_UNKNOWN if version.partition is None else version.partition,
            offset=_UNKNOWN if version.offset is None else version.offset,
            timestamp=_UNKNOWN,
            timestamp_type=0,
            key=None,
            value=version.value,
            checksum=None,
            serialized_key_size=_UNKNOWN,
            serialized_value_size=len(version.value),
            headers=(),
        )
        return cls(record, "validate", CONFLICTING_DUPLICATE, "DisplacedDuplicate", version.message)

    @classmethod
    def from_sink_error(cls, record: ConsumerRecord[bytes, bytes], error: Exception) -> DeadLetter:
        return cls(record, "sink", "rejected_by_sink", type(error).__name__, str(error))

    def shrunk(self, why: str) -> DeadLetter | None:
        """This letter with the next part left out, or None when nothing more can go."""
        if self.shrink_step >= len(_SHRINK_STEPS):
            return None
        left_out = _SHRINK_STEPS[self.shrink_step]
        where = f"{self.record.topic}[{self.record.partition}]@{self.record.offset}"
        return dataclasses.replace(
            self,
            omitted=f"{left_out} left out ({why}); the original is at {where}",
            shrink_step=self.shrink_step + 1,
        )

    @property
    def value(self) -> bytes | None:
        """The original value, or empty once left out (not None: that is a tombstone)."""
        return b"" if self.shrink_step >= 1 else self.record.value

    @property
    def key(self) -> bytes | None:
        return None if self.shrink_step >= 2 else self.record.key

    def headers(self, sink: str, failed_at: datetime) -> list[tuple[str, bytes]]:
        """Original headers (minus stale error headers) followed by the error headers."""
        record = self.record
        extra = {
            STAGE: self.stage,
            REASON: self.reason,
            ERROR_CLASS: self.error_class,
            MESSAGE: self.message[:1000],
            ORIGINAL_TOPIC: record.topic,
            ORIGINAL_PARTITION: _known(record.partition),
            ORIGINAL_OFFSET: _known(record.offset),
            ORIGINAL_TIMESTAMP: _known(record.timestamp),
            SINK: sink,
            FAILED_AT: failed_at.isoformat(),
        }
        if self.omitted is not None:
            extra[OMITTED] = self.omitted[:1000]
            extra[VALUE_BYTES] = str(len(record.value or b""))
        original = [
            (k, v)
            for k, v in (record.headers or ())
            if not k.startswith(HEADER_PREFIX) or k.startswith(REPLAY_PREFIX)
        ]
        if self.shrink_step >= 2:
            original = []
        return original + [(k, v.encode()) for k, v in extra.items()]


class DeadLetterQueue(Protocol):
    """Where dead letters go. ``send`` returns only once every letter is acknowledged."""

    async def send(self, letters: Sequence[DeadLetter]) -> None: ...


class DeadLetterTopicMissing(KafkaError):  # type: ignore[misc]
    """The dead-letter topic does not exist and could not be created: retried, not skipped."""

    retriable = True


class KafkaDeadLetterQueue:
    """Produces dead letters to the dead-letter topic and waits for every acknowledgement.

    ``create_topic`` (optional) creates the dead-letter topic; it is called when the topic
    is missing from the cluster's metadata at send time (deleted, or lost by the broker).
    """

    def __init__(
        self,
        producer: AIOKafkaProducer,
        topic: str,
        sink: str,
        create_topic: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self._producer = producer
        self._topic = topic
        self._sink = sink
        self._create_topic = create_topic

    @property
    def topic(self) -> str:
        return self._topic

    async def send(self, letters: Sequence[DeadLetter]) -> None:
        """Return once the broker acknowledged every letter to the existing topic.

        A letter refused as too large is sent again with less in it (``shrunk``);
        any other failure is raised, so the caller commits nothing past the letters.
        """
        await self._ensure_topic()
        failed_at = datetime.now(UTC)
        pending = list(letters)
        while pending:
            outcomes = await self._send_all(pending, failed_at)
            retry = []
            for letter, outcome in zip(pending, outcomes, strict=True):
                if isinstance(outcome, RecordMetadata):
                    self._check_ack(outcome)
                    continue
                smaller = letter.shrunk(_why(outcome)) if isinstance(outcome, _TOO_LARGE) else None
                if smaller is None:
                    raise outcome
                log.warning(
                    "dead letter too large, sending it with less",
                    sink=self._sink,
                    partition=letter.record.partition,
                    offset=letter.record.offset,
                    omitted=smaller.omitted,
                )
                retry.append(smaller)
            pending = retry

    async def _send_all(
        self, letters: Sequence[DeadLetter], failed_at: datetime
    ) -> list[RecordMetadata | BaseException]:
        """Send every letter; each outcome is its acknowledgement or its error."""
        futures: list[asyncio.Future[RecordMetadata] | BaseException] = []
        for letter in letters:
            try:
                futures.append(
                    await self._producer.send(
                        self._topic,
                        value=letter.value,
                        key=letter.key,
                        headers=letter.headers(self._sink, failed_at),
                    )
                )
            except _TOO_LARGE as error:  # over our own request limit: never left the client
                futures.append(error)
        return [
            outcome if isinstance(outcome, BaseException) else await _outcome(outcome)
            for outcome in futures
        ]

    async def _ensure_topic(self) -> None:
        metadata = await self._producer.client.fetch_all_metadata()
        if self._topic in metadata.topics():
            return
        if self._create_topic is None:
            raise DeadLetterTopicMissing(f"the dead-letter topic {self._topic!r} does not exist")
        log.error(
            "the dead-letter topic does not exist (deleted, or lost by the broker); "
            "creating it again: dead letters it held are gone",
            sink=self._sink,
            dead_letter_topic=self._topic,
        )
        await self._create_topic()
        metadata = await self._producer.client.fetch_all_metadata()
        if self._topic not in metadata.topics():
            raise DeadLetterTopicMissing(
                f"the dead-letter topic {self._topic!r} does not exist and was not created"
            )

    def _check_ack(self, ack: RecordMetadata) -> None:
        if ack.topic != self._topic or ack.offset < 0:
            raise DeadLetterTopicMissing(
                f"the broker acknowledged a dead letter without a place in {self._topic!r} "
                f"({ack.topic}[{ack.partition}]@{ack.offset})"
            )


def _known(position: int) -> str:
    return "unknown" if position == _UNKNOWN else str(position)


def _why(error: BaseException) -> str:
    """Why a letter was too large: our own request limit, or the broker's topic limit."""
    if "max_request_size" in str(error):  # aiokafka refused it before sending
        return f"over the dead-letter producer's request limit (max_request_size): {error}"
    return (
        "refused by the broker as too large for the dead-letter topic "
        f"(its max.message.bytes, or the broker's message.max.bytes): {error}"
    )


async def _outcome(future: asyncio.Future[RecordMetadata]) -> RecordMetadata | BaseException:
    try:
        return await future
    except KafkaError as error:
        return error
