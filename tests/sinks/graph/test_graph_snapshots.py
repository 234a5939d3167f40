"""The graph's read side for ``runledger reconcile``: what it holds per run, on real FalkorDB."""

from __future__ import annotations

from consumer.operations.reconcile import compare, reference_snapshots
from contracts import decode_event
from sinks.base import RunSnapshotSource, TaskSnapshot
from sinks.graph import GraphSink
from sinks.graph.settings import GraphSettings

from support.events import EXAMPLE_RUN_ID, event, example_expected, example_lines, sink_records


async def test_snapshots_of_the_example_run_match_the_reference_model(
    graph_sink: GraphSink, graph_settings: GraphSettings
) -> None:
    lines = example_lines()
    await graph_sink.write(sink_records(lines))
    reader = GraphSink(graph_settings)  # built, never started: reconcile reads this way
    try:
        assert isinstance(reader, RunSnapshotSource)
        held = await reader.run_snapshots()
        chosen = await reader.run_snapshots([EXAMPLE_RUN_ID, "no-such-run"])
    finally:
        await reader.close()

    assert list(held) == [EXAMPLE_RUN_ID]
    assert chosen == held
    report = compare({"reference": reference_snapshots(map(decode_event, lines)), "graph": held})
    assert report.in_sync, report.drifts
    snapshot, expected = held[EXAMPLE_RUN_ID], example_expected()
    assert (snapshot.status, snapshot.tokens_total) == (
        expected["run"]["status"],
        expected["run"]["tokens_total"],
    )
    assert snapshot.tasks == {
        task_id: TaskSnapshot(task["attempt"], task["status"])
        for task_id, task in expected["tasks"].items()
    }


async def test_a_retried_task_is_held_at_its_current_attempt(graph_sink: GraphSink) -> None:
    events = [
        event("run-start", "run-r", 1, total_tasks=1),
        event("task-start", "run-r", 2, task_id="t", attempt=1),
        event("task-result", "run-r", 3, task_id="t", attempt=1, status="failure"),
        event("task-start", "run-r", 4, task_id="t", attempt=2),
    ]
    await graph_sink.write(sink_records(events))

    held = await graph_sink.run_snapshots(["run-r"])

    assert held["run-r"].tasks == {"t": TaskSnapshot(2, "running")}
    assert held["run-r"].tasks_running == 1


async def test_an_empty_graph_holds_no_runs(graph_settings: GraphSettings) -> None:
    reader = GraphSink(graph_settings)
    try:
        assert await reader.run_snapshots() == {}
        assert await reader.run_snapshots(["run-x"]) == {}
    finally:
        await reader.close()
