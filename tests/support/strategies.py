"""Hypothesis strategies: the events of orchestration runs, valid by the contract; and
``replay``, the delivery the property tests put them through."""

from __future__ import annotations

import itertools
import random
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from contracts import INT32_MAX, JSON_SAFE_INT_MAX
from sinks.base import Sink, SinkRecord

from support.events import event

BASE_TIME = datetime(2025, 11, 14, 15, 36, 13, 643000, tzinfo=UTC)
TASK_STATUSES = ("success", "failure", "cancelled", "skipped", "waiting")

_EDGE_OFFSET = timedelta(hours=23, minutes=59)
# Where a run's clock starts, and the offset its timestamps are written with: an ordinary
# time, and the earliest and latest instants the contract allows (years 0002 and 9998
# written with the widest offsets, i.e. years 1 and 9999 in UTC).
CLOCKS: tuple[tuple[datetime, timezone], ...] = (
    (BASE_TIME, UTC),
    (datetime(1, 12, 31, 0, 1, tzinfo=UTC), timezone(_EDGE_OFFSET)),
    (datetime(9999, 1, 1, 23, 58, 59, 900000, tzinfo=UTC), timezone(-_EDGE_OFFSET)),
)
# Counts: small ones (so sums and ties are easy to read) or the contract's bounds.
EXTREME_COUNTS = st.integers(0, 500) | st.just(INT32_MAX)
# Task ids: plain, unicode, and shaped like Cypher or SQL injection.
TASK_NAMES = ("task-{n}", "tâsk-{n}-🙂", "t'{n}\"`) DETACH DELETE x //")


def _time(offset_ms: int, clock: tuple[datetime, timezone] = CLOCKS[0]) -> str:
    base, zone = clock
    text = (base + timedelta(milliseconds=offset_ms)).astimezone(zone).isoformat()
    return text.replace("+00:00", "Z")


@st.composite
def run_events(draw: st.DrawFn, run_id: str = "run-a") -> list[dict[str, Any]]:
    """The events of one run: optional run-start, tasks with attempts and results, finalize.

    Times are drawn from a small range so ties happen and the event-id tie-break is used.
    Values reach the contract's extremes: the earliest and latest valid instants, the
    largest attempt numbers, token counts, tool calls, durations and declared task count,
    and task ids that are unicode or shaped like injections.
    """
    times = st.integers(min_value=0, max_value=50)
    clock = draw(st.sampled_from(CLOCKS))
    first_attempt = draw(st.sampled_from([1, 1, INT32_MAX - 2]))
    name = draw(st.sampled_from(TASK_NAMES))
    events: list[dict[str, Any]] = []
    counter = iter(range(10_000))

    def add(kind: str, **fields: Any) -> None:
        event_id, occurred_at = f"{run_id}-e{next(counter):03d}", _time(draw(times), clock)
        events.append(event(kind, run_id, event_id=event_id, occurred_at=occurred_at, **fields))

    if draw(st.booleans()):
        total = draw(st.integers(0, 5) | st.just(INT32_MAX))
        add("run-start", plan_id="plan-x", total_tasks=total, title="t")
    for task in range(draw(st.integers(1, 3))):
        task_id = name.format(n=task)
        for attempt in range(first_attempt, first_attempt + draw(st.integers(1, 3))):
            if draw(st.booleans()):
                add("task-start", task_id=task_id, attempt=attempt, title=f"T{task}",
                      depends_on=[name.format(n=d) for d in range(task)])  # fmt: skip
            for _ in range(draw(st.integers(0, 2))):
                add(
                    "task-result",
                    task_id=task_id,
                    attempt=attempt,
                    status=draw(st.sampled_from(TASK_STATUSES)),
                    tokens={"input": draw(EXTREME_COUNTS), "output": draw(EXTREME_COUNTS)},
                    tool_calls=draw(st.integers(0, 4) | st.just(INT32_MAX)),
                    duration_ms=draw(st.integers(0, 9000) | st.just(JSON_SAFE_INT_MAX)),
                    qc={"passed": draw(st.booleans()), "score": draw(st.integers(0, 100))},
                )
    if draw(st.booleans()):
        status = draw(st.sampled_from([None, "completed", "failed", "cancelled", "partial"]))
        add("run-finalized", cancelled=draw(st.booleans()),
            **({"status": status} if status else {}))  # fmt: skip
    return events


def sink_examples(count: int) -> settings:
    """Settings of a property test on a real sink: ``count`` examples, no deadline (an
    engine can be slow), one fixture (the sink) shared by the examples."""
    return settings(
        max_examples=count,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )


batch_cuts = st.lists(st.integers(min_value=0, max_value=1000), max_size=4)
"""Where ``replay`` cuts a delivery into batches."""


def _apart(runs: list[list[dict[str, Any]]]) -> list[dict[str, Any]]:
    return [
        {**e, "run_id": f"r{i}", "event_id": f"r{i}-{e['event_id']}"}
        for i, run in enumerate(runs)
        for e in run
    ]


def several_runs(max_runs: int = 3) -> st.SearchStrategy[list[dict[str, Any]]]:
    """The events of one to ``max_runs`` runs (run ids r0, r1, ...), in one list."""
    return st.lists(run_events(), min_size=1, max_size=max_runs).map(_apart)


async def replay(
    sink: Sink,
    records: Sequence[SinkRecord],
    rnd: random.Random,
    cuts: Sequence[int] | None = None,
) -> None:
    """Write ``records`` as Kafka may deliver them: half of them twice, in a random order,
    cut into batches at ``cuts`` (positions modulo the length; drawn from ``rnd`` if none)."""
    replayed = [*records, *rnd.sample(list(records), k=len(records) // 2)]
    rnd.shuffle(replayed)
    if cuts is None:
        cuts = [rnd.randrange(len(replayed) + 1) for _ in range(rnd.randrange(4))]
    bounds = [0, *sorted(c % (len(replayed) + 1) for c in cuts), len(replayed)]
    for start, end in itertools.pairwise(bounds):
        await sink.write(replayed[start:end])
