"""Two writers at once on the same runs, through the real pipelines: two consumers of one
group, every run's events spread over all partitions (random keys), so each consumer
writes parents and children, many runs of one plan, and results that race their starts.

Each sink must end exactly where one writer alone ends (the reference), with no dead
letter; the transient conflicts the engines report (deadlocks, uniqueness races) are
retried, counted and printed."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from sqlalchemy.ext.asyncio import AsyncEngine

from consumer.metrics import Metrics
from consumer.sandbox.stream import generate
from contracts import DecodeError, decode_event
from sinks.base import Sink, SinkRecord
from sinks.graph import GraphSink
from sinks.graph.settings import GraphSettings
from sinks.postgres import PostgresSink
from sinks.postgres.settings import PostgresSettings

from delivery_support import check_ledger, keyed_at_random, produce_records
from graph_reading import read_graph
from support import consuming, count_events, graph_query, make_settings, wait_until


def _valid_events(runs: int, seed: int) -> list[bytes]:
    """A generated stream with parents and children, shared plans and duplicates."""
    valid = []
    for value in generate(runs, seed, poison=0).events:
        try:
            decode_event(value)
        except DecodeError:
            continue
        valid.append(value)
    return valid


def _sample(metrics: Metrics, name: str, sink: str, **labels: str) -> float:
    value = metrics.registry.get_sample_value(name, {"sink": sink, **labels})
    return value or 0.0


async def _two_consumers(
    bootstrap: str, topic: str, values: Sequence[bytes], sink: Callable[[], Sink], done: Callable
) -> tuple[Metrics, Metrics]:
    """Both consumers hold partitions before anything is published; wait for ``done``."""
    settings = make_settings(bootstrap, topic, kafka={"max_batch_records": 20})
    one, two = Metrics(), Metrics()
    name = sink().name
    async with consuming(settings, [sink()], one), consuming(settings, [sink()], two):

        async def both_hold_partitions() -> bool:
            held = [_sample(m, "runledger_assigned_partitions", name) for m in (one, two)]
            return min(held) >= 1 and sum(held) == 3

        await wait_until(both_hold_partitions, what="both consumers to hold partitions")
        await produce_records(bootstrap, topic, keyed_at_random(values, seed=5))
        await wait_until(done, timeout=120, what="every event written")
    return one, two


def _report(name: str, one: Metrics, two: Metrics, sink: str) -> None:
    retries = sum(_sample(m, "runledger_sink_retries_total", sink) for m in (one, two))
    written = [
        sum(
            _sample(m, "runledger_messages_total", sink, type=t, outcome="written")
            for t in ("run-start", "task-start", "task-result", "run-finalized")
        )
        for m in (one, two)
    ]
    dead = sum(_sample(m, "runledger_dead_letters_total", sink, stage=s)
               for m in (one, two) for s in ("decode", "validate", "sink"))  # fmt: skip
    print(f"{name}: events written by each consumer {written}, retries {retries:.0f}, "
          f"dead letters {dead:.0f}")  # fmt: skip
    assert min(written) > 0, "one consumer wrote nothing: no concurrency was tested"
    assert dead == 0


async def test_two_writers_on_neo4j_end_as_one_writer_alone(
    kafka_bootstrap: str, topic: str, neo4j_graph: GraphSettings
) -> None:
    values = _valid_events(runs=120, seed=41)
    event_ids = {decode_event(v).event_id for v in values}

    alone = GraphSink(neo4j_graph)
    await alone.start()
    try:
        records = [SinkRecord(decode_event(v), v, topic, 0, i) for i, v in enumerate(values)]
        for start in range(0, len(records), 50):
            await alone.write(records[start : start + 50])
        reference = await read_graph(alone)
        await graph_query(alone, "MATCH (n) DETACH DELETE n", write=True)

        async def all_events() -> bool:
            rows = await graph_query(alone, "MATCH (e:Event) RETURN count(e)")
            return rows[0][0] == len(event_ids)

        one, two = await _two_consumers(
            kafka_bootstrap, topic, values, lambda: GraphSink(neo4j_graph), all_events
        )
        assert await read_graph(alone) == reference
    finally:
        await alone.close()
    _report("two writers, Neo4j", one, two, "graph")


async def test_two_writers_on_postgres_end_as_the_reference(
    kafka_bootstrap: str,
    topic: str,
    postgres_settings: PostgresSettings,
    postgres_engine: AsyncEngine,
) -> None:
    values = _valid_events(runs=120, seed=43)
    event_ids = {decode_event(v).event_id for v in values}

    async def all_events() -> bool:
        return await count_events(postgres_engine) == len(event_ids)

    one, two = await _two_consumers(
        kafka_bootstrap, topic, values, lambda: PostgresSink(postgres_settings), all_events
    )
    await check_ledger(postgres_engine, values, faults=0, name="two writers, PostgreSQL")
    _report("two writers, PostgreSQL", one, two, "postgres")
