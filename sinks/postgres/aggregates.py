"""Run aggregates adjusted by the exact difference each batch makes to its task rows.

Re-reading every task of a run on each batch makes a batch's cost grow with the run
(a 50,000-task run took 3.4x longer per batch than a 50-task one). Instead, while the
batch's transaction holds each touched run's row lock, the writer reads the touched
tasks' attempt rows as they were before the task upsert and as they are after it;
the difference between the two is applied to the run's stored counters:

* token sums and tool calls (over all attempts): new minus old value of each attempt;
* counts by status (over each task's current, i.e. highest, attempt): the old current
  attempt's status leaves, the new current attempt's status enters;
* distinct tasks (``tasks_seen``): a task with no attempt row before enters;
* ``started_at``: the earliest of the stored value and the batch's starts (a start
  time only ever moves earlier, so a minimum is exact).

Because the rows are read under the run lock, nothing else changes them in between,
so the stored counters always equal a recomputation from the task rows, whatever the
order and duplication of events: replaying a batch changes no row, hence no counter.
Status, ``tasks_total`` and ``duration_ms`` are then derived by ``sinks.state``'s
``summarize_run``, the reference rule.
"""

from __future__ import annotations

import collections
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sinks.state import RunDeclarationFacts, RunFacts, RunFinalFacts, TaskTotals, summarize_run

SUMMARY_COLUMNS = (
    "status", "started_at", "duration_ms", "tasks_total", "tasks_seen", "tasks_successful",
    "tasks_failed", "tasks_running", "tasks_waiting", "tokens_input", "tokens_output",
    "tokens_total", "tool_calls",
)  # fmt: skip
"""The derived columns of ``runs`` (``ended_at`` belongs to the finalization group)."""

RUN_STATE_COLUMNS = (
    "run_id", "declared_rank", "declared_at", "declared_event_id", "tasks_declared",
    "ended_at", "finalized_event_id", "final_status", "cancelled", "started_at",
    "tasks_seen", "tasks_successful", "tasks_failed", "tasks_running", "tasks_waiting",
    "tokens_input", "tokens_output", "tool_calls",
)  # fmt: skip
"""What the writer reads back of each run once it holds its lock."""

ATTEMPT_COLUMNS = (
    "run_id", "task_id", "attempt", "status", "tokens_input", "tokens_output", "tool_calls",
)  # fmt: skip
"""What the aggregates need of one ``task_executions`` row."""

# Task status -> the run counter that counts current attempts in it.
_COUNTERS = {
    "success": "successful",
    "failure": "failed",
    "running": "running",
    "waiting": "waiting",
}


@dataclass(frozen=True, slots=True)
class AttemptRow:
    """One attempt row, before or after the batch's upsert."""

    run_id: str
    task_id: str
    attempt: int
    status: str
    tokens_input: int
    tokens_output: int
    tool_calls: int

    @classmethod
    def of(cls, row: Sequence[Any]) -> AttemptRow:
        return cls(*row)


def run_summaries(
    run_rows: Iterable[Mapping[str, Any]],
    before: Sequence[AttemptRow],
    after: Sequence[AttemptRow],
    first_starts: Mapping[str, datetime],
) -> list[dict[str, Any]]:
    """The derived columns of each run, from its stored state plus the batch's difference.

    ``before`` holds every attempt row of the touched tasks as it was, ``after`` the
    touched attempts as they are now; ``first_starts`` the batch's earliest task start
    per run.
    """
    deltas = _deltas(before, after)
    summaries = []
    for row in run_rows:
        delta = deltas.get(row["run_id"], collections.Counter())
        starts = [t for t in (row["started_at"], first_starts.get(row["run_id"])) if t]
        totals = TaskTotals(
            distinct_tasks=row["tasks_seen"] + delta["distinct_tasks"],
            successful=row["tasks_successful"] + delta["successful"],
            failed=row["tasks_failed"] + delta["failed"],
            running=row["tasks_running"] + delta["running"],
            waiting=row["tasks_waiting"] + delta["waiting"],
            tokens_input=row["tokens_input"] + delta["tokens_input"],
            tokens_output=row["tokens_output"] + delta["tokens_output"],
            tool_calls=row["tool_calls"] + delta["tool_calls"],
            first_task_start=min(starts, default=None),
        )
        summary = summarize_run(_facts(row), totals)
        values = {name: getattr(summary, name, None) for name in SUMMARY_COLUMNS}
        values["tasks_seen"] = totals.distinct_tasks
        summaries.append({"run_id": row["run_id"], **values})
    return summaries


def _deltas(
    before: Sequence[AttemptRow], after: Sequence[AttemptRow]
) -> dict[str, collections.Counter[str]]:
    """Per run: how much each counter moves from the ``before`` rows to the ``after`` rows."""
    old: dict[tuple[str, str], dict[int, AttemptRow]] = {}
    for row in before:
        old.setdefault((row.run_id, row.task_id), {})[row.attempt] = row
    new = {task: dict(attempts) for task, attempts in old.items()}
    deltas: dict[str, collections.Counter[str]] = {}
    for row in after:
        task = (row.run_id, row.task_id)
        previous = old.get(task, {}).get(row.attempt)
        new.setdefault(task, {})[row.attempt] = row
        delta = deltas.setdefault(row.run_id, collections.Counter())
        delta["tokens_input"] += row.tokens_input - (previous.tokens_input if previous else 0)
        delta["tokens_output"] += row.tokens_output - (previous.tokens_output if previous else 0)
        delta["tool_calls"] += row.tool_calls - (previous.tool_calls if previous else 0)
    touched = {(row.run_id, row.task_id) for row in after}
    for task in touched:
        delta = deltas[task[0]]
        attempts = old.get(task)
        if attempts:
            delta[_COUNTERS.get(attempts[max(attempts)].status, "other")] -= 1
        else:
            delta["distinct_tasks"] += 1
        current = new[task]
        delta[_COUNTERS.get(current[max(current)].status, "other")] += 1
    return deltas


def _facts(row: Mapping[str, Any]) -> RunFacts:
    """The run-level groups ``summarize_run`` needs, from the stored run row."""
    declaration = None
    if row["declared_event_id"] is not None:
        declaration = RunDeclarationFacts(
            rank=row["declared_rank"],
            occurred_at=row["declared_at"],
            event_id=row["declared_event_id"],
            plan_id=None,
            total_tasks=row["tasks_declared"],
            parent_run_id=None,
            root_run_id=None,
            title=None,
            owner=None,
            attributes=None,
        )
    finalization = None
    if row["finalized_event_id"] is not None:
        finalization = RunFinalFacts(
            occurred_at=row["ended_at"],
            event_id=row["finalized_event_id"],
            status=row["final_status"],
            cancelled=bool(row["cancelled"]),
            final_result=None,
            error=None,
        )
    return RunFacts(declaration=declaration, finalization=finalization)
