"""The read side of the relational ledger, for ``runledger runs``, the demo and reconciliation.

Plain SQLAlchemy Core that runs the same on PostgreSQL and SQLite. Rows come back as
dicts of the ``runs``/``task_executions`` columns named below (JSON-ready apart from
datetimes), so the CLI can print them as text or JSON without a second model.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from sinks.base import RunSnapshot, TaskSnapshot
from sinks.postgres.tables import run_events, runs, task_executions

RUN_COLUMNS = (
    "run_id", "plan_id", "parent_run_id", "root_run_id", "title", "owner", "status",
    "started_at", "ended_at", "duration_ms", "tasks_total", "tasks_successful", "tasks_failed",
    "tasks_running", "tasks_waiting", "tokens_input", "tokens_output", "tokens_total",
    "tool_calls", "final_result", "error",
)  # fmt: skip
LIST_COLUMNS = (
    "run_id", "plan_id", "parent_run_id", "title", "status", "started_at", "ended_at",
    "duration_ms", "tasks_total", "tasks_successful", "tasks_failed", "tokens_total",
)  # fmt: skip
TASK_COLUMNS = (
    "task_id", "attempt", "status", "title", "agent_role", "started_at", "ended_at",
    "duration_ms", "tokens_input", "tokens_output", "tool_calls", "qc_passed", "qc_score",
    "qc_feedback", "qc_issues", "error", "depends_on",
)  # fmt: skip
CHILD_COLUMNS = ("run_id", "status", "title", "plan_id", "started_at", "duration_ms")
MAX_TREE_RUNS = 1000
"""A run tree larger than this is cut (the JSON says so): a guard against cycles and abuse."""


@dataclass(frozen=True)
class RunDetail:
    """A run, every attempt of its tasks, and its descendants as a tree.

    ``children`` holds the direct child runs; each carries its own ``children`` list.
    """

    run: dict[str, Any]
    tasks: list[dict[str, Any]]
    children: list[dict[str, Any]]
    truncated: bool = False


@dataclass(frozen=True)
class RunFilter:
    """Which runs ``list_runs`` returns; ``None`` means no restriction."""

    statuses: Sequence[str] = ()
    plan_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    top_level: bool = False


@dataclass(frozen=True)
class RunPage:
    """One page of runs, newest first, and how many match in all."""

    runs: list[dict[str, Any]]
    total: int
    offset: int
    limit: int

    @property
    def has_more(self) -> bool:
        return self.offset + len(self.runs) < self.total


@dataclass(frozen=True)
class LedgerOverview:
    """Totals over the whole ledger: what the demo summary and reconciliation compare."""

    runs_by_status: dict[str, int]
    tasks_total: int
    task_attempts: int
    tasks_by_status: dict[str, int]
    tokens_input: int
    tokens_output: int
    tool_calls: int
    events: int
    slowest: list[dict[str, Any]] = field(default_factory=list)
    failed: list[dict[str, Any]] = field(default_factory=list)

    @property
    def runs(self) -> int:
        return sum(self.runs_by_status.values())

    @property
    def tokens_total(self) -> int:
        return self.tokens_input + self.tokens_output


async def get_run(engine: AsyncEngine, run_id: str) -> RunDetail | None:
    """The run, every attempt of its tasks (by task, then attempt) and its run tree."""
    async with engine.connect() as conn:
        row = (
            await conn.execute(
                select(*(runs.c[c] for c in RUN_COLUMNS)).where(runs.c.run_id == run_id)
            )
        ).first()
        if row is None:
            return None
        tasks = await conn.execute(
            select(*(task_executions.c[c] for c in TASK_COLUMNS))
            .where(task_executions.c.run_id == run_id)
            .order_by(task_executions.c.task_id, task_executions.c.attempt)
        )
        children, truncated = await _descendants(conn, run_id)
        return RunDetail(
            run=dict(row._mapping),
            tasks=[dict(t._mapping) for t in tasks],
            children=children,
            truncated=truncated,
        )


async def _descendants(conn: AsyncConnection, run_id: str) -> tuple[list[dict[str, Any]], bool]:
    """The child runs of ``run_id``, recursively, level by level (portable, cycle-safe)."""
    nodes: dict[str, dict[str, Any]] = {run_id: {"children": []}}
    level = [run_id]
    while level and len(nodes) <= MAX_TREE_RUNS:
        rows = await conn.execute(
            select(runs.c.parent_run_id, *(runs.c[c] for c in CHILD_COLUMNS))
            .where(runs.c.parent_run_id.in_(level))
            .order_by(runs.c.started_at, runs.c.run_id)
            .limit(MAX_TREE_RUNS + 1)
        )
        level = []
        for row in rows:
            child = dict(row._mapping)
            parent = child.pop("parent_run_id")
            if child["run_id"] in nodes:  # a cycle in the data: show each run once
                continue
            child["children"] = []
            nodes[child["run_id"]] = child
            nodes[parent]["children"].append(child)
            level.append(child["run_id"])
    children: list[dict[str, Any]] = nodes[run_id]["children"]
    return children, len(nodes) > MAX_TREE_RUNS


def _filtered(query: Select[Any], where: RunFilter) -> Select[Any]:
    if where.statuses:
        query = query.where(runs.c.status.in_(list(where.statuses)))
    if where.plan_id is not None:
        query = query.where(runs.c.plan_id == where.plan_id)
    if where.since is not None:
        query = query.where(runs.c.started_at >= where.since)
    if where.until is not None:
        query = query.where(runs.c.started_at < where.until)
    if where.top_level:
        query = query.where(runs.c.parent_run_id.is_(None))
    return query


async def list_runs(
    engine: AsyncEngine, where: RunFilter | None = None, *, limit: int = 20, offset: int = 0
) -> RunPage:
    """Runs matching ``where``, newest first (by ``started_at``, runs never started last)."""
    where = where or RunFilter()
    async with engine.connect() as conn:
        total = (
            await conn.execute(_filtered(select(func.count()).select_from(runs), where))
        ).scalar_one()
        rows = await conn.execute(
            _filtered(select(*(runs.c[c] for c in LIST_COLUMNS)), where)
            .order_by(runs.c.started_at.desc().nulls_last(), runs.c.run_id.desc())
            .limit(limit)
            .offset(offset)
        )
        return RunPage([dict(r._mapping) for r in rows], int(total), offset, limit)


def _current_attempts() -> Select[Any]:
    """(run_id, task_id, attempt) of each task's highest attempt."""
    t = task_executions
    return select(t.c.run_id, t.c.task_id, func.max(t.c.attempt).label("attempt")).group_by(
        t.c.run_id, t.c.task_id
    )


