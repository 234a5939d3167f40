"""runledger's lag metric against Kafka's own ``kafka-consumer-groups --describe``: equal
per partition while the consumer is behind (its sink cut) and once it has caught up."""

from __future__ import annotations

import asyncio

from consumer.metrics import Metrics
from consumer.sandbox.kafka_server import consumer_groups_describe
from sinks.postgres import PostgresSink

from support.events import example_lines
from support.kafka import keyed_by_run, produce
from support.pipelines import Flow, consuming, make_settings
from support.postgres import count_events, proxied_postgres
from support.waiting import wait_until


def _runledger_lag(metrics: Metrics, group: str, topic: str) -> dict[int, int]:
    lags = {}
    for partition in range(3):
        value = metrics.registry.get_sample_value(
            "runledger_consumer_lag_messages",
            {"sink": "postgres", "group": group, "topic": topic, "partition": str(partition)},
        )
        if value is not None:
            lags[partition] = int(value)
    return lags


async def _kafka_lag(bootstrap: str, group: str, topic: str) -> dict[int, int]:
    described = await asyncio.to_thread(consumer_groups_describe, bootstrap, group)
    return {partition: lag for (t, partition), lag in described.items() if t == topic}


async def test_lag_equals_kafkas_own_while_behind_and_once_caught_up(
    flow: Flow,
) -> None:
    lines = example_lines()
    first, second = (  # runs keyed to every partition, so each has a committed offset
        [line.replace(b"exec-1763134573643", f"run-{n}".encode()) for n in ns for line in lines]
        for ns in (range(8), range(8, 20))
    )
    settings = make_settings(flow.bootstrap, flow.topic, kafka={"max_batch_records": 10})
    group = settings.kafka.group_id("postgres")
    proxy, through_proxy = await proxied_postgres(flow.postgres)
    try:
        async with consuming(settings, [PostgresSink(through_proxy)]) as metrics:
            await produce(flow.bootstrap, flow.topic, keyed_by_run(first))

            async def first_written() -> bool:
                return await count_events(flow.engine) == len(first)

            await wait_until(first_written, what="the first run written")

            async def equal_to_kafka(behind: bool) -> bool:
                ours = _runledger_lag(metrics, group, flow.topic)
                if len(ours) < 3 or (sum(ours.values()) > 0) != behind:
                    return False
                theirs = await _kafka_lag(flow.bootstrap, group, flow.topic)
                print(f"lag per partition: runledger {ours}, kafka-consumer-groups {theirs}")
                return ours == theirs

            await wait_until(lambda: equal_to_kafka(False), timeout=60, what="both lags at 0")

            proxy.cut()
            await produce(flow.bootstrap, flow.topic, keyed_by_run(second))
            await wait_until(
                lambda: equal_to_kafka(True), timeout=90, what="equal lags while behind"
            )
            assert sum(_runledger_lag(metrics, group, flow.topic).values()) == len(second)

            proxy.restore()
            await wait_until(lambda: equal_to_kafka(False), timeout=90, what="equal lags at 0")
    finally:
        await proxy.stop()
