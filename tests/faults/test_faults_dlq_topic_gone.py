"""A dead letter counts only once the broker acknowledged it to an existing topic
(issue 12, item 4).

Some Kafka-protocol brokers acknowledge writes to a topic that does not exist, and a
broker that lost its data has no dead-letter topic any more. Either way the record must
not be committed past until it is really parked: the pipeline looks the topic up first,
creates it again when it can, and otherwise retries with nothing committed past the
record.
"""

from __future__ import annotations

import asyncio
import uuid

from sqlalchemy.ext.asyncio import AsyncEngine

from consumer import dead_letters as h
from consumer.metrics import Metrics
from sinks.postgres import PostgresSink
from sinks.postgres.settings import PostgresSettings

from support.events import valid_stream
from support.kafka import (
    committed_offsets,
    create_topic,
    delete_topic,
    end_offsets,
    poisoned_topic,
    produce,
    read_topic,
    topic_names,
    unkeyed,
)
from support.pipelines import consuming, hand_wired, make_settings, metric
from support.reference import check_ledger
from support.waiting import wait_until

POISON = b"<not json>"


async def test_nothing_is_committed_past_a_dead_letter_until_its_topic_exists(
    kafka_bootstrap: str, postgres_settings: PostgresSettings, postgres_engine: AsyncEngine
) -> None:
    good = valid_stream(runs=3, seed=81, duplicate_rate=0)
    bad_at = 5
    topic, ends = await poisoned_topic(kafka_bootstrap, good, POISON, bad_at)
    settings = make_settings(kafka_bootstrap, topic)
    assert settings.dead_letter_topic not in await topic_names(kafka_bootstrap)

    # No way to create the topic (as without the ACL to do so): the send is retried.
    metrics = Metrics()
    group = settings.kafka.group_id("postgres")
    sink = PostgresSink(postgres_settings)
    async with hand_wired(settings, sink, metrics=metrics) as (pipeline, _):
        running = asyncio.create_task(pipeline.run())
        try:

            async def retried_twice() -> bool:
                return metric(metrics, "runledger_dead_letter_failures_total", sink="postgres") >= 2

            await wait_until(retried_twice, what="the dead-letter send failing, retried")
            committed = await committed_offsets(kafka_bootstrap, group, topic)
            assert committed.get(0, 0) <= bad_at, f"committed {committed} past the unparked record"
            assert settings.dead_letter_topic not in await topic_names(kafka_bootstrap)

            await create_topic(kafka_bootstrap, settings.dead_letter_topic)

            async def all_committed() -> bool:
                return await committed_offsets(kafka_bootstrap, group, topic) == ends

            await wait_until(all_committed, what="offsets committed once the letter is parked")
        finally:
            pipeline.stop()
            await asyncio.wait_for(running, timeout=30)
    (letter,) = await read_topic(kafka_bootstrap, settings.dead_letter_topic)
    assert letter.value == POISON
    assert dict(letter.headers)[h.ORIGINAL_OFFSET] == str(bad_at).encode()


async def test_a_dead_letter_topic_deleted_while_running_is_created_again(
    kafka_bootstrap: str, postgres_settings: PostgresSettings, postgres_engine: AsyncEngine
) -> None:
    topic = f"telemetry-{uuid.uuid4().hex[:10]}"
    await create_topic(kafka_bootstrap, topic, partitions=1)
    settings = make_settings(kafka_bootstrap, topic)
    group = settings.kafka.group_id("postgres")
    good = valid_stream(runs=3, seed=82, duplicate_rate=0)

    async with consuming(settings, [PostgresSink(postgres_settings)]):

        async def created_at_start() -> bool:
            return settings.dead_letter_topic in await topic_names(kafka_bootstrap)

        await wait_until(created_at_start, what="the dead-letter topic created at start-up")
        await delete_topic(kafka_bootstrap, settings.dead_letter_topic)
        ends = end_offsets(await produce(kafka_bootstrap, topic, unkeyed([*good[:4], POISON])))

        async def all_committed() -> bool:
            return await committed_offsets(kafka_bootstrap, group, topic) == ends

        await wait_until(all_committed, what="offsets committed past the poison record")
        (letter,) = await read_topic(kafka_bootstrap, settings.dead_letter_topic)
        assert letter.value == POISON
        assert dict(letter.headers)[h.ORIGINAL_OFFSET] == b"4"
    await check_ledger(postgres_engine, good[:4], faults=1, name="dead-letter topic deleted")
