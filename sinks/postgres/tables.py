"""The relational ledger's tables (SQLAlchemy Core), portable to PostgreSQL and SQLite.

Columns ending in ``_event_id``/``_rank`` and the times next to them are the merge keys
of the groups in ``sinks.state``; they make the upserts order-independent.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Dialect,
    Float,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    Table,
    Text,
    TypeDecorator,
)
from sqlalchemy.dialects.postgresql import JSONB

metadata = MetaData()

# Event ids are compared in merges: byte order on both engines (SQLite's default BINARY),
# so PostgreSQL, SQLite and Python agree on ties whatever the database's locale.
OrderedText = Text().with_variant(Text(collation="C"), "postgresql")
Json = JSON().with_variant(JSONB(), "postgresql")


class UtcDateTime(TypeDecorator[datetime]):
    """Timezone-aware timestamps stored in UTC (SQLite keeps no offset, so normalise)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


runs = Table(
    "runs",
    metadata,
    Column("run_id", Text, primary_key=True),
    # declaration group (earliest run-start, else earliest task-start repeating run fields)
    Column("plan_id", Text),
    Column("parent_run_id", Text),
    Column("root_run_id", Text),
    Column("title", Text),
    Column("owner", Text),
    Column("tasks_declared", Integer),
    Column("attributes", Json),
    Column("declared_rank", SmallInteger),
    Column("declared_at", UtcDateTime),
    Column("declared_event_id", OrderedText),
    # finalization group (latest run-finalized)
    Column("final_status", Text),
    Column("cancelled", Boolean),
    Column("final_result", Json),
    Column("error", Text),
    Column("ended_at", UtcDateTime),
    Column("finalized_event_id", OrderedText),
    # derived from task_executions in the same transaction (sinks.postgres.aggregates)
    Column("status", Text, nullable=False, server_default="pending"),
    Column("started_at", UtcDateTime),
    Column("duration_ms", BigInteger),
    Column("tasks_total", Integer, nullable=False, server_default="0"),
    Column("tasks_seen", Integer, nullable=False, server_default="0"),  # distinct task ids
    Column("tasks_successful", Integer, nullable=False, server_default="0"),
    Column("tasks_failed", Integer, nullable=False, server_default="0"),
    Column("tasks_running", Integer, nullable=False, server_default="0"),
    Column("tasks_waiting", Integer, nullable=False, server_default="0"),
    Column("tokens_input", BigInteger, nullable=False, server_default="0"),
    Column("tokens_output", BigInteger, nullable=False, server_default="0"),
    Column("tokens_total", BigInteger, nullable=False, server_default="0"),
    Column("tool_calls", BigInteger, nullable=False, server_default="0"),
    Column("updated_at", UtcDateTime),
    Index("ix_runs_started_at", "started_at"),
    Index("ix_runs_status", "status"),
    Index("ix_runs_plan_id", "plan_id"),
    Index("ix_runs_parent_run_id", "parent_run_id"),
)

task_executions = Table(
    "task_executions",
    metadata,
    Column("run_id", Text, primary_key=True),
    Column("task_id", Text, primary_key=True),
    Column("attempt", Integer, primary_key=True),
    Column("status", Text, nullable=False),
    # start group (earliest task-start of the attempt)
    Column("title", Text),
    Column("agent_role", Text),
    Column("qc_role", Text),
    Column("prompt", Text),
    Column("depends_on", Json),
    Column("attributes", Json),
    Column("started_at", UtcDateTime),
    Column("start_event_id", OrderedText),
    # result group (highest status rank, then latest, then event id)
    Column("result_rank", SmallInteger, nullable=False, server_default="0"),
    Column("result_at", UtcDateTime),
    Column("result_event_id", OrderedText),
    Column("ended_at", UtcDateTime),
    Column("duration_ms", BigInteger),
    Column("output", Json),
    Column("error", Text),
    Column("tokens_input", BigInteger, nullable=False, server_default="0"),
    Column("tokens_output", BigInteger, nullable=False, server_default="0"),
    Column("tool_calls", BigInteger, nullable=False, server_default="0"),
    Column("qc_passed", Boolean),
    Column("qc_score", Float),
    Column("qc_feedback", Text),
    Column("qc_issues", Json),
    Column("qc_required_fixes", Json),
    Column("updated_at", UtcDateTime),
)

run_events = Table(
    "run_events",
    metadata,
    Column("event_id", Text, primary_key=True),
    Column("run_id", Text, nullable=False),
    Column("type", Text, nullable=False),
    Column("task_id", Text),
    Column("attempt", Integer),
    Column("occurred_at", UtcDateTime, nullable=False),
    Column("payload", Json, nullable=False),
    Column("source_topic", Text, nullable=False),
    Column("source_partition", Integer, nullable=False),
    Column("source_offset", BigInteger, nullable=False),
    Column("ingested_at", UtcDateTime, nullable=False),
    # The schema-registry id the producer framed the value with; NULL for plain JSON.
    Column("schema_id", BigInteger),
    # sha256 of the raw value: a re-sent event id is compared with it (sinks.conflicts).
    Column("value_sha256", LargeBinary),
    Index("ix_run_events_run_id_occurred_at", "run_id", "occurred_at"),
)
