"""The dead-letter send itself fails for good: the pipeline stops with nothing committed past
the record it could not park, and a consumer that can park it later takes over from there:
the record is dead-lettered once it can be, and the ledger is exact."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from consumer import dead_letters as h
from consumer.pipeline import DeadLetterRefused
from sinks.postgres import PostgresSink
from sinks.postgres.settings import PostgresSettings

from support.events import valid_stream
from support.kafka import (
    committed_offsets,
    create_topic,
    poisoned_topic,
    read_topic,
)
from support.pipelines import consuming, hand_wired, make_settings
from support.postgres import count_events
from support.reference import check_ledger
from support.waiting import wait_until

POISON = b"<not json>" + b"x" * 8000  # with its headers, larger than the crippled requests


async def test_a_refused_dead_letter_commits_nothing_past_its_record(
    kafka_bootstrap: str, postgres_settings: PostgresSettings, postgres_engine: AsyncEngine
) -> None:
    good = valid_stream(runs=4, seed=61, duplicate_rate=0)
    bad_at = 10
    topic, ends = await poisoned_topic(kafka_bootstrap, good, POISON, bad_at)
    settings = make_settings(kafka_bootstrap, topic, kafka={"max_batch_records": 4})
    await create_topic(kafka_bootstrap, settings.dead_letter_topic)

    # A producer whose requests cannot hold even the dead letter's own headers: left
    # without value, key and original headers it is still refused for good
    # (MessageSizeTooLargeError), so the pipeline must halt rather than skip it.
    sink = PostgresSink(postgres_settings)
    async with hand_wired(settings, sink, max_request_size=256) as (pipeline, _):
        with pytest.raises(DeadLetterRefused, match=rf"nothing is committed past decode error at "
                           rf"{topic}\[0\]@{bad_at}: not valid JSON"):  # fmt: skip
            await asyncio.wait_for(pipeline.run(), timeout=60)
        await pipeline.sink.close()
    group = settings.kafka.group_id("postgres")
    committed = await committed_offsets(kafka_bootstrap, group, topic)
    assert committed.get(0, 0) <= bad_at, f"committed {committed} past the refused record"
    assert await read_topic(kafka_bootstrap, settings.dead_letter_topic) == []

    # The real consumer (its producer sized for any record it can fetch) takes over.
    async with consuming(settings, [PostgresSink(postgres_settings)]):

        async def all_committed() -> bool:
            return await committed_offsets(kafka_bootstrap, group, topic) == ends

        await wait_until(all_committed, what="offsets committed past the parked record")
        assert await count_events(postgres_engine) == len(set(good))
    (letter,) = await read_topic(kafka_bootstrap, settings.dead_letter_topic)
    assert letter.value == POISON
    assert dict(letter.headers)[h.ORIGINAL_OFFSET] == str(bad_at).encode()
    await check_ledger(postgres_engine, good, faults=1, name="dead letter refused")
