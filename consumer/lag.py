"""Consumer lag per partition, in records and in seconds, for one sink's consumer.

*Records behind* is the partition's end minus the oldest record not yet processed.
The end is the high watermark of the latest fetch response (``consumer.highwater``).
When that is unknown (nothing fetched yet) or stale (the partition is paused while a
sink is down, or its records sit in the fetch buffer), the broker's ``end_offsets`` is
asked as well and the larger of both is used: some Kafka-protocol brokers (Tansu)
answer ``ListOffsets`` with too small an offset after multi-record batches, so it is
only ever a lower bound here, never trusted over a fetched high watermark.

*Seconds behind* is how old the oldest unprocessed record is (its Kafka timestamp),
zero when caught up. It is exact while that record is in flight, which is whenever
the sink is slow or down. Otherwise the record is not in hand and its age is bounded
by what is known: it came after the last processed record and after the last moment
the partition was seen caught up. With neither known (just assigned, nothing fetched
yet) the age counts from the assignment.

The pipeline calls the synchronous hooks (``fetched``, ``processed``, ``assigned``,
``revoked``) with no ``await`` in between the fetch and the hook, so the sampler never
sees a consumer position that has moved past records it has not been told about.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import structlog
from aiokafka import TopicPartition
from aiokafka.errors import KafkaError

from consumer.metrics import Metrics

log = structlog.get_logger("runledger.lag")

SAMPLE_INTERVAL_SECONDS = 2.0
# A high watermark older than this is not trusted alone (paused or buffered partition).
STALE_HIGHWATER_SECONDS = 5.0
_BROKER_TIMEOUT_SECONDS = 5.0


class LagSource(Protocol):
    """The parts of ``AIOKafkaConsumer`` lag needs (a protocol so unit tests can fake it)."""

    def assignment(self) -> set[TopicPartition]: ...
    def highwater(self, partition: TopicPartition) -> int | None: ...
    def last_poll_timestamp(self, partition: TopicPartition) -> int | None: ...
    async def position(self, partition: TopicPartition) -> int: ...
    async def end_offsets(self, partitions: list[TopicPartition]) -> dict[TopicPartition, int]: ...


class _Record(Protocol):
    offset: int
    timestamp: int


@dataclass
class _Partition:
    """What the pipeline told us about one assigned partition."""

    assigned_at: float
    # First offset and timestamp (seconds since the epoch) of each batch handed over and
    # not yet processed, oldest first: the pipeline fetches the next batch while the
    # current one is written, so two can be in flight.
    in_flight: list[tuple[int, float | None]] = field(default_factory=list)
    processed_up_to: int | None = None  # next offset after the last processed record
    last_processed_timestamp: float | None = None
    caught_up_at: float | None = None


def _seconds(timestamp_ms: int) -> float | None:
    return timestamp_ms / 1000 if timestamp_ms > 0 else None  # -1: no timestamp


class ConsumerLag:
    """Tracks one sink's consumer and exports ``runledger_consumer_lag_*`` per partition."""

    def __init__(
        self,
        consumer: LagSource,
        metrics: Metrics,
        sink: str,
        topic: str,
        *,
        group: str,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._consumer = consumer
        self._metrics = metrics
        self._sink = sink
        self._group = group
        self._topic = topic
        self._clock = clock
        self._partitions: dict[TopicPartition, _Partition] = {}
        self._exported: set[TopicPartition] = set()

    # -- hooks called by the pipeline --------------------------------------------------

    def assigned(self, partitions: Iterable[TopicPartition]) -> None:
        now = self._clock()
        for tp in partitions:
            self._partitions[tp] = _Partition(assigned_at=now)

    def revoked(self, partitions: Iterable[TopicPartition]) -> None:
        """Forget the partitions and stop exporting them: their new owner reports them."""
        for tp in partitions:
            self._partitions.pop(tp, None)
            self._unexport(tp)

    def fetched(self, batches: Mapping[TopicPartition, Sequence[_Record]]) -> None:
        """A batch was handed to the pipeline: its records are in flight until processed."""
        for tp, records in batches.items():
            state = self._partitions.get(tp)
            if state is not None and records:
                state.in_flight.append((records[0].offset, _seconds(records[0].timestamp)))

    def processed(self, batches: Mapping[TopicPartition, Sequence[_Record]]) -> None:
        """The batch is written (and its dead letters acknowledged)."""
        now = self._clock()
        for tp, records in batches.items():
            state = self._partitions.get(tp)
            if state is None or not records:
                continue
            state.processed_up_to = records[-1].offset + 1
            state.in_flight = [b for b in state.in_flight if b[0] >= state.processed_up_to]
            state.last_processed_timestamp = _seconds(records[-1].timestamp)
            highwater = self._consumer.highwater(tp)
            if highwater is not None and not self._stale(tp) and highwater <= state.processed_up_to:
                state.caught_up_at = now

    # -- sampling ----------------------------------------------------------------------

    async def run(self, interval: float = SAMPLE_INTERVAL_SECONDS) -> None:
        """Sample forever (until cancelled); a failed sample is logged and retried."""
        while True:
            try:
                await self.sample()
            except Exception as error:  # a monitor must outlive its own failures
                log.warning("lag sample failed", sink=self._sink, error=repr(error))
            await asyncio.sleep(interval)

    async def sample(self) -> None:
        """Compute and export the lag of every assigned partition."""
        assigned = {tp for tp in self._consumer.assignment() if tp.topic == self._topic}
        for tp in self._exported - assigned:
            self._unexport(tp)
        ends = await self._end_offsets(sorted(tp for tp in assigned if self._stale(tp)))
        positions = {tp: await self._position(tp) for tp in sorted(assigned)}
        now = self._clock()  # after the awaits: the hooks may have moved on meanwhile
        for tp in assigned:
            state = self._partitions.get(tp)
            highwater = self._consumer.highwater(tp)
            end = max(-1 if highwater is None else highwater, ends.get(tp, -1))
            start = self._oldest_unprocessed(state, positions.get(tp))
            if state is None or end < 0 or start is None:
                continue  # not enough known yet: export nothing rather than a guess
            behind = max(0, end - start)
            if behind == 0:
                state.caught_up_at = now
            self._export(tp, behind, self._age(state, behind, now))

    def _stale(self, tp: TopicPartition) -> bool:
        polled = self._consumer.last_poll_timestamp(tp)
        return polled is None or self._clock() - polled / 1000 > STALE_HIGHWATER_SECONDS

    async def _end_offsets(self, partitions: list[TopicPartition]) -> dict[TopicPartition, int]:
        if not partitions:
            return {}
        async with asyncio.timeout(_BROKER_TIMEOUT_SECONDS):
            ends: dict[TopicPartition, int] = await self._consumer.end_offsets(partitions)
        return ends

    async def _position(self, tp: TopicPartition) -> int | None:
        try:
            async with asyncio.timeout(_BROKER_TIMEOUT_SECONDS):
                return await self._consumer.position(tp)
        except (KafkaError, TimeoutError):  # revoked meanwhile, or offsets not reset yet
            return None

    @staticmethod
    def _oldest_unprocessed(state: _Partition | None, position: int | None) -> int | None:
        if state is None:
            return None
        if state.in_flight:
            return min(offset for offset, _ in state.in_flight)
        # Nothing in flight: the consumer's position is the next record to process (it also
        # steps over transaction markers, which the processed offsets alone would not).
        known = [o for o in (position, state.processed_up_to) if o is not None]
        return max(known) if known else None

    @staticmethod
    def _age(state: _Partition, behind: int, now: float) -> float:
        if behind == 0:
            return 0.0
        oldest = min(state.in_flight, default=None)
        if oldest is not None and oldest[1] is not None:
            return max(0.0, now - oldest[1])
        bounds = [state.last_processed_timestamp, state.caught_up_at]
        since = max((b for b in bounds if b is not None), default=state.assigned_at)
        return max(0.0, now - since)

    def _export(self, tp: TopicPartition, behind: int, age: float) -> None:
        labels = self._labels(tp)
        self._metrics.lag_messages.labels(*labels).set(behind)
        self._metrics.lag_seconds.labels(*labels).set(age)
        self._exported.add(tp)

    def _unexport(self, tp: TopicPartition) -> None:
        if tp in self._exported:
            self._exported.discard(tp)
            for gauge in (self._metrics.lag_messages, self._metrics.lag_seconds):
                gauge.remove(*self._labels(tp))

    def _labels(self, tp: TopicPartition) -> tuple[str, str, str, str]:
        return self._sink, self._group, tp.topic, str(tp.partition)
