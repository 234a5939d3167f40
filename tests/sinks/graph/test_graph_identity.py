"""Identity and locality of the graph's writes, on both engines.

A task execution is (runId, taskId), not the seed-compatible ``<run_id>-<task_id>`` id,
which two runs can share; and a batch touches only the part of a run's event chain its
new events fall into, whatever the length of the run."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from contracts import decode_event
from sinks.base import SinkRecord
from sinks.graph import GraphSink
from sinks.graph.neo4j_engine import Neo4jEngine

from graph_reading import event_chain, query, read_graph
from support import graph_query

_T0 = datetime(2025, 11, 14, 15, 0, tzinfo=UTC)


def _event(run_id: str, n: int, **fields: Any) -> SinkRecord:
    body = {
        "schema_version": 1,
        "event_id": f"{run_id}/e{n:04d}",
        "run_id": run_id,
        "occurred_at": (_T0 + timedelta(seconds=n)).isoformat(),
        **fields,
    }
    value = json.dumps(body).encode()
    return SinkRecord(decode_event(value), value, "t", 0, n)


def _colliding() -> list[SinkRecord]:
    """Run ``a-b`` task ``c`` fails; run ``a`` task ``b-c`` succeeds: both ids are ``a-b-c``."""
    return [
        _event("a-b", 1, type="task-start", task_id="c", title="of a-b"),
        _event("a-b", 2, type="task-result", task_id="c", status="failure", error="boom"),
        _event("a", 3, type="task-start", task_id="b-c", title="of a"),
        _event("a", 4, type="task-result", task_id="b-c", status="success",
               tokens={"input": 10, "output": 5}),
    ]  # fmt: skip


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
    records = [_event(run, n, type="task-start", task_id=f"t{n}") for n in range(1, 201)]
    for start in range(0, 200, 50):
        await graph_sink.write(records[start : start + 50])
    before = await _next_links(graph_sink, run)

    late, early = _event(run, 500, type="run-finalized"), _event(run, 0, type="run-start")
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
    start = _event("kid", 2, type="task-start", task_id="t", parent_run_id="p2", plan_id="x2")
    run_start = _event("kid", 1, type="run-start", parent_run_id="p1", plan_id="x1")
    await graph_sink.write([start])
    await graph_sink.write([run_start])
    apart = await read_graph(graph_sink)
    await graph_query(graph_sink, "MATCH (n) DETACH DELETE n", write=True)
    await graph_sink.write([start, run_start])
    together = await read_graph(graph_sink)
    assert apart == together
    assert "Run:p2" not in apart["nodes"]
    assert "Plan:x2" not in apart["nodes"]
    assert ("kid", "CHILD_OF", "p1") in apart["relationships"]
    assert ("kid", "EXECUTES_PLAN", "x1") in apart["relationships"]
