"""One batch, one transaction: ledger rows, run rows, task attempts, then run aggregates.

Lock order: the batch's events are inserted first, sorted by ``event_id`` (so only the
ones the ledger did not hold yet go on); then their runs are upserted, sorted by
``run_id``, which takes each run's row lock and reads back its stored counters. Task
rows and aggregates are only touched while holding their run's lock, so concurrent
consumers serialise per run and cannot deadlock (a transaction waiting on another's
event row holds no run lock yet), and the difference the task upsert makes is applied
to counters nobody else can change meanwhile (``sinks.postgres.aggregates``).

On PostgreSQL a batch is four statements, one round trip each, whatever the size of
its runs: insert events, upsert runs (returning their state), upsert tasks (returning
the touched attempts before and after), update the runs' derived columns. A batch
holding event ids the ledger already has adds one query reading their digests; only a
version with other content takes the slow path of ``sinks.postgres.resolve``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy import Connection, CursorResult, Table, bindparam, select, tuple_, update
from sqlalchemy.sql.dml import Insert

from contracts import Event
from sinks.base import SinkRecord, WriteResult
from sinks.conflicts import digest
from sinks.postgres.aggregates import (
    ATTEMPT_COLUMNS,
    RUN_STATE_COLUMNS,
    SUMMARY_COLUMNS,
    AttemptRow,
    run_summaries,
)
from sinks.postgres.json_values import RawJson, json_serializer
from sinks.postgres.merge import (
    MergeGroup,
    array_insert_sql,
    array_update_sql,
    dialect_insert,
    json_columns,
    merge_upsert,
)
from sinks.postgres.resolve import Resolution, resolve_held
from sinks.postgres.tables import run_events, runs, task_executions
from sinks.state import RUNNING, Ledger, RunFacts, TaskKey, TaskState, fold

RUN_GROUPS = (
    MergeGroup(
        present="declared_event_id",
        key=("declared_rank", "declared_at", "declared_event_id"),
        wins="lowest",
        columns=(
            "declared_rank", "declared_at", "declared_event_id", "plan_id", "parent_run_id",
            "root_run_id", "title", "owner", "tasks_declared", "attributes",
        ),
    ),
    MergeGroup(
        present="finalized_event_id",
        key=("ended_at", "finalized_event_id"),
        wins="highest",
        columns=(
            "ended_at", "finalized_event_id", "final_status", "cancelled", "final_result", "error",
        ),
    ),
)  # fmt: skip

TASK_GROUPS = (
    MergeGroup(
        present="start_event_id",
        key=("started_at", "start_event_id"),
        wins="lowest",
        columns=(
            "started_at", "start_event_id", "title", "agent_role", "qc_role", "prompt",
            "depends_on", "attributes",
        ),
    ),
    MergeGroup(
        present="result_event_id",
        key=("result_rank", "result_at", "result_event_id"),
        wins="highest",
        columns=(
            "result_rank", "result_at", "result_event_id", "status", "ended_at", "duration_ms",
            "output", "error", "tokens_input", "tokens_output", "tool_calls", "qc_passed",
            "qc_score", "qc_feedback", "qc_issues", "qc_required_fixes",
        ),
    ),
)  # fmt: skip


class BatchWriter:
    """Builds the statements once per dialect and applies batches with them.

    The rows are the same on every dialect; only how they travel differs: on PostgreSQL
    each statement takes one array per column (one round trip per statement, no
    per-row work in SQLAlchemy), elsewhere an executemany of the rows.
    """

    def __init__(self, dialect_name: str) -> None:
        upsert_runs = merge_upsert(
            runs, dialect_name, ["run_id"], RUN_GROUPS, ["updated_at"]
        ).returning(*(runs.c[c] for c in RUN_STATE_COLUMNS))
        upsert_tasks = merge_upsert(
            task_executions,
            dialect_name,
            ["run_id", "task_id", "attempt"],
            TASK_GROUPS,
            ["updated_at"],
        ).returning(*(task_executions.c[c] for c in ATTEMPT_COLUMNS))
        insert_events = (
            dialect_insert(run_events, dialect_name)
            .on_conflict_do_nothing(index_elements=["event_id"])
            .returning(run_events.c.event_id)
        )
        self._apply: _Statements
        if dialect_name == "postgresql":
            self._apply = _ArrayStatements(upsert_runs, upsert_tasks, insert_events)
        else:
            self._apply = _RowStatements(upsert_runs, upsert_tasks, insert_events)

    def write(self, conn: Connection, records: Sequence[SinkRecord]) -> WriteResult:
        """Apply a batch inside the caller's transaction.

        Only the events the ledger did not hold yet reach the runs and tasks; an event id
        it held with other content is resolved by ``sinks.postgres.resolve``, which may
        replace the stored version and have runs built again from their stored events.
        """
        now = datetime.now(UTC)
        unique = sorted({r.event.event_id: r for r in records}.values(), key=_event_id)
        rows = {r.event.event_id: _event_row(r, now) for r in unique}
        inserted = self._apply.insert_events(conn, list(rows.values()))
        held = [r for r in unique if r.event.event_id not in inserted]
        resolution = Resolution()
        if held:
            digests = self._apply.stored_digests(conn, [r.event.event_id for r in held])
            resolution = resolve_held(conn, held, digests, rows)
        rebuilt = resolution.rebuilt_runs
        events = [
            r.event
            for r in unique
            if r.event.event_id in inserted and r.event.run_id not in rebuilt
        ]
        self._merge(conn, events + resolution.rebuilt_events, now)
        return WriteResult(
            duplicate_event_ids=frozenset(resolution.duplicates),
            conflicts=resolution.conflicts,
            displaced=tuple(resolution.displaced),
        )

    def _merge(self, conn: Connection, events: Sequence[Event], now: datetime) -> None:
        """Merge events the runs and tasks do not hold yet into them, aggregates included."""
        if not events:
            return
        batch = fold(events)
        run_ids = sorted(batch.runs)
        run_rows = self._apply.upsert_runs(
            conn, [_run_row(rid, batch.runs[rid], now) for rid in run_ids]
        )
        before: list[AttemptRow] = []
        after: list[AttemptRow] = []
        if batch.tasks:
            rows = [_task_row(k, batch.tasks[k], now) for k in sorted(batch.tasks)]
            before, after = self._apply.upsert_tasks(conn, rows)
        summaries = run_summaries(run_rows, before, after, _first_starts(batch))
        self._apply.update_summaries(
            conn,
            [{"key_run_id": s.pop("run_id"), **s, "updated_at": now} for s in summaries],
        )


def _event_id(record: SinkRecord) -> str:
    return record.event.event_id


def _first_starts(batch: Ledger) -> dict[str, datetime]:
    """The earliest task start per run among the batch's new events."""
    first: dict[str, datetime] = {}
    for key, state in batch.tasks.items():
        if state.start is not None:
            at = state.start.occurred_at
            if key.run_id not in first or at < first[key.run_id]:
                first[key.run_id] = at
    return first


