"""The plans the simulated orchestrators run: tasks, dependencies, roles, approvals."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final


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
