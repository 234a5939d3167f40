"""The next batch is fetched and decoded while the current one is written, and written
while the current one is committed.

Pure logic: the real ``SinkPipeline`` between a fake consumer and a sink whose writes
(or commits) wait until the test lets them go. What is checked is what a user relies
on: the work overlaps, yet a batch fetched ahead is written only after the one before
it, one fetched when the pipeline is told to stop is neither written nor committed,
commits stay in order, and a stop or a revocation waits for a commit under way.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from dataclasses import dataclass, field

from aiokafka.structs import OffsetAndMetadata, TopicPartition

from consumer.decoding import DECODE_SLICE, decode_records, decode_yielding
from consumer.metrics import Metrics
from consumer.pipeline import SinkPipeline
from consumer.runner import pipeline_options
from sinks.base import SinkRecord, WriteResult

from support.events import encode, event
from support.fakes import P0, TOPIC, FakeConsumer, FakeDeadLetters, FakeSink, consumer_record
from support.pipelines import make_settings
from support.waiting import wait_until

P1 = P0._replace(partition=1)


@dataclass
class HeldSink(FakeSink):
    """A fake sink whose writes wait for ``release`` (set it to let every write through)."""

    release: asyncio.Event = field(default_factory=asyncio.Event)
    writing: int = 0
    """Writes begun so far."""

    async def write(self, batch: Sequence[SinkRecord]) -> WriteResult:
        self.writing += 1
        await self.release.wait()
        return await super().write(batch)


@dataclass
class HeldCommits(FakeConsumer):
    """A fake consumer whose commits wait for ``release_commits``, noting their order."""

    release_commits: asyncio.Event = field(default_factory=asyncio.Event)
    commits: list[dict[TopicPartition, int]] = field(default_factory=list)
    """Every commit, in the order begun."""

    async def commit(self, offsets: dict[TopicPartition, OffsetAndMetadata]) -> None:
        self.commits.append({tp: meta.offset for tp, meta in offsets.items()})
        await self.release_commits.wait()
        await super().commit(offsets)


def _values(run_id: str, count: int) -> list[bytes]:
    return [encode(event("task-start", run_id, n, task_id=f"t{n}")) for n in range(count)]


def _ids(values: Sequence[bytes]) -> list[str]:
    return [json.loads(v)["event_id"] for v in values]


def _pipeline(consumer: FakeConsumer, sink: FakeSink) -> SinkPipeline:
    settings = make_settings("127.0.0.1:9", TOPIC)
    return SinkPipeline(
        sink=sink,
        consumer=consumer,
        dead_letters=FakeDeadLetters(),
        metrics=Metrics(),
        options=pipeline_options(settings, sink.name),
    )


def _run_on_two_batches(
    consumer: FakeConsumer, sink: FakeSink
) -> tuple[list[bytes], list[bytes], SinkPipeline, asyncio.Task[None]]:
    """A running pipeline over two batches: three records of partition 0, then two of
    partition 1 only."""
    first, second = _values("a", 3), _values("b", 2)
    consumer.deliver(first)
    consumer.deliver([], second)
    pipeline = _pipeline(consumer, sink)
    return first, second, pipeline, asyncio.create_task(pipeline.run())


async def _held_first_write(consumer: FakeConsumer, sink: HeldSink) -> None:
    """Wait until the first batch is being written and the second one has been fetched."""

    async def fetched_ahead() -> bool:
        return sink.writing == 1 and not consumer.batches

    await wait_until(fetched_ahead, timeout=10, what="the second batch fetched ahead")


async def test_the_next_batch_is_fetched_while_the_current_one_is_written() -> None:
    consumer, sink = FakeConsumer(), HeldSink()
    first, second, pipeline, run = _run_on_two_batches(consumer, sink)

    await _held_first_write(consumer, sink)
    assert sink.written == []  # fetched, but nothing of it written ahead of the first batch
    assert consumer.committed == {}
    sink.release.set()
    await asyncio.wait_for(consumer.drained.wait(), timeout=10)
    pipeline.stop()
    await asyncio.wait_for(run, timeout=10)

    assert sink.written == _ids(first) + _ids(second)  # in order, each once
    assert consumer.committed == {P0: 3, P1: 2}


async def test_a_batch_fetched_ahead_is_neither_written_nor_committed_on_stop() -> None:
    consumer, sink = FakeConsumer(), HeldSink()
    first, _, pipeline, run = _run_on_two_batches(consumer, sink)

    await _held_first_write(consumer, sink)
    pipeline.stop()
    sink.release.set()
    await asyncio.wait_for(run, timeout=10)

    assert sink.written == _ids(first)  # the batch in flight is finished...
    assert consumer.committed == {P0: 3}  # ...the one fetched ahead comes again later


async def test_the_next_batch_is_written_while_the_current_one_is_committed() -> None:
    consumer, sink = HeldCommits(), FakeSink()
    first, second, pipeline, run = _run_on_two_batches(consumer, sink)

    async def second_written() -> bool:
        return sink.written == _ids(first) + _ids(second)

    await wait_until(second_written, timeout=10, what="the second batch written")
    assert consumer.commits == [{P0: 3}]  # the second's commit waits for the first's
    assert consumer.committed == {}
    pipeline.stop()
    consumer.release_commits.set()
    await asyncio.wait_for(run, timeout=10)

    assert consumer.commits == [{P0: 3}, {P1: 2}]
    assert consumer.committed == {P0: 3, P1: 2}


async def _committing_one_batch(
    consumer: HeldCommits,
) -> tuple[SinkPipeline, asyncio.Task[None]]:
    """A running pipeline that has written one batch of partition 0 and holds its commit."""
    batch = _values("a", 3)
    sink = FakeSink()
    consumer.deliver(batch)
    pipeline = _pipeline(consumer, sink)
    run = asyncio.create_task(pipeline.run())

    async def committing() -> bool:
        return sink.written == _ids(batch) and consumer.commits == [{P0: 3}]

    await wait_until(committing, timeout=10, what="the batch written and its commit begun")
    return pipeline, run


async def test_a_revocation_and_a_stop_wait_for_a_commit_under_way() -> None:
    consumer = HeldCommits()
    pipeline, run = await _committing_one_batch(consumer)
    revoking = asyncio.create_task(pipeline.on_partitions_revoked({P0}))
    pipeline.stop()
    for _ in range(50):  # in-process fakes: a few loop turns let anything that could finish
        await asyncio.sleep(0)
    assert not revoking.done()  # the partitions are not let go with a commit under way
    assert not run.done()
    consumer.release_commits.set()
    await asyncio.wait_for(revoking, timeout=10)
    await asyncio.wait_for(run, timeout=10)

    assert consumer.committed == {P0: 3}


async def test_a_cancelled_pipeline_abandons_a_commit_that_hangs() -> None:
    consumer = HeldCommits()
    _, run = await _committing_one_batch(consumer)
    run.cancel()  # what the runner does when the shutdown budget runs out
    await asyncio.wait_for(asyncio.gather(run, return_exceptions=True), timeout=10)

    assert run.cancelled()
    assert consumer.committed == {}  # abandoned: the batch comes again to the next owner


async def test_decoding_in_slices_gives_what_decoding_at_once_gives_and_yields() -> None:
    values = _values("a", 3 * DECODE_SLICE)
    values[5] = b"{not json"
    values[2 * DECODE_SLICE + 1] = encode(event("task-start", "a", 999, schema_version=9))
    records = [consumer_record(v, offset) for offset, v in enumerate(values)]
    ticks = 0

    async def ticking() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0)

    other = asyncio.create_task(ticking())
    await asyncio.sleep(0)  # let it start
    before = ticks
    sliced = await decode_yielding(records, 1_000_000)
    other.cancel()
    at_once = decode_records(records, 1_000_000)

    assert [(r.offset, r.event) for r in sliced.records] == [
        (r.offset, r.event) for r in at_once.records
    ]
    assert [(x.record.offset, x.reason) for x in sliced.dead_letters] == [
        (x.record.offset, x.reason) for x in at_once.dead_letters
    ]
    assert [x.record.offset for x in sliced.dead_letters] == [5, 2 * DECODE_SLICE + 1]
    assert ticks - before >= 2  # the other task ran between the three slices
