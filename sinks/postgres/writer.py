"""One batch, one transaction: ledger rows, task attempts, then run aggregates.

Lock order: the batch's events are inserted first, sorted by ``event_id`` (so only the
ones the ledger did not hold yet go on); then their runs are upserted, sorted by
``run_id``, which takes each run's row lock. Task rows and aggregates are only touched
while holding their run's lock, so concurrent consumers serialise per run and cannot
deadlock (a transaction waiting on another's event row holds no run lock yet), and the
aggregate recomputation always sees every committed attempt.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

import pydantic_core
from sqlalchemy import Connection, CursorResult, Table, bindparam, update
from sqlalchemy.sql.dml import Insert

from contracts import Event
from sinks.base import SinkRecord
from sinks.postgres.aggregates import SUMMARY_COLUMNS, load_summaries, summaries_query
from sinks.postgres.merge import (
    MergeGroup,
    array_insert_sql,
    array_update_sql,
    dialect_insert,
    json_columns,
    merge_upsert,
)
from sinks.postgres.tables import run_events, runs, task_executions
from sinks.state import RunFacts, TaskKey, TaskState, fold

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


class RawJson(str):
    """A JSON document that is already encoded: stored as it is, not encoded again."""

    __slots__ = ()


def json_serializer(value: Any) -> str:
    """The engine's JSON encoder: raw payloads pass through untouched, the rest through
    pydantic-core's encoder (compact, UTF-8; several times faster than ``json.dumps``)."""
    if isinstance(value, RawJson):
        return value
    if value is None:
        return "null"
    return pydantic_core.to_json(value).decode()


class BatchWriter:
    """Builds the statements once per dialect and applies batches with them.

    The rows are the same on every dialect; only how they travel differs: on PostgreSQL
    each statement takes one array per column (one round trip per statement, no
    per-row work in SQLAlchemy), elsewhere an executemany of the rows.
    """

    def __init__(self, dialect_name: str) -> None:
        upsert_runs = merge_upsert(runs, dialect_name, ["run_id"], RUN_GROUPS, ["updated_at"])
        upsert_tasks = merge_upsert(
            task_executions,
            dialect_name,
            ["run_id", "task_id", "attempt"],
            TASK_GROUPS,
            ["updated_at"],
        )
        insert_events = (
            dialect_insert(run_events, dialect_name)
            .on_conflict_do_nothing(index_elements=["event_id"])
            .returning(run_events.c.event_id)
        )
        self._summaries = summaries_query(dialect_name)
        self._apply: _Statements
        if dialect_name == "postgresql":
            self._apply = _ArrayStatements(upsert_runs, upsert_tasks, insert_events)
        else:
            self._apply = _RowStatements(upsert_runs, upsert_tasks, insert_events)

    def write(self, conn: Connection, records: Sequence[SinkRecord]) -> frozenset[str]:
        """Apply a batch inside the caller's transaction; return the duplicate event ids.

        Only the events the ledger did not hold yet reach the runs and tasks: a re-sent
        event id (even one with other content) must not create or touch anything.
        """
        now = datetime.now(UTC)
        unique = sorted({r.event.event_id: r for r in records}.values(), key=_event_id)
        inserted = self._apply.insert_events(conn, [_event_row(r, now) for r in unique])
        duplicates = frozenset(r.event.event_id for r in records) - inserted
        if not inserted:
            return duplicates

        new_events = [r.event for r in unique if r.event.event_id in inserted]
        batch = fold(new_events)
        run_ids = sorted(batch.runs)
        self._apply.upsert_runs(conn, [_run_row(rid, batch.runs[rid], now) for rid in run_ids])
        task_keys = sorted(batch.tasks)
        if task_keys:
            rows = [_task_row(k, batch.tasks[k], now) for k in task_keys]
            self._apply.upsert_tasks(conn, rows)

        summaries = load_summaries(conn, self._summaries, run_ids)
        self._apply.update_summaries(
            conn, [{"key_run_id": rid, **summary, "updated_at": now} for rid, summary in summaries]
        )
        return duplicates


