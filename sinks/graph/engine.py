"""What the graph sink needs from an engine: one transaction per batch, schema, a ping."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from sinks.base import WriteResult
from sinks.graph.dialects import Dialect
from sinks.graph.statements import Statement

Call = tuple[Statement, dict[str, Any]]
"""A statement with its bound parameters."""


class GraphSession(Protocol):
    """What a batch's plan may do before the batch's writes.

    On Neo4j both run inside the batch's transaction; on FalkorDB reads are separate
    queries and nothing is locked: the write query's guard checks the reads instead.
    """

    async def read(self, statement: Statement, params: dict[str, Any]) -> list[dict[str, Any]]:
        """Run a read-only statement and return its rows as dicts."""
        ...

    async def lock(self, statement: Statement, params: dict[str, Any]) -> None:
        """Run a statement that only takes write locks (Neo4j); nothing on FalkorDB."""


@dataclass(frozen=True)
class Planned:
    """A batch's writes, the guard its reads must still pass (FalkorDB), and its report."""

    calls: Sequence[Call]
    guard: Call
    result: WriteResult


Plan = Callable[[GraphSession], Awaitable[Planned]]
"""Reads what the batch needs to know of the stored graph, then plans the batch."""


class GraphEngine(Protocol):
    """A connection to Neo4j or FalkorDB. Engine errors are raised as they are;
    the sink classifies them (``sinks.graph.errors``)."""

    @property
    def dialect(self) -> Dialect: ...

    async def create_schema(self) -> None:
        """Create the uniqueness constraints and indexes; idempotent."""

    async def write_batch(self, plan: Plan) -> WriteResult:
        """In one transaction: run ``plan`` with a session of this engine, then its calls.

        Returns the plan's report. All of the plan's calls commit together or none does,
        and only while what the plan read still holds.
        """
        ...

    async def read(self, statement: Statement, params: dict[str, Any]) -> list[dict[str, Any]]:
        """Run a read-only statement and return its rows as dicts."""
        ...

    async def ping(self) -> None:
        """Run a trivial query; raise when the engine does not answer."""

    async def close(self) -> None:
        """Release every connection."""
