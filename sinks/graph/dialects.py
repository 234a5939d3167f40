"""Where Neo4j and FalkorDB differ, and nowhere else: schema, time values and subqueries.

Every write statement is shared by both engines (``sinks.graph.statements``). The
differences are kept here (and the write lock Neo4j needs, ``write_lock``):

* **Time.** Neo4j stores native ``DATETIME`` values (the driver turns an aware ``datetime``
  into one). FalkorDB has no ``datetime()``, so times go in as epoch milliseconds (UTC
  integers), which order and subtract the same way. ``millis(expr)`` is the one Cypher
  fragment that differs: how to read a stored time as epoch milliseconds, used for
  durations (``endTime - startTime``).
* **Schema.** Neo4j creates uniqueness constraints with ``CREATE CONSTRAINT ... IF NOT
  EXISTS``; FalkorDB needs a range index first and a ``GRAPH.CONSTRAINT`` command, done by
  its engine from ``UNIQUE_KEYS`` and ``LOOKUP_INDEXES``.

Identity: a task execution is ``(runId, taskId)`` and a task attempt ``(runId, taskId,
attemptNumber)``, each unique by a composite constraint. Their seed-compatible ``id``
(``<run_id>-<task_id>``) is ambiguous (run ``a-b`` + task ``c`` = run ``a`` + task
``b-c``), so it is only an indexed property for queries, never what a write matches on.
runledger 0.1 made that ``id`` unique; those two constraints are dropped at start-up.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

EngineName = Literal["neo4j", "falkordb"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_MS = timedelta(milliseconds=1)

# The identity of each label (a uniqueness constraint on each), and the other lookups.
UNIQUE_KEYS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Run", ("id",)),
    ("Plan", ("id",)),
    ("Event", ("id",)),
    ("TaskExecution", ("runId", "taskId")),
    ("TaskAttempt", ("runId", "taskId", "attemptNumber")),
)
LOOKUP_INDEXES = (
    ("Event", "runId"),
    ("Run", "parentRunId"),
    ("TaskExecution", "id"),
    ("TaskAttempt", "id"),
)
# runledger 0.1 made the ambiguous ``id`` of these labels unique.
LEGACY_UNIQUE_IDS = ("TaskExecution", "TaskAttempt")


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

    def write_lock(self, node: str) -> str:
        """Cypher write-locking ``node`` for the rest of the transaction (Neo4j only).

        FalkorDB runs one write query at a time, so it needs none; and it would keep the
        property on a node the query creates (``REMOVE`` of a property set in the same
        query), so a bare parent would carry ``lock: true`` depending on its history."""
        return f"SET {node}.lock = true REMOVE {node}.lock" if self.name == "neo4j" else ""

    def subquery(self, *variables: str) -> str:
        """The opening of a ``CALL`` subquery that imports ``variables`` (closed by ``}``).

        Neo4j 5 deprecates the importing ``WITH`` for a scope clause FalkorDB lacks."""
        names = ", ".join(variables)
        return f"CALL ({names}) {{" if self.name == "neo4j" else f"CALL {{ WITH {names}"

    def schema_statements(self) -> tuple[str, ...]:
        """Cypher that creates constraints and indexes idempotently (Neo4j only).

        A composite index on the events' ``(runId, occurredAt)`` lets the event chain find
        a new event's neighbours with one index seek instead of reading the run's events.
        The last statement waits until every index is online: a constraint guards writes
        only once its index is populated.
        """
        if self.name != "neo4j":
            return ()
        legacy = tuple(
            f"DROP CONSTRAINT {label.lower()}_id_unique IF EXISTS" for label in LEGACY_UNIQUE_IDS
        )
        constraints = tuple(
            f"CREATE CONSTRAINT {_constraint_name(label, props)} IF NOT EXISTS "
            f"FOR (n:{label}) REQUIRE {_properties(props)} IS UNIQUE"
            for label, props in UNIQUE_KEYS
        )
        indexes = tuple(
            f"CREATE INDEX {label.lower()}_{prop.lower()} IF NOT EXISTS "
            f"FOR (n:{label}) ON (n.{prop})"
            for label, prop in LOOKUP_INDEXES
        )
        chain = (
            "CREATE INDEX event_runid_occurredat IF NOT EXISTS "
            "FOR (n:Event) ON (n.runId, n.occurredAt)"
        )
        return (*legacy, *constraints, *indexes, chain, "CALL db.awaitIndexes(300)")


NEO4J = Dialect("neo4j")
FALKORDB = Dialect("falkordb")


def _constraint_name(label: str, props: tuple[str, ...]) -> str:
    suffix = "id" if props == ("id",) else "key"
    return f"{label.lower()}_{suffix}_unique"


def _properties(props: tuple[str, ...]) -> str:
    listed = ", ".join(f"n.{p}" for p in props)
    return listed if len(props) == 1 else f"({listed})"
