"""Both sinks agree with the reference state for any set of valid events, extreme values
included, in any order, duplication and batching (issue 12: "an event is valid or invalid
on its own, for every sink alike"), with the graph on FalkorDB and on Neo4j.

The events reach the contract's bounds (``strategies.run_events``): the earliest and
latest instants, attempts and counts at 2^31 - 1, durations at 2^53 - 1, unicode and
injection-shaped ids. Each sink gets its own random permutation, duplication and
batching; both must hold exactly what ``sinks.state`` derives from the set.
"""

from __future__ import annotations

import random
from collections.abc import AsyncIterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from consumer.operations.reconcile import compare, reference_snapshots
from sinks.graph import GraphSink
from sinks.graph.settings import GraphSettings
from sinks.postgres import PostgresSink
from sinks.postgres.settings import PostgresSettings

from support.events import event, sink_records
from support.graph import clear_graph
from support.pipelines import started
from support.postgres import clear_ledger
from support.strategies import replay, several_runs, sink_examples


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
