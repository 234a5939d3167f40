"""The semantics every sink shares: state is a pure function of the *set* of events.

Every piece of state is a *merge group*: fields that all come from one winning event,
chosen by a total order on a key. Merging two partial states keeps each group's
winner, so the merge is commutative, associative and idempotent: any arrival order
and any duplication give the same result. The relational sink applies the same rule
in SQL (``ON CONFLICT DO UPDATE``), the graph sink in Cypher; this module is the
reference both are tested against, and the per-batch pre-fold both use.

Groups and their winners:

* task start (per run, task, attempt): the earliest ``task-start`` by (occurred_at, event_id);
* task result: the highest (status rank, occurred_at, event_id), where terminal
  statuses outrank ``waiting``, which outranks a bare start (``running``);
* run declaration: the earliest ``run-start``, else the earliest ``task-start``
  that repeats run fields (plan_id, total_tasks, parent_run_id);
* run finalization: the latest ``run-finalized``.

Run aggregates are never incremented: ``summarize_run`` recomputes them from the
task states every time.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple, TypeVar

from contracts import Event, RunStart, TaskStart

TERMINAL_TASK_STATUSES = frozenset({"success", "failure", "cancelled", "skipped"})
RUNNING = "running"


def result_rank(status: str) -> int:
    """Precedence of a task status: terminal (2) > waiting (1) > running (0)."""
    if status in TERMINAL_TASK_STATUSES:
        return 2
    return 1 if status == "waiting" else 0


class TaskKey(NamedTuple):
    """Identity of one task attempt; sorting by it gives the lock order."""

    run_id: str
    task_id: str
    attempt: int


class TaskStartFacts(NamedTuple):
    """What the winning ``task-start`` of an attempt says."""

    occurred_at: datetime
    event_id: str
    title: str | None
    agent_role: str | None
    qc_role: str | None
    prompt: str | None
    depends_on: tuple[str, ...]
    attributes: dict[str, Any] | None

    def key(self) -> tuple[datetime, str]:
        return (self.occurred_at, self.event_id)


class TaskResultFacts(NamedTuple):
    """What the winning ``task-result`` of an attempt says."""

    occurred_at: datetime
    event_id: str
    status: str
    output: Any
    error: str | None
    duration_ms: int | None
    tokens_input: int
    tokens_output: int
    tool_calls: int
    qc_passed: bool | None
    qc_score: float | None
    qc_feedback: str | None
    qc_issues: tuple[str, ...]
    qc_required_fixes: tuple[str, ...]

    @property
    def rank(self) -> int:
        return result_rank(self.status)

    def key(self) -> tuple[int, datetime, str]:
        return (self.rank, self.occurred_at, self.event_id)

    @property
    def ended_at(self) -> datetime | None:
        """When the attempt ended: only a terminal result ends it."""
        return self.occurred_at if self.rank == 2 else None


class RunDeclarationFacts(NamedTuple):
    """Run-level fields declared by a ``run-start`` (rank 0) or a ``task-start`` (rank 1)."""

    rank: int
    occurred_at: datetime
    event_id: str
    plan_id: str | None
    total_tasks: int | None
    parent_run_id: str | None
    root_run_id: str | None
    title: str | None
    owner: str | None
    attributes: dict[str, Any] | None

    def key(self) -> tuple[int, datetime, str]:
        return (self.rank, self.occurred_at, self.event_id)


class RunFinalFacts(NamedTuple):
    """What the latest ``run-finalized`` says."""

    occurred_at: datetime
    event_id: str
    status: str | None
    cancelled: bool
    final_result: Any
    error: str | None

    def key(self) -> tuple[datetime, str]:
        return (self.occurred_at, self.event_id)


_F = TypeVar("_F", TaskStartFacts, TaskResultFacts, RunDeclarationFacts, RunFinalFacts)


def _lowest(a: _F | None, b: _F | None) -> _F | None:
    if a is None or b is None:
        return a or b
    return a if a.key() <= b.key() else b


def _highest(a: _F | None, b: _F | None) -> _F | None:
    if a is None or b is None:
        return a or b
    return a if a.key() >= b.key() else b


class TaskState(NamedTuple):
    """The merged state of one task attempt."""

    start: TaskStartFacts | None = None
    result: TaskResultFacts | None = None

    @property
    def status(self) -> str:
        return self.result.status if self.result else RUNNING

    def merge(self, other: TaskState) -> TaskState:
        return TaskState(_lowest(self.start, other.start), _highest(self.result, other.result))


class RunFacts(NamedTuple):
    """The merged run-level groups of one run (aggregates come from its tasks)."""

    declaration: RunDeclarationFacts | None = None
    finalization: RunFinalFacts | None = None

    def merge(self, other: RunFacts) -> RunFacts:
        return RunFacts(
            _lowest(self.declaration, other.declaration),
            _highest(self.finalization, other.finalization),
        )


@dataclass(slots=True)
class Ledger:
    """Merged state of a set of events: what one batch (or a whole stream) amounts to."""

    runs: dict[str, RunFacts] = field(default_factory=dict)
    tasks: dict[TaskKey, TaskState] = field(default_factory=dict)

    def add(self, event: Event) -> None:
        """Merge one event in; duplicates and any order give the same ledger."""
        # Merging into nothing (or merging nothing in) is the identity: skip the merge.
        facts, runs = run_facts(event), self.runs
        run = runs.get(event.run_id)
        if run is None:
            runs[event.run_id] = facts
        elif facts is not _EMPTY_RUN:
            runs[event.run_id] = run.merge(facts)
        task = task_facts(event)
        if task is not None:
            key, state = task
            stored = self.tasks.get(key)
            self.tasks[key] = state if stored is None else stored.merge(state)

    def tasks_of(self, run_id: str) -> dict[TaskKey, TaskState]:
        return {k: v for k, v in self.tasks.items() if k.run_id == run_id}


_EMPTY_RUN = RunFacts()


def fold(events: Iterable[Event]) -> Ledger:
    """The ledger of a set of events."""
    ledger = Ledger()
    for event in events:
        ledger.add(event)
    return ledger


def run_facts(event: Event) -> RunFacts:
    """The run-level groups one event contributes (possibly none)."""
    # The type tag, not isinstance: a check against a pydantic model class goes through
    # ABCMeta, several times per event.
    if event.type == "run-start":
        return RunFacts(declaration=_declaration(event, 0, event.title, event.owner))
    if event.type == "run-finalized":
        final = RunFinalFacts(
            occurred_at=event.occurred_at,
            event_id=event.event_id,
            status=event.status,
            cancelled=event.cancelled,
            final_result=event.final_result,
            error=event.error,
        )
        return RunFacts(finalization=final)
    if event.type == "task-start" and (
        event.plan_id is not None or event.total_tasks is not None or event.parent_run_id
    ):
        return RunFacts(declaration=_declaration(event, 1, None, None))
    return _EMPTY_RUN


def _declaration(
    event: RunStart | TaskStart, rank: int, title: str | None, owner: str | None
) -> RunDeclarationFacts:
    return RunDeclarationFacts(
        rank=rank,
        occurred_at=event.occurred_at,
        event_id=event.event_id,
        plan_id=event.plan_id,
        total_tasks=event.total_tasks,
        parent_run_id=event.parent_run_id,
        root_run_id=event.root_run_id if isinstance(event, RunStart) else None,
        title=title,
        owner=owner,
        attributes=event.attributes if isinstance(event, RunStart) else None,
    )


def task_facts(event: Event) -> tuple[TaskKey, TaskState] | None:
    """The task-attempt state one event contributes, or None for run-level events."""
    if event.type == "task-start":
        start = TaskStartFacts(
            occurred_at=event.occurred_at,
            event_id=event.event_id,
            title=event.title,
            agent_role=event.agent_role,
            qc_role=event.qc_role,
            prompt=event.prompt,
            depends_on=tuple(event.depends_on),
            attributes=event.attributes,
        )
        return TaskKey(event.run_id, event.task_id, event.attempt), TaskState(start=start)
    if event.type == "task-result":
        tokens, qc = event.tokens, event.qc
        result = TaskResultFacts(
            occurred_at=event.occurred_at,
            event_id=event.event_id,
            status=event.status,
            output=event.output,
            error=event.error,
            duration_ms=event.duration_ms,
            tokens_input=tokens.input if tokens else 0,
            tokens_output=tokens.output if tokens else 0,
            tool_calls=event.tool_calls or 0,
            qc_passed=qc.passed if qc else None,
            qc_score=qc.score if qc else None,
            qc_feedback=qc.feedback if qc else None,
            qc_issues=tuple(qc.issues) if qc else (),
            qc_required_fixes=tuple(qc.required_fixes) if qc else (),
        )
        return TaskKey(event.run_id, event.task_id, event.attempt), TaskState(result=result)
    return None


@dataclass(frozen=True, slots=True)
class TaskTotals:
    """Aggregates over a run's task attempts (counts over each task's current attempt)."""

    distinct_tasks: int = 0
    successful: int = 0
    failed: int = 0
    running: int = 0
    waiting: int = 0
    tokens_input: int = 0
    tokens_output: int = 0
    tool_calls: int = 0
    first_task_start: datetime | None = None


def task_totals(tasks: Mapping[TaskKey, TaskState]) -> TaskTotals:
    """Reference aggregation of one run's attempts (the sinks compute the same in their store)."""
    current: dict[str, tuple[int, TaskState]] = {}
    for key, state in tasks.items():
        if key.task_id not in current or key.attempt > current[key.task_id][0]:
            current[key.task_id] = (key.attempt, state)
    statuses = [state.status for _, state in current.values()]
    starts = [s.start.occurred_at for s in tasks.values() if s.start is not None]
    results = [s.result for s in tasks.values() if s.result is not None]
    return TaskTotals(
        distinct_tasks=len(current),
        successful=statuses.count("success"),
        failed=statuses.count("failure"),
        running=statuses.count(RUNNING),
        waiting=statuses.count("waiting"),
        tokens_input=sum(r.tokens_input for r in results),
        tokens_output=sum(r.tokens_output for r in results),
        tool_calls=sum(r.tool_calls for r in results),
        first_task_start=min(starts, default=None),
    )


