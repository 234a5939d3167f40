"""The relational sink is order- and duplication-independent, on the real PostgreSQL."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.ext.asyncio import AsyncEngine

from sinks.postgres import PostgresSink
from sinks.postgres.settings import PostgresSettings
from sinks.state import fold, summarize_run, task_totals

from support.events import sink_records
from support.pipelines import started
from support.postgres import clear_ledger, dump_state
from support.strategies import batch_cuts, replay, several_runs, sink_examples


@pytest.fixture
async def sink(postgres_settings: PostgresSettings) -> AsyncIterator[PostgresSink]:
    async with started(PostgresSink(postgres_settings)) as sink:
        yield sink


@sink_examples(40)
@given(
    several_runs(),
    st.randoms(use_true_random=False),
    batch_cuts,
)
async def test_any_permutation_duplication_and_batching_give_the_same_rows(
    sink: PostgresSink,
    postgres_engine: AsyncEngine,
    events: list[dict[str, object]],
    rnd: random.Random,
    cuts: list[int],
) -> None:
    records = sink_records(events)
    await clear_ledger(postgres_engine)
    await sink.write(records)
    canonical = await dump_state(postgres_engine)

    await clear_ledger(postgres_engine)
    await replay(sink, records, rnd, cuts)
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
