"""The per-event way: how orchestrators persist telemetry today, as the baseline.

One session and one transaction per event: upsert the run, upsert the task, then
increment the run's counters. (That increment is also why a replay doubles their
tokens; runledger recomputes instead.) Same database, same tables, same events.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from contracts import Event, RunFinalized, RunStart, TaskResult, TaskStart
from sinks.postgres.tables import runs, task_executions


async def per_event_eps(engine: AsyncEngine, events: Sequence[Event]) -> float:
    """Events per second, persisting each event in its own transaction."""
    sessions = async_sessionmaker(engine)
    started = time.perf_counter()
    for event in events:
        async with sessions() as session, session.begin():
            await _persist(session, event)
    return len(events) / (time.perf_counter() - started)


async def _persist(session: AsyncSession, event: Event) -> None:
    now = datetime.now(UTC)
    run: dict[str, Any] = {"run_id": event.run_id, "updated_at": now}
    if isinstance(event, RunStart):
        run |= {"plan_id": event.plan_id, "tasks_declared": event.total_tasks, "title": event.title}
        run |= {"started_at": event.occurred_at, "status": "running"}
    if isinstance(event, RunFinalized):
        run |= {"ended_at": event.occurred_at, "status": event.status or "completed"}
    upsert_run = insert(runs).values(run)
    await session.execute(
        upsert_run.on_conflict_do_update(
            index_elements=["run_id"], set_={k: upsert_run.excluded[k] for k in run}
        )
    )
    if isinstance(event, TaskStart | TaskResult):
        await _upsert_task(session, event, now)
    if isinstance(event, TaskResult):
        tokens = event.tokens
        t = runs.c
        await session.execute(
            update(runs)
            .where(t.run_id == event.run_id)
            .values(
                tasks_successful=t.tasks_successful + int(event.status == "success"),
                tasks_failed=t.tasks_failed + int(event.status == "failure"),
                tokens_input=t.tokens_input + (tokens.input if tokens else 0),
                tokens_output=t.tokens_output + (tokens.output if tokens else 0),
                tool_calls=t.tool_calls + (event.tool_calls or 0),
            )
        )


async def _upsert_task(session: AsyncSession, event: TaskStart | TaskResult, now: datetime) -> None:
    task: dict[str, Any] = {
        "run_id": event.run_id,
        "task_id": event.task_id,
        "attempt": event.attempt,
        "updated_at": now,
    }
    if isinstance(event, TaskStart):
        task |= {"status": "running", "started_at": event.occurred_at, "title": event.title}
    else:
        tokens = event.tokens
        task |= {
            "status": event.status,
            "ended_at": event.occurred_at,
            "duration_ms": event.duration_ms,
            "tokens_input": tokens.input if tokens else 0,
            "tokens_output": tokens.output if tokens else 0,
            "tool_calls": event.tool_calls or 0,
        }
    upsert = insert(task_executions).values(task)
    await session.execute(
        upsert.on_conflict_do_update(
            index_elements=["run_id", "task_id", "attempt"],
            set_={k: upsert.excluded[k] for k in task},
        )
    )
