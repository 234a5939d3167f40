"""Opt-in: the example run against a live Neo4j (set RUNLEDGER_TEST_NEO4J_URI).

Also reads RUNLEDGER_TEST_NEO4J_USER, RUNLEDGER_TEST_NEO4J_PASSWORD and
RUNLEDGER_TEST_NEO4J_DATABASE. The test writes under unique ids and deletes what it wrote.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import pytest

from contracts import decode_event
from sinks.base import SinkRecord
from sinks.graph import GraphSink
from sinks.graph.neo4j_engine import Neo4jEngine
from sinks.graph.settings import GraphSettings

from support import EXAMPLE_RUN_ID, example_expected, example_lines, parse_time

NEO4J_URI = os.environ.get("RUNLEDGER_TEST_NEO4J_URI")

pytestmark = [
    pytest.mark.neo4j,
    pytest.mark.skipif(not NEO4J_URI, reason="opt-in: set RUNLEDGER_TEST_NEO4J_URI"),
]


@pytest.fixture
async def neo4j_sink() -> AsyncIterator[GraphSink]:
    settings = GraphSettings(
        uri=NEO4J_URI or "",
        user=os.environ.get("RUNLEDGER_TEST_NEO4J_USER", "neo4j"),
        password=os.environ.get("RUNLEDGER_TEST_NEO4J_PASSWORD"),  # type: ignore[arg-type]
        database=os.environ.get("RUNLEDGER_TEST_NEO4J_DATABASE"),
    )
    sink = GraphSink(settings)
    await sink.start()
    yield sink
    await sink.close()


async def _read(sink: GraphSink, cypher: str, **params: Any) -> list[dict[str, Any]]:
    engine = sink.engine
    assert isinstance(engine, Neo4jEngine)
    records, _, _ = await engine.driver.execute_query(cypher, params, database_=engine.database)
    return [r.data() for r in records]


async def test_example_run_on_a_live_neo4j(neo4j_sink: GraphSink) -> None:
    suffix = uuid.uuid4().hex[:8]
    run_id, plan_id = f"{EXAMPLE_RUN_ID}-{suffix}", f"plan-kolache-recipe-{suffix}"
    lines = [
        json.dumps(
            json.loads(line)
            | {"run_id": run_id, "event_id": f"{json.loads(line)['event_id']}-{suffix}"}
            | ({"plan_id": plan_id} if b"plan_id" in line else {})
        ).encode()
        for line in example_lines()
    ]
    batch = [SinkRecord(decode_event(v), v, "t", 0, i) for i, v in enumerate(lines)]
    try:
        await neo4j_sink.write(batch[5:])  # the end first: order must not matter
        await neo4j_sink.write(batch)
        expected = example_expected()

        [run] = await _read(neo4j_sink, "MATCH (r:Run {id: $id}) RETURN r", id=run_id)
        run = run["r"]
        for prop, field in (("status", "status"), ("tasksTotal", "tasks_total"),
                            ("tasksFailed", "tasks_failed"), ("tokensTotal", "tokens_total"),
                            ("toolCalls", "tool_calls"), ("duration", "duration_ms")):  # fmt: skip
            assert run[prop] == expected["run"][field], prop
        started = run["startTime"].to_native()
        assert isinstance(started, datetime)
        assert started == parse_time(expected["run"]["started_at"])

        for relationship in ("FAILED_TASK", "HAS_TASK_EXECUTION"):
            rows = await _read(
                neo4j_sink,
                f"MATCH (:Run {{id: $id}})-[:{relationship}]->(t) RETURN t.taskId AS t ORDER BY t",
                id=run_id,
            )
            want = [t.removeprefix(f"{EXAMPLE_RUN_ID}-") for t in expected["graph"][relationship]]
            assert [r["t"] for r in rows] == want
        plan = await _read(
            neo4j_sink, "MATCH (:Run {id: $id})-[:EXECUTES_PLAN]->(p) RETURN p.id AS p", id=run_id
        )
        assert plan == [{"p": plan_id}]
        chain = await _read(
            neo4j_sink,
            "MATCH p = (:Run {id: $id})-[:STARTS_WITH]->(:Event)-[:NEXT*0..]->(last:Event) "
            "WHERE NOT (last)-[:NEXT]->() RETURN length(p) AS hops",
            id=run_id,
        )
        assert chain == [{"hops": expected["graph"]["event_chain_length"]}]
    finally:
        await _read(
            neo4j_sink,
            "MATCH (n) WHERE n.id = $id OR n.runId = $id OR n.id = $plan DETACH DELETE n",
            id=run_id,
            plan=plan_id,
        )
