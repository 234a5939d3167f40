"""Every duplicate is counted as a duplicate, also when both copies arrive in one batch
(issue 14, item 8: after the demo's 77 duplicates, ``outcome="duplicate"`` read 0)."""

from __future__ import annotations

import json

from consumer.metrics import Metrics
from contracts import EVENT_TYPES
from sinks.base import Sink
from sinks.graph import GraphSink
from sinks.graph.settings import GraphSettings
from sinks.postgres import PostgresSink
from sinks.postgres.settings import PostgresSettings

from support.events import valid_stream
from support.kafka import committed_offsets, end_offsets, keyed_by_run, produce
from support.pipelines import consuming, make_settings, metric
from support.waiting import wait_until


def _counted(metrics: Metrics, sink: str, outcome: str) -> int:
    return sum(
        int(metric(metrics, "runledger_messages_total", sink=sink, type=t, outcome=outcome))
        for t in EVENT_TYPES
    )


async def test_duplicates_in_one_batch_are_counted_as_duplicates(
    kafka_bootstrap: str,
    topic: str,
    postgres_settings: PostgresSettings,
    graph_settings: GraphSettings,
) -> None:
    values = valid_stream(runs=12, seed=91, duplicate_rate=0.3)  # copies right after
    unique = {json.loads(v)["event_id"] for v in values}
    duplicates = len(values) - len(unique)
    assert duplicates > 10
    acks = await produce(kafka_bootstrap, topic, keyed_by_run(values))
    settings = make_settings(kafka_bootstrap, topic)  # all published first: large batches
    metrics = Metrics()
    sinks: list[Sink] = [PostgresSink(postgres_settings), GraphSink(graph_settings)]
    async with consuming(settings, sinks, metrics):
        for sink in ("postgres", "graph"):
            group = settings.kafka.group_id(sink)

            async def done(group: str = group) -> bool:
                return await committed_offsets(kafka_bootstrap, group, topic) == end_offsets(acks)

            await wait_until(done, what=f"{sink} committed every record")
    for sink in ("postgres", "graph"):
        assert _counted(metrics, sink, "duplicate") == duplicates, sink
        assert _counted(metrics, sink, "written") == len(unique), sink
