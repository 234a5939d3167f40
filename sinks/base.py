"""The one extension point: what a sink must guarantee to the pipeline.

A sink receives batches of decoded events and must make them durable. The pipeline
does everything sink-agnostic around it (batching, retries, dead letters, commits,
metrics), so a sink only writes.

Guarantees a sink gives:

* **Idempotent and order-independent.** Writing any permutation or duplication of a
  set of events leaves the same state. The pipeline delivers at least once and may
  hand the same record over again after a crash or a rebalance.
* **All or nothing per batch.** ``write`` either makes the whole batch durable or
  nothing of it, so the pipeline can retry or split the batch.
* **One version per event id.** An event id the sink holds with other content is
  resolved by ``contracts.canonical`` inside the write's transaction, race-free against
  concurrent writers: the version whose canonical JSON sorts first is kept, everything
  derived from the other is rebuilt away, and the loser is reported in ``WriteResult``.
* **Typed failures.** ``TransientSinkError`` means "the same batch may succeed later"
  (connection lost, deadlock, timeout): the pipeline retries it with backoff and never
  commits past it. ``PermanentSinkError`` means "this batch can never be written as
  it is" (a value the store rejects): the pipeline splits the batch to isolate the
  offending records and dead-letters them. ``SinkMisconfigured`` means "no retry can
  fix this" (authentication refused, no such database, a statement the server rejects):
  the pipeline stops with its message, which names the setting to fix. Any other
  exception is treated as transient, because losing data is worse than retrying.

Every exception runledger raises on purpose, and what the pipeline and the commands do
with each, is listed in docs/errors.md.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Generic, Protocol, TypeVar, runtime_checkable

from pydantic_settings import BaseSettings

from contracts import Event


@dataclass(frozen=True, slots=True)
class SinkRecord:
    """One decoded event with the raw value and the Kafka coordinates it came from.

    ``value`` is the JSON document; ``schema_id`` the schema-registry id its producer
    framed it with (``contracts.framing``), or None for a plain JSON value.
    """

    event: Event
    value: bytes
    topic: str
    partition: int
    offset: int
    schema_id: int | None = None


@dataclass(frozen=True, slots=True)
class Displaced:
    """A stored version of an event id that a version sorting first replaced.

    ``value`` is its canonical JSON (``contracts.canonical``); the coordinates are where
    it was read from, or None when the sink did not keep them.
    """

    event_id: str
    value: bytes
    topic: str | None
    partition: int | None
    offset: int | None
    message: str


@dataclass(frozen=True, slots=True)
class WriteResult:
    """What a write did besides writing.

    ``duplicate_event_ids``: ids the sink already held with the same content.
    ``conflicts``: ids of the batch the sink held with other content sorting first, so
    the batch's version was not written (id -> why). ``displaced``: stored versions the
    batch's version replaced. Both are conflicting duplicates the pipeline dead-letters.
    """

    duplicate_event_ids: frozenset[str] = field(default_factory=frozenset)
    conflicts: Mapping[str, str] = field(default_factory=dict)
    displaced: tuple[Displaced, ...] = ()

    def merged(self, other: WriteResult) -> WriteResult:
        """The result of two writes of disjoint records."""
        return WriteResult(
            self.duplicate_event_ids | other.duplicate_event_ids,
            {**self.conflicts, **other.conflicts},
            self.displaced + other.displaced,
        )


class SinkError(Exception):
    """Base class of the errors a sink raises on purpose."""

    retriable: bool = True


class TransientSinkError(SinkError):
    """The sink cannot write now; the same batch may succeed later."""

    retriable = True


class PermanentSinkError(SinkError):
    """The batch can never be written as it is; some record in it is at fault."""

    retriable = False


class SinkMisconfigured(SinkError):
    """The sink refuses us whatever the records: its message says which setting to fix."""

    retriable = False


@runtime_checkable
class Sink(Protocol):
    """A store the pipeline writes events into. See the module docstring for guarantees."""

    @property
    def name(self) -> str:
        """Short, stable name: a metrics label and part of the consumer group id."""
        ...

    async def start(self) -> None:
        """Connect and prepare (e.g. constraints). Raises ``TransientSinkError`` if unreachable."""

    async def write(self, batch: Sequence[SinkRecord]) -> WriteResult:
        """Make the whole batch durable in one transaction, idempotently."""
        ...

    async def health(self) -> None:
        """Return when the store answers; raise ``SinkError`` when it does not."""

    async def close(self) -> None:
        """Release connections. Called once, also after a failed ``start``."""


@dataclass(frozen=True, slots=True)
class TaskSnapshot:
    """A task's current (highest) attempt as a sink holds it."""

    attempt: int
    status: str


@dataclass(frozen=True, slots=True)
class RunSnapshot:
    """What every sink must agree on about one run; ``runledger reconcile`` compares these.

    The fields are those of ``sinks.state.RunSummary`` that need no time arithmetic,
    plus each task's current attempt (task id -> attempt and status).
    """

    run_id: str
    status: str
    tasks_total: int
    tasks_successful: int
    tasks_failed: int
    tasks_running: int
    tasks_waiting: int
    tokens_input: int
    tokens_output: int
    tokens_total: int
    tool_calls: int
    tasks: Mapping[str, TaskSnapshot] = field(default_factory=dict)


@runtime_checkable
class RunSnapshotSource(Protocol):
    """Optional read side of a sink, for reconciliation between sinks.

    ``run_snapshots`` works on a sink that was built but not started (it opens what it
    needs; ``close`` releases it), reads committed state only, and returns the runs
    asked for that the sink holds (every run when ``run_ids`` is None), keyed by run id.
    A run the sink does not hold is simply absent.
    """

    async def run_snapshots(
        self, run_ids: Collection[str] | None = None
    ) -> dict[str, RunSnapshot]: ...


S = TypeVar("S", bound=BaseSettings)


@dataclass(frozen=True)
class SinkPlugin(Generic[S]):
    """How a sink is found and built: registered under the ``runledger.sinks`` entry points.

    ``settings_type`` is a pydantic-settings class reading ``RUNLEDGER_<NAME>__*``; it is
    instantiated once at start-up and handed to ``factory``.
    """

    name: str
    settings_type: type[S]
    factory: Callable[[S], Sink]
    description: str = ""

    def load_settings(self) -> S:
        """Read this sink's settings from the environment (and ``.env``)."""
        return self.settings_type()

    def create(self, settings: S | None = None) -> Sink:
        """Build the sink from its settings (read from the environment when not given)."""
        return self.factory(settings if settings is not None else self.load_settings())