Rows = Sequence[dict[str, Any]]
_SUMMARY_UPDATE = ("key_run_id", *SUMMARY_COLUMNS, "updated_at")


class _Statements(Protocol):
    """How the batch's rows reach the database."""

    def insert_events(self, conn: Connection, rows: Rows) -> set[str]: ...
    def stored_digests(self, conn: Connection, ids: list[str]) -> dict[str, bytes | None]: ...
    def upsert_runs(self, conn: Connection, rows: Rows) -> list[dict[str, Any]]: ...
    def upsert_tasks(
        self, conn: Connection, rows: Rows
    ) -> tuple[list[AttemptRow], list[AttemptRow]]: ...
    def update_summaries(self, conn: Connection, rows: Rows) -> None: ...


class _RowStatements:
    """Executemany of the rows through SQLAlchemy: any dialect (SQLite)."""

    def __init__(self, upsert_runs: Insert, upsert_tasks: Insert, insert_events: Insert) -> None:
        self._upsert_runs = upsert_runs
        self._upsert_tasks = upsert_tasks
        self._insert_events = insert_events
        self._update_summaries = (
            update(runs)
            .where(runs.c.run_id == bindparam("key_run_id"))
            .values({c: bindparam(c) for c in _SUMMARY_UPDATE[1:]})
        )

    def insert_events(self, conn: Connection, rows: Rows) -> set[str]:
        return set(conn.execute(self._insert_events, rows).scalars())

    def stored_digests(self, conn: Connection, ids: list[str]) -> dict[str, bytes | None]:
        e = run_events.c
        query = select(e.event_id, e.value_sha256).where(e.event_id.in_(ids))
        return dict(conn.execute(query).all())

    def upsert_runs(self, conn: Connection, rows: Rows) -> list[dict[str, Any]]:
        conn.execute(self._upsert_runs, rows)
        query = select(*(runs.c[c] for c in RUN_STATE_COLUMNS)).where(
            runs.c.run_id.in_([row["run_id"] for row in rows])
        )
        return [dict(row._mapping) for row in conn.execute(query)]

    def upsert_tasks(
        self, conn: Connection, rows: Rows
    ) -> tuple[list[AttemptRow], list[AttemptRow]]:
        te = task_executions
        tasks = sorted({(row["run_id"], row["task_id"]) for row in rows})
        query = select(*(te.c[c] for c in ATTEMPT_COLUMNS)).where(
            tuple_(te.c.run_id, te.c.task_id).in_(tasks)
        )
        before = [AttemptRow.of(row) for row in conn.execute(query)]
        conn.execute(self._upsert_tasks, rows)
        touched = {(row["run_id"], row["task_id"], row["attempt"]) for row in rows}
        after = [AttemptRow.of(row) for row in conn.execute(query) if tuple(row[:3]) in touched]
        return before, after

    def update_summaries(self, conn: Connection, rows: Rows) -> None:
        if rows:
            conn.execute(self._update_summaries, rows)


