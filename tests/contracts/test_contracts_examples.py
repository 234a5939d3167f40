"""The shared example run decodes into the right models with the right values."""

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from contracts import (
    EVENT_ADAPTER,
    QualityCheck,
    RunFinalized,
    RunStart,
    TaskResult,
    TaskStart,
    TokenUsage,
    decode_event,
)

EXPECTED_CLASSES = [
    RunStart,
    TaskStart,
    TaskResult,
    TaskStart,
    TaskResult,
    TaskStart,
    TaskResult,
    TaskStart,
    TaskResult,
    RunFinalized,
]


def _parse_timestamp(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_every_line_decodes_to_its_class(example_lines: list[bytes]) -> None:
    assert len(example_lines) == len(EXPECTED_CLASSES)
    for line, expected_class in zip(example_lines, EXPECTED_CLASSES, strict=True):
        assert type(decode_event(line)) is expected_class


def test_every_field_keeps_the_value_sent(
    example_lines: list[bytes], example_objects: list[dict[str, Any]]
) -> None:
    """Compare against the standard library's reading, field by field (no extras)."""
    for line, sent in zip(example_lines, example_objects, strict=True):
        event = decode_event(line)
        assert event.model_extra == {}
        assert event.model_fields_set == set(sent)
        for name, value in sent.items():
            decoded = getattr(event, name)
            if name == "occurred_at":
                assert decoded == _parse_timestamp(value)
            elif isinstance(decoded, TokenUsage | QualityCheck):
                assert decoded.model_dump(exclude_unset=True) == value
            else:
                assert decoded == value, name


def test_run_start_values(example_lines: list[bytes]) -> None:
    event = decode_event(example_lines[0])
    assert isinstance(event, RunStart)
    assert event.schema_version == 1
    assert event.event_id == "exec-1763134573643-e01"
    assert event.run_id == "exec-1763134573643"
    assert event.occurred_at == datetime(2025, 11, 14, 15, 36, 13, 643000, tzinfo=UTC)
    assert event.occurred_at.utcoffset() is not None
    assert event.producer == "mimir-orchestrator"
    assert event.plan_id == "plan-kolache-recipe"
    assert event.total_tasks == 5
    assert event.title == "Kolache recipe"
    assert (event.parent_run_id, event.root_run_id, event.owner, event.attributes) == (
        None,
        None,
        None,
        None,
    )


def test_task_start_values(example_lines: list[bytes]) -> None:
    first = decode_event(example_lines[1])
    assert isinstance(first, TaskStart)
    assert (first.task_id, first.attempt, first.title) == ("task-1", 1, "Validate environment")
    assert (first.agent_role, first.qc_role) == ("Environment validator", "QC reviewer")
    assert first.depends_on == []
    assert first.prompt is None

    retry = decode_event(example_lines[7])
    assert isinstance(retry, TaskStart)
    assert (retry.task_id, retry.attempt, retry.depends_on) == ("task-3", 2, ["task-1"])


def test_task_result_values(example_lines: list[bytes]) -> None:
    success = decode_event(example_lines[2])
    assert isinstance(success, TaskResult)
    assert (success.task_id, success.attempt, success.status) == ("task-1", 1, "success")
    assert success.output == "Environment validated successfully"
    assert success.duration_ms == 5000
    assert success.tokens == TokenUsage(input=1000, output=500)
    assert success.tool_calls == 3
    assert success.qc == QualityCheck(passed=True, score=95, feedback="All checks passed")
    assert success.qc.issues == []

    failure = decode_event(example_lines[4])
    assert isinstance(failure, TaskResult)
    assert failure.status == "failure"
    assert failure.error == "Timeout waiting for API response"
    assert failure.output is None
    assert failure.qc is not None
    assert (failure.qc.passed, failure.qc.score) == (False, 45.0)
    assert failure.qc.issues == ["Incomplete data", "Missing validation"]
    assert failure.qc.required_fixes == ["Retry with timeout handling", "Add error recovery"]

    no_qc = decode_event(example_lines[6])
    assert isinstance(no_qc, TaskResult)
    assert no_qc.qc is None


def test_run_finalized_defaults(example_lines: list[bytes]) -> None:
    event = decode_event(example_lines[-1])
    assert isinstance(event, RunFinalized)
    assert event.status is None  # derived by the sinks, see ARCHITECTURE.md
    assert event.cancelled is False
    assert event.final_result is None
    assert event.error is None


def test_token_and_tool_sums_match_the_expected_ledger(example_lines: list[bytes]) -> None:
    """The decoded numbers add up to the run aggregates in mimir_run.expected.json."""
    results = [e for e in map(decode_event, example_lines) if isinstance(e, TaskResult)]
    assert sum(r.tokens.input for r in results if r.tokens) == 3400
    assert sum(r.tokens.output for r in results if r.tokens) == 1250
    assert sum(r.tool_calls or 0 for r in results) == 10


@pytest.mark.parametrize("index", range(len(EXPECTED_CLASSES)))
def test_round_trip_through_json(example_lines: list[bytes], index: int) -> None:
    """What a sink stores (``model_dump_json``) decodes back to an equal event."""
    event = decode_event(example_lines[index])
    assert decode_event(event.model_dump_json().encode()) == event
    assert EVENT_ADAPTER.validate_python(json.loads(example_lines[index])) == event