async def ledger_overview(engine: AsyncEngine, top: int = 5) -> LedgerOverview:
    """Totals over every run, plus the ``top`` slowest attempts and latest failed tasks."""
    t = task_executions
    current = _current_attempts().subquery()
    on_current = and_(
        t.c.run_id == current.c.run_id,
        t.c.task_id == current.c.task_id,
        t.c.attempt == current.c.attempt,
    )
    async with engine.connect() as conn:
        by_status = await conn.execute(
            select(runs.c.status, func.count()).group_by(runs.c.status).order_by(runs.c.status)
        )
        sums = (
            await conn.execute(
                select(
                    func.coalesce(func.sum(runs.c.tasks_total), 0),
                    func.coalesce(func.sum(runs.c.tokens_input), 0),
                    func.coalesce(func.sum(runs.c.tokens_output), 0),
                    func.coalesce(func.sum(runs.c.tool_calls), 0),
                )
            )
        ).one()
        attempts = (await conn.execute(select(func.count()).select_from(t))).scalar_one()
        task_status = await conn.execute(
            select(t.c.status, func.count()).select_from(t.join(current, on_current))
            .group_by(t.c.status).order_by(t.c.status)
        )  # fmt: skip
        events = (await conn.execute(select(func.count()).select_from(run_events))).scalar_one()
        task_cols = (t.c.run_id, t.c.task_id, t.c.attempt, t.c.title, t.c.status)
        slowest = await conn.execute(
            select(*task_cols, t.c.duration_ms)
            .where(t.c.duration_ms.is_not(None))
            .order_by(t.c.duration_ms.desc(), t.c.run_id, t.c.task_id)
            .limit(top)
        )
        failed = await conn.execute(
            select(*task_cols, t.c.error, t.c.ended_at)
            .select_from(t.join(current, on_current))
            .where(t.c.status == "failure")
            .order_by(t.c.ended_at.desc().nulls_last(), t.c.run_id, t.c.task_id)
            .limit(top)
        )
        return LedgerOverview(
            runs_by_status={status: int(n) for status, n in by_status},
            tasks_total=int(sums[0]),
            task_attempts=int(attempts),
            tasks_by_status={status: int(n) for status, n in task_status},
            tokens_input=int(sums[1]),
            tokens_output=int(sums[2]),
            tool_calls=int(sums[3]),
            events=int(events),
            slowest=[dict(r._mapping) for r in slowest],
            failed=[dict(r._mapping) for r in failed],
        )


SNAPSHOT_COLUMNS = (
    "run_id", "status", "tasks_total", "tasks_successful", "tasks_failed", "tasks_running",
    "tasks_waiting", "tokens_input", "tokens_output", "tokens_total", "tool_calls",
)  # fmt: skip
_SNAPSHOT_CHUNK = 1000  # run ids per IN (...) list


async def run_snapshots(
    engine: AsyncEngine, run_ids: Collection[str] | None = None
) -> dict[str, RunSnapshot]:
    """What the ledger holds per run, for reconciliation (``sinks.base.RunSnapshotSource``)."""
    wanted = sorted(set(run_ids)) if run_ids is not None else None
    chunks = (
        [wanted[i : i + _SNAPSHOT_CHUNK] for i in range(0, len(wanted), _SNAPSHOT_CHUNK)]
        if wanted is not None
        else [None]
    )
    found: dict[str, RunSnapshot] = {}
    async with engine.connect() as conn:
        for chunk in chunks:
            found.update(await _snapshots(conn, chunk))
    return found


async def _snapshots(conn: AsyncConnection, run_ids: list[str] | None) -> dict[str, RunSnapshot]:
    t = task_executions
    run_query = select(*(runs.c[c] for c in SNAPSHOT_COLUMNS))
    task_query = select(t.c.run_id, t.c.task_id, t.c.attempt, t.c.status)
    if run_ids is not None:
        run_query = run_query.where(runs.c.run_id.in_(run_ids))
        task_query = task_query.where(t.c.run_id.in_(run_ids))
    current: dict[str, dict[str, TaskSnapshot]] = {}
    for run_id, task_id, attempt, status in await conn.execute(task_query):
        tasks = current.setdefault(run_id, {})
        if task_id not in tasks or attempt > tasks[task_id].attempt:
            tasks[task_id] = TaskSnapshot(attempt, status)
    return {
        row.run_id: RunSnapshot(
            **{c: row._mapping[c] for c in SNAPSHOT_COLUMNS},
            tasks=current.get(row.run_id, {}),
        )
        for row in await conn.execute(run_query)
    }
