"""The walking system: events on the real broker end as the expected rows in PostgreSQL."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from sinks.postgres import PostgresSink
from sinks.postgres.tables import run_events, runs, task_executions

from support.events import EXAMPLE_RUN_ID, example_expected, example_lines, parse_time
from support.kafka import keyed_by_run, produce
from support.pipelines import Flow, consuming, make_settings, metric
from support.postgres import count_events, dump_state, wait_for_events
from support.waiting import wait_until


async def _run_row(engine: AsyncEngine, run_id: str) -> dict[str, Any]:
    async with engine.connect() as conn:
        row = (await conn.execute(select(runs).where(runs.c.run_id == run_id))).mappings().one()
    return dict(row)


async def test_example_run_reaches_the_expected_state(
    flow: Flow,
) -> None:
    lines = example_lines()
    await produce(flow.bootstrap, flow.topic, keyed_by_run(lines))
    settings = make_settings(flow.bootstrap, flow.topic)

    async with consuming(settings, [PostgresSink(flow.postgres)]) as metrics:
        await wait_for_events(flow.engine, len(lines), at_least=True)
        assert metric(metrics, "runledger_messages_total", sink="postgres",
                      type="task-result", outcome="written") == 4  # fmt: skip

    expected = example_expected()
    row = await _run_row(flow.engine, EXAMPLE_RUN_ID)
    for key, value in expected["run"].items():
        actual = row[key]
        if key.endswith("_at"):
            assert actual == parse_time(value), key
        else:
            assert actual == value, key

    async with flow.engine.connect() as conn:
        attempts = (
            await conn.execute(
                select(
                    task_executions.c.task_id, task_executions.c.attempt, task_executions.c.status
                )
                .where(task_executions.c.run_id == EXAMPLE_RUN_ID)
                .order_by(task_executions.c.task_id, task_executions.c.attempt)
            )
        ).all()
        ledger = (await conn.execute(select(run_events.c.payload, run_events.c.source_topic))).all()
    current = {task: {"attempt": attempt, "status": status} for task, attempt, status in attempts}
    assert current == expected["tasks"]
    assert [(t, a) for t, a, _ in attempts] == [
        ("task-1", 1), ("task-2", 1), ("task-3", 1), ("task-3", 2),
    ]  # fmt: skip
    # the raw ledger keeps each payload as it was published
    assert sorted(json.dumps(p, sort_keys=True) for p, _ in ledger) == sorted(
        json.dumps(json.loads(line), sort_keys=True) for line in lines
    )
    assert {t for _, t in ledger} == {flow.topic}


async def test_replaying_the_topic_changes_nothing(
    flow: Flow,
) -> None:
    lines = example_lines()
    await produce(flow.bootstrap, flow.topic, keyed_by_run(lines))
    async with consuming(make_settings(flow.bootstrap, flow.topic), [PostgresSink(flow.postgres)]):
        await wait_for_events(flow.engine, len(lines), at_least=True)
    before = await dump_state(flow.engine)

    # A new consumer group starts from offset 0: every record is delivered again.
    replay = make_settings(flow.bootstrap, flow.topic)
    async with consuming(replay, [PostgresSink(flow.postgres)]) as metrics:

        async def all_duplicates() -> bool:
            seen = sum(
                metrics.registry.get_sample_value(
                    "runledger_messages_total",
                    {"sink": "postgres", "type": t, "outcome": "duplicate"},
                )
                or 0
                for t in ("run-start", "task-start", "task-result", "run-finalized")
            )
            return seen == len(lines)

        await wait_until(all_duplicates, what="the replay to be recognised as duplicates")
        assert metric(metrics, "runledger_messages_total", sink="postgres",
                      type="task-result", outcome="written") == 0  # fmt: skip

    assert await dump_state(flow.engine) == before
    assert await count_events(flow.engine) == len(lines)
