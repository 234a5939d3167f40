"""The shared semantics (pure logic): merging is order- and duplication-independent."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from contracts import decode_event
from sinks.state import fold, summarize_run, task_totals

from support.events import decoded, event, example_expected, example_lines, parse_time
from support.strategies import run_events


def _summaries(events: list) -> dict:  # type: ignore[type-arg]
    ledger = fold(events)
    return {
        run_id: summarize_run(facts, task_totals(ledger.tasks_of(run_id)))
        for run_id, facts in ledger.runs.items()
    }


@settings(max_examples=200, deadline=None)
@given(run_events(), st.randoms(use_true_random=False))
def test_any_order_and_duplication_give_the_same_ledger(events: list, rnd: random.Random) -> None:  # type: ignore[type-arg]
    canonical = decoded(events)
    shuffled = canonical + rnd.sample(canonical, k=len(canonical) // 2)
    rnd.shuffle(shuffled)
    assert fold(shuffled) == fold(canonical)
    assert _summaries(shuffled) == _summaries(canonical)


def test_example_run_summary_matches_the_expected_file() -> None:
    events = [decode_event(line) for line in example_lines()]
    expected = example_expected()["run"]
    summary = _summaries(events)[expected["run_id"]]
    assert summary.status == expected["status"]
    assert summary.tasks_total == expected["tasks_total"]
    assert summary.tasks_successful == expected["tasks_successful"]
    assert summary.tasks_failed == expected["tasks_failed"]
    assert summary.tokens_total == expected["tokens_total"]
    assert summary.tool_calls == expected["tool_calls"]
    assert summary.started_at == parse_time(expected["started_at"])
    assert summary.duration_ms == expected["duration_ms"]


def test_terminal_result_outranks_a_later_waiting_one() -> None:
    events = decoded([
        event("task-result", "r", 5, task_id="t", attempt=1, status="success"),
        event("task-result", "r", 9, task_id="t", attempt=1, status="waiting"),
    ])  # fmt: skip
    assert next(iter(fold(events).tasks.values())).status == "success"


def test_result_before_start_still_creates_the_task_and_run() -> None:
    events = decoded([event("task-result", "r", 5, task_id="t", attempt=1, status="failure")])
    ledger = fold(events)
    assert set(ledger.runs) == {"r"}
    summary = _summaries(events)["r"]
    assert (summary.status, summary.tasks_failed, summary.tasks_total) == ("failed", 1, 1)


def test_a_successful_retry_clears_the_failure_but_keeps_its_tokens() -> None:
    events = decoded([
        event("task-result", "r", 1, task_id="t", attempt=1, status="failure",
              tokens={"input": 10, "output": 1}),
        event("task-result", "r", 2, task_id="t", attempt=2, status="success",
              tokens={"input": 20, "output": 2}),
    ])  # fmt: skip
    summary = _summaries(events)["r"]
    assert (summary.tasks_failed, summary.tasks_successful) == (0, 1)
    assert (summary.tokens_input, summary.tokens_output, summary.tokens_total) == (30, 3, 33)
