"""The relational sink is order- and duplication-independent, on the real PostgreSQL."""

from __future__ import annotations

import itertools
import random
from collections.abc import AsyncIterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from sinks.base import SinkRecord
from sinks.postgres import PostgresSink
from sinks.postgres.settings import PostgresSettings
from sinks.state import fold, summarize_run, task_totals

from support.events import sink_records
from support.postgres import dump_state
from support.strategies import run_events


@pytest.fixture
async def sink(postgres_settings: PostgresSettings) -> AsyncIterator[PostgresSink]:
    sink = PostgresSink(postgres_settings)
    await sink.start()
    yield sink
    await sink.close()


async def _reset(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await conn.execute(text("TRUNCATE runs, task_executions, run_events"))


async def _write_in_batches(sink: PostgresSink, records: list[SinkRecord], cuts: list[int]) -> None:
    bounds = [0, *sorted(c % (len(records) + 1) for c in cuts), len(records)]
    for start, end in itertools.pairwise(bounds):
        await sink.write(records[start:end])


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    st.lists(run_events(), min_size=1, max_size=3).map(
        lambda runs: [
            {**e, "run_id": f"r{i}", "event_id": f"r{i}-{e['event_id']}"}
            for i, run in enumerate(runs)
            for e in run
        ]
    ),
    st.randoms(use_true_random=False),
    st.lists(st.integers(min_value=0, max_value=1000), max_size=4),
)
async def test_any_permutation_duplication_and_batching_give_the_same_rows(
    sink: PostgresSink,
    postgres_engine: AsyncEngine,
    events: list[dict[str, object]],
    rnd: random.Random,
    cuts: list[int],
) -> None:
    records = sink_records(events)
    await _reset(postgres_engine)
    await sink.write(records)
    canonical = await dump_state(postgres_engine)

    replayed = records + rnd.sample(records, k=len(records) // 2)
    rnd.shuffle(replayed)
    await _reset(postgres_engine)
    await _write_in_batches(sink, replayed, cuts)
    assert await dump_state(postgres_engine) == canonical

    # ...and the rows say what the reference model says.
    ledger = fold(r.event for r in records)
    for row in canonical["runs"]:
        summary = summarize_run(
            ledger.runs[row["run_id"]], task_totals(ledger.tasks_of(row["run_id"]))
        )
        for field in ("status", "started_at", "ended_at", "duration_ms", "tasks_total",
                      "tasks_successful", "tasks_failed", "tasks_running", "tasks_waiting",
                      "tokens_input", "tokens_output", "tokens_total", "tool_calls"):  # fmt: skip
            assert row[field] == getattr(summary, field), field
    assert {(t["run_id"], t["task_id"], t["attempt"]): t["status"] for t in canonical["tasks"]} == {
        tuple(k): s.status for k, s in ledger.tasks.items()
    }
