"""Two consumers in one group, each run's events spread over every partition (random keys),
one joining and then leaving mid-stream: the ledger is exact and nothing deadlocks."""

from __future__ import annotations

from consumer.metrics import Metrics
from sinks.postgres import PostgresSink

from support.events import valid_stream
from support.kafka import keyed_at_random, produce
from support.pipelines import Flow, consuming, make_settings
from support.postgres import wait_for_events
from support.reference import check_ledger
from support.waiting import wait_until


async def test_two_consumers_of_one_group_share_runs_without_deadlock(
    flow: Flow,
) -> None:
    values = valid_stream(runs=150, seed=31)
    first, second = values[: len(values) // 2], values[len(values) // 2 :]
    settings = make_settings(flow.bootstrap, flow.topic, kafka={"max_batch_records": 25})
    one, two = Metrics(), Metrics()

    def assigned(metrics: Metrics) -> float:
        value = metrics.registry.get_sample_value(
            "runledger_assigned_partitions", {"sink": "postgres"}
        )
        return value or 0.0  # not exported before the pipeline exists

    async with consuming(settings, [PostgresSink(flow.postgres)], one):
        await wait_until(lambda: _true(assigned(one) == 3), what="the first consumer to join")
        await produce(flow.bootstrap, flow.topic, keyed_at_random(first, seed=1))
        # The second one joins while the first is consuming: a rebalance mid-stream.
        async with consuming(settings, [PostgresSink(flow.postgres)], two):

            async def shared() -> bool:
                return assigned(one) >= 1 and assigned(two) >= 1

            await wait_until(shared, what="both consumers to hold partitions")
            assert assigned(one) + assigned(two) == 3
            await produce(flow.bootstrap, flow.topic, keyed_at_random(second, seed=2))
            await wait_for_events(
                flow.engine, len(set(first)) + len(set(second)) // 3, at_least=True
            )
        # The second consumer left mid-stream: the first takes its partitions back.
        await wait_for_events(flow.engine, len(set(values)), 60, at_least=True)
        await wait_until(lambda: _true(assigned(one) == 3), what="the hand-back")
    await check_ledger(flow.engine, values, faults=2, name="two consumers (join and leave)")


async def _true(value: bool) -> bool:
    return value
