"""The demo's generator: realistic, reproducible, and its expected totals are right."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest

from consumer.sandbox.stream import generate, valid_events
from contracts import DecodeError, decode_event


def _parsed(values: list[bytes]) -> list[dict[str, Any]]:
    """The records that are valid events, as dicts, in publish order."""
    events = []
    for value in values:
        try:
            decode_event(value)
        except DecodeError:
            continue
        events.append(json.loads(value))
    return events


@pytest.fixture(scope="module")
def stream() -> Any:
    return generate(200, seed=11)


def test_the_same_seed_gives_the_same_bytes() -> None:
    assert generate(40, seed=3).events == generate(40, seed=3).events
    assert generate(40, seed=3).events != generate(40, seed=4).events


def test_it_makes_as_many_runs_as_asked_child_runs_included(stream: Any) -> None:
    runs = {e["run_id"] for e in _parsed(stream.events)}
    assert len(runs) == stream.expected.runs == 200
    assert stream.expected.child_runs > 0


def test_every_kind_of_run_and_task_outcome_occurs(stream: Any) -> None:
    expected = stream.expected
    assert set(expected.runs_by_status) == {
        "completed", "failed", "partial", "cancelled", "waiting", "running", "pending",
    }  # fmt: skip
    assert {"success", "failure", "cancelled", "skipped", "waiting", "running"} <= set(
        expected.tasks_by_status
    )
    events = _parsed(stream.events)
    assert any(e.get("attempt", 1) > 1 for e in events), "no retries"
    assert any(e.get("depends_on") and len(e["depends_on"]) > 1 for e in events), "no joins"
    starts_without_run_start = {
        e["run_id"] for e in events if e["type"] == "task-start" and "plan_id" in e
    }
    assert starts_without_run_start, "every producer sent a run-start"
    children = {e["run_id"]: e.get("parent_run_id") for e in events if e.get("parent_run_id")}
    assert set(children.values()) <= {e["run_id"] for e in events}, "orphan child runs"


def test_parallel_tasks_overlap_in_time(stream: Any) -> None:
    spans: dict[tuple[str, str], list[str]] = {}
    for e in _parsed(stream.events):
        if e["type"] in ("task-start", "task-result") and e.get("attempt", 1) == 1:
            spans.setdefault((e["run_id"], e["task_id"]), []).append(e["occurred_at"])
    by_run: dict[str, list[tuple[str, str]]] = {}
    for (run_id, _), times in spans.items():
        if len(times) == 2:
            by_run.setdefault(run_id, []).append((min(times), max(times)))
    overlapping = sum(
        1
        for intervals in by_run.values()
        for i, a in enumerate(intervals)
        for b in intervals[i + 1 :]
        if a[0] < b[1] and b[0] < a[1]
    )
    assert overlapping > 0


def test_delivery_faults_are_there_and_counted(stream: Any) -> None:
    expected = stream.expected
    values = stream.events
    assert expected.published == len(values)
    ids = Counter(e["event_id"] for e in _parsed(values))
    assert sum(n - 1 for n in ids.values()) == expected.duplicates > 0
    assert len(ids) == expected.valid_events
    assert expected.published == expected.valid_events + expected.duplicates + expected.poison
    # a duplicate is the very same record published again, never a different event
    assert len(set(values)) == len(values) - expected.duplicates
    reasons: Counter[str] = Counter()
    for value in values:
        try:
            decode_event(value)
        except DecodeError as error:
            reasons[error.reason.value] += 1
    assert dict(reasons) == expected.poison_by_reason
    assert set(reasons) == {
        "empty", "not_json", "not_object", "unknown_type", "invalid", "unsupported_schema_version",
    }  # fmt: skip


def test_some_records_arrive_out_of_order(stream: Any) -> None:
    events = _parsed(stream.events)
    first_seen: dict[tuple[str, str, str, int], int] = {}
    for position, e in enumerate(events):
        key = (e["type"], e["run_id"], e.get("task_id", ""), e.get("attempt", 1))
        first_seen.setdefault(key, position)
    results_before_start = sum(
        1
        for (kind, run_id, task_id, attempt), position in first_seen.items()
        if kind == "task-result"
        and first_seen.get(("task-start", run_id, task_id, attempt), -1) > position
    )
    assert stream.expected.reordered > 0
    assert results_before_start > 0


def test_expected_totals_add_up_from_the_run_summaries(stream: Any) -> None:
    expected = stream.expected
    summaries = expected.summaries.values()
    assert expected.tokens_total == sum(s.tokens_total for s in summaries)
    assert expected.tool_calls == sum(s.tool_calls for s in summaries)
    assert expected.tasks_total == sum(s.tasks_total for s in summaries)
    assert Counter(s.status for s in summaries) == Counter(expected.runs_by_status)
    assert expected.tokens_total > 0


def test_keys_are_run_ids() -> None:
    stream = generate(20, seed=2)
    for key, value in stream.keyed():
        try:
            run_id = json.loads(value)["run_id"]
        except (ValueError, KeyError, TypeError):
            continue
        assert key == run_id.encode()


def test_no_faults_when_asked() -> None:
    clean = generate(30, seed=5, duplicate_rate=0, reorder_rate=0, poison=0)
    expected = clean.expected
    assert (expected.duplicates, expected.reordered, expected.poison) == (0, 0, 0)
    assert expected.published == expected.valid_events


def test_the_fast_path_gives_exactly_n_distinct_valid_events() -> None:
    values = valid_events(5000, seed=9)
    assert len(values) == 5000
    events = [decode_event(v) for v in values]
    assert len({e.event_id for e in events}) == 5000
    assert values == valid_events(5000, seed=9)


def test_every_generated_event_is_valid_over_many_runs() -> None:
    """A cancelled retry once began after its run's end (a negative duration_ms)."""
    for seed in range(8):
        for value in valid_events(20_000, seed=seed):
            decode_event(value)  # raises DecodeError with the field at fault
