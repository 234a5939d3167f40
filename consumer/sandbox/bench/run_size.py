"""Events of runs of a chosen size, to show whether a batch's cost grows with its runs.

The same number of events is written twice from memory: cut into runs of a few tasks,
then into runs of tens of thousands. If the sink re-read a run's tasks on every batch,
the second would be slower by the size of the runs; with aggregates adjusted by each
batch's difference both cost the same. Each task has an attempt that starts and
succeeds, some a failed first attempt and a retry, so every counter moves.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import datetime, timedelta

import pydantic_core

from consumer.sandbox.stream import DEFAULT_START

SMALL_RUNS = 50
LARGE_RUNS = 50_000


def sized_run_events(
    count: int, tasks_per_run: int, start: datetime = DEFAULT_START
) -> list[bytes]:
    """Exactly ``count`` valid events: per run a run-start, then its ``tasks_per_run`` tasks."""
    return list(itertools.islice(_runs(tasks_per_run, start), count))


def _runs(tasks: int, start: datetime) -> Iterator[bytes]:
    for number in itertools.count():
        yield from _run(f"size-{tasks}-{number}", tasks, start + timedelta(hours=number))


def _run(run_id: str, tasks: int, start: datetime) -> Iterator[bytes]:
    sequence = itertools.count(1)

    def event(kind: str, at: datetime, **fields: object) -> bytes:
        return pydantic_core.to_json(
            {
                "schema_version": 1,
                "event_id": f"{run_id}-e{next(sequence)}",
                "type": kind,
                "run_id": run_id,
                "occurred_at": at.isoformat().replace("+00:00", "Z"),
                **fields,
            }
        )

    yield event("run-start", start, plan_id="plan-size", total_tasks=tasks)
    for number in range(tasks):
        at = start + timedelta(milliseconds=number)
        task, attempts = f"task-{number}", 2 if number % 10 == 0 else 1
        for attempt in range(1, attempts + 1):
            yield event("task-start", at, task_id=task, attempt=attempt)
            yield event(
                "task-result", at + timedelta(milliseconds=5), task_id=task, attempt=attempt,
                status="failure" if attempt < attempts else "success",
                tokens={"input": 100, "output": 40}, tool_calls=2,
            )  # fmt: skip
