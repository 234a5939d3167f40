"""The totals a correct sink must hold after a stream, from the reference model."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from contracts import DecodeError, Event, decode_event
from sinks.state import RunSummary, TaskKey, TaskState, fold, summarize_run, task_totals


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


def expected_totals(values: Sequence[bytes], reordered: int) -> ExpectedTotals:
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
