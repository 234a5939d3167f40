"""End to end: the example run on the real broker ends as the expected graph."""

from __future__ import annotations

from sinks.graph import GraphSink
from sinks.graph.settings import GraphSettings

from support.events import EXAMPLE_RUN_ID, example_expected, example_lines
from support.graph import event_chain, query
from support.kafka import keyed_by_run, produce
from support.pipelines import consuming, make_settings, metric
from support.waiting import wait_until


async def test_example_run_through_the_broker(
    kafka_bootstrap: str, topic: str, graph_settings: GraphSettings
) -> None:
    lines = example_lines()
    await produce(kafka_bootstrap, topic, keyed_by_run(lines))
    graph_sink = GraphSink(graph_settings)
    reader = GraphSink(graph_settings)  # a second connection, to watch from outside
    expected = example_expected()

    async def finalized() -> bool:
        rows = await query(reader, "MATCH (r:Run {id: $id}) RETURN r.status", id=EXAMPLE_RUN_ID)
        chain = await event_chain(reader, EXAMPLE_RUN_ID)
        return rows == [[expected["run"]["status"]]] and len(chain) == len(lines)

    try:
        async with consuming(make_settings(kafka_bootstrap, topic), [graph_sink]) as metrics:
            await wait_until(finalized, what="the example run in the graph")
            assert metric(metrics, "runledger_messages_total", sink="graph",
                          type="task-result", outcome="written") == 4  # fmt: skip

        [[tokens, calls, failed]] = await query(
            reader,
            "MATCH (r:Run {id: $id}) RETURN r.tokensTotal, r.toolCalls, r.tasksFailed",
            id=EXAMPLE_RUN_ID,
        )
        run = expected["run"]
        assert (tokens, calls, failed) == (run["tokens_total"], run["tool_calls"], 1)
        failures = await query(
            reader, "MATCH (:Run {id: $id})-[:FAILED_TASK]->(t) RETURN t.id", id=EXAMPLE_RUN_ID
        )
        assert [row[0] for row in failures] == expected["graph"]["FAILED_TASK"]
    finally:
        await reader.close()
