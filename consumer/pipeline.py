"""One sink's pipeline: fetch a batch, decode, write, dead-letter, then commit.

Delivery is at least once and never loses a record:

* offsets are committed explicitly (never a bare ``commit()``, which would commit what
  was fetched rather than what was written), and only after the sink wrote the batch
  and every dead letter of it was acknowledged;
* a transient sink error retries the same batch with exponential backoff and jitter;
  meanwhile the partitions are paused and the consumer keeps polling, so it keeps its
  group membership however long the outage, and resumes by itself;
* a permanent error is narrowed down by splitting the batch until the offending
  records are isolated; they are dead-lettered and the rest is written;
* on rebalance the batch in flight is finished (or abandoned uncommitted while the
  sink is down) before the partitions are let go; on stop, likewise. The rebalance
  listener waits only for a batch that is being written, never for one that is backing
  off: a poll blocks while a rebalance is in progress, so waiting for it would deadlock;
* while the sink is down, newly assigned partitions are paused too (a rebalance resets
  pauses) and the sink is probed until it answers;
* a dead letter is acknowledged, by an existing dead-letter topic, before the offset
  moves past its record (one too large to park whole is parked without its value, see
  ``consumer.dead_letters``); if the topic refuses it for good, the pipeline halts rather
  than skip it;
* the next batch is fetched and decoded while the current one is written (the write's
  waits on the sink overlap with that work) and written only after the current one is
  written; it is dropped uncommitted on stop, and when a rebalance came in between
  (its partitions' positions were reset to the committed offsets, so it comes again);
* a batch written without a dead letter is counted and committed while the next one is
  written (*settling*); commits stay in order (a batch's settling waits for the one
  before), and a revocation and a stop wait for it, so the partitions are let go, and
  the pipeline returns, with every written batch committed.
"""

from __future__ import annotations

import asyncio
import collections
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

import structlog
from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import BrokerResponseError, KafkaError
from aiokafka.structs import ConsumerRecord, OffsetAndMetadata
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    stop_never,
)

from consumer.backoff import backoff
from consumer.dead_letters import DeadLetter, DeadLetterQueue
from consumer.decoding import DecodedBatch, decode_yielding
from consumer.duplicates import Deduplicated, conflict_message, deduplicate
from consumer.lag import ConsumerLag
from consumer.logging import run_id_hint
from consumer.metrics import Metrics, observe_many
from consumer.settings import RetrySettings
from sinks.base import (
    PermanentSinkError,
    Sink,
    SinkMisconfigured,
    SinkRecord,
    TransientSinkError,
    WriteResult,
)

log = structlog.get_logger("runledger.pipeline")

T = TypeVar("T")
FETCH_SLICE = 100
"""Records taken from aiokafka at a time: it unpacks them on the spot (~3 µs each), so a
whole batch at once would keep a write whose database answered waiting for ~6 ms."""
Fetched = dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]]


class BatchAbandoned(Exception):
    """The batch in flight was given up uncommitted (stop or partitions revoked)."""


class PipelineHalted(Exception):
    """The pipeline stopped on purpose; the message says why and what to do next."""


class ToleranceExceeded(PipelineHalted):
    """A bad record arrived while ``errors.tolerance`` is ``none``: the consumer stops."""


class DeadLetterRefused(PipelineHalted):
    """The dead-letter topic refused a record for good; nothing past it is committed."""


class RetriesExhausted(PipelineHalted):
    """``RUNLEDGER_RETRY__MAX_ATTEMPTS`` transient failures in a row: the consumer stops."""


class SinkRefused(PipelineHalted):
    """The sink cannot work as configured (``SinkMisconfigured``): the consumer stops."""


@dataclass(frozen=True)
class PipelineOptions:
    """The parts of the settings one pipeline needs (``consumer.runner.pipeline_options``
    builds them; the defaults live in the settings alone)."""

    topic: str
    group_id: str
    max_batch_records: int
    poll_timeout_ms: int
    max_message_bytes: int
    tolerate_errors: bool
    retry: RetrySettings


