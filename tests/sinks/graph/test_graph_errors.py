"""Failures are typed: bad data is permanent and leaves nothing behind, outages are transient."""

from __future__ import annotations

import json
from pathlib import Path

import neo4j.exceptions as neo4j_errors
import pytest
import redis.exceptions as redis_errors

from consumer.sandbox.embedded import free_port
from sinks.base import PermanentSinkError, SinkMisconfigured, TransientSinkError
from sinks.graph import GraphSink
from sinks.graph.errors import classify
from sinks.graph.settings import GraphSettings

from support.events import example_lines, sink_records
from support.graph import query, read_graph
from support.processes import runledger


async def test_a_value_falkordb_refuses_fails_the_whole_batch_permanently(
    falkordb_sink: GraphSink,
) -> None:
    graph_sink = falkordb_sink
    good = example_lines()
    poisoned = json.loads(good[1])
    poisoned |= {"event_id": "poison", "task_id": "task-9", "title": "nul \x00 inside"}
    batch = sink_records([*good, json.dumps(poisoned).encode()])

    with pytest.raises(PermanentSinkError):
        await graph_sink.write(batch)
    assert await read_graph(graph_sink) == {"nodes": {}, "relationships": []}

    # without the poisoned record (what the pipeline's batch split does) all is written
    await graph_sink.write(batch[:-1])
    assert await query(graph_sink, "MATCH (e:Event) RETURN count(e)") == [[len(good)]]


async def test_strings_round_trip_exactly(graph_sink: GraphSink) -> None:
    title = "quotes \" ' back\\slash \\u0041 new\nline tab\t ctl\x01 emoji 😀 \u2028 $x {y}"
    start = json.loads(example_lines()[1]) | {"title": title}
    await graph_sink.write(sink_records([json.dumps(start).encode()]))
    assert await query(graph_sink, "MATCH (t:TaskExecution) RETURN t.title") == [[title]]


async def test_an_unreachable_engine_is_a_transient_error() -> None:
    sink = GraphSink(
        GraphSettings(uri=f"falkordb://127.0.0.1:{free_port()}/x", connection_timeout_seconds=1)
    )
    try:
        with pytest.raises(TransientSinkError):
            await sink.start()
        with pytest.raises(TransientSinkError):
            await sink.health()
        with pytest.raises(TransientSinkError):
            await sink.write(sink_records(example_lines()[:1]))
    finally:
        await sink.close()


async def test_health_answers_on_a_live_engine(graph_sink: GraphSink) -> None:
    await graph_sink.health()


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (neo4j_errors.ServiceUnavailable("gone"), TransientSinkError),
        (neo4j_errors.SessionExpired("expired"), TransientSinkError),
        (redis_errors.ConnectionError("refused"), TransientSinkError),
        (redis_errors.TimeoutError("slow"), TransientSinkError),
        (redis_errors.BusyLoadingError("loading the dataset"), TransientSinkError),
        (redis_errors.ResponseError("Query timed out"), TransientSinkError),
        (redis_errors.ResponseError("OOM command not allowed"), TransientSinkError),
        (redis_errors.ResponseError("Type mismatch: expected Integer"), PermanentSinkError),
        (
            redis_errors.ResponseError("errMsg: Invalid input errCtx: Timeout waiting for API"),
            PermanentSinkError,
        ),
        (OSError("network unreachable"), TransientSinkError),
        (redis_errors.AuthenticationError("invalid password"), SinkMisconfigured),
    ],
)
def test_driver_errors_are_classified(error: BaseException, kind: type[Exception]) -> None:
    assert type(classify(error)) is kind


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        ("Neo.TransientError.Transaction.DeadlockDetected", TransientSinkError),
        ("Neo.TransientError.General.DatabaseUnavailable", TransientSinkError),
        # a race between two writers creating one node: the retry finds it
        ("Neo.ClientError.Schema.ConstraintValidationFailed", TransientSinkError),
        ("Neo.ClientError.Transaction.TransactionTimedOutClientConfiguration", TransientSinkError),
        ("Neo.ClientError.Cluster.NotALeader", TransientSinkError),
        ("Neo.ClientError.Statement.TypeError", PermanentSinkError),
        ("Neo.ClientError.Statement.ArgumentError", PermanentSinkError),
        # no retry can fix these: the sink stops and says which setting to fix
        ("Neo.ClientError.Security.Unauthorized", SinkMisconfigured),
        ("Neo.ClientError.Security.Forbidden", SinkMisconfigured),
        ("Neo.ClientError.Database.DatabaseNotFound", SinkMisconfigured),
        ("Neo.ClientError.Statement.SyntaxError", SinkMisconfigured),
        ("Neo.ClientError.Procedure.ProcedureNotFound", SinkMisconfigured),
        ("Neo.DatabaseError.General.UnknownError", TransientSinkError),
    ],
)
def test_neo4j_status_codes_are_classified(code: str, kind: type[Exception]) -> None:
    error = neo4j_errors.Neo4jError._hydrate_neo4j(code=code, message="boom")
    assert type(classify(error)) is kind


async def test_a_database_neo4j_does_not_have_stops_the_sink_with_the_setting_to_fix(
    neo4j_uri: str,
) -> None:
    sink = GraphSink(GraphSettings(uri=neo4j_uri, database="nosuchdb"))
    try:
        with pytest.raises(SinkMisconfigured, match="RUNLEDGER_GRAPH__DATABASE"):
            await sink.start()
        with pytest.raises(SinkMisconfigured, match="RUNLEDGER_GRAPH__DATABASE"):
            await sink.write(sink_records(example_lines()[:1]))
    finally:
        await sink.close()


async def test_the_neo4j_schema_is_online_when_the_sink_has_started(neo4j_uri: str) -> None:
    sink = GraphSink(GraphSettings(uri=neo4j_uri))
    await sink.start()
    try:
        states = await query(sink, "SHOW INDEXES YIELD name, state RETURN name, state")
    finally:
        await sink.close()
    names = {name for name, _ in states}
    assert {"taskexecution_key_unique", "taskattempt_key_unique", "event_runid_occurredat"} <= names
    assert {state for _, state in states} == {"ONLINE"}


async def test_runledger_run_stops_on_a_misconfigured_graph_with_one_line(
    kafka_bootstrap: str, topic: str, neo4j_uri: str, tmp_path: Path
) -> None:
    env = {
        "RUNLEDGER_SINKS": "graph",
        "RUNLEDGER_KAFKA__BOOTSTRAP_SERVERS": kafka_bootstrap,
        "RUNLEDGER_KAFKA__TOPIC": topic,
        "RUNLEDGER_GRAPH__URI": neo4j_uri,
        "RUNLEDGER_GRAPH__DATABASE": "nosuchdb",
        "RUNLEDGER_METRICS__PORT": "0",
    }
    result = await runledger("run", env=env, cwd=tmp_path, timeout=60)
    assert result.code == 2, result.stderr
    [line] = [x for x in result.stderr.splitlines() if x.startswith("runledger:")]
    assert "graph sink cannot work as configured" in line
    assert "RUNLEDGER_GRAPH__DATABASE" in line
    assert "Traceback" not in result.stderr