@dataclass(frozen=True, slots=True)
class RunSummary:
    """The derived columns of a run: status, times and aggregates."""

    status: str
    started_at: datetime | None
    ended_at: datetime | None
    duration_ms: int | None
    tasks_total: int
    tasks_successful: int
    tasks_failed: int
    tasks_running: int
    tasks_waiting: int
    tokens_input: int
    tokens_output: int
    tokens_total: int
    tool_calls: int


def summarize_run(facts: RunFacts, totals: TaskTotals) -> RunSummary:
    """Derive a run's status, times and counters from its groups and task totals."""
    decl, final = facts.declaration, facts.finalization
    starts = [t for t in (totals.first_task_start,) if t is not None]
    if decl is not None and decl.rank == 0:
        starts.append(decl.occurred_at)
    started_at = min(starts, default=None)
    ended_at = final.occurred_at if final else None
    duration_ms = None
    if started_at is not None and ended_at is not None:
        duration_ms = round((ended_at - started_at).total_seconds() * 1000)
    return RunSummary(
        status=run_status(final, totals),
        started_at=started_at,
        ended_at=ended_at,
        duration_ms=duration_ms,
        tasks_total=max((decl.total_tasks or 0) if decl else 0, totals.distinct_tasks),
        tasks_successful=totals.successful,
        tasks_failed=totals.failed,
        tasks_running=totals.running,
        tasks_waiting=totals.waiting,
        tokens_input=totals.tokens_input,
        tokens_output=totals.tokens_output,
        tokens_total=totals.tokens_input + totals.tokens_output,
        tool_calls=totals.tool_calls,
    )


def run_status(final: RunFinalFacts | None, totals: TaskTotals) -> str:
    """The run status rule of the design (finalized status wins once seen)."""
    if final is not None:
        if final.status:
            return final.status
        if final.cancelled:
            return "cancelled"
        return "failed" if totals.failed else "completed"
    if totals.failed:
        return "failed"
    if totals.waiting:
        return "waiting"
    return RUNNING if totals.distinct_tasks else "pending"
