"""The example run, written into FalkorDB for real, ends as the expected graph."""

from __future__ import annotations

from sinks.graph import GraphSink
from sinks.graph.settings import GraphSettings

from support.events import (
    EXAMPLE_RUN_ID,
    event,
    example_expected,
    example_lines,
    parse_time,
    sink_records,
)
from support.graph import event_chain, query, read_graph

RUN_PROPERTIES = {  # graph property <- expected.json run field
    "status": "status",
    "tasksTotal": "tasks_total",
    "tasksSuccessful": "tasks_successful",
    "tasksFailed": "tasks_failed",
    "tasksRunning": "tasks_running",
    "tasksWaiting": "tasks_waiting",
    "tokensInput": "tokens_input",
    "tokensOutput": "tokens_output",
    "tokensTotal": "tokens_total",
    "toolCalls": "tool_calls",
    "duration": "duration_ms",
    "planId": "plan_id",
}


def epoch_ms(text: str) -> int:
    return round(parse_time(text).timestamp() * 1000)


async def targets(sink: GraphSink, run_id: str, relationship: str) -> list[str]:
    rows = await query(
        sink,
        f"MATCH (:Run {{id: $id}})-[:{relationship}]->(n) RETURN n.id ORDER BY n.id",
        id=run_id,
    )
    return [row[0] for row in rows]


async def test_example_run_ends_as_the_expected_graph(graph_sink: GraphSink) -> None:
    result = await graph_sink.write(sink_records(example_lines()))
    assert result.duplicate_event_ids == frozenset()

    expected = example_expected()
    graph = expected["graph"]
    for relationship in ("FAILED_TASK", "HAS_TASK_EXECUTION", "EXECUTES_PLAN"):
        assert await targets(graph_sink, EXAMPLE_RUN_ID, relationship) == graph[relationship]
    assert len(await event_chain(graph_sink, EXAMPLE_RUN_ID)) == graph["event_chain_length"]
    sink = graph_sink
    assert await query(sink, "MATCH (e:Event) RETURN count(e)") == [[10]]

    [[run]] = await query(sink, "MATCH (r:Run {id: $id}) RETURN properties(r)", id=EXAMPLE_RUN_ID)
    run_expected = expected["run"]
    for prop, field in RUN_PROPERTIES.items():
        assert run[prop] == run_expected[field], prop
    assert run["type"] == "orchestration_execution"
    assert run["startTime"] == epoch_ms(run_expected["started_at"])
    assert run["endTime"] == epoch_ms(run_expected["ended_at"])

    tasks = await query(
        sink,
        "MATCH (:Run {id: $id})-[:HAS_TASK_EXECUTION]->(t:TaskExecution) "
        "RETURN t.taskId, t.attemptNumber, t.status, t.type",
        id=EXAMPLE_RUN_ID,
    )
    assert {t: {"attempt": a, "status": s} for t, a, s, _ in tasks} == expected["tasks"]
    assert {row[3] for row in tasks} == {"task_execution"}


async def test_the_seed_queries_answer_unchanged(graph_sink: GraphSink) -> None:
    """Queries an orchestrator runs today against its own graph, verbatim in shape."""
    await graph_sink.write(sink_records(example_lines()))
    failures = await query(
        graph_sink,
        "MATCH (e:Run {id: $id})-[:FAILED_TASK]->(t:TaskExecution) "
        "RETURN t.taskId, t.error, t.qcScore, t.qcRequiredFixes",
        id=EXAMPLE_RUN_ID,
    )
    assert failures == [
        ["task-2", "Timeout waiting for API response", 45.0,
         ["Retry with timeout handling", "Add error recovery"]],
    ]  # fmt: skip
    totals = await query(
        graph_sink,
        "MATCH (e:Run {id: $id})-[:EXECUTES_PLAN]->(p:Plan) "
        "RETURN p.id, e.tokensTotal, e.toolCalls, e.tasksFailed, e.tasksSuccessful",
        id=EXAMPLE_RUN_ID,
    )
    assert totals == [["plan-kolache-recipe", 4650, 10, 1, 2]]
    dependencies = await query(
        graph_sink,
        "MATCH (t:TaskExecution)-[:DEPENDS_ON]->(d:TaskExecution) RETURN t.taskId, d.taskId "
        "ORDER BY t.taskId",
    )
    assert dependencies == [["task-2", "task-1"], ["task-3", "task-1"]]


