"""Stand-ins for Kafka in unit tests of pure logic (never instead of an integration test).

``FakeConsumer`` answers what ``SinkPipeline`` and ``ConsumerLag`` ask of aiokafka's
consumer: batches to fetch, set by hand, and the offsets committed, recorded.
``FakeSink`` refuses the records a test marks as bad, like a database refusing a value.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from aiokafka import TopicPartition
from aiokafka.structs import ConsumerRecord, OffsetAndMetadata

from consumer.dead_letters import DeadLetter
from sinks.base import PermanentSinkError, SinkRecord, WriteResult

TOPIC = "telemetry"
P0 = TopicPartition(TOPIC, 0)

Fetched = dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]]


def consumer_record(
    value: bytes,
    offset: int,
    key: bytes | None = None,
    headers: Sequence[tuple[str, bytes]] = (),
    partition: int = 0,
) -> ConsumerRecord[bytes, bytes]:
    """A record of ``TOPIC`` as aiokafka hands it over."""
    return ConsumerRecord(
        topic=TOPIC, partition=partition, offset=offset, timestamp=1_763_134_573_000 + offset,
        timestamp_type=0, key=key, value=value, checksum=None, serialized_key_size=0,
        serialized_value_size=len(value), headers=list(headers),
    )  # fmt: skip


@dataclass
class FakeConsumer:
    """aiokafka's consumer, set by hand: the lag it reports, the batches it fetches (each
    once, in order) and the offsets committed to it. ``drained`` is set once a fetch
    finds nothing left: the last batch may still be being written then (the pipeline
    fetches ahead), and ``SinkPipeline.stop()`` lets it finish and commit."""

    now: float = 0.0
    highwaters: dict[TopicPartition, int] = field(default_factory=dict)
    polled_at: dict[TopicPartition, float] = field(default_factory=dict)
    ends: dict[TopicPartition, int] = field(default_factory=dict)
    positions: dict[TopicPartition, int] = field(default_factory=dict)
    batches: list[Fetched] = field(default_factory=list)
    committed: dict[TopicPartition, int] = field(default_factory=dict)
    drained: asyncio.Event = field(default_factory=asyncio.Event)
    _buffered: Fetched = field(default_factory=dict)
    """What is left of the batch being handed over."""

    def deliver(self, *partitions: Iterable[bytes]) -> None:
        """One more batch: the values of partition 0, then of partition 1, ..., each at
        offsets 0, 1, 2, ..."""
        self.batches.append({
            TopicPartition(TOPIC, p): [
                consumer_record(value, offset, partition=p) for offset, value in enumerate(values)
            ]
            for p, values in enumerate(partitions)
        })  # fmt: skip

    # -- what the lag sampler reads

    def assignment(self) -> set[TopicPartition]:
        return set(self.positions)

    def highwater(self, tp: TopicPartition) -> int | None:
        return self.highwaters.get(tp)

    def last_poll_timestamp(self, tp: TopicPartition) -> int | None:
        polled = self.polled_at.get(tp)
        return None if polled is None else int(polled * 1000)

    async def position(self, tp: TopicPartition) -> int:
        return self.positions[tp]

    async def end_offsets(self, tps: list[TopicPartition]) -> dict[TopicPartition, int]:
        return {tp: self.ends[tp] for tp in tps}

    def fetch(self, highwater: int) -> None:
        self.highwaters[P0], self.polled_at[P0] = highwater, self.now

    # -- what the pipeline does with it

    async def getmany(
        self, *partitions: TopicPartition, timeout_ms: int = 0, max_records: int | None = None
    ) -> Fetched:
        """Up to ``max_records`` of the batch being handed over; the next batch only to a
        poll that waits (one fetch response at a time, as the broker sends them)."""
        if not self._buffered:
            if timeout_ms == 0:
                return {}
            if not self.batches:
                self.drained.set()
                await asyncio.sleep(0.001)
                return {}
            self._buffered = self.batches.pop(0)
        taken: Fetched = {}
        room = max_records if max_records is not None else sum(map(len, self._buffered.values()))
        for tp in list(self._buffered):
            records = self._buffered[tp]
            if room <= 0:
                break
            taken[tp], rest = records[:room], records[room:]
            room -= len(taken[tp])
            if rest:
                self._buffered[tp] = rest
            else:
                del self._buffered[tp]
        return taken

    async def commit(self, offsets: dict[TopicPartition, OffsetAndMetadata]) -> None:
        self.committed.update({tp: meta.offset for tp, meta in offsets.items()})

    def pause(self, *partitions: TopicPartition) -> None:
        """Nothing to pause: the fake hands out its batches only when asked."""

    def resume(self, *partitions: TopicPartition) -> None:
        """Nothing to resume (see ``pause``)."""

    def seek(self, partition: TopicPartition, offset: int) -> None:
        """Positions are not modelled: a test sets the batches the fake hands out."""


@dataclass
class FakeDeadLetters:
    """A dead-letter queue that keeps what it is sent."""

    letters: list[DeadLetter] = field(default_factory=list)

    async def send(self, letters: Sequence[DeadLetter]) -> None:
        self.letters.extend(letters)


@dataclass
class FakeSink:
    """A sink that writes a batch all or nothing and refuses, for good, every batch holding
    a record whose run is in ``refused_runs`` (as PostgreSQL refuses a NUL in a text)."""

    refused_runs: set[str] = field(default_factory=set)
    written: list[str] = field(default_factory=list)
    """Event ids written, in order."""
    attempts: list[int] = field(default_factory=list)
    """The size of every batch it was asked to write."""

    @property
    def name(self) -> str:
        return "fake"

    async def start(self) -> None:
        """Nothing to connect to: the fake writes to its lists."""

    async def write(self, batch: Sequence[SinkRecord]) -> WriteResult:
        self.attempts.append(len(batch))
        refused = [r for r in batch if r.event.run_id in self.refused_runs]
        if refused:
            raise PermanentSinkError(f"refused {refused[0].event.event_id}")
        self.written.extend(r.event.event_id for r in batch)
        return WriteResult()

    async def health(self) -> None:
        """Always healthy: refusals come from ``refused_runs`` only."""

    async def close(self) -> None:
        """Nothing to release."""
