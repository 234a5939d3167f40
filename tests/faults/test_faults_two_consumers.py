"""Two consumers in one group, each run's events spread over every partition (random keys),
one joining and then leaving mid-stream: the ledger is exact and nothing deadlocks."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from consumer.metrics import Metrics
from sinks.postgres import PostgresSink
from sinks.postgres.settings import PostgresSettings

from support.events import valid_stream
from support.kafka import keyed_at_random, produce
from support.pipelines import consuming, make_settings
from support.postgres import count_events
from support.reference import check_ledger
from support.waiting import wait_until


async def test_two_consumers_of_one_group_share_runs_without_deadlock(
    kafka_bootstrap: str,
    topic: str,
    postgres_settings: PostgresSettings,
    postgres_engine: AsyncEngine,
) -> None:
    values = valid_stream(runs=150, seed=31)
    first, second = values[: len(values) // 2], values[len(values) // 2 :]
    settings = make_settings(kafka_bootstrap, topic, kafka={"max_batch_records": 25})
    one, two = Metrics(), Metrics()

    def assigned(metrics: Metrics) -> float:
        value = metrics.registry.get_sample_value(
            "runledger_assigned_partitions", {"sink": "postgres"}
        )
        return value or 0.0  # not exported before the pipeline exists

    async def stored_at_least(n: int) -> bool:
        return await count_events(postgres_engine) >= n

    async with consuming(settings, [PostgresSink(postgres_settings)], one):
        await wait_until(lambda: _true(assigned(one) == 3), what="the first consumer to join")
        await produce(kafka_bootstrap, topic, keyed_at_random(first, seed=1))
        # The second one joins while the first is consuming: a rebalance mid-stream.
        async with consuming(settings, [PostgresSink(postgres_settings)], two):

            async def shared() -> bool:
                return assigned(one) >= 1 and assigned(two) >= 1

            await wait_until(shared, what="both consumers to hold partitions")
            assert assigned(one) + assigned(two) == 3
            await produce(kafka_bootstrap, topic, keyed_at_random(second, seed=2))
            await wait_until(
                lambda: stored_at_least(len(set(first)) + len(set(second)) // 3),
                what="both consumers writing the second half",
            )
        # The second consumer left mid-stream: the first takes its partitions back.
        await wait_until(
            lambda: stored_at_least(len(set(values))), timeout=60, what="all, no deadlock"
        )
        await wait_until(lambda: _true(assigned(one) == 3), what="the hand-back")
    await check_ledger(postgres_engine, values, faults=2, name="two consumers (join and leave)")


async def _true(value: bool) -> bool:
    return value