async def test_a_retried_failure_loses_its_failed_task_edge(graph_sink: GraphSink) -> None:
    lines = example_lines()
    first_attempt_failed, retry_succeeded = lines[:7], lines[7:]

    await graph_sink.write(sink_records(first_attempt_failed))
    assert await targets(graph_sink, EXAMPLE_RUN_ID, "FAILED_TASK") == [
        f"{EXAMPLE_RUN_ID}-task-2",
        f"{EXAMPLE_RUN_ID}-task-3",
    ]
    await graph_sink.write(sink_records(retry_succeeded))
    assert await targets(graph_sink, EXAMPLE_RUN_ID, "FAILED_TASK") == [f"{EXAMPLE_RUN_ID}-task-2"]


async def test_a_late_failure_of_an_older_attempt_adds_no_failed_task_edge(
    graph_sink: GraphSink,
) -> None:
    lines = example_lines()
    retry = [line for line in lines if b'"attempt": 2' in line]
    await graph_sink.write(sink_records(retry))
    await graph_sink.write(sink_records([line for line in lines if line not in retry]))
    assert await targets(graph_sink, EXAMPLE_RUN_ID, "FAILED_TASK") == [f"{EXAMPLE_RUN_ID}-task-2"]


async def test_writing_the_run_again_changes_nothing(graph_sink: GraphSink) -> None:
    batch = sink_records(example_lines())
    await graph_sink.write(batch)
    before = await read_graph(graph_sink)

    again = await graph_sink.write(batch)

    assert again.duplicate_event_ids == {r.event.event_id for r in batch}
    assert await read_graph(graph_sink) == before


async def test_a_result_before_its_start_still_links_to_its_run(graph_sink: GraphSink) -> None:
    result = event("task-result", "run-x", 5, event_id="x-2", task_id="t1", status="waiting")
    await graph_sink.write(sink_records([result]))
    assert await targets(graph_sink, "run-x", "HAS_TASK_EXECUTION") == ["run-x-t1"]
    [[status, waiting]] = await query(
        graph_sink, "MATCH (r:Run {id: 'run-x'}) RETURN r.status, r.tasksWaiting"
    )
    assert (status, waiting) == ("waiting", 1)

    start = event("task-start", "run-x", event_id="x-1", task_id="t1", title="First",
                  plan_id="plan-p", parent_run_id="run-parent")  # fmt: skip
    await graph_sink.write(sink_records([start]))
    [[title, task_status]] = await query(
        graph_sink, "MATCH (t:TaskExecution {id: 'run-x-t1'}) RETURN t.title, t.status"
    )
    assert (title, task_status) == ("First", "waiting")
    assert await targets(graph_sink, "run-x", "EXECUTES_PLAN") == ["plan-p"]
    assert await event_chain(graph_sink, "run-x") == ["x-1", "x-2"]

    # the parent is known only from its child: a bare Run node (no type, no status) that
    # the child links to at once, and that becomes the parent run when its events arrive
    assert await targets(graph_sink, "run-x", "CHILD_OF") == ["run-parent"]
    bare = "MATCH (r:Run {id: 'run-parent'}) RETURN r.type, r.status"
    assert await query(graph_sink, bare) == [[None, None]]
    parent = event("run-start", "run-parent", event_id="p-1")
    await graph_sink.write(sink_records([parent]))
    assert await targets(graph_sink, "run-x", "CHILD_OF") == ["run-parent"]
    assert await query(graph_sink, bare) == [["orchestration_execution", "pending"]]


async def test_generic_node_label_for_orchestrators_that_query_node(
    graph_settings: GraphSettings,
) -> None:
    sink = GraphSink(graph_settings.model_copy(update={"generic_node_label": True}))
    await sink.start()
    try:
        await sink.write(sink_records(example_lines()))
        rows = await query(sink, "MATCH (n:Node) RETURN n.type, count(n) ORDER BY n.type")
    finally:
        await sink.close()
    assert rows == [["orchestration_execution", 1], ["task_execution", 3]]
