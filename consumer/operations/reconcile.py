"""Reconciliation: do the sinks hold the same runs? Run by run, field by field.

Every source (a sink implementing ``sinks.base.RunSnapshotSource``, or the topic itself
folded through the reference model) yields a ``RunSnapshot`` per run. A drift is a
run that some source lacks, or a field (status, a counter, a token sum, a task's
current attempt) on which the sources disagree. Sinks consume at their own pace, so a
run still being written may differ for a moment: ``recheck_after`` reads the drifted
runs again after a pause and reports only what persists.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field

from consumer.operations.topic_reader import TopicReadError, read_topic
from consumer.settings import Settings
from contracts import DecodeError, Event, decode_event
from sinks.base import RunSnapshot, RunSnapshotSource, SinkError, TaskSnapshot
from sinks.state import TaskKey, TaskState, fold, summarize_run, task_totals

COMPARED_FIELDS = (
    "status", "tasks_total", "tasks_successful", "tasks_failed", "tasks_running",
    "tasks_waiting", "tokens_input", "tokens_output", "tokens_total", "tool_calls",
)  # fmt: skip
MISSING = "(missing)"


class SourceReadError(Exception):
    """A source could not be read (store unreachable, query refused): no verdict on drift."""

    def __init__(self, source: str, error: Exception) -> None:
        super().__init__(f"cannot read {source!r}: {error}")


@dataclass(frozen=True, slots=True)
class Drift:
    """One disagreement about one run: what differs and what each source says."""

    run_id: str
    what: str  # "run", a field name, or "task <task_id>"
    values: Mapping[str, str]


@dataclass
class ReconcileReport:
    """The outcome: which sources were compared, over how many runs, and every drift."""

    sources: list[str]
    runs_compared: int
    drifts: list[Drift] = field(default_factory=list)

    @property
    def drifted_runs(self) -> list[str]:
        return sorted({d.run_id for d in self.drifts})

    @property
    def in_sync(self) -> bool:
        return not self.drifts


def compare(snapshots: Mapping[str, Mapping[str, RunSnapshot]]) -> ReconcileReport:
    """Compare what each named source holds; every run any source holds is compared."""
    names = list(snapshots)
    run_ids = sorted({run_id for held in snapshots.values() for run_id in held})
    report = ReconcileReport(names, len(run_ids))
    for run_id in run_ids:
        report.drifts.extend(_run_drifts(run_id, {n: snapshots[n].get(run_id) for n in names}))
    return report


def _run_drifts(run_id: str, held: Mapping[str, RunSnapshot | None]) -> list[Drift]:
    if any(snapshot is None for snapshot in held.values()):
        presence = {n: "present" if s is not None else MISSING for n, s in held.items()}
        return [Drift(run_id, "run", presence)]
    present = {n: s for n, s in held.items() if s is not None}
    drifts = []
    for name in COMPARED_FIELDS:
        values = {n: str(getattr(s, name)) for n, s in present.items()}
        if len(set(values.values())) > 1:
            drifts.append(Drift(run_id, name, values))
    task_ids = sorted({t for s in present.values() for t in s.tasks})
    for task_id in task_ids:
        values = {n: _task_text(s.tasks.get(task_id)) for n, s in present.items()}
        if len(set(values.values())) > 1:
            drifts.append(Drift(run_id, f"task {task_id}", values))
    return drifts


def _task_text(task: TaskSnapshot | None) -> str:
    return MISSING if task is None else f"attempt {task.attempt} {task.status}"


async def reconcile(
    sources: Mapping[str, RunSnapshotSource],
    run_ids: Collection[str] | None = None,
    recheck_after: float = 0.0,
) -> ReconcileReport:
    """Compare the sources; with ``recheck_after``, drifts must persist that long."""
    report = compare(await _snapshots(sources, run_ids))
    if report.in_sync or recheck_after <= 0:
        return report
    await asyncio.sleep(recheck_after)
    again = compare(await _snapshots(sources, report.drifted_runs))
    again.runs_compared = report.runs_compared
    return again


async def _snapshots(
    sources: Mapping[str, RunSnapshotSource], run_ids: Collection[str] | None
) -> dict[str, dict[str, RunSnapshot]]:
    results = await asyncio.gather(*(_read(n, s, run_ids) for n, s in sources.items()))
    return dict(zip(sources, results, strict=True))


async def _read(
    name: str, source: RunSnapshotSource, run_ids: Collection[str] | None
) -> dict[str, RunSnapshot]:
    try:
        return await source.run_snapshots(run_ids)
    except (SinkError, TopicReadError) as error:
        raise SourceReadError(name, error) from error


def reference_snapshots(events: Iterable[Event]) -> dict[str, RunSnapshot]:
    """What every sink should hold for a set of events, by the reference model."""
    ledger = fold(events)
    by_run: dict[str, dict[str, TaskSnapshot]] = {}
    tasks_of_run: dict[str, dict[TaskKey, TaskState]] = {}
    for key, state in ledger.tasks.items():
        tasks_of_run.setdefault(key.run_id, {})[key] = state
        current = by_run.setdefault(key.run_id, {})
        if key.task_id not in current or key.attempt > current[key.task_id].attempt:
            current[key.task_id] = TaskSnapshot(key.attempt, state.status)
    snapshots = {}
    for run_id, facts in ledger.runs.items():
        summary = summarize_run(facts, task_totals(tasks_of_run.get(run_id, {})))
        snapshots[run_id] = RunSnapshot(
            run_id=run_id,
            **{name: getattr(summary, name) for name in COMPARED_FIELDS},
            tasks=by_run.get(run_id, {}),
        )
    return snapshots


class TopicReference:
    """The topic itself as a source: every decodable event, folded by the reference model.

    Meaningful while the topic still holds every event (retention longer than the
    ledger's age); records that do not decode are skipped, as the sinks skip them.
    """

    def __init__(self, settings: Settings) -> None:
        self._settings = settings

    async def run_snapshots(self, run_ids: Collection[str] | None = None) -> dict[str, RunSnapshot]:
        wanted = set(run_ids) if run_ids is not None else None
        events: list[Event] = []
        async for record in read_topic(self._settings, self._settings.kafka.topic):
            try:
                event = decode_event(record.value, max_bytes=self._settings.max_message_bytes)
            except DecodeError:
                continue
            if wanted is None or event.run_id in wanted:
                events.append(event)
        return reference_snapshots(events)
