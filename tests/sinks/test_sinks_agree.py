"""Both sinks agree with the reference state for any set of valid events, extreme values
included, in any order, duplication and batching (issue 12: "an event is valid or invalid
on its own, for every sink alike"), with the graph on FalkorDB and on Neo4j.

The events reach the contract's bounds (``strategies.run_events``): the earliest and
latest instants, attempts and counts at 2^31 - 1, durations at 2^53 - 1, unicode and
injection-shaped ids. Each sink gets its own random permutation, duplication and
batching; both must hold exactly what ``sinks.state`` derives from the set. Events
re-sent as other versions of the same id, in any batch, leave exactly the state of the
versions the rule keeps (``contracts.canonical``).
"""

from __future__ import annotations

import itertools
import random
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from consumer.duplicates import deduplicate
from consumer.operations.reconcile import compare, reference_snapshots
from contracts import canonical
from sinks.base import Sink, SinkRecord
from sinks.graph import GraphSink
from sinks.graph.settings import GraphSettings
from sinks.postgres import PostgresSink
from sinks.postgres.settings import PostgresSettings

from support.events import sink_records
from support.graph import clear_graph
from support.pipelines import started
from support.postgres import clear_ledger
from support.strategies import BASE_TIME, replay, several_runs, sink_examples


@pytest.fixture
async def sinks(
    postgres_settings: PostgresSettings, graph_settings: GraphSettings
) -> AsyncIterator[tuple[PostgresSink, GraphSink]]:
    async with (
        started(PostgresSink(postgres_settings)) as postgres,
        started(GraphSink(graph_settings)) as graph,
    ):
        yield postgres, graph


async def _reset(postgres: PostgresSink, graph: GraphSink) -> None:
    await clear_ledger(postgres.engine)
    await clear_graph(graph)


@sink_examples(30)
@given(
    several_runs(),
    st.randoms(use_true_random=False),
)
async def test_both_sinks_hold_the_reference_state(
    sinks: tuple[PostgresSink, GraphSink],
    events: list[dict[str, object]],
    rnd: random.Random,
) -> None:
    postgres, graph = sinks
    records = sink_records(events)
    await _reset(postgres, graph)
    await replay(postgres, records, rnd)
    await replay(graph, records, rnd)

    report = compare({
        "reference": reference_snapshots(r.event for r in records),
        "postgres": await postgres.run_snapshots(),
        "graph": await graph.run_snapshots(),
    })  # fmt: skip
    assert report.in_sync, report.drifts[:3]


def _twin(event: dict[str, object], how: int) -> dict[str, object]:
    """Another version of the event: the same id, naming another run, time or producer."""
    if how == 0:
        return {**event, "run_id": f"{event['run_id']}-twin"}
    if how == 1:
        return {**event, "producer": "twin"}
    return {**event, "occurred_at": (BASE_TIME + timedelta(milliseconds=how * 7)).isoformat()}


def _winners(records: list[SinkRecord]) -> list[SinkRecord]:
    """Per event id, the version whose canonical JSON sorts first (the rule)."""
    best: dict[str, SinkRecord] = {}
    for record in records:
        kept = best.get(record.event.event_id)
        if kept is None or canonical(record.event) < canonical(kept.event):
            best[record.event.event_id] = record
    return list(best.values())


async def _deliver_as_the_pipeline(
    sink: Sink, records: list[SinkRecord], rnd: random.Random
) -> None:
    """Random batches, each reduced to one version per event id as the pipeline does."""
    shuffled = records + rnd.sample(records, k=len(records) // 3)
    rnd.shuffle(shuffled)
    cuts = sorted(rnd.randrange(len(shuffled) + 1) for _ in range(rnd.randrange(1, 5)))
    for start, end in itertools.pairwise([0, *cuts, len(shuffled)]):
        await sink.write(deduplicate(shuffled[start:end]).records)


@sink_examples(20)
@given(
    several_runs(max_runs=2),
    st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 3)), min_size=1, max_size=4),
    st.randoms(use_true_random=False),
)
async def test_conflicting_versions_across_batches_end_as_their_winners_alone(
    sinks: tuple[PostgresSink, GraphSink],
    events: list[dict[str, object]],
    twins: list[tuple[int, int]],
    rnd: random.Random,
) -> None:
    """Events re-sent as other versions (another run, another time), every version in
    any batch: each sink holds exactly the state of the winners, nothing of a loser."""
    assume(events)
    postgres, graph = sinks
    versions = events + [_twin(events[i % len(events)], how) for i, how in twins]
    records = sink_records(versions)
    await _reset(postgres, graph)
    await _deliver_as_the_pipeline(postgres, records, rnd)
    await _deliver_as_the_pipeline(graph, records, rnd)

    report = compare({
        "reference": reference_snapshots(r.event for r in _winners(records)),
        "postgres": await postgres.run_snapshots(),
        "graph": await graph.run_snapshots(),
    })  # fmt: skip
    assert report.in_sync, report.drifts[:3]
