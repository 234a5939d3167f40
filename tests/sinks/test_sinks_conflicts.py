"""A version of an event id sent again with other content, in a later batch (issue 12,
item 3): whatever the order, every sink ends exactly as if only the version whose
canonical JSON sorts first had ever been sent, and reports the other one.

The two versions name different runs and tasks, and each run has events of its own, so
the losing version's run, task and tokens must vanish while the rest of its run stays.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncEngine

from consumer.operations.reconcile import reference_snapshots
from contracts import canonical
from sinks.base import Sink, SinkRecord, TransientSinkError, WriteResult
from sinks.graph import GraphSink
from sinks.graph.falkordb_engine import FalkorDBEngine
from sinks.graph.settings import GraphSettings
from sinks.graph.statements import Statement
from sinks.postgres import PostgresSink
from sinks.postgres.settings import PostgresSettings
from sinks.postgres.tables import run_events, runs, task_executions

from support.events import sink_records
from support.graph import clear_graph, event_chain, read_graph
from support.pipelines import started
from support.postgres import dump_state

_BASE = {"schema_version": 1, "occurred_at": "2025-11-14T15:00:00Z"}
_TWIN = {**_BASE, "event_id": "e-twin", "type": "task-result", "status": "success"}
# The versions differ first at "run_id": "run-a" sorts before "run-b".
WINNER = {**_TWIN, "run_id": "run-a", "task_id": "t-a", "tokens": {"input": 1, "output": 2}}
LOSER = {**_TWIN, "run_id": "run-b", "task_id": "t-b", "tokens": {"input": 50, "output": 60}}
OTHERS = [
    {**_BASE, "event_id": "a-start", "type": "run-start", "run_id": "run-a", "plan_id": "p"},
    {**_BASE, "event_id": "b-start", "type": "run-start", "run_id": "run-b", "plan_id": "p",
     "parent_run_id": "run-a"},
    {**_BASE, "event_id": "b-task", "type": "task-start", "run_id": "run-b", "task_id": "t-c",
     "occurred_at": "2025-11-14T15:00:01Z"},
]  # fmt: skip
ORDERS = {"winner first": (WINNER, LOSER), "loser first": (LOSER, WINNER)}


def test_the_winner_sorts_first() -> None:
    winner, loser = (r.event for r in sink_records([WINNER, LOSER]))
    assert canonical(winner) < canonical(loser)


async def _write_in_two_batches(
    sink: Sink, first: dict[str, Any], second: dict[str, Any]
) -> WriteResult:
    """The other events and the first version, then the second version alone."""
    *others, one = sink_records([*OTHERS, first], topic="t")
    (two,) = sink_records([second], topic="later")
    await sink.write([*others, one])
    return await sink.write([two])


def _check_report(result: WriteResult, order: str) -> None:
    """The second batch's loser is a conflict; a winner second displaces the stored one."""
    assert result.duplicate_event_ids == frozenset()
    if order == "winner first":
        assert set(result.conflicts) == {"e-twin"}
        assert result.displaced == ()
    else:
        assert result.conflicts == {}
        (displaced,) = result.displaced
        (loser,) = sink_records([LOSER])
        assert displaced.event_id == "e-twin"
        assert displaced.value == canonical(loser.event).encode()
        assert "displaced" in displaced.message


# -- PostgreSQL ------------------------------------------------------------------------


async def _postgres_state(engine: AsyncEngine) -> dict[str, Any]:
    """What the sink derived, and the ledger rows (minus write times and positions)."""
    e = run_events.c
    async with engine.connect() as conn:
        ledger = (
            await conn.execute(
                select(e.event_id, e.run_id, e.type, e.task_id, e.payload).order_by(e.event_id)
            )
        ).all()
    return {**await dump_state(engine), "ledger": [tuple(row) for row in ledger]}


