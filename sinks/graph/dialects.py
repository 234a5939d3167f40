"""Where Neo4j and FalkorDB differ, and nowhere else: schema statements and time values.

Every write statement is shared by both engines (``sinks.graph.statements``). The two
differences are kept here:

* **Time.** Neo4j stores native ``DATETIME`` values (the driver turns an aware ``datetime``
  into one). FalkorDB has no ``datetime()``, so times go in as epoch milliseconds (UTC
  integers), which order and subtract the same way. ``millis(expr)`` is the one Cypher
  fragment that differs: how to read a stored time as epoch milliseconds, used for
  durations (``endTime - startTime``).
* **Schema.** Neo4j creates uniqueness constraints with ``CREATE CONSTRAINT ... IF NOT
  EXISTS``; FalkorDB needs a range index first and a ``GRAPH.CONSTRAINT`` command, done by
  its engine from ``UNIQUE_IDS`` and ``LOOKUP_INDEXES``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

EngineName = Literal["neo4j", "falkordb"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_MS = timedelta(milliseconds=1)

# Labels whose ``id`` is unique (a constraint on each), and the other lookups we index.
UNIQUE_IDS = ("Run", "TaskExecution", "TaskAttempt", "Plan", "Event")
LOOKUP_INDEXES = (("Event", "runId"), ("Run", "parentRunId"))


@dataclass(frozen=True)
class Dialect:
    """The engine-specific parts of the statements and parameters."""

    name: EngineName

    def time(self, value: datetime) -> datetime | int:
        """A time as a parameter: native on Neo4j, epoch milliseconds on FalkorDB."""
        if self.name == "neo4j":
            return value.astimezone(UTC)
        return (value - _EPOCH) // _ONE_MS  # aware subtraction: any offset, exact, no floats

    def millis(self, expression: str) -> str:
        """Cypher reading the stored time ``expression`` as epoch milliseconds."""
        return f"{expression}.epochMillis" if self.name == "neo4j" else expression

    def schema_statements(self) -> tuple[str, ...]:
        """Cypher that creates constraints and indexes idempotently (Neo4j only)."""
        if self.name != "neo4j":
            return ()
        constraints = tuple(
            f"CREATE CONSTRAINT {label.lower()}_id_unique IF NOT EXISTS "
            f"FOR (n:{label}) REQUIRE n.id IS UNIQUE"
            for label in UNIQUE_IDS
        )
        indexes = tuple(
            f"CREATE INDEX {label.lower()}_{prop.lower()} IF NOT EXISTS "
            f"FOR (n:{label}) ON (n.{prop})"
            for label, prop in LOOKUP_INDEXES
        )
        return constraints + indexes


NEO4J = Dialect("neo4j")
FALKORDB = Dialect("falkordb")
