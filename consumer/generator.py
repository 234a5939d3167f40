"""A realistic, reproducible stream of orchestration telemetry, with the totals it must give.

Used by ``runledger demo`` and the benchmarks. ``generate(runs, seed)`` simulates runs of a
few plans (parallel and dependent tasks, retries, failures, tasks waiting on a human,
cancelled and partial runs, child runs, producers that send no ``run-start``) and then
does to the stream what real delivery does: some records are published twice, some of a
run's records arrive out of order, and a few poison records sit between good ones.
``expected`` is computed from the intended events with the reference model
(``sinks.state``), so a sink can be checked against it. ``valid_events(n, seed)`` is the
fast path for benchmarks: exactly ``n`` valid records, no faults, no reference model.
"""

from __future__ import annotations

import functools
import itertools
import json
import random
from collections import Counter, defaultdict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import pydantic_core

from contracts import DecodeError, Event, decode_event
from sinks.state import RunSummary, TaskKey, TaskState, fold, summarize_run, task_totals

PRODUCER: Final = "demo-orchestrator"
DEFAULT_START: Final = datetime(2025, 11, 14, 15, 0, tzinfo=UTC)
MEAN_RUN_GAP_SECONDS: Final = 4.0
"""Average time between two top-level runs starting; a stream of N runs spans about N x this."""

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class TaskSpec:
    """One task of a plan."""

    task_id: str
    title: str
    agent_role: str
    depends_on: tuple[str, ...] = ()
    qc_role: str | None = None
    approval: bool = False  # may pause, waiting on a human
    delegates: str | None = None  # plan of the child run it may spawn
    mean_seconds: float = 20.0


@dataclass(frozen=True, slots=True)
class PlanSpec:
    """A plan: tasks in a dependency (topological) order."""

    plan_id: str
    title: str
    tasks: tuple[TaskSpec, ...]


def _t(task_id: str, title: str, role: str, *deps: str, **extra: Any) -> TaskSpec:
    return TaskSpec(task_id, title, role, tuple(deps), **extra)


PLANS: Final[tuple[PlanSpec, ...]] = (
    PlanSpec("plan-kolache-recipe", "Kolache recipe", (
        _t("task-1", "Validate environment", "Environment validator", qc_role="QC reviewer",
           mean_seconds=5),
        _t("task-2", "Fetch pricing API", "Data fetcher", "task-1", mean_seconds=12),
        _t("task-3", "Write recipe", "Writer", "task-1", qc_role="QC reviewer"),
        _t("task-4", "Estimate costs", "Analyst", "task-2", "task-3"),
        _t("task-5", "Publish recipe", "Publisher", "task-4", approval=True, mean_seconds=4),
    )),
    PlanSpec("plan-research-brief", "Research brief", (
        _t("task-1", "Outline the brief", "Planner", mean_seconds=8),
        _t("task-2", "Search academic sources", "Researcher", "task-1", mean_seconds=40),
        _t("task-3", "Search news coverage", "Researcher", "task-1", mean_seconds=30),
        _t("task-4", "Deep-dive on key claims", "Lead researcher", "task-1",
           delegates="plan-deep-dive", mean_seconds=45),
        _t("task-5", "Synthesize findings", "Writer", "task-2", "task-3", "task-4",
           qc_role="Fact checker", mean_seconds=35),
        _t("task-6", "Editorial review", "Editor", "task-5", approval=True, mean_seconds=10),
    )),
    PlanSpec("plan-code-fix", "Fix a reported bug", (
        _t("task-1", "Reproduce the bug", "QA engineer", mean_seconds=25),
        _t("task-2", "Locate the root cause", "Debugger", "task-1", mean_seconds=50),
        _t("task-3", "Write the patch", "Developer", "task-2", qc_role="Code reviewer",
           mean_seconds=60),
        _t("task-4", "Run unit tests", "Test runner", "task-3", mean_seconds=30),
        _t("task-5", "Run integration tests", "Test runner", "task-3", mean_seconds=70),
        _t("task-6", "Open pull request", "Release manager", "task-4", "task-5", approval=True,
           mean_seconds=6),
    )),
    PlanSpec("plan-data-sync", "Nightly data sync", (
        _t("task-1", "Extract CRM accounts", "Extractor", mean_seconds=30),
        _t("task-2", "Extract billing records", "Extractor", mean_seconds=35),
        _t("task-3", "Transform and join", "Transformer", "task-1", "task-2", mean_seconds=40),
        _t("task-4", "Load warehouse", "Loader", "task-3", mean_seconds=25),
        _t("task-5", "Verify row counts", "Auditor", "task-4", qc_role="Data steward",
           mean_seconds=10),
    )),
    PlanSpec("plan-support-triage", "Support ticket triage", (
        _t("task-1", "Classify the ticket", "Classifier", mean_seconds=4),
        _t("task-2", "Look up the account", "Account agent", mean_seconds=6),
        _t("task-3", "Investigate the incident", "Support engineer", "task-1", "task-2",
           delegates="plan-escalation", mean_seconds=30),
        _t("task-4", "Draft the reply", "Writer", "task-3", qc_role="Tone reviewer",
           mean_seconds=15),
        _t("task-5", "Send the reply", "Support lead", "task-4", approval=True, mean_seconds=3),
    )),
)  # fmt: skip

