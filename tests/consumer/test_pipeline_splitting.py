"""How the pipeline isolates the records a sink refuses, and what ``errors.tolerance`` does.

Pure logic: the real ``SinkPipeline`` between a fake consumer and a fake sink that refuses,
for good, every batch holding an event of the run ``bad``. What is checked is what a user
sees: which records are written, which are dead-lettered and why, what is committed.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field

from aiokafka import TopicPartition

from consumer.metrics import Metrics
from consumer.pipeline import PipelineHalted, SinkPipeline, ToleranceExceeded
from consumer.runner import pipeline_options

from support.events import encode, event
from support.fakes import P0, TOPIC, FakeConsumer, FakeDeadLetters, FakeSink
from support.pipelines import make_settings

P1 = TopicPartition(TOPIC, 1)
NOT_JSON = b"{nope"


def _stream(runs: str) -> list[bytes]:
    """One event per letter: ``g`` of a good run, ``B`` of the refused run, ``x`` not JSON."""
    return [
        NOT_JSON
        if r == "x"
        else encode(event("task-start", "bad" if r == "B" else "good", n, task_id="t"))
        for n, r in enumerate(runs)
    ]


@dataclass
class Outcome:
    """What consuming some batches left behind."""

    consumer: FakeConsumer = field(default_factory=FakeConsumer)
    sink: FakeSink = field(default_factory=lambda: FakeSink(refused_runs={"bad"}))
    dead_letters: FakeDeadLetters = field(default_factory=FakeDeadLetters)
    halted: PipelineHalted | None = None

    @property
    def letters(self) -> list[tuple[int, int, str, str]]:
        """(partition, offset, stage, reason) of each dead letter, in the order sent."""
        return [
            (x.record.partition, x.record.offset, x.stage, x.reason)
            for x in self.dead_letters.letters
        ]


def _good_ids(*partitions: str) -> list[str]:
    """The event ids of the good events of these partitions, in order."""
    return [
        json.loads(value)["event_id"]
        for runs in partitions
        for value, r in zip(_stream(runs), runs, strict=True)
        if r == "g"
    ]


async def _consume(*batches: tuple[str, ...], tolerance: str = "all") -> Outcome:
    """Run the pipeline over these batches (each the runs of partition 0, 1, ...) until they
    are done or it halts; then stop it."""
    outcome = Outcome()
    for batch in batches:
        outcome.consumer.deliver(*(_stream(runs) for runs in batch))
    settings = make_settings("127.0.0.1:9", TOPIC, dead_letter={"tolerance": tolerance})
    pipeline = SinkPipeline(
        sink=outcome.sink,
        consumer=outcome.consumer,
        dead_letters=outcome.dead_letters,
        metrics=Metrics(),
        options=pipeline_options(settings, outcome.sink.name),
    )
    run = asyncio.create_task(pipeline.run())
    drained = asyncio.create_task(outcome.consumer.drained.wait())
    await asyncio.wait([run, drained], timeout=10, return_when=asyncio.FIRST_COMPLETED)
    pipeline.stop()
    drained.cancel()
    try:
        await asyncio.wait_for(run, timeout=10)
    except PipelineHalted as error:
        outcome.halted = error
    return outcome


# -- errors.tolerance = all: isolate, dead-letter, go on --------------------------------


async def test_a_refused_record_is_isolated_by_halving_the_batch() -> None:
    done = await _consume(("gggggBgg",))

    assert done.sink.written == _good_ids("gggggBgg")  # each good record once, in order
    assert done.letters == [(0, 5, "sink", "rejected_by_sink")]
    (letter,) = done.dead_letters.letters
    assert (letter.error_class, letter.record.value) == (
        "PermanentSinkError",
        _stream("gggggBgg")[5],
    )
    assert done.consumer.committed == {P0: 8}
    # the whole batch, then halves of the half that fails, down to the record alone
    assert done.sink.attempts == [8, 4, 4, 2, 1, 1, 2]


async def test_every_refused_record_is_dead_lettered_and_every_good_one_written() -> None:
    done = await _consume(("BggBgggB",))

    assert done.sink.written == _good_ids("BggBgggB")
    assert [offset for _, offset, _, _ in done.letters] == [0, 3, 7]
    assert done.consumer.committed == {P0: 8}


async def test_a_batch_of_refused_records_only_is_dead_lettered_whole() -> None:
    done = await _consume(("BBB",))

    assert done.sink.written == []
    assert [x.record.value for x in done.dead_letters.letters] == _stream("BBB")
    assert done.consumer.committed == {P0: 3}


async def test_a_record_that_does_not_decode_never_reaches_the_sink() -> None:
    done = await _consume(("ggxgBg",))

    assert done.sink.written == _good_ids("ggxgBg")
    assert sorted(done.letters) == [
        (0, 2, "decode", "not_json"),
        (0, 4, "sink", "rejected_by_sink"),
    ]
    assert done.sink.attempts[0] == 5  # the records that decoded, and only those
    assert done.consumer.committed == {P0: 6}


async def test_a_good_batch_is_written_in_one_go() -> None:
    done = await _consume(("gggg",))

    assert (done.sink.attempts, done.letters, done.halted) == ([4], [], None)
    assert done.consumer.committed == {P0: 4}


# -- errors.tolerance = none: stop before the first bad record --------------------------


async def test_tolerance_none_stops_with_nothing_committed_past_a_refused_record() -> None:
    done = await _consume(("gggggBgg",), tolerance="none")

    assert isinstance(done.halted, ToleranceExceeded)
    assert str(done.halted).startswith(f"sink error at {TOPIC}[0]@5: refused ")
    assert done.consumer.committed == {P0: 5}  # the bad record comes again after a restart
    assert done.sink.written == _good_ids("gggggBgg")  # the good ones are written (idempotent)
    assert done.letters == []


async def test_tolerance_none_names_the_first_bad_record() -> None:
    done = await _consume(("ggxgBg",), tolerance="none")

    assert isinstance(done.halted, ToleranceExceeded)
    assert str(done.halted).startswith(f"decode error at {TOPIC}[0]@2: ")
    assert "(2 bad record(s) in the batch)" in str(done.halted)
    assert done.consumer.committed == {P0: 2}


async def test_tolerance_none_commits_each_partition_up_to_its_own_first_bad_record() -> None:
    done = await _consume(("ggg", "gBgB"), tolerance="none")

    assert f"{TOPIC}[1]@1" in str(done.halted)
    assert done.consumer.committed == {P0: 3, P1: 1}


async def test_tolerance_none_commits_a_clean_batch_and_goes_on() -> None:
    done = await _consume(("ggg",), ("gg",), tolerance="none")

    assert (done.halted, done.letters, len(done.sink.written)) == (None, [], 5)
    assert done.consumer.committed == {P0: 2}  # the second batch's end (offsets 0 and 1)
