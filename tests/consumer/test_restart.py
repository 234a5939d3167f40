"""A restarted consumer resumes from its committed offsets: nothing re-read, nothing lost."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from consumer.metrics import EVENT_TYPES, Metrics
from sinks.postgres import PostgresSink
from sinks.postgres.settings import PostgresSettings

from support.events import example_lines
from support.kafka import keyed_by_run, produce
from support.pipelines import consuming, make_settings
from support.postgres import count_events
from support.waiting import wait_until


def _total(metrics: Metrics, outcome: str) -> float:
    return sum(
        metrics.registry.get_sample_value(
            "runledger_messages_total", {"sink": "postgres", "type": t, "outcome": outcome}
        )
        or 0
        for t in EVENT_TYPES
    )


async def test_restart_resumes_from_committed_offsets(
    kafka_bootstrap: str,
    topic: str,
    postgres_settings: PostgresSettings,
    postgres_engine: AsyncEngine,
) -> None:
    lines = example_lines()
    first, second = lines[:6], lines[6:]
    settings = make_settings(kafka_bootstrap, topic)
    await produce(kafka_bootstrap, topic, keyed_by_run(first))

    async def stored(n: int) -> bool:
        return await count_events(postgres_engine) == n

    async with consuming(settings, [PostgresSink(postgres_settings)]):
        await wait_until(lambda: stored(len(first)), what="the first half")

    await produce(kafka_bootstrap, topic, keyed_by_run(second))
    async with consuming(settings, [PostgresSink(postgres_settings)]) as metrics:
        await wait_until(lambda: stored(len(lines)), what="the second half")

        async def counted() -> bool:
            return _total(metrics, "written") == len(second)

        await wait_until(counted, what="the second half to be counted")
        assert _total(metrics, "duplicate") == 0, "records before the commit were read again"
