"""Recompute run aggregates from the task rows, inside the batch's transaction.

Counters are never incremented: each affected run's counts, token sums and status are
derived again from ``task_executions`` (current attempt = highest attempt per task),
so replays and reorderings cannot double-count.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    Connection,
    Row,
    Select,
    Text,
    and_,
    any_,
    bindparam,
    case,
    distinct,
    func,
    select,
)
from sqlalchemy.dialects.postgresql import ARRAY

from sinks.postgres.tables import runs, task_executions
from sinks.state import RunDeclarationFacts, RunFacts, RunFinalFacts, TaskTotals, summarize_run

SUMMARY_COLUMNS = (
    "status", "started_at", "duration_ms", "tasks_total", "tasks_successful", "tasks_failed",
    "tasks_running", "tasks_waiting", "tokens_input", "tokens_output", "tokens_total",
    "tool_calls",
)  # fmt: skip
"""The derived columns of ``runs`` (``ended_at`` belongs to the finalization group)."""


def _run_ids_in(column: Any, dialect_name: str) -> Any:
    """``column IN :run_ids``: one array parameter on PostgreSQL, expanded elsewhere."""
    if dialect_name == "postgresql":
        return column == any_(bindparam("run_ids", type_=ARRAY(Text)))
    return column.in_(bindparam("run_ids", expanding=True))


def _totals_query(dialect_name: str) -> Any:
    te = task_executions
    newest_first = func.row_number().over(
        partition_by=(te.c.run_id, te.c.task_id), order_by=te.c.attempt.desc()
    )
    attempts = (
        select(
            te.c.run_id,
            te.c.task_id,
            te.c.status,
            te.c.tokens_input,
            te.c.tokens_output,
            te.c.tool_calls,
            te.c.started_at,
            newest_first.label("newest"),
        )
        .where(_run_ids_in(te.c.run_id, dialect_name))
        .subquery()
    )

    def current_with(status: str) -> Any:
        is_it = and_(attempts.c.newest == 1, attempts.c.status == status)
        return func.coalesce(func.sum(case((is_it, 1), else_=0)), 0)

    return (
        select(
            attempts.c.run_id,
            func.count(distinct(attempts.c.task_id)).label("distinct_tasks"),
            current_with("success").label("successful"),
            current_with("failure").label("failed"),
            current_with("running").label("running"),
            current_with("waiting").label("waiting"),
            func.coalesce(func.sum(attempts.c.tokens_input), 0).label("tokens_input"),
            func.coalesce(func.sum(attempts.c.tokens_output), 0).label("tokens_output"),
            func.coalesce(func.sum(attempts.c.tool_calls), 0).label("tool_calls"),
            func.min(attempts.c.started_at).label("first_task_start"),
        )
        .group_by(attempts.c.run_id)
        .subquery()
    )


def summaries_query(dialect_name: str) -> Select[Any]:
    """The facts and task totals of the runs in the ``run_ids`` parameter, sorted by run."""
    totals = _totals_query(dialect_name)
    return (
        select(
            runs.c.run_id,
            runs.c.declared_rank,
            runs.c.declared_at,
            runs.c.declared_event_id,
            runs.c.tasks_declared,
            runs.c.ended_at,
            runs.c.finalized_event_id,
            runs.c.final_status,
            runs.c.cancelled,
            *(c for c in totals.c if c.name != "run_id"),
        )
        .select_from(runs.outerjoin(totals, totals.c.run_id == runs.c.run_id))
        .where(_run_ids_in(runs.c.run_id, dialect_name))
        .order_by(runs.c.run_id)
    )


def load_summaries(
    conn: Connection, query: Select[Any], run_ids: Sequence[str]
) -> list[tuple[str, dict[str, Any]]]:
    """The derived columns of each run in ``run_ids``, from the rows as they are now."""
    if not run_ids:
        return []
    return [(row.run_id, _summary(row)) for row in conn.execute(query, {"run_ids": list(run_ids)})]


def _summary(row: Row[Any]) -> dict[str, Any]:
    facts = RunFacts(
        declaration=_declaration(row),
        finalization=RunFinalFacts(
            occurred_at=row.ended_at,
            event_id=row.finalized_event_id,
            status=row.final_status,
            cancelled=bool(row.cancelled),
            final_result=None,
            error=None,
        )
        if row.finalized_event_id is not None
        else None,
    )
    totals = TaskTotals(
        distinct_tasks=row.distinct_tasks or 0,
        successful=int(row.successful or 0),
        failed=int(row.failed or 0),
        running=int(row.running or 0),
        waiting=int(row.waiting or 0),
        tokens_input=int(row.tokens_input or 0),
        tokens_output=int(row.tokens_output or 0),
        tool_calls=int(row.tool_calls or 0),
        first_task_start=row.first_task_start,
    )
    summary = summarize_run(facts, totals)
    return {name: getattr(summary, name) for name in SUMMARY_COLUMNS}


def _declaration(row: Row[Any]) -> RunDeclarationFacts | None:
    if row.declared_event_id is None:
        return None
    return RunDeclarationFacts(
        rank=row.declared_rank,
        occurred_at=row.declared_at,
        event_id=row.declared_event_id,
        plan_id=None,
        total_tasks=row.tasks_declared,
        parent_run_id=None,
        root_run_id=None,
        title=None,
        owner=None,
        attributes=None,
    )
