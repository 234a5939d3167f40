"""How the pipeline isolates the records a sink refuses, and what ``errors.tolerance`` does.

Pure logic: the real ``SinkPipeline`` between a fake consumer and a fake sink that refuses,
for good, every batch holding an event of the run ``bad``. What is checked is what a user
sees: which records are written, which are dead-lettered and why, what is committed.
"""

from __future__ import annotations

import asyncio
import json

import pytest
from aiokafka import TopicPartition

from consumer.dead_letters import DeadLetter
from consumer.metrics import Metrics
from consumer.pipeline import SinkPipeline, ToleranceExceeded
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


def _ids(values: list[bytes], runs: str, which: str) -> list[str]:
    """The event ids of the values marked ``which`` in ``runs``, in offset order."""
    return [json.loads(v)["event_id"] for v, r in zip(values, runs, strict=True) if r == which]


def _where(letters: list[DeadLetter]) -> list[tuple[int, int, str, str]]:
    """(partition, offset, stage, reason) of each dead letter."""
    return [(x.record.partition, x.record.offset, x.stage, x.reason) for x in letters]


async def _consume(consumer: FakeConsumer, sink: FakeSink, tolerance: str) -> FakeDeadLetters:
    """Run the pipeline until the consumer's batches are done (or it halts), then stop it."""
    settings = make_settings("127.0.0.1:9", TOPIC, dead_letter={"tolerance": tolerance})
    letters = FakeDeadLetters()
    pipeline = SinkPipeline(
        sink=sink,
        consumer=consumer,
        dead_letters=letters,
        metrics=Metrics(),
        options=pipeline_options(settings, sink.name),
    )
    run = asyncio.create_task(pipeline.run())
    drained = asyncio.create_task(consumer.drained.wait())
    await asyncio.wait([run, drained], timeout=10, return_when=asyncio.FIRST_COMPLETED)
    pipeline.stop()
    drained.cancel()
    await asyncio.wait_for(run, timeout=10)  # raises what halted the pipeline
    return letters


# -- errors.tolerance = all: isolate, dead-letter, go on --------------------------------


async def test_a_refused_record_is_isolated_by_halving_the_batch() -> None:
    runs = "gggggBgg"
    values = _stream(runs)
    consumer, sink = FakeConsumer(), FakeSink(refused_runs={"bad"})
    consumer.deliver(values)

    letters = await _consume(consumer, sink, "all")

    assert sink.written == _ids(values, runs, "g")  # each good record once, in order
    assert _where(letters.letters) == [(0, 5, "sink", "rejected_by_sink")]
    (letter,) = letters.letters
    assert letter.error_class == "PermanentSinkError"
    assert letter.record.value == values[5]
    assert consumer.committed == {P0: 8}
    # the whole batch, then halves of the half that fails, down to the record alone
    assert sink.attempts == [8, 4, 4, 2, 1, 1, 2]


async def test_every_refused_record_is_dead_lettered_and_every_good_one_written() -> None:
    runs = "BggBgggB"
    values = _stream(runs)
    consumer, sink = FakeConsumer(), FakeSink(refused_runs={"bad"})
    consumer.deliver(values)

    letters = await _consume(consumer, sink, "all")

    assert sink.written == _ids(values, runs, "g")
    assert [offset for _, offset, _, _ in _where(letters.letters)] == [0, 3, 7]
    assert consumer.committed == {P0: 8}


async def test_a_batch_of_refused_records_only_is_dead_lettered_whole() -> None:
    values = _stream("BBB")
    consumer, sink = FakeConsumer(), FakeSink(refused_runs={"bad"})
    consumer.deliver(values)

    letters = await _consume(consumer, sink, "all")

    assert sink.written == []
    assert [record.value for record in (x.record for x in letters.letters)] == values
    assert consumer.committed == {P0: 3}


async def test_a_record_that_does_not_decode_never_reaches_the_sink() -> None:
    runs = "ggxgBg"
    values = _stream(runs)
    consumer, sink = FakeConsumer(), FakeSink(refused_runs={"bad"})
    consumer.deliver(values)

    letters = await _consume(consumer, sink, "all")

    assert sink.written == _ids(values, runs, "g")
    assert sorted(_where(letters.letters)) == [
        (0, 2, "decode", "not_json"),
        (0, 4, "sink", "rejected_by_sink"),
    ]
    assert sink.attempts[0] == 5  # the records that decoded, and only those
    assert consumer.committed == {P0: 6}


async def test_a_good_batch_is_written_in_one_go() -> None:
    values = _stream("gggg")
    consumer, sink = FakeConsumer(), FakeSink(refused_runs={"bad"})
    consumer.deliver(values)

    letters = await _consume(consumer, sink, "all")

    assert (sink.attempts, letters.letters) == ([4], [])
    assert consumer.committed == {P0: 4}


# -- errors.tolerance = none: stop before the first bad record --------------------------


async def test_tolerance_none_stops_with_nothing_committed_past_a_refused_record() -> None:
    runs = "gggggBgg"
    values = _stream(runs)
    consumer, sink = FakeConsumer(), FakeSink(refused_runs={"bad"})
    consumer.deliver(values)

    with pytest.raises(ToleranceExceeded, match=rf"^sink error at {TOPIC}\[0\]@5: refused "):
        await _consume(consumer, sink, "none")

    assert consumer.committed == {P0: 5}  # the bad record comes again after a restart
    assert sink.written == _ids(values, runs, "g")  # the good ones are written (idempotent)
    assert consumer.batches == []


async def test_tolerance_none_names_the_first_bad_record_and_sends_no_dead_letter() -> None:
    values = _stream("ggxgBg")
    consumer, sink = FakeConsumer(), FakeSink(refused_runs={"bad"})
    consumer.deliver(values)

    with pytest.raises(ToleranceExceeded, match=r"decode error at .*@2: .*\(2 bad record\(s\)"):
        await _consume(consumer, sink, "none")

    assert consumer.committed == {P0: 2}


async def test_tolerance_none_commits_each_partition_up_to_its_own_first_bad_record() -> None:
    clean, spoiled = _stream("ggg"), _stream("gBgB")
    consumer, sink = FakeConsumer(), FakeSink(refused_runs={"bad"})
    consumer.deliver(clean, spoiled)

    with pytest.raises(ToleranceExceeded, match=rf"{TOPIC}\[1\]@1"):
        await _consume(consumer, sink, "none")

    assert consumer.committed == {P0: 3, P1: 1}


async def test_tolerance_none_commits_a_clean_batch_and_goes_on() -> None:
    consumer, sink = FakeConsumer(), FakeSink(refused_runs={"bad"})
    consumer.deliver(_stream("ggg"))
    consumer.deliver(_stream("gg"))

    letters = await _consume(consumer, sink, "none")

    assert (letters.letters, len(sink.written)) == ([], 5)
    assert consumer.committed == {P0: 2}  # the second batch's end (offsets 0 and 1)
