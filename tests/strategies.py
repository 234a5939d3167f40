"""Hypothesis strategies: the events of orchestration runs, valid by the contract."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import strategies as st

from contracts import Event, decode_event
from sinks.base import SinkRecord

BASE_TIME = datetime(2025, 11, 14, 15, 36, 13, 643000, tzinfo=UTC)
TASK_STATUSES = ("success", "failure", "cancelled", "skipped", "waiting")


def _time(offset_ms: int) -> str:
    return (BASE_TIME + timedelta(milliseconds=offset_ms)).isoformat().replace("+00:00", "Z")


@st.composite
def run_events(draw: st.DrawFn, run_id: str = "run-a") -> list[dict[str, Any]]:
    """The events of one run: optional run-start, tasks with attempts and results, finalize.

    Times are drawn from a small range so ties happen and the event-id tie-break is used.
    """
    times = st.integers(min_value=0, max_value=50)
    events: list[dict[str, Any]] = []
    counter = iter(range(10_000))

    def event(kind: str, **fields: Any) -> None:
        events.append({
            "schema_version": 1,
            "event_id": f"{run_id}-e{next(counter):03d}",
            "type": kind,
            "run_id": run_id,
            "occurred_at": _time(draw(times)),
            **fields,
        })  # fmt: skip

    if draw(st.booleans()):
        event("run-start", plan_id="plan-x", total_tasks=draw(st.integers(0, 5)), title="t")
    for task in range(draw(st.integers(1, 3))):
        for attempt in range(1, draw(st.integers(1, 3)) + 1):
            if draw(st.booleans()):
                event("task-start", task_id=f"task-{task}", attempt=attempt, title=f"T{task}",
                      depends_on=[f"task-{d}" for d in range(task)])  # fmt: skip
            for _ in range(draw(st.integers(0, 2))):
                event(
                    "task-result",
                    task_id=f"task-{task}",
                    attempt=attempt,
                    status=draw(st.sampled_from(TASK_STATUSES)),
                    tokens={"input": draw(st.integers(0, 500)), "output": draw(st.integers(0, 90))},
                    tool_calls=draw(st.integers(0, 4)),
                    duration_ms=draw(st.integers(0, 9000)),
                    qc={"passed": draw(st.booleans()), "score": draw(st.integers(0, 100))},
                )
    if draw(st.booleans()):
        status = draw(st.sampled_from([None, "completed", "failed", "cancelled", "partial"]))
        event("run-finalized", cancelled=draw(st.booleans()),
              **({"status": status} if status else {}))  # fmt: skip
    return events


def to_records(events: list[dict[str, Any]], topic: str = "t") -> list[SinkRecord]:
    """Encode and decode through the contract, as the pipeline would."""
    records = []
    for offset, fields in enumerate(events):
        raw = json.dumps(fields).encode()
        records.append(SinkRecord(decode_event(raw), raw, topic, 0, offset))
    return records


def decoded(events: list[dict[str, Any]]) -> list[Event]:
    return [r.event for r in to_records(events)]
