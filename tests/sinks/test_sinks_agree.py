"""Both sinks agree with the reference state for any set of valid events, extreme values
included, in any order, duplication and batching (issue 12: "an event is valid or invalid
on its own, for every sink alike"), with the graph on FalkorDB and on Neo4j.

The events reach the contract's bounds (``strategies.run_events``): the earliest and
latest instants, attempts and counts at 2^31 - 1, durations at 2^53 - 1, unicode and
injection-shaped ids. Each sink gets its own random permutation, duplication and
batching; both must hold exactly what ``sinks.state`` derives from the set.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import AsyncIterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from consumer.reconcile import compare, reference_snapshots
from sinks.base import Sink, SinkRecord
from sinks.graph import GraphSink
from sinks.graph.settings import GraphSettings
from sinks.postgres import PostgresSink
from sinks.postgres.settings import PostgresSettings

from support.events import event, sink_records
from support.graph import clear_graph
from support.strategies import run_events


@pytest.fixture
async def sinks(
    postgres_settings: PostgresSettings, graph_settings: GraphSettings
) -> AsyncIterator[tuple[PostgresSink, GraphSink]]:
    postgres, graph = PostgresSink(postgres_settings), GraphSink(graph_settings)
    await postgres.start()
    await graph.start()
    yield postgres, graph
    await postgres.close()
    await graph.close()


async def _reset(postgres: PostgresSink, graph: GraphSink) -> None:
    async with postgres.engine.begin() as conn:
        await conn.execute(text("TRUNCATE runs, task_executions, run_events"))
    await clear_graph(graph)


async def _deliver(sink: Sink, records: list[SinkRecord], rnd: random.Random) -> None:
    """A random permutation with duplicates, cut into random batches."""
    replayed = records + rnd.sample(records, k=len(records) // 2)
    rnd.shuffle(replayed)
    cuts = sorted(rnd.randrange(len(replayed) + 1) for _ in range(rnd.randrange(4)))
    for start, end in itertools.pairwise([0, *cuts, len(replayed)]):
        await sink.write(replayed[start:end])


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    st.lists(run_events(), min_size=1, max_size=3).map(
        lambda runs: [
            {**e, "run_id": f"r{i}", "event_id": f"r{i}-{e['event_id']}"}
            for i, run in enumerate(runs)
            for e in run
        ]
    ),
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
    await _deliver(postgres, records, rnd)
    await _deliver(graph, records, rnd)

    report = compare({
        "reference": reference_snapshots(r.event for r in records),
        "postgres": await postgres.run_snapshots(),
        "graph": await graph.run_snapshots(),
    })  # fmt: skip
    assert report.in_sync, report.drifts[:3]


async def test_a_conflicting_version_in_a_later_batch_leaves_no_trace(
    sinks: tuple[PostgresSink, GraphSink],
) -> None:
    """The same event id re-sent with other content, in a later batch, naming another run:
    no sink creates that run or changes anything (PostgreSQL used to add a phantom
    ``pending`` run row for it)."""
    postgres, graph = sinks
    await _reset(postgres, graph)
    kept, other = sink_records([
        event("task-start", "run-kept", event_id="e-1", task_id="t", title="kept"),
        event("task-start", "run-phantom", event_id="e-1", task_id="t", title="other"),
    ])  # fmt: skip
    for sink in (postgres, graph):
        await sink.write([kept])
        assert (await sink.write([other])).duplicate_event_ids == {"e-1"}
    expected = reference_snapshots([kept.event])
    for snapshots in (await postgres.run_snapshots(), await graph.run_snapshots()):
        assert snapshots == expected