CHILD_PLANS: Final[dict[str, PlanSpec]] = {
    plan.plan_id: plan
    for plan in (
        PlanSpec("plan-deep-dive", "Deep-dive on a claim", (
            _t("task-1", "Collect primary sources", "Researcher", mean_seconds=20),
            _t("task-2", "Check the numbers", "Analyst", "task-1", mean_seconds=15),
            _t("task-3", "Summarize the evidence", "Writer", "task-1", qc_role="Fact checker",
               mean_seconds=12),
        )),
        PlanSpec("plan-escalation", "Escalation to engineering", (
            _t("task-1", "Collect logs", "Support engineer", mean_seconds=10),
            _t("task-2", "Diagnose", "On-call engineer", "task-1", mean_seconds=25),
        )),
    )
}  # fmt: skip

# Intended outcomes of top-level runs and how often they occur.
_OUTCOMES: Final = (
    ("completed", 52), ("failed", 14), ("partial", 7), ("cancelled", 7),
    ("waiting", 9), ("running", 8), ("pending", 3),
)  # fmt: skip
_ERRORS: Final = (
    "Timeout waiting for API response",
    "Tool call rejected: rate limited",
    "Model returned invalid JSON",
    "Dependency unavailable: vector store",
    "Context window exceeded",
    "Permission denied on repository",
)
_QC_ISSUES: Final = (
    "Incomplete data", "Missing validation", "Unsupported claim", "Tone too informal",
    "Numbers do not add up", "No tests for the edge case",
)  # fmt: skip
_RETRY_RATE: Final = 0.12
_MAX_ATTEMPTS: Final = 3


# -- the result ------------------------------------------------------------------------


@dataclass(frozen=True)
class ExpectedTotals:
    """What a correct sink holds after consuming the stream (from ``sinks.state``)."""

    published: int
    """Records in the stream, duplicates and poison included."""
    valid_events: int
    """Distinct valid events (distinct event ids)."""
    duplicates: int
    """Valid records that repeat an event already in the stream."""
    reordered: int
    """Pairs of a run's records swapped in publish order."""
    poison_by_reason: Mapping[str, int]
    """Records that must be dead-lettered, by ``DecodeReason`` value."""
    runs_by_status: Mapping[str, int]
    child_runs: int
    tasks_total: int
    """Sum of the runs' ``tasks_total``."""
    task_attempts: int
    tasks_by_status: Mapping[str, int]
    """Status of each task's current (highest) attempt."""
    tokens_input: int
    tokens_output: int
    tool_calls: int
    summaries: Mapping[str, RunSummary] = field(repr=False)
    """The derived state of every run, by run id."""

    @property
    def runs(self) -> int:
        return sum(self.runs_by_status.values())

    @property
    def poison(self) -> int:
        return sum(self.poison_by_reason.values())

    @property
    def tokens_total(self) -> int:
        return self.tokens_input + self.tokens_output


@dataclass(frozen=True)
class GeneratedStream:
    """Raw records in publish order and the totals they must amount to."""

    events: list[bytes]
    keys: list[bytes | None]
    """The Kafka key of each record: its run_id (None for poison that names no run)."""
    expected: ExpectedTotals

    def keyed(self) -> Iterator[tuple[bytes | None, bytes]]:
        """(key, value) pairs in publish order."""
        return zip(self.keys, self.events, strict=True)