# Every attempt row of the batch's tasks as it was before the task upsert: a sibling
# statement of a data-modifying WITH runs on the same snapshot, so it cannot see the
# upsert's effects. $1 and $2 are the upsert's run_id and task_id arrays.
_TASKS_BEFORE_AND_AFTER = (
    "WITH before AS (SELECT {columns} FROM task_executions "
    "WHERE (run_id, task_id) IN (SELECT * FROM unnest($1::text[], $2::text[]))), "
    "after AS ({upsert}) "
    "SELECT false, * FROM before UNION ALL SELECT true, * FROM after"
)


_STORED_DIGESTS = "SELECT event_id, value_sha256 FROM run_events WHERE event_id = ANY($1::text[])"


class _ArrayStatements:
    """Each statement fed from one array per column: one round trip each (PostgreSQL).

    The arrays go through the driver as they are (no SQLAlchemy type processing per
    row), so values are converted here as the column types would: JSON to JSON text.
    """

    def __init__(self, upsert_runs: Insert, upsert_tasks: Insert, insert_events: Insert) -> None:
        self._upsert_runs = _ArrayInsert(upsert_runs, runs)
        self._upsert_tasks = _ArrayInsert(
            upsert_tasks,
            task_executions,
            wrap=lambda sql: _TASKS_BEFORE_AND_AFTER.format(
                columns=", ".join(ATTEMPT_COLUMNS), upsert=sql
            ),
        )
        self._insert_events = _ArrayInsert(insert_events, run_events)
        self._update_summaries = array_update_sql(runs, "run_id", _SUMMARY_UPDATE[1:])

    def insert_events(self, conn: Connection, rows: Rows) -> set[str]:
        return set(self._insert_events.execute(conn, rows).scalars())

    def stored_digests(self, conn: Connection, ids: list[str]) -> dict[str, bytes | None]:
        rows = conn.exec_driver_sql(_STORED_DIGESTS, (ids,))
        return dict(rows.all())

    def upsert_runs(self, conn: Connection, rows: Rows) -> list[dict[str, Any]]:
        # RETURNING lists RUN_STATE_COLUMNS in order; zip is much cheaper than RowMapping.
        return [
            dict(zip(RUN_STATE_COLUMNS, row, strict=True))
            for row in self._upsert_runs.execute(conn, rows)
        ]

    def upsert_tasks(
        self, conn: Connection, rows: Rows
    ) -> tuple[list[AttemptRow], list[AttemptRow]]:
        before: list[AttemptRow] = []
        after: list[AttemptRow] = []
        for row in self._upsert_tasks.execute(conn, rows):
            (after if row[0] else before).append(AttemptRow.of(row[1:]))
        return before, after

    def update_summaries(self, conn: Connection, rows: Rows) -> None:
        if rows:
            arrays = tuple([row[c] for row in rows] for c in _SUMMARY_UPDATE)
            conn.exec_driver_sql(self._update_summaries, arrays)