async def _reset_postgres(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        for table in (runs, task_executions, run_events):
            await conn.execute(delete(table))


@pytest.fixture
async def postgres(postgres_settings: PostgresSettings) -> AsyncIterator[PostgresSink]:
    async with started(PostgresSink(postgres_settings)) as sink:
        yield sink


async def _postgres_winners_only(
    sink: PostgresSink, events: Sequence[dict[str, Any]] = (*OTHERS, WINNER)
) -> dict[str, Any]:
    await _reset_postgres(sink.engine)
    await sink.write(sink_records(list(events)))
    state = await _postgres_state(sink.engine)
    await _reset_postgres(sink.engine)
    return state


@pytest.fixture(params=["postgresql", "sqlite"])
async def relational(
    request: pytest.FixtureRequest, postgres_settings: PostgresSettings, tmp_path: Path
) -> AsyncIterator[PostgresSink]:
    """The relational sink on PostgreSQL and on SQLite (the embedded default)."""
    settings = postgres_settings
    if request.param == "sqlite":
        settings = PostgresSettings(url=f"sqlite:///{tmp_path / 'l.db'}", migrate_on_start=True)
    async with started(PostgresSink(settings)) as sink:
        yield sink


@pytest.mark.parametrize("order", ORDERS)
async def test_the_relational_sink_ends_as_the_winner_alone(
    relational: PostgresSink, order: str
) -> None:
    expected = await _postgres_winners_only(relational)
    result = await _write_in_two_batches(relational, *ORDERS[order])
    _check_report(result, order)
    assert await _postgres_state(relational.engine) == expected
    assert not [t for t in expected["tasks"] if t["task_id"] == "t-b"]
    reference = reference_snapshots(r.event for r in sink_records([*OTHERS, WINNER]))
    assert await relational.run_snapshots() == reference


# -- graph (FalkorDB and Neo4j) -----------------------------------------------------------


@pytest.fixture
async def graph(graph_settings: GraphSettings) -> AsyncIterator[GraphSink]:
    async with started(GraphSink(graph_settings)) as sink:
        yield sink


async def _graph_winners_only(sink: GraphSink) -> dict[str, Any]:
    await clear_graph(sink)
    await sink.write(sink_records([*OTHERS, WINNER]))
    state = await read_graph(sink)
    await clear_graph(sink)
    return state


@pytest.mark.parametrize("order", ORDERS)
async def test_the_graph_ends_as_the_winner_alone(graph: GraphSink, order: str) -> None:
    expected = await _graph_winners_only(graph)
    result = await _write_in_two_batches(graph, *ORDERS[order])
    _check_report(result, order)
    assert await read_graph(graph) == expected
    assert "TaskExecution:run-b-t-b" not in expected["nodes"]
    assert await event_chain(graph, "run-b") == ["b-start", "b-task"]
    reference = reference_snapshots(r.event for r in sink_records([*OTHERS, WINNER]))
    assert await graph.run_snapshots() == reference


# -- two writers at once -----------------------------------------------------------------


async def _write_retrying(sink: Sink, records: Sequence[SinkRecord]) -> WriteResult:
    """Write as the pipeline does: a transient error (a writer racing us) is retried."""
    for _ in range(20):
        try:
            return await sink.write(records)
        except TransientSinkError:
            await asyncio.sleep(0.05)
    raise AssertionError("still failing after 20 attempts")


async def _race(sinks: Sequence[Sink]) -> list[WriteResult]:
    """Each sink writes the other events and one version, both at once."""
    one, two = (sink_records([*OTHERS, version]) for version in (WINNER, LOSER))
    return list(
        await asyncio.gather(_write_retrying(sinks[0], one), _write_retrying(sinks[1], two))
    )


def _check_race(results: Sequence[WriteResult]) -> None:
    """Exactly one writer reports the loser: as its own conflict or as displaced."""
    reported = [len(r.conflicts) + len(r.displaced) for r in results]
    assert sorted(reported) == [0, 1]


async def test_two_postgres_writers_of_the_two_versions_end_as_the_winner_alone(
    postgres: PostgresSink, postgres_settings: PostgresSettings
) -> None:
    expected = await _postgres_winners_only(postgres)
    other = PostgresSink(postgres_settings)
    try:
        for _ in range(5):
            _check_race(await _race([postgres, other]))
            assert await _postgres_state(postgres.engine) == expected
            await _reset_postgres(postgres.engine)
    finally:
        await other.close()


async def test_two_neo4j_writers_of_the_two_versions_end_as_the_winner_alone(
    neo4j_graph: GraphSettings,
) -> None:
    sinks = [GraphSink(neo4j_graph), GraphSink(neo4j_graph)]
    for sink in sinks:
        await sink.start()
    try:
        expected = await _graph_winners_only(sinks[0])
        for _ in range(5):
            _check_race(await _race(sinks))
            assert await read_graph(sinks[0]) == expected
            await clear_graph(sinks[0])
    finally:
        for sink in sinks:
            await sink.close()


class _Interleaving(FalkorDBEngine):
    """Lets another writer write right after this engine's first read (a plan's lookup)."""

    def __init__(self, settings: GraphSettings, meanwhile: Callable[[], Awaitable[object]]):
        super().__init__(settings)
        self._meanwhile: Callable[[], Awaitable[object]] | None = meanwhile

    async def read(self, statement: Statement, params: dict[str, Any]) -> list[dict[str, Any]]:
        rows = await super().read(statement, params)
        if self._meanwhile is not None:
            meanwhile, self._meanwhile = self._meanwhile, None
            await meanwhile()
        return rows


@pytest.mark.parametrize("order", ORDERS)
async def test_falkordb_plans_again_when_a_writer_comes_between_its_read_and_write(
    falkordb_graph: GraphSettings, order: str
) -> None:
    """FalkorDB reads and writes in separate queries: another version stored in between
    must not leak into the batch's write (its guard makes it plan the batch again)."""
    mine, theirs = (sink_records([*OTHERS, version]) for version in ORDERS[order])
    other = GraphSink(falkordb_graph)
    sink = GraphSink(falkordb_graph, _Interleaving(falkordb_graph, lambda: other.write(theirs)))
    await other.start()
    try:
        expected = await _graph_winners_only(other)
        result = await sink.write(mine)
        assert result.duplicate_event_ids == {"a-start", "b-start", "b-task"}
        assert len(result.conflicts) + len(result.displaced) == 1
        assert await read_graph(sink) == expected
    finally:
        await sink.close()
        await other.close()


# A displaced version that alone made its run, with a plan and a parent, while a child
# names that run: the run must end as a bare parent node, its plan and parent gone.
LONE = {**_BASE, "event_id": "e-lone", "type": "run-start", "run_id": "run-z",
        "plan_id": "p-lost", "parent_run_id": "run-gone"}  # fmt: skip
KEPT = {**_BASE, "event_id": "e-lone", "type": "run-start", "run_id": "run-a",
        "parent_run_id": "run-a0"}  # fmt: skip
CHILD = {**_BASE, "event_id": "child", "type": "run-start", "run_id": "run-child",
         "parent_run_id": "run-z"}  # fmt: skip


async def test_a_run_only_the_displaced_version_made_is_gone(
    graph: GraphSink, postgres: PostgresSink
) -> None:
    kept, lone = (r.event for r in sink_records([KEPT, LONE]))
    assert canonical(kept) < canonical(lone)
    await clear_graph(graph)
    await graph.write(sink_records([CHILD, KEPT]))
    expected_graph = await read_graph(graph)
    await clear_graph(graph)
    expected_postgres = await _postgres_winners_only(postgres, [CHILD, KEPT])
    for sink in (graph, postgres):
        await sink.write(sink_records([CHILD, LONE]))
        (displaced,) = (await sink.write(sink_records([KEPT]))).displaced
        assert displaced.value == canonical(lone).encode()
    assert await read_graph(graph) == expected_graph
    assert "Run:run-z" in expected_graph["nodes"]
    assert {"Plan:p-lost", "Run:run-gone"}.isdisjoint(expected_graph["nodes"])
    assert await _postgres_state(postgres.engine) == expected_postgres
