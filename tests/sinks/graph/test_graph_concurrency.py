"""Two writers at once on real Neo4j, batch against batch, where the races are: a parent's
batch beside its child's, runs that name each other as parents (locks wanted in opposite
orders), many runs of one plan, and results racing their starts.

Each round writes two batches at the same moment through two sinks (two drivers). The
graph must end as one writer alone leaves it, and no transaction may need running again:
the writes take their locks in one global order, so they never deadlock (runledger 0.1's
did, and only the driver's retry a second later hid the CHILD_OF each batch missed)."""

from __future__ import annotations

import asyncio

from sinks.base import SinkRecord, TransientSinkError
from sinks.graph import GraphSink
from sinks.graph.neo4j_engine import Neo4jEngine
from sinks.graph.settings import GraphSettings

from support.events import event, sink_records
from support.graph import clear_graph, query, read_graph

ROUNDS = 20


def _round(i: int) -> tuple[list[SinkRecord], list[SinkRecord]]:
    """Two batches of one round: each holds what makes the other wait or miss."""
    parent, child = f"r{i}-parent", f"r{i}-child"
    left, right = f"r{i}-left", f"r{i}-right"  # each the other's parent
    # Every third round, many runs of one plan (two writers linking runs to one Plan node).
    plan = {"plan_id": "shared-plan"} if i % 3 == 0 else {}
    # No run in both batches: nothing but the parent links makes one wait for the other.
    first = sink_records(
        [
            event("run-start", parent, 1, **plan),
            event("task-result", parent, 3, task_id="t", status="failure"),  # before start
            event("task-start", parent, 2, task_id="t"),
            event("run-start", left, 1, parent_run_id=right, **plan),
        ]
    )
    second = sink_records(
        [
            event("run-start", child, 1, parent_run_id=parent, **plan),
            event("task-start", child, 2, task_id="t"),
            event("run-start", right, 1, parent_run_id=left, **plan),
        ]
    )
    return first + _busy(f"r{i}-busy-1"), second + _busy(f"r{i}-busy-2")


def _busy(run_id: str) -> list[SinkRecord]:
    """Work of an unrelated run that keeps a batch's transaction open a while."""
    return sink_records(event("task-start", run_id, n, task_id=f"t{n}") for n in range(1, 40))


async def _write(sink: GraphSink, batch: list[SinkRecord]) -> int:
    """Write like the pipeline does: a transient error means "the same batch again"."""
    failures = 0
    while True:
        try:
            await sink.write(batch)
            return failures
        except TransientSinkError:
            failures += 1


async def test_two_writers_at_once_end_as_one_writer_alone(neo4j_graph: GraphSettings) -> None:
    one, two = GraphSink(neo4j_graph), GraphSink(neo4j_graph)
    await one.start()
    await two.start()
    try:
        rounds = [_round(i) for i in range(ROUNDS)]
        for first, second in rounds:
            await one.write(first)
            await one.write(second)
        reference = await read_graph(one)
        await clear_graph(one)

        failures = 0
        for first, second in rounds:
            results = await asyncio.gather(_write(one, first), _write(two, second))
            failures += sum(results)
        retried = sum(
            s.engine.transaction_retries for s in (one, two) if isinstance(s.engine, Neo4jEngine)
        )
        print(f"two writers on Neo4j: {ROUNDS} rounds, transactions retried by the driver "
              f"{retried}, batches retried after a transient error {failures}")  # fmt: skip

        # Locks are taken in one global order (runs by id, then plans by id): no deadlock.
        assert (retried, failures) == (0, 0), "a transaction had to be run again"
        assert await read_graph(one) == reference
        child_of = await query(
            one, "MATCH (c:Run)-[:CHILD_OF]->(p:Run) RETURN c.id, p.id ORDER BY c.id"
        )
        assert len(child_of) == 3 * ROUNDS
    finally:
        await one.close()
        await two.close()
