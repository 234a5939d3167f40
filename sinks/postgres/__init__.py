"""The relational sink: PostgreSQL in production, SQLite for the embedded default."""

from sinks.base import SinkPlugin
from sinks.postgres.settings import PostgresSettings
from sinks.postgres.sink import PostgresSink

plugin: SinkPlugin[PostgresSettings] = SinkPlugin(
    name="postgres",
    settings_type=PostgresSettings,
    factory=PostgresSink,
    description="runs, task_executions and run_events tables (PostgreSQL or SQLite)",
)

__all__ = ["PostgresSettings", "PostgresSink", "plugin"]
