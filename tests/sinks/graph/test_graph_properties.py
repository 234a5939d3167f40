"""The graph is a function of the set of events: any order, duplication and batching.

Runs on real FalkorDB and Neo4j, and checks the graph against the reference model
(``sinks.state``) as well as against itself.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from sinks.base import SinkRecord
from sinks.graph import GraphSink
from sinks.state import fold, summarize_run, task_totals

from support.events import sink_records
from support.graph import GraphState, clear_graph, event_chain, query, read_graph
from support.strategies import batch_cuts, replay, run_events, sink_examples

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _ms(value: datetime | None) -> int | None:
    return None if value is None else round((value - _EPOCH).total_seconds() * 1000)


async def _assert_matches_reference(
    sink: GraphSink, graph: GraphState, records: list[SinkRecord]
) -> None:
    ledger = fold(r.event for r in records)
    nodes = graph["nodes"]
    for run_id, facts in ledger.runs.items():
        summary = summarize_run(facts, task_totals(ledger.tasks_of(run_id)))
        run = nodes[f"Run:{run_id}"]
        assert run["status"] == summary.status
        assert run.get("startTime") == _ms(summary.started_at)
        assert run.get("endTime") == _ms(summary.ended_at)
        assert run.get("duration") == summary.duration_ms
        for prop, value in {
            "tasksTotal": summary.tasks_total,
            "tasksSuccessful": summary.tasks_successful,
            "tasksFailed": summary.tasks_failed,
            "tasksRunning": summary.tasks_running,
            "tasksWaiting": summary.tasks_waiting,
            "tokensInput": summary.tokens_input,
            "tokensOutput": summary.tokens_output,
            "tokensTotal": summary.tokens_total,
            "toolCalls": summary.tool_calls,
        }.items():
            assert run[prop] == value, prop
        ordered = sorted(
            (r.event for r in records if r.event.run_id == run_id),
            key=lambda e: (e.occurred_at, e.event_id),
        )
        expected_chain = list(dict.fromkeys(e.event_id for e in ordered))
        assert await event_chain(sink, run_id) == expected_chain

    current: dict[str, tuple[int, str]] = {}
    for key, state in ledger.tasks.items():
        te_id = f"{key.run_id}-{key.task_id}"
        assert nodes[f"TaskAttempt:{te_id}-{key.attempt}"]["status"] == state.status
        if te_id not in current or key.attempt > current[te_id][0]:
            current[te_id] = (key.attempt, state.status)
    assert {
        k.split(":", 1)[1]: (v["attemptNumber"], v["status"])
        for k, v in nodes.items()
        if k.startswith("TaskExecution:")
    } == current
    failed = await query(sink, "MATCH (:Run)-[:FAILED_TASK]->(t) RETURN t.id ORDER BY t.id")
    assert [row[0] for row in failed] == sorted(
        te for te, (_, status) in current.items() if status == "failure"
    )


def _with_twins(runs: list[list[dict[str, Any]]]) -> st.SearchStrategy[list[dict[str, Any]]]:
    """The runs' events, plus conflicting twins: same facts re-sent under a new event id,
    at another time and with other values, so every merge group has rivals to beat."""
    events = [
        {**e, "run_id": f"r{i}", "event_id": f"r{i}-{e['event_id']}"}
        for i, run in enumerate(runs)
        for e in run
    ]
    if not events:
        return st.just(events)
    twin = st.fixed_dictionaries(
        {
            "occurred_at": st.sampled_from([e["occurred_at"] for e in events]),
            "title": st.sampled_from(["twin", "other"]),
        }
    )
    return st.lists(st.tuples(st.sampled_from(events), twin), max_size=4).map(
        lambda twins: (
            events
            + [
                {**e, **changes, "event_id": f"{e['event_id']}-twin{n}"}
                for n, (e, changes) in enumerate(twins)
            ]
        )
    )


@sink_examples(30)
@given(
    st.lists(run_events(), min_size=1, max_size=3).flatmap(_with_twins),
    st.randoms(use_true_random=False),
    batch_cuts,
)
async def test_any_permutation_duplication_and_batching_give_the_same_graph(
    graph_sink: GraphSink,
    events: list[dict[str, object]],
    rnd: random.Random,
    cuts: list[int],
) -> None:
    records = sink_records(events)
    await clear_graph(graph_sink)
    await graph_sink.write(records)
    canonical = await read_graph(graph_sink)

    await clear_graph(graph_sink)
    await replay(graph_sink, records, rnd, cuts)
    assert await read_graph(graph_sink) == canonical

    await _assert_matches_reference(graph_sink, canonical, records)
