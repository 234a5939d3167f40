"""Runs played out in simulated time: parallel and dependent tasks, retries, failures,
approvals, cancellations, child runs, producers that send no ``run-start``."""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterator
from datetime import datetime
from typing import Any, Final

from consumer.sandbox.stream.encoding import ms, timestamp
from consumer.sandbox.stream.plans import CHILD_PLANS, PLANS, PlanSpec, TaskSpec

PRODUCER: Final = "demo-orchestrator"
MEAN_RUN_GAP_SECONDS: Final = 4.0
"""Average time between two top-level runs starting; a stream of N runs spans about N x this."""

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


Timeline = list[tuple[int, int, dict[str, Any]]]  # (occurred ms, sequence, event)


def simulate(rng: random.Random, runs: int, start: datetime) -> Timeline:
    """Every event of ``runs`` runs, sorted by occurred_at (the order producers emit)."""
    timeline: Timeline = []
    order = itertools.count()  # tie-breaker that keeps emission order for equal times
    clock = ms(start)
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
            "occurred_at": timestamp(at_ms),
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
