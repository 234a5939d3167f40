"""What the graph sink needs from an engine: one transaction per batch, schema, a ping."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

from sinks.graph.dialects import Dialect
from sinks.graph.statements import Statement

Call = tuple[Statement, dict[str, Any]]
"""A statement with its bound parameters."""

Plan = Callable[[frozenset[str]], Sequence[Call]]
"""Given the event ids already stored, the calls that write the rest of the batch."""


class GraphEngine(Protocol):
    """A connection to Neo4j or FalkorDB. Engine errors are raised as they are;
    the sink classifies them (``sinks.graph.errors``)."""

    @property
    def dialect(self) -> Dialect: ...

    async def create_schema(self) -> None:
        """Create the uniqueness constraints and indexes; idempotent."""

    async def write_batch(self, event_ids: Sequence[str], plan: Plan) -> frozenset[str]:
        """In one transaction: find which of ``event_ids`` are stored, run ``plan`` of them.

        Returns the ids that were already stored (the batch's duplicates). All of the
        plan's calls commit together or none does.
        """
        ...

    async def read(self, statement: Statement, params: dict[str, Any]) -> list[dict[str, Any]]:
        """Run a read-only statement and return its rows as dicts."""
        ...

    async def ping(self) -> None:
        """Run a trivial query; raise when the engine does not answer."""

    async def close(self) -> None:
        """Release every connection."""
