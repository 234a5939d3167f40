"""A restarted consumer resumes from its committed offsets: nothing re-read, nothing lost."""

from __future__ import annotations

from consumer.metrics import EVENT_TYPES, Metrics
from sinks.postgres import PostgresSink

from support.events import example_lines
from support.kafka import keyed_by_run, produce
from support.pipelines import Flow, consuming, make_settings
from support.postgres import wait_for_events
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
    flow: Flow,
) -> None:
    lines = example_lines()
    first, second = lines[:6], lines[6:]
    settings = make_settings(flow.bootstrap, flow.topic)
    await produce(flow.bootstrap, flow.topic, keyed_by_run(first))

    async with consuming(settings, [PostgresSink(flow.postgres)]):
        await wait_for_events(flow.engine, len(first))

    await produce(flow.bootstrap, flow.topic, keyed_by_run(second))
    async with consuming(settings, [PostgresSink(flow.postgres)]) as metrics:
        await wait_for_events(flow.engine, len(lines))

        async def counted() -> bool:
            return _total(metrics, "written") == len(second)

        await wait_until(counted, what="the second half to be counted")
        assert _total(metrics, "duplicate") == 0, "records before the commit were read again"