def _event_id(record: SinkRecord) -> str:
    return record.event.event_id


Rows = Sequence[dict[str, Any]]
_SUMMARY_UPDATE = ("key_run_id", *SUMMARY_COLUMNS, "updated_at")


class _Statements(Protocol):
    """How the batch's rows reach the database."""

    def upsert_runs(self, conn: Connection, rows: Rows) -> None: ...
    def insert_events(self, conn: Connection, rows: Rows) -> set[str]: ...
    def upsert_tasks(self, conn: Connection, rows: Rows) -> None: ...
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

    def upsert_runs(self, conn: Connection, rows: Rows) -> None:
        conn.execute(self._upsert_runs, rows)

    def insert_events(self, conn: Connection, rows: Rows) -> set[str]:
        return set(conn.execute(self._insert_events, rows).scalars())

    def upsert_tasks(self, conn: Connection, rows: Rows) -> None:
        conn.execute(self._upsert_tasks, rows)

    def update_summaries(self, conn: Connection, rows: Rows) -> None:
        if rows:
            conn.execute(self._update_summaries, rows)


class _ArrayStatements:
    """Each statement fed from one array per column: one round trip each (PostgreSQL).

    The arrays go through the driver as they are (no SQLAlchemy type processing per
    row), so values are converted here as the column types would: JSON to JSON text.
    """

    def __init__(self, upsert_runs: Insert, upsert_tasks: Insert, insert_events: Insert) -> None:
        self._upsert_runs = _ArrayInsert(upsert_runs, runs)
        self._upsert_tasks = _ArrayInsert(upsert_tasks, task_executions)
        self._insert_events = _ArrayInsert(insert_events, run_events)
        self._update_summaries = array_update_sql(runs, "run_id", _SUMMARY_UPDATE[1:])

    def upsert_runs(self, conn: Connection, rows: Rows) -> None:
        self._upsert_runs.execute(conn, rows)

    def insert_events(self, conn: Connection, rows: Rows) -> set[str]:
        return set(self._insert_events.execute(conn, rows).scalars())

    def upsert_tasks(self, conn: Connection, rows: Rows) -> None:
        self._upsert_tasks.execute(conn, rows)

    def update_summaries(self, conn: Connection, rows: Rows) -> None:
        if rows:
            arrays = tuple([row[c] for row in rows] for c in _SUMMARY_UPDATE)
            conn.exec_driver_sql(self._update_summaries, arrays)


class _ArrayInsert:
    """One INSERT ... ON CONFLICT fed from arrays; its SQL is built once per column set."""

    def __init__(self, statement: Insert, table: Table) -> None:
        self._statement = statement
        self._table = table
        self._json = json_columns(table)
        self._sql: dict[tuple[str, ...], str] = {}

    def execute(self, conn: Connection, rows: Rows) -> CursorResult[Any]:
        columns = tuple(rows[0])
        sql = self._sql.get(columns)
        if sql is None:
            sql = self._sql[columns] = array_insert_sql(self._statement, self._table, columns)
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
    return {
        "run_id": key.run_id,
        "task_id": key.task_id,
        "attempt": key.attempt,
        "status": state.status,
        "started_at": start.occurred_at if start else None,
        "start_event_id": start.event_id if start else None,
        "title": start.title if start else None,
        "agent_role": start.agent_role if start else None,
        "qc_role": start.qc_role if start else None,
        "prompt": start.prompt if start else None,
        "depends_on": list(start.depends_on) if start else None,
        "attributes": start.attributes if start else None,
        "result_rank": result.rank if result else 0,
        "result_at": result.occurred_at if result else None,
        "result_event_id": result.event_id if result else None,
        "ended_at": result.ended_at if result else None,
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
    }