# -- public API ------------------------------------------------------------------------


def generate(
    runs: int,
    seed: int,
    *,
    duplicate_rate: float = 0.03,
    reorder_rate: float = 0.08,
    poison: int = 6,
    start: datetime = DEFAULT_START,
) -> GeneratedStream:
    """A stream of ``runs`` runs (child runs included) with faults, and its expected totals.

    ``duplicate_rate`` is the share of records published twice, ``reorder_rate`` the share
    of runs with two records swapped, ``poison`` the number of invalid records (one of each
    kind in turn). The same arguments always give the same bytes.
    """
    if runs < 1:
        raise ValueError("runs must be at least 1")
    rng = random.Random(seed)  # noqa: S311 - reproducible test data, no secrets
    timeline = _simulate(rng, runs, start)
    records: list[tuple[bytes | None, bytes]] = [(_key(e), _encode(e)) for _, _, e in timeline]
    reordered = _reorder(rng, records, reorder_rate)
    published = _add_duplicates_and_poison(rng, records, duplicate_rate, poison, start)
    values = [value for _, value in published]
    return GeneratedStream(
        events=values,
        keys=[key for key, _ in published],
        expected=_expected(values, reordered),
    )


def valid_events(count: int, seed: int = 0, *, start: datetime = DEFAULT_START) -> list[bytes]:
    """Exactly ``count`` valid records in publish order: no faults, no reference model."""
    rng = random.Random(seed)  # noqa: S311 - reproducible test data, no secrets
    runs = max(1, count // 11 + 1)
    while True:
        timeline = _simulate(rng, runs, start)
        if len(timeline) >= count:
            return [_encode(e) for _, _, e in timeline[:count]]
        runs *= 2


# -- simulation ------------------------------------------------------------------------

Timeline = list[tuple[int, int, dict[str, Any]]]  # (occurred ms, sequence, event)


def _simulate(rng: random.Random, runs: int, start: datetime) -> Timeline:
    """Every event of ``runs`` runs, sorted by occurred_at (the order producers emit)."""
    timeline: Timeline = []
    order = itertools.count()  # tie-breaker that keeps emission order for equal times
    clock = _ms(start)
    made = 0
    while made < runs:
        clock += max(1, round(rng.expovariate(1 / MEAN_RUN_GAP_SECONDS) * 1000))
        plan = rng.choice(PLANS)
        outcome = _pick_outcome(rng)
        run = _RunSim(rng, order, f"exec-{clock}", plan, outcome, clock, budget=runs - made - 1)
        run.play()
        made += run.count_runs()
        timeline.extend(run.events)
    timeline.sort(key=lambda item: (item[0], item[1]))
    return timeline


def _pick_outcome(rng: random.Random) -> str:
    names, weights = zip(*_OUTCOMES, strict=True)
    outcome: str = rng.choices(names, weights)[0]
    return outcome


class _RunSim:
    """Plays one run (and the child runs it spawns) into a list of events."""

    def __init__(
        self,
        rng: random.Random,
        order: Iterator[int],
        run_id: str,
        plan: PlanSpec,
        outcome: str,
        start_ms: int,
        budget: int,
        parent: tuple[str, str] | None = None,
    ) -> None:
        self.rng = rng
        self.order = order
        self.run_id = run_id
        self.plan = plan
        self.outcome = outcome
        self.start_ms = start_ms
        self.budget = budget  # child runs this run may still spawn
        self.parent = parent  # (parent_run_id, root_run_id)
        self.events: Timeline = []
        self.children: list[_RunSim] = []
        self._seq = 0
        self._send_run_start = rng.random() > 0.1  # some producers send no run-start

    def count_runs(self) -> int:
        return 1 + sum(child.count_runs() for child in self.children)

    def emit(self, at_ms: int, event_type: str, **fields: Any) -> None:
        self._seq += 1
        event: dict[str, Any] = {
            "schema_version": 1,
            "event_id": f"{self.run_id}-e{self._seq:03d}",
            "type": event_type,
            "run_id": self.run_id,
            "occurred_at": _timestamp(at_ms),
            "producer": PRODUCER,
        }
        event.update((k, v) for k, v in fields.items() if v is not None)
        self.events.append((at_ms, next(self.order), event))

    def play(self) -> None:
        rng, plan = self.rng, self.plan
        parent_id, root_id = self.parent or (None, None)
        if self._send_run_start or self.outcome == "pending":
            self.emit(
                self.start_ms, "run-start", plan_id=plan.plan_id, total_tasks=len(plan.tasks),
                title=plan.title, owner=rng.choice(("team-growth", "team-platform", "ops")),
                parent_run_id=parent_id, root_run_id=root_id,
            )  # fmt: skip
        if self.outcome == "pending":
            return
        horizon = sum(t.mean_seconds for t in plan.tasks) * 1000
        cutoff = None
        if self.outcome in ("cancelled", "running"):
            cutoff = self.start_ms + round(horizon * rng.uniform(0.2, 0.7))
        breaker = rng.choice(plan.tasks[1:]).task_id if len(plan.tasks) > 1 else None
        waiter = next((t.task_id for t in plan.tasks if t.approval), plan.tasks[-1].task_id)
        done: dict[str, int] = {}  # task id -> end of its successful attempt
        first_start = True
        for task in plan.tasks:
            if any(dep not in done for dep in task.depends_on):
                if self.outcome == "partial":  # the producer reports tasks it will not run
                    at = max([self.start_ms, *done.values()]) + rng.randint(5, 200)
                    self.emit(at, "task-result", task_id=task.task_id, status="skipped")
                continue
            begin = max([self.start_ms, *(done[d] for d in task.depends_on)])
            begin += rng.randint(20, 800)
            if cutoff is not None and begin >= cutoff:
                continue
            end = self._play_task(task, begin, cutoff, breaker, waiter, first_start)
            first_start = False
            if end is not None:
                done[task.task_id] = end
        if self.outcome in ("completed", "failed", "partial", "cancelled"):
            latest = max([self.start_ms, *(at for at, _, _ in self.events)])
            self._finalize(max(latest, cutoff or 0) + rng.randint(50, 900))

    def _play_task(
        self,
        task: TaskSpec,
        begin: int,
        cutoff: int | None,
        breaker: str | None,
        waiter: str,
        declare_run: bool,
    ) -> int | None:
        """Emit the task's attempts; return when it succeeded, or None if it never did."""
        rng = self.rng
        breaks = task.task_id == breaker and self.outcome in ("failed", "partial")
        for attempt in range(1, _MAX_ATTEMPTS + 1):
            if cutoff is not None and begin >= cutoff:
                return None  # a retry the run's end cut off before it started
            run_fields: dict[str, Any] = {}
            if declare_run and attempt == 1 and not self._send_run_start:
                parent_id = self.parent[0] if self.parent else None
                run_fields = {
                    "plan_id": self.plan.plan_id,
                    "total_tasks": len(self.plan.tasks),
                    "parent_run_id": parent_id,
                }
            self.emit(
                begin, "task-start", task_id=task.task_id, attempt=attempt, title=task.title,
                agent_role=task.agent_role, qc_role=task.qc_role,
                depends_on=list(task.depends_on) or None,
                prompt=f"{task.title} for {self.plan.title.lower()}", **run_fields,
            )  # fmt: skip
            end = begin + max(200, round(rng.lognormvariate(0, 0.5) * task.mean_seconds * 1000))
            if task.delegates and self.budget > 0 and rng.random() < 0.6:
                end = max(end, self._spawn(task.delegates, begin + rng.randint(50, 400)))
            if cutoff is not None and end > cutoff:
                if self.outcome == "cancelled":
                    self._result(task, attempt, cutoff, "cancelled", cutoff - begin)
                return None  # "running": the attempt is still in flight
            if self.outcome == "waiting" and task.task_id == waiter:
                self.emit(
                    begin + rng.randint(300, 2000), "task-result", task_id=task.task_id,
                    attempt=attempt, status="waiting", output="Awaiting human approval",
                )  # fmt: skip
                return None
            fails = breaks or (attempt == 1 and rng.random() < _RETRY_RATE)
            self._result(task, attempt, end, "failure" if fails else "success", end - begin)
            if not fails:
                return end
            if breaks and (self.outcome == "partial" or attempt == _MAX_ATTEMPTS):
                return None
            begin = end + rng.randint(500, 3000)  # backoff before the retry
        return None

    def _result(self, task: TaskSpec, attempt: int, at: int, status: str, duration: int) -> None:
        rng = self.rng
        scale = task.mean_seconds / 20
        tokens = {
            "input": round(rng.randint(300, 4000) * scale),
            "output": round(rng.randint(60, 1500) * scale),
        }
        if status == "cancelled":
            tokens = {"input": tokens["input"] // 3, "output": 0}
        qc: dict[str, Any] | None = None
        if task.qc_role and status in ("success", "failure"):
            passed = status == "success"
            score = rng.randint(72, 100) if passed else rng.randint(15, 60)
            qc = {"passed": passed, "score": score}
            if passed:
                qc["feedback"] = rng.choice(("All checks passed", "Good", "Minor nits only"))
            else:
                qc["issues"] = rng.sample(_QC_ISSUES, 2)
                qc["required_fixes"] = ["Address the reviewer's issues and retry"]
        self.emit(
            at, "task-result", task_id=task.task_id, attempt=attempt, status=status,
            output=f"{task.title}: done" if status == "success" else None,
            error=rng.choice(_ERRORS) if status == "failure" else (
                "Run cancelled by its owner" if status == "cancelled" else None),
            duration_ms=duration, tokens=tokens, tool_calls=rng.randint(0, 8), qc=qc,
        )  # fmt: skip

    def _spawn(self, plan_id: str, start_ms: int) -> int:
        """Play a child run; return when it ended (the delegating task waits for it)."""
        self.budget -= 1
        root = self.parent[1] if self.parent else self.run_id
        child_id = f"{self.run_id}.{len(self.children) + 1}"
        outcome = "completed" if self.rng.random() < 0.8 else "failed"
        child = _RunSim(
            self.rng, self.order, child_id, CHILD_PLANS[plan_id], outcome, start_ms, budget=0,
            parent=(self.run_id, root),
        )  # fmt: skip
        child.play()
        self.children.append(child)
        self.events.extend(child.events)
        return max(at for at, _, _ in child.events) + self.rng.randint(100, 900)

    def _finalize(self, at: int) -> None:
        rng, outcome = self.rng, self.outcome
        if outcome == "cancelled":
            explicit = rng.random() < 0.5
            self.emit(
                at, "run-finalized", status="cancelled" if explicit else None,
                cancelled=True, error="Run cancelled by its owner",
            )  # fmt: skip
        elif outcome == "failed":
            explicit = rng.random() < 0.7  # else the status is derived from the tasks
            self.emit(
                at, "run-finalized", status="failed" if explicit else None,
                error="A task failed after every retry",
            )  # fmt: skip
        elif outcome == "partial":
            self.emit(at, "run-finalized", status="partial",
                      final_result={"note": "finished with skipped tasks"})  # fmt: skip
        else:
            self.emit(
                at, "run-finalized", status="completed" if rng.random() < 0.8 else None,
                final_result={"summary": f"{self.plan.title} finished"},
            )  # fmt: skip


# -- delivery faults -------------------------------------------------------------------


def _reorder(rng: random.Random, records: list[tuple[bytes | None, bytes]], rate: float) -> int:
    """Swap two records of a share of the runs in place (e.g. a result before its start)."""
    positions: dict[bytes | None, list[int]] = defaultdict(list)
    for index, (key, _) in enumerate(records):
        positions[key].append(index)
    eligible = [indexes for indexes in positions.values() if len(indexes) >= 2]
    chosen = rng.sample(eligible, min(len(eligible), max(rate > 0, round(rate * len(eligible)))))
    for indexes in chosen:
        i, j = sorted(rng.sample(indexes, 2))
        records[i], records[j] = records[j], records[i]
    return len(chosen)


def _add_duplicates_and_poison(
    rng: random.Random,
    records: list[tuple[bytes | None, bytes]],
    duplicate_rate: float,
    poison: int,
    start: datetime,
) -> list[tuple[bytes | None, bytes]]:
    """Re-publish some records a little later and slip poison records in between."""
    slots: list[tuple[float, int, tuple[bytes | None, bytes]]] = []
    for index, record in enumerate(records):
        slots.append((index, len(slots), record))
        if rng.random() < duplicate_rate:
            slots.append((index + rng.uniform(0.5, 40), len(slots), record))
    for number in range(poison):
        slots.append((rng.uniform(0, len(records)), len(slots), _poison(number, start)))
    slots.sort(key=lambda slot: (slot[0], slot[1]))
    return [record for _, _, record in slots]


def _poison(number: int, start: datetime) -> tuple[bytes | None, bytes]:
    """One invalid record of each kind in turn, as broken producers send them."""
    run_id = f"exec-broken-{number + 1}"
    base = {
        "schema_version": 1, "event_id": f"{run_id}-e001", "run_id": run_id,
        "occurred_at": _timestamp(_ms(start)), "producer": "legacy-orchestrator",
    }  # fmt: skip
    kind = number % 6
    if kind == 0:  # not_json: a producer crashed mid-write
        return run_id.encode(), json.dumps({**base, "type": "task-start"}).encode()[:-12]
    if kind == 1:  # unknown_type
        return run_id.encode(), _encode({**base, "type": "task-progress", "task_id": "task-1"})
    if kind == 2:  # invalid: a status the contract does not know, negative tokens
        value = {**base, "type": "task-result", "task_id": "task-1", "status": "done",
                 "tokens": {"input": -5}}  # fmt: skip
        return run_id.encode(), _encode(value)
    if kind == 3:  # unsupported_schema_version: a producer on a future contract
        return run_id.encode(), _encode({**base, "schema_version": 2, "type": "run-start"})
    if kind == 4:  # not_object
        return run_id.encode(), json.dumps(["run-start", run_id]).encode()
    return None, b""  # empty: a tombstone


# -- expected totals -------------------------------------------------------------------


def _expected(values: Sequence[bytes], reordered: int) -> ExpectedTotals:
    poison: Counter[str] = Counter()
    events: dict[str, Event] = {}
    duplicates = 0
    for value in values:
        try:
            event = decode_event(value)
        except DecodeError as error:
            poison[error.reason.value] += 1
            continue
        if event.event_id in events:
            duplicates += 1
        events[event.event_id] = event
    ledger = fold(events.values())
    tasks_by_run: dict[str, dict[TaskKey, TaskState]] = defaultdict(dict)
    for key, state in ledger.tasks.items():
        tasks_by_run[key.run_id][key] = state
    summaries = {
        run_id: summarize_run(facts, task_totals(tasks_by_run[run_id]))
        for run_id, facts in ledger.runs.items()
    }
    current: dict[tuple[str, str], tuple[int, str]] = {}
    for key, state in ledger.tasks.items():
        task = (key.run_id, key.task_id)
        if task not in current or key.attempt > current[task][0]:
            current[task] = (key.attempt, state.status)
    child_runs = sum(
        1 for facts in ledger.runs.values() if facts.declaration and facts.declaration.parent_run_id
    )
    return ExpectedTotals(
        published=len(values),
        valid_events=len(events),
        duplicates=duplicates,
        reordered=reordered,
        poison_by_reason=dict(sorted(poison.items())),
        runs_by_status=dict(sorted(Counter(s.status for s in summaries.values()).items())),
        child_runs=child_runs,
        tasks_total=sum(s.tasks_total for s in summaries.values()),
        task_attempts=len(ledger.tasks),
        tasks_by_status=dict(sorted(Counter(status for _, status in current.values()).items())),
        tokens_input=sum(s.tokens_input for s in summaries.values()),
        tokens_output=sum(s.tokens_output for s in summaries.values()),
        tool_calls=sum(s.tool_calls for s in summaries.values()),
        summaries=summaries,
    )


# -- encoding --------------------------------------------------------------------------


def _ms(moment: datetime) -> int:
    return round((moment - _EPOCH).total_seconds() * 1000)


def _timestamp(ms: int) -> str:
    return f"{_second(ms // 1000)}.{ms % 1000:03d}Z"


@functools.lru_cache(maxsize=4096)
def _second(seconds: int) -> str:
    return (_EPOCH + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%S")


def _encode(event: Mapping[str, Any]) -> bytes:
    return pydantic_core.to_json(event)


def _key(event: Mapping[str, Any]) -> bytes:
    return str(event["run_id"]).encode()
