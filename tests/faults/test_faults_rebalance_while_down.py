"""A rebalance while the sink is down: aiokafka resets pauses on assignment, so the pipeline
must pause its new partitions at once, stay paused until the sink answers, abandon the batch
it was backing off with uncommitted, and end exactly at the reference state."""

from __future__ import annotations

import asyncio
import contextlib

from aiokafka import TopicPartition

from consumer.metrics import Metrics
from consumer.pipeline import SinkPipeline
from sinks.postgres import PostgresSink

from support.events import valid_stream
from support.kafka import create_topic, keyed_by_run, produce
from support.pipelines import Flow, consuming, hand_wired, make_settings, metric
from support.postgres import proxied_postgres, wait_for_events
from support.reference import check_ledger
from support.waiting import wait_until

SINK = "postgres"


class WatchedPipeline(SinkPipeline):
    """The real pipeline, noting whether each new assignment was paused by the listener."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.assignments: list[tuple[frozenset[TopicPartition], bool]] = []

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        await super().on_partitions_assigned(assigned)
        paused = set(self._consumer.paused())
        self.assignments.append((frozenset(assigned), set(assigned) <= paused))


async def test_partitions_assigned_while_the_sink_is_down_stay_paused(
    flow: Flow,
) -> None:
    values = valid_stream(runs=90, seed=53)
    first, second = values[: len(values) // 3], values[len(values) // 3 :]
    proxy, proxied = await proxied_postgres(flow.postgres)
    settings = make_settings(flow.bootstrap, flow.topic, kafka={"max_batch_records": 40})
    await create_topic(flow.bootstrap, settings.dead_letter_topic)
    metrics = Metrics()
    sink = PostgresSink(proxied)
    wiring = hand_wired(settings, sink, metrics=metrics, pipeline_type=WatchedPipeline)
    try:
        async with wiring as (watched, consumer):
            assert isinstance(watched, WatchedPipeline)
            pipeline = watched
            task = asyncio.create_task(pipeline.run())

            try:
                await produce(flow.bootstrap, flow.topic, keyed_by_run(first))
                await wait_for_events(flow.engine, len(set(first)))
                # (Kafka may assign before the sink has started, when the listener pauses: it is
                # resumed as soon as the sink is up.)
                assert len(pipeline.assignments) == 1
                assert not consumer.paused(), "sink up: not paused"

                proxy.cut()
                await produce(flow.bootstrap, flow.topic, keyed_by_run(second))
                await wait_until(
                    lambda: _true(
                        metric(metrics, "runledger_sink_retries_total", sink="postgres") >= 3
                    ),
                    what="the pipeline backing off",
                )
                # A second member joins the group (its sink is up): the partitions are dealt again.
                async with consuming(settings, [PostgresSink(flow.postgres)]) as other:
                    await wait_until(
                        lambda: _true(len(pipeline.assignments) >= 2), what="the first rebalance"
                    )
                    await wait_until(
                        lambda: _true(_assigned(other) > 0),
                        what="the second member to hold partitions",
                    )
                # It left again: every partition comes back to the pipeline whose sink is down.
                await wait_until(
                    lambda: _true(
                        len(pipeline.assignments) >= 3 and len(consumer.assignment()) == 3
                    ),
                    what="the partitions handed back",
                )
                assert all(paused for _, paused in pipeline.assignments[1:]), pipeline.assignments
                assert set(consumer.paused()) >= consumer.assignment()
                assert metric(metrics, "runledger_sink_up", sink="postgres") == 0

                proxy.restore()
                await wait_for_events(flow.engine, len(set(values)), 60)
                assert not consumer.paused()
            finally:
                pipeline.stop()
                with contextlib.suppress(asyncio.CancelledError):
                    await asyncio.wait_for(task, timeout=30)
    finally:
        await proxy.stop()
    await check_ledger(flow.engine, values, faults=3, name="rebalance while the sink is down")


def _assigned(metrics: Metrics) -> float:
    value = metrics.registry.get_sample_value("runledger_assigned_partitions", {"sink": "postgres"})
    return value or 0.0  # not exported before the pipeline exists


async def _true(value: bool) -> bool:
    return value
