"""Reading the dead-letter topic back, selecting dead letters and replaying them.

The dead-letter topic is read from its beginning to its end without a consumer group
(nothing is committed, so inspecting never changes anything).

A replay sends a dead letter's key and value (or a corrected value) back to the main
topic with its original headers, minus every ``runledger.*`` header, plus
``runledger.replay.source`` (where it was in the dead-letter topic) and
``runledger.replay.at``. The sinks are idempotent, so replaying a record twice is
harmless; records dead-lettered by several sinks are still sent once.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from aiokafka.structs import ConsumerRecord

from consumer import dead_letters as h
from consumer.kafka import new_producer
from consumer.operations.topic_reader import read_topic
from consumer.settings import Settings

REPLAY_SOURCE = h.REPLAY_PREFIX + "source"
REPLAY_AT = h.REPLAY_PREFIX + "at"


@dataclass(frozen=True, slots=True)
class StoredDeadLetter:
    """One record of the dead-letter topic, with its ``runledger.*`` headers parsed."""

    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...]

    @classmethod
    def from_record(cls, record: ConsumerRecord[bytes, bytes]) -> StoredDeadLetter:
        headers = tuple((k, v or b"") for k, v in (record.headers or ()))
        return cls(record.partition, record.offset, record.key, record.value, headers)

    def header(self, name: str) -> str:
        for key, value in reversed(self.headers):  # the last one wins, as Kafka Connect's
            if key == name:
                return value.decode("utf-8", "replace")
        return ""

    @property
    def position(self) -> str:
        """Where the dead letter is in the dead-letter topic: ``partition:offset``."""
        return f"{self.partition}:{self.offset}"

    @property
    def original(self) -> tuple[str, str, str]:
        """(topic, partition, offset) of the record that failed."""
        return (
            self.header(h.ORIGINAL_TOPIC),
            self.header(h.ORIGINAL_PARTITION),
            self.header(h.ORIGINAL_OFFSET),
        )

    @property
    def run_id(self) -> str | None:
        """The run the record is about: its ``run_id`` field, else its key."""
        try:
            parsed = json.loads(self.value or b"")
        except ValueError:
            parsed = None
        if isinstance(parsed, dict) and isinstance(parsed.get("run_id"), str):
            return str(parsed["run_id"])
        return self.key.decode("utf-8", "replace") if self.key else None

    def replay_headers(self, dead_letter_topic: str, now: datetime) -> list[tuple[str, bytes]]:
        """The original headers without ``runledger.*``, plus the replay marker."""
        kept = [(k, v) for k, v in self.headers if not k.startswith(h.HEADER_PREFIX)]
        return [
            *kept,
            (REPLAY_SOURCE, f"{dead_letter_topic}:{self.position}".encode()),
            (REPLAY_AT, now.isoformat().encode()),
        ]

    def as_json(self) -> dict[str, object]:
        topic, partition, offset = self.original
        return {
            "position": self.position,
            "failed_at": self.header(h.FAILED_AT),
            "sink": self.header(h.SINK),
            "stage": self.header(h.STAGE),
            "reason": self.header(h.REASON),
            "error_class": self.header(h.ERROR_CLASS),
            "message": self.header(h.MESSAGE),
            "original": {"topic": topic, "partition": partition, "offset": offset},
            "run_id": self.run_id,
            "key": self.key.decode("utf-8", "replace") if self.key else None,
            "value": self.value.decode("utf-8", "replace") if self.value else None,
            "replayed_from": self.header(REPLAY_SOURCE) or None,
        }


@dataclass(frozen=True)
class Selection:
    """Which dead letters a command acts on; an empty filter lets everything through."""

    stages: frozenset[str] = frozenset()
    errors: frozenset[str] = frozenset()  # an error class or reason, case-insensitive
    run_ids: frozenset[str] = frozenset()
    sinks: frozenset[str] = frozenset()
    positions: frozenset[str] = frozenset()  # "partition:offset" in the dead-letter topic

    @property
    def empty(self) -> bool:
        return not (self.stages or self.errors or self.run_ids or self.sinks or self.positions)

    def matches(self, letter: StoredDeadLetter) -> bool:
        error = {letter.header(h.ERROR_CLASS).lower(), letter.header(h.REASON).lower()}
        return (
            (not self.stages or letter.header(h.STAGE) in self.stages)
            and (not self.errors or bool(error & {e.lower() for e in self.errors}))
            and (not self.run_ids or letter.run_id in self.run_ids)
            and (not self.sinks or letter.header(h.SINK) in self.sinks)
            and (not self.positions or letter.position in self.positions)
        )


async def read_dead_letters(settings: Settings, topic: str) -> AsyncIterator[StoredDeadLetter]:
    """Every record of the dead-letter topic, each partition in offset order.

    Raises ``TopicReadError`` when the topic is missing or cannot be read to its end.
    """
    async for record in read_topic(settings, topic):
        yield StoredDeadLetter.from_record(record)


async def select_dead_letters(
    settings: Settings, topic: str, selection: Selection
) -> list[StoredDeadLetter]:
    """The dead letters that match ``selection``, in topic order."""
    return [
        letter async for letter in read_dead_letters(settings, topic) if selection.matches(letter)
    ]


def once_per_record(letters: Iterable[StoredDeadLetter]) -> list[StoredDeadLetter]:
    """One dead letter per original record (several sinks may dead-letter the same one)."""
    seen: dict[tuple[str, str, str], StoredDeadLetter] = {}
    for letter in letters:
        topic, partition, offset = letter.original
        seen.setdefault((topic, partition, offset) if topic else ("", "", letter.position), letter)
    return list(seen.values())


@dataclass
class ReplayPlan:
    """What a replay sends: the dead letters, and a corrected value if one was given."""

    letters: list[StoredDeadLetter]
    target_topic: str
    dead_letter_topic: str
    corrected_value: bytes | None = None
    sent: list[str] = field(default_factory=list)

    def value_of(self, letter: StoredDeadLetter) -> bytes | None:
        return self.corrected_value if self.corrected_value is not None else letter.value


async def replay(
    settings: Settings, plan: ReplayPlan, progress: Callable[[int], None] = lambda _: None
) -> None:
    """Send the planned records to the target topic and wait for every acknowledgement."""
    limit = max(settings.max_message_bytes, settings.kafka.max_partition_fetch_bytes)
    producer = new_producer(settings.kafka, max_request_size=limit + 64 * 1024)
    await producer.start()
    try:
        now = datetime.now(UTC)
        for start in range(0, len(plan.letters), _CHUNK):
            chunk = plan.letters[start : start + _CHUNK]
            pending = [
                await producer.send(
                    plan.target_topic,
                    key=letter.key,
                    value=plan.value_of(letter),
                    headers=letter.replay_headers(plan.dead_letter_topic, now),
                )
                for letter in chunk
            ]
            await asyncio.gather(*pending)
            plan.sent.extend(letter.position for letter in chunk)
            progress(len(chunk))
    finally:
        await producer.stop()


_CHUNK = 200