@dataclass(frozen=True)
class _Batch:
    """A fetched and decoded batch, and the rebalance generation it was fetched in."""

    fetched: Fetched
    records: list[ConsumerRecord[bytes, bytes]]
    decoded: DecodedBatch
    deduped: Deduplicated
    generation: int


@dataclass
class PipelineStatus:
    """What the health endpoints read: progress heartbeat, group membership, sink health."""

    last_progress: float = field(default_factory=time.monotonic)
    joined: bool = False
    sink_up: bool = False
    sink_started: bool = False
    records_done: int = 0

    def beat(self) -> None:
        self.last_progress = time.monotonic()


def _retriable(error: BaseException) -> bool:
    return not isinstance(
        error, PermanentSinkError | SinkMisconfigured | BatchAbandoned | PipelineHalted
    )


class SinkPipeline(ConsumerRebalanceListener):  # type: ignore[misc]
    """Moves records from the sink's consumer group into the sink."""

    def __init__(
        self,
        *,
        sink: Sink,
        consumer: AIOKafkaConsumer,
        dead_letters: DeadLetterQueue,
        metrics: Metrics,
        options: PipelineOptions,
    ) -> None:
        self.sink = sink
        self.status = PipelineStatus()
        self._consumer = consumer
        self._dead_letters = dead_letters
        self._metrics = metrics
        self._options = options
        self._stop = asyncio.Event()
        # Bumped by every revocation: a batch that backed off across one is abandoned.
        self._generation = 0
        # Set unless a batch is being written; the rebalance listener waits for it.
        self._settled = asyncio.Event()
        self._settled.set()
        # One getmany at a time: a write backing off polls the consumer too.
        self._fetching = asyncio.Lock()
        # The last batch's settling (counting and commit), run while the next is written.
        self._settling: asyncio.Task[None] | None = None
        self._sink_down = True  # until started; while down, assigned partitions stay paused
        self._log = log.bind(sink=sink.name, topic=options.topic)
        metrics.init_sink(sink.name)
        self.lag = ConsumerLag(consumer, metrics, sink.name, options.topic, group=options.group_id)

    # -- lifecycle ---------------------------------------------------------------------

    def stop(self) -> None:
        """Ask the loop to finish the batch in flight, commit it and return."""
        self._stop.set()

    async def run(self) -> None:
        """Consume until ``stop()``: the consumer must be started and subscribed with self.

        Raises ``PipelineHalted`` when the pipeline must not go on (see its subclasses).
        """
        # The next batch, fetched and decoded while the current one is written: the
        # write's waits on the sink overlap with that work.
        upcoming: asyncio.Task[_Batch | None] | None = None
        try:
            await self._retrying(self._start_sink, "starting the sink")
            self._log.info("pipeline started")
            while not self._stop.is_set():
                if self._sink_down:
                    await self._retrying(self._probe_sink, "waiting for the sink")
                batch = await (upcoming or self._fetch())
                upcoming = None
                if batch is None or batch.generation != self._generation:
                    continue  # nothing, or fetched before a rebalance: it will come again
                self._settled.clear()  # before the write starts: a revocation must wait for it
                upcoming = asyncio.create_task(self._fetch(), name=f"fetch-{self.sink.name}")
                await self._deliver_once(batch)
        except BatchAbandoned:  # stopped while the sink was down: nothing was in flight
            pass
        except PipelineHalted as error:
            self._log.error("pipeline halted", reason=str(error))
            raise
        finally:
            if upcoming is not None:
                await _discard(upcoming)
            await self._settled_on_exit()
        self._log.info("pipeline stopped", records=self.status.records_done)

    async def _fetch(self) -> _Batch | None:
        """Fetch and decode one batch (None if nothing came within the poll timeout).

        Only one fetch runs at a time: a write backing off polls the consumer too.
        """
        async with self._fetching:
            fetched, generation = await self._fetch_records()
        if not fetched:
            return None
        records = [record for batch in fetched.values() for record in batch]
        self._metrics.batch_records.labels(self.sink.name).observe(len(records))
        decoded = await decode_yielding(records, self._options.max_message_bytes)
        for letter in decoded.dead_letters:
            self._metrics.decode_failures.labels(self.sink.name, letter.reason).inc()
        return _Batch(fetched, records, decoded, deduplicate(decoded.records), generation)

    async def _fetch_records(self) -> tuple[Fetched, int]:
        """Up to a batch of records, taken in slices of ``FETCH_SLICE`` with a yield
        between them, and the rebalance generation they belong to."""
        fetched: Fetched = {}
        generation, wanted = self._generation, self._options.max_batch_records
        timeout_ms = self._options.poll_timeout_ms
        while wanted > 0:
            if fetched:
                await asyncio.sleep(0)  # between slices, like the decoding
            part: Fetched = await self._consumer.getmany(
                timeout_ms=timeout_ms, max_records=min(wanted, FETCH_SLICE)
            )
            # Read after the fetch: a rebalance during it (the first join, too) reset the
            # positions before these records were read, so they belong to the new one
            # and what was taken before it comes again.
            if generation != self._generation:
                fetched, generation = {}, self._generation
            self.status.beat()
            self.lag.fetched(part)  # before any other await: the position just moved
            if not part:
                break
            for tp, records in part.items():
                fetched.setdefault(tp, []).extend(records)
                wanted -= len(records)
            timeout_ms = 0  # the rest only if it is already here
        return fetched, generation

    async def _deliver_once(self, batch: _Batch) -> None:
        """Write, dead-letter and commit one batch; the caller cleared ``_settled``."""
        try:
            if batch.generation != self._generation:
                raise BatchAbandoned("partitions revoked before the write began")
            await self._deliver(batch)
        except BatchAbandoned as why:
            self._log.info("batch abandoned uncommitted", reason=str(why))
        finally:
            self._settled.set()

    async def _start_sink(self) -> None:
        await self.sink.start()
        self.status.sink_started = True
        self._sink_back()

    async def _probe_sink(self) -> None:
        """Ask the sink whether it answers again; any failure means "not yet"."""
        try:
            await self.sink.health()
        except SinkMisconfigured:
            raise
        except Exception as error:
            raise TransientSinkError(str(error) or type(error).__name__) from error
        self._sink_back()

    def _sink_back(self) -> None:
        self._sink_is_up(True)
        self._consumer.resume(*self._consumer.assignment())

    # -- rebalance listener (called by aiokafka's coordinator) --------------------------

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        """Let the batch being written finish and commit before the partitions go.

        A batch backing off (sink down) is not waited for: it is abandoned uncommitted
        when its backoff ends, because the generation moved on.
        """
        self._generation += 1
        await self._settled.wait()
        await self._settled_before()  # its commit too, before the partitions go
        self.lag.revoked(revoked)
        self._log.info("partitions revoked", partitions=sorted(tp.partition for tp in revoked))

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        if self._sink_down:  # a rebalance resets pauses: keep new partitions paused
            self._consumer.pause(*assigned)
        self.status.joined = True
        self.lag.assigned(assigned)
        self._metrics.rebalances.labels(self.sink.name).inc()
        self._metrics.assigned_partitions.labels(self.sink.name).set(len(assigned))
        self._log.info("partitions assigned", partitions=sorted(tp.partition for tp in assigned))

    # -- one batch ---------------------------------------------------------------------

    async def _deliver(self, batch: _Batch) -> None:
        sink, deduped, generation = self.sink.name, batch.deduped, batch.generation
        result, rejected = await self._retrying(
            lambda: self._write_isolating(deduped.records), "writing a batch", generation
        )
        await self._settled_before()  # commits stay in order
        letters, displaced = self._letters(batch, result, rejected)
        if not letters and not displaced:  # settled in the background, the next one goes on
            self._settling = asyncio.create_task(self._settle(batch, result), name=f"settle-{sink}")
            return
        self._count(deduped, result, [r for r, _ in rejected])
        if letters and not self._options.tolerate_errors:
            for letter in displaced:  # the halt sends no letter: the log keeps them
                self._log.error("displaced version not dead-lettered", **_letter_fields(letter))
            await self._halt_before(batch.fetched, letters)
        letters += displaced
        await self._retrying(
            lambda: self._send_dead_letters(letters),
            "sending dead letters",
            generation,
            sink_failure=False,
        )
        for letter in letters:
            self._log.warning("dead-lettered", **_letter_fields(letter))
            self._metrics.dead_letters.labels(sink, letter.stage).inc()
        await self._commit_batch(batch)

    def _letters(
        self,
        batch: _Batch,
        result: WriteResult,
        rejected: Sequence[tuple[SinkRecord, PermanentSinkError]],
    ) -> tuple[list[DeadLetter], list[DeadLetter]]:
        """The batch's dead letters, and the stored versions it replaced: those are
        reported, never a reason to halt (the version at fault was written long ago, and
        the batch's own is written now)."""
        decoded, deduped = batch.decoded, batch.deduped
        by_offset: dict[tuple[str, int, int], ConsumerRecord[bytes, bytes]] = {}

        def original(r: SinkRecord) -> ConsumerRecord[bytes, bytes]:
            if not by_offset:  # only for a batch that has letters
                by_offset.update(((x.topic, x.partition, x.offset), x) for x in batch.records)
            return by_offset[(r.topic, r.partition, r.offset)]

        letters = (
            decoded.dead_letters
            + [
                DeadLetter.conflicting(original(loser), conflict_message(loser, winner))
                for loser, winner in deduped.conflicts
            ]
            + [
                DeadLetter.conflicting(original(r), result.conflicts[r.event.event_id])
                for r in deduped.records
                if r.event.event_id in result.conflicts
            ]
            + [DeadLetter.from_sink_error(original(r), error) for r, error in rejected]
        )
        displaced = [DeadLetter.displaced(d, self._options.topic) for d in result.displaced]
        return letters, displaced

    async def _settle(self, batch: _Batch, result: WriteResult) -> None:
        """Count and commit a batch written without dead letters (while the next is written)."""
        self._count(batch.deduped, result, ())
        await self._commit_batch(batch)

    async def _commit_batch(self, batch: _Batch) -> None:
        """Commit past the whole batch, and account for it."""
        await self._commit(_next_offsets(batch.fetched))
        self.lag.processed(batch.fetched)
        self.status.records_done += len(batch.records)

    async def _settled_before(self) -> None:
        """Wait for the last batch's settling: its commit must come before any later one."""
        if self._settling is not None:
            await self._settling

    async def _settled_on_exit(self) -> None:
        """Wait for the last settling, unless the pipeline is being cancelled (the shutdown
        budget ran out): then it is cancelled too, and that batch comes again uncommitted."""
        task = asyncio.current_task()
        if self._settling is not None and task is not None and task.cancelling():
            self._settling.cancel()
        await self._settled_before()

    async def _halt_before(self, fetched: Fetched, letters: Sequence[DeadLetter]) -> None:
        """``errors.tolerance=none``: commit up to the first bad record of each partition, stop."""
        first_bad: dict[TopicPartition, int] = {}
        for letter in letters:
            tp = TopicPartition(letter.record.topic, letter.record.partition)
            first_bad[tp] = min(first_bad.get(tp, letter.record.offset), letter.record.offset)
        await self._commit({**_next_offsets(fetched), **first_bad})
        first = min(letters, key=lambda x: (x.record.partition, x.record.offset))
        raise ToleranceExceeded(
            f"{_describe(first)} ({len(letters)} bad record(s) in the batch); "
            "RUNLEDGER_DEAD_LETTER__TOLERANCE is 'none', so the consumer stops here with "
            "nothing committed past it: fix or skip the record, or set the tolerance to 'all'"
        )

    async def _send_dead_letters(self, letters: Sequence[DeadLetter]) -> None:
        try:
            await self._dead_letters.send(letters)
        except BrokerResponseError as error:
            if error.retriable:
                raise
            raise DeadLetterRefused(
                f"the dead-letter topic refused a record ({type(error).__name__}: {error}); "
                f"nothing is committed past {_describe(letters[0])}"
            ) from error

    async def _write_isolating(
        self, records: Sequence[SinkRecord]
    ) -> tuple[WriteResult, list[tuple[SinkRecord, PermanentSinkError]]]:
        """Write; on a permanent error split the batch until the bad records stand alone."""
        if not records:
            return WriteResult(), []
        started = time.perf_counter()
        try:
            result = await self.sink.write(records)
        except PermanentSinkError as error:
            self._metrics.sink_errors.labels(self.sink.name, "permanent").inc()
            if len(records) == 1:
                return WriteResult(), [(records[0], error)]
            middle = len(records) // 2
            left, left_bad = await self._write_isolating(records[:middle])
            right, right_bad = await self._write_isolating(records[middle:])
            return left.merged(right), left_bad + right_bad
        self._metrics.write_duration.labels(self.sink.name).observe(time.perf_counter() - started)
        self._sink_is_up(True)
        return result, []

    def _count(
        self,
        deduped: Deduplicated,
        result: WriteResult,
        rejected: Sequence[SinkRecord],
    ) -> None:
        """Count each record once: written, duplicate (also a repeat inside the batch) or
        dead-lettered (rejected by the sink, or a conflicting version of an event id).

        Every losing version counts as a conflicting duplicate: those set aside within the
        batch, those the sink held a better version of, and the stored ones it replaced."""
        sink, now = self.sink.name, datetime.now(UTC).timestamp()
        rejected_ids = {id(r) for r in rejected}
        duplicates, conflicts = result.duplicate_event_ids, result.conflicts
        ages: list[float] = []
        counts: collections.Counter[tuple[str, str]] = collections.Counter()
        for record in deduped.repeats:
            counts[record.event.type, "duplicate"] += 1
        for loser, _ in deduped.conflicts:
            counts[loser.event.type, "dead_lettered"] += 1
        losers = len(deduped.conflicts) + len(conflicts) + len(result.displaced)
        if losers:
            self._metrics.conflicting_duplicates.labels(sink).inc(losers)
        for record in deduped.records:
            event = record.event
            if id(record) in rejected_ids or event.event_id in conflicts:
                outcome = "dead_lettered"
            elif event.event_id in duplicates:
                outcome = "duplicate"
            else:
                outcome = "written"
                ages.append(max(now - event.occurred_at.timestamp(), 0.0))
            counts[event.type, outcome] += 1
        for (event_type, outcome), count in counts.items():
            self._metrics.messages.labels(sink, event_type, outcome).inc(count)
        observe_many(self._metrics.event_age.labels(sink), ages)

    async def _commit(self, positions: dict[TopicPartition, int]) -> None:
        """Commit explicit positions (the offset of the next record to read) per partition."""
        offsets = {tp: OffsetAndMetadata(offset, "") for tp, offset in positions.items()}
        try:
            await self._consumer.commit(offsets)
        except KafkaError as error:
            # The batch is written; the next owner of the partition re-delivers it and the
            # idempotent sink ignores it. Nothing is lost, so go on.
            self._metrics.commit_failures.labels(self.sink.name).inc()
            self._log.warning("commit failed", error=repr(error))
            return
        self._metrics.commits.labels(self.sink.name).inc()

    # -- retries -----------------------------------------------------------------------

    async def _retrying(
        self,
        action: Callable[[], Awaitable[T]],
        what: str,
        generation: int | None = None,
        *,
        sink_failure: bool = True,
    ) -> T:
        """Run ``action`` until it succeeds, backing off on transient errors.

        ``generation`` is that of the batch in flight (None outside a batch): a backoff
        across a revocation abandons the batch. ``sink_failure`` says whether a failure
        means the sink is down (rather than, say, the dead-letter topic).
        """
        retry = self._options.retry
        retrying = AsyncRetrying(
            retry=retry_if_exception(_retriable),
            wait=backoff(retry),
            stop=stop_after_attempt(retry.max_attempts) if retry.max_attempts else stop_never,
            sleep=lambda seconds: self._idle(seconds, generation),
            before_sleep=lambda state: self._on_retry(state, what, sink_failure),
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    return await action()
        except SinkMisconfigured as error:
            raise SinkRefused(
                f"the {self.sink.name} sink cannot work as configured: {error}"
            ) from error
        except Exception as error:
            if _retriable(error):  # only reached when max_attempts ran out
                raise RetriesExhausted(
                    f"gave up {what} after {retry.max_attempts} attempts "
                    f"(RUNLEDGER_RETRY__MAX_ATTEMPTS): {error}"
                ) from error
            raise
        raise AssertionError("unreachable: tenacity re-raises the last error")

    def _on_retry(self, state: RetryCallState, what: str, sink_failure: bool) -> None:
        error = state.outcome.exception() if state.outcome else None
        if sink_failure:
            self._sink_is_up(False)
            self._metrics.sink_errors.labels(self.sink.name, "transient").inc()
            self._metrics.sink_retries.labels(self.sink.name).inc()
        else:
            self._metrics.dead_letter_failures.labels(self.sink.name).inc()
        delay = state.upcoming_sleep
        self._log.warning(
            "transient failure, retrying",
            action=what,
            attempt=state.attempt_number,
            retry_in_seconds=round(delay, 2),
            error=str(error) if error else None,
        )

    async def _idle(self, seconds: float, generation: int | None) -> None:
        """Wait out a backoff while staying in the group: paused partitions, polls continue.

        The batch counts as settled meanwhile, so a rebalance can proceed (a poll blocks
        until it is over); if one did, the batch is abandoned uncommitted.
        """
        self._settled.set()
        deadline = time.monotonic() + seconds
        while True:
            if self._stop.is_set():
                raise BatchAbandoned("stopping")
            if generation is not None and generation != self._generation:
                raise BatchAbandoned("partitions revoked")
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            self._consumer.pause(*self._consumer.assignment())  # again after a rebalance
            async with self._fetching:
                stray: Fetched = await self._consumer.getmany(
                    timeout_ms=max(1, int(min(remaining, 0.5) * 1000))
                )
            for tp, batch in stray.items():  # fetched before the pause took hold: fetch again
                self._consumer.seek(tp, batch[0].offset)
            self.status.beat()
        self._consumer.resume(*self._consumer.assignment())
        if generation is not None:
            self._settled.clear()

    def _sink_is_up(self, up: bool) -> None:
        self._sink_down = not up
        self.status.sink_up = up
        self._metrics.sink_up.labels(self.sink.name).set(1 if up else 0)


async def _discard(upcoming: asyncio.Task[_Batch | None]) -> None:
    """Drop a batch fetched ahead, uncommitted: its records come again to whoever reads on."""
    upcoming.cancel()
    try:
        await upcoming
    except asyncio.CancelledError:
        task = asyncio.current_task()
        if task is not None and task.cancelling():
            raise  # we are being cancelled ourselves, not just the fetch
    except Exception as error:  # the fetch failed meanwhile: nothing of it was used
        log.debug("fetch ahead failed while stopping", error=repr(error))


def _next_offsets(fetched: Fetched) -> dict[TopicPartition, int]:
    """The position after the last record of each partition in the batch."""
    return {tp: batch[-1].offset + 1 for tp, batch in fetched.items() if batch}


def _describe(letter: DeadLetter) -> str:
    record = letter.record
    return (
        f"{letter.stage} error at {record.topic}[{record.partition}]@{record.offset}: "
        f"{letter.message}"
    )


def _letter_fields(letter: DeadLetter) -> dict[str, Any]:
    record = letter.record
    return {
        "partition": record.partition,
        "offset": record.offset,
        "run_id": run_id_hint(record.value),
        "stage": letter.stage,
        "reason": letter.reason,
        "error": letter.message,
    }