class _ArrayInsert:
    """One INSERT ... ON CONFLICT fed from arrays; its SQL is built once per column set."""

    def __init__(
        self, statement: Insert, table: Table, wrap: Callable[[str], str] | None = None
    ) -> None:
        self._statement = statement
        self._table = table
        self._wrap = wrap
        self._json = json_columns(table)
        self._sql: dict[tuple[str, ...], str] = {}

    def execute(self, conn: Connection, rows: Rows) -> CursorResult[Any]:
        columns = tuple(rows[0])
        sql = self._sql.get(columns)
        if sql is None:
            sql = array_insert_sql(self._statement, self._table, columns)
            self._sql[columns] = sql = self._wrap(sql) if self._wrap else sql
        arrays = tuple(self._array(rows, c) for c in columns)
        return conn.exec_driver_sql(sql, arrays)

    def _array(self, rows: Rows, column: str) -> list[Any]:
        if column in self._json:
            return [json_serializer(row[column]) for row in rows]
        return [row[column] for row in rows]


def _task_key(event: Event) -> TaskKey | None:
    # The type tag, not isinstance: a check against a pydantic model class goes through
    # ABCMeta and costs more than the rest of this function, twice per event.
    if event.type == "task-start" or event.type == "task-result":
        return TaskKey(event.run_id, event.task_id, event.attempt)
    return None


def _run_row(run_id: str, facts: RunFacts, now: datetime) -> dict[str, Any]:
    decl, final = facts.declaration, facts.finalization
    return {
        "run_id": run_id,
        "declared_rank": decl.rank if decl else None,
        "declared_at": decl.occurred_at if decl else None,
        "declared_event_id": decl.event_id if decl else None,
        "plan_id": decl.plan_id if decl else None,
        "parent_run_id": decl.parent_run_id if decl else None,
        "root_run_id": decl.root_run_id if decl else None,
        "title": decl.title if decl else None,
        "owner": decl.owner if decl else None,
        "tasks_declared": decl.total_tasks if decl else None,
        "attributes": decl.attributes if decl else None,
        "ended_at": final.occurred_at if final else None,
        "finalized_event_id": final.event_id if final else None,
        "final_status": final.status if final else None,
        "cancelled": final.cancelled if final else None,
        "final_result": final.final_result if final else None,
        "error": final.error if final else None,
        "status": "pending",
        "updated_at": now,
    }


def _task_row(key: TaskKey, state: TaskState, now: datetime) -> dict[str, Any]:
    start, result = state.start, state.result
    rank = result.rank if result else 0
    return {
        "run_id": key.run_id,
        "task_id": key.task_id,
        "attempt": key.attempt,
        "status": result.status if result else RUNNING,
        "started_at": start.occurred_at if start else None,
        "start_event_id": start.event_id if start else None,
        "title": start.title if start else None,
        "agent_role": start.agent_role if start else None,
        "qc_role": start.qc_role if start else None,
        "prompt": start.prompt if start else None,
        "depends_on": list(start.depends_on) if start else None,
        "attributes": start.attributes if start else None,
        "result_rank": rank,
        "result_at": result.occurred_at if result else None,
        "result_event_id": result.event_id if result else None,
        # TaskResultFacts.ended_at: only a terminal result ends the attempt.
        "ended_at": result.occurred_at if result and rank == 2 else None,
        "duration_ms": result.duration_ms if result else None,
        "output": result.output if result else None,
        "error": result.error if result else None,
        "tokens_input": result.tokens_input if result else 0,
        "tokens_output": result.tokens_output if result else 0,
        "tool_calls": result.tool_calls if result else 0,
        "qc_passed": result.qc_passed if result else None,
        "qc_score": result.qc_score if result else None,
        "qc_feedback": result.qc_feedback if result else None,
        "qc_issues": list(result.qc_issues) if result else None,
        "qc_required_fixes": list(result.qc_required_fixes) if result else None,
        "updated_at": now,
    }


def _event_row(record: SinkRecord, now: datetime) -> dict[str, Any]:
    event = record.event
    task_key = _task_key(event)
    return {
        "event_id": event.event_id,
        "run_id": event.run_id,
        "type": event.type,
        "task_id": task_key.task_id if task_key else None,
        "attempt": task_key.attempt if task_key else None,
        "occurred_at": event.occurred_at,
        "payload": RawJson(record.value.decode("utf-8")),
        "source_topic": record.topic,
        "source_partition": record.partition,
        "source_offset": record.offset,
        "ingested_at": now,
        "schema_id": record.schema_id,
        "value_sha256": digest(record.value),
    }
