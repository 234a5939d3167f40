"""Two writers at once on the same runs, through the real pipelines: two consumers of one
group, every run's events spread over all partitions (random keys), so each consumer
writes parents and children, many runs of one plan, and results that race their starts.

Each sink must end exactly where one writer alone ends (the reference), with no dead
letter; the transient conflicts the engines report (deadlocks, uniqueness races) are
retried, counted and printed."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from consumer.metrics import Metrics
from sinks.base import Sink
from sinks.graph import GraphSink
from sinks.graph.settings import GraphSettings
from sinks.postgres import PostgresSink

from support.events import event_ids, sink_records, valid_stream
from support.graph import clear_graph, count_graph_events, read_graph
from support.kafka import keyed_at_random, produce
from support.pipelines import Flow, consuming, make_settings, metric
from support.postgres import count_events
from support.reference import check_ledger
from support.waiting import wait_until


async def _two_consumers(
    bootstrap: str,
    topic: str,
    values: Sequence[bytes],
    sink: Callable[[], Sink],
    done: Callable[[], Awaitable[bool]],
) -> tuple[Metrics, Metrics]:
    """Both consumers hold partitions before anything is published; wait for ``done``."""
    settings = make_settings(bootstrap, topic, kafka={"max_batch_records": 20})
    one, two = Metrics(), Metrics()
    name = sink().name
    async with consuming(settings, [sink()], one), consuming(settings, [sink()], two):

        async def both_hold_partitions() -> bool:
            held = [metric(m, "runledger_assigned_partitions", 0.0, sink=name) for m in (one, two)]
            return min(held) >= 1 and sum(held) == 3

        await wait_until(both_hold_partitions, what="both consumers to hold partitions")
        await produce(bootstrap, topic, keyed_at_random(values, seed=5))
        await wait_until(done, timeout=120, what="every event written")
    return one, two


def _report(name: str, one: Metrics, two: Metrics, sink: str) -> None:
    retries = sum(metric(m, "runledger_sink_retries_total", 0.0, sink=sink) for m in (one, two))
    written = [
        sum(
            metric(m, "runledger_messages_total", 0.0, sink=sink, type=t, outcome="written")
            for t in ("run-start", "task-start", "task-result", "run-finalized")
        )
        for m in (one, two)
    ]
    dead = sum(metric(m, "runledger_dead_letters_total", 0.0, sink=sink, stage=s)
               for m in (one, two) for s in ("decode", "validate", "sink"))  # fmt: skip
    print(f"{name}: events written by each consumer {written}, retries {retries:.0f}, "
          f"dead letters {dead:.0f}")  # fmt: skip
    assert min(written) > 0, "one consumer wrote nothing: no concurrency was tested"
    assert dead == 0


async def test_two_writers_on_neo4j_end_as_one_writer_alone(
    kafka_bootstrap: str, topic: str, neo4j_graph: GraphSettings
) -> None:
    values = valid_stream(runs=120, seed=41, duplicate_rate=0.03)
    distinct = len(event_ids(values))

    alone = GraphSink(neo4j_graph)
    await alone.start()
    try:
        records = sink_records(values, topic)
        for start in range(0, len(records), 50):
            await alone.write(records[start : start + 50])
        reference = await read_graph(alone)
        await clear_graph(alone)

        async def all_events() -> bool:
            return await count_graph_events(alone) == distinct

        one, two = await _two_consumers(
            kafka_bootstrap, topic, values, lambda: GraphSink(neo4j_graph), all_events
        )
        assert await read_graph(alone) == reference
    finally:
        await alone.close()
    _report("two writers, Neo4j", one, two, "graph")


async def test_two_writers_on_postgres_end_as_the_reference(
    flow: Flow,
) -> None:
    values = valid_stream(runs=120, seed=43, duplicate_rate=0.03)
    distinct = len(event_ids(values))

    async def all_events() -> bool:
        return await count_events(flow.engine) == distinct

    one, two = await _two_consumers(
        flow.bootstrap, flow.topic, values, lambda: PostgresSink(flow.postgres), all_events
    )
    await check_ledger(flow.engine, values, faults=0, name="two writers, PostgreSQL")
    _report("two writers, PostgreSQL", one, two, "postgres")
