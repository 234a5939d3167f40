"""Identity and locality of the graph's writes, on both engines.

A task execution is (runId, taskId), not the seed-compatible ``<run_id>-<task_id>`` id,
which two runs can share; and a batch touches only the part of a run's event chain its
new events fall into, whatever the length of the run."""

from __future__ import annotations

from typing import Any

from sinks.base import SinkRecord
from sinks.graph import GraphSink
from sinks.graph.neo4j_engine import Neo4jEngine

from support.events import event, sink_records
from support.graph import clear_graph, event_chain, query, read_graph


def _colliding() -> list[SinkRecord]:
    """Run ``a-b`` task ``c`` fails; run ``a`` task ``b-c`` succeeds: both ids are ``a-b-c``."""
    return sink_records([
        event("task-start", "a-b", 1, task_id="c", title="of a-b"),
        event("task-result", "a-b", 2, task_id="c", status="failure", error="boom"),
        event("task-start", "a", 3, task_id="b-c", title="of a"),
        event("task-result", "a", 4, task_id="b-c", status="success",
              tokens={"input": 10, "output": 5}),
    ])  # fmt: skip


async def _tasks_by_run(sink: GraphSink) -> dict[str, Any]:
    rows = await query(
        sink,
        "MATCH (r:Run)-[:HAS_TASK_EXECUTION]->(t:TaskExecution) "
        "RETURN r.id, t.taskId, t.id, t.status, t.title, r.status, r.tasksFailed, r.tokensTotal "
        "ORDER BY r.id",
    )
    return {row[0]: row[1:] for row in rows}


EXPECTED = {
    "a": ["b-c", "a-b-c", "success", "of a", "running", 0, 15],
    "a-b": ["c", "a-b-c", "failure", "of a-b", "failed", 1, 0],
}


async def test_two_runs_whose_task_ids_collide_stay_apart_in_separate_batches(
    graph_sink: GraphSink,
) -> None:
    records = _colliding()
    await graph_sink.write(records[:2])
    await graph_sink.write(records[2:])
    assert await _tasks_by_run(graph_sink) == EXPECTED
    assert await query(graph_sink, "MATCH (t:TaskExecution) RETURN count(t)") == [[2]]
    failed = "MATCH (r:Run)-[:FAILED_TASK]->(t) RETURN r.id, t.taskId"
    assert await query(graph_sink, failed) == [["a-b", "c"]]


async def test_two_runs_whose_task_ids_collide_stay_apart_in_one_batch(
    graph_sink: GraphSink,
) -> None:
    result = await graph_sink.write(_colliding())
    assert result.duplicate_event_ids == frozenset()
    assert await _tasks_by_run(graph_sink) == EXPECTED
    attempts = "MATCH (a:TaskAttempt) RETURN a.runId, a.taskId, a.status ORDER BY a.runId"
    assert await query(graph_sink, attempts) == [["a", "b-c", "success"], ["a-b", "c", "failure"]]


async def test_an_appended_event_relinks_the_chain_in_place(graph_sink: GraphSink) -> None:
    run = "long-run"
    records = sink_records(event("task-start", run, n, task_id=f"t{n}") for n in range(1, 201))
    for start in range(0, 200, 50):
        await graph_sink.write(records[start : start + 50])
    before = await _next_links(graph_sink, run)

    late, early = sink_records([event("run-finalized", run, 500), event("run-start", run, 0)])
    await graph_sink.write([late])
    after_late = await _next_links(graph_sink, run)
    assert before <= after_late, "a link the new event does not touch was rewritten"
    assert len(after_late - before) == 1

    await graph_sink.write([early])  # before every stored event: a new head, one new link
    after_early = await _next_links(graph_sink, run)
    assert after_late <= after_early
    assert len(after_early - after_late) == 1
    chain = await event_chain(graph_sink, run)
    assert chain == [f"{run}/e{n:04d}" for n in (0, *range(1, 201), 500)]


async def _next_links(sink: GraphSink, run_id: str) -> set[Any]:
    """Identities of the NEXT relationships of a run's chain."""
    identity = "elementId" if isinstance(sink.engine, Neo4jEngine) else "id"
    rows = await query(
        sink, f"MATCH (e:Event {{runId: $run}})-[n:NEXT]->() RETURN {identity}(n)", run=run_id
    )
    return {row[0] for row in rows}


async def test_a_parent_or_plan_that_loses_leaves_nothing_behind(graph_sink: GraphSink) -> None:
    """The run-start's parent and plan win over those a task-start repeats, in any order."""
    start, run_start = sink_records([
        event("task-start", "kid", 2, task_id="t", parent_run_id="p2", plan_id="x2"),
        event("run-start", "kid", 1, parent_run_id="p1", plan_id="x1"),
    ])  # fmt: skip
    await graph_sink.write([start])
    await graph_sink.write([run_start])
    apart = await read_graph(graph_sink)
    await clear_graph(graph_sink)
    await graph_sink.write([start, run_start])
    together = await read_graph(graph_sink)
    assert apart == together
    assert "Run:p2" not in apart["nodes"]
    assert "Plan:x2" not in apart["nodes"]
    assert ("kid", "CHILD_OF", "p1") in apart["relationships"]
    assert ("kid", "EXECUTES_PLAN", "x1") in apart["relationships"]
