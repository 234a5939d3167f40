"""An event is valid or invalid on its own: the contract's bounds are what every sink stores.

Each case below was once accepted by the decoder and then refused by PostgreSQL alone
(INTEGER columns, the date range of the driver), wrapped by the graph, or read loosely
where other languages' validators are strict (issue 12, items 2 and 5).
"""

import json
from datetime import UTC
from typing import Any

import pytest

from contracts import (
    INT32_MAX,
    JSON_SAFE_INT_MAX,
    DecodeError,
    DecodeReason,
    TaskResult,
    decode_event,
)

RESULT: dict[str, Any] = {
    "schema_version": 1,
    "event_id": "e-1",
    "type": "task-result",
    "run_id": "run-1",
    "task_id": "task-1",
    "status": "success",
    "occurred_at": "2025-11-14T15:36:13.643Z",
}


def _decode(**fields: Any) -> TaskResult:
    event = decode_event(json.dumps({**RESULT, **fields}).encode())
    assert isinstance(event, TaskResult)
    return event


def _refused(**fields: Any) -> str:
    with pytest.raises(DecodeError) as caught:
        _decode(**fields)
    assert caught.value.reason is DecodeReason.INVALID
    return caught.value.message


@pytest.mark.parametrize(
    ("fields", "path"),
    [
        ({"attempt": 2**31}, "attempt"),
        ({"tokens": {"input": 2**31}}, "tokens.input"),
        ({"tokens": {"output": 2**63 - 1}}, "tokens.output"),
        ({"tool_calls": 2**31}, "tool_calls"),
        ({"duration_ms": 2**53}, "duration_ms"),
        ({"occurred_at": "0001-01-01T00:30:00+01:00"}, "occurred_at"),  # year 0 in UTC
        ({"occurred_at": "9999-12-31T23:00:00-05:00"}, "occurred_at"),  # year 10000 in UTC
    ],
)
def test_values_a_sink_cannot_store_are_refused_by_the_contract(
    fields: dict[str, Any], path: str
) -> None:
    assert _refused(**fields).startswith(f"invalid task-result: {path}: ")


def test_the_extreme_valid_values_decode() -> None:
    event = _decode(
        attempt=INT32_MAX,
        tokens={"input": INT32_MAX, "output": INT32_MAX},
        tool_calls=INT32_MAX,
        duration_ms=JSON_SAFE_INT_MAX,
        occurred_at="9998-12-31T23:59:59.999-23:59",
    )
    assert event.attempt == INT32_MAX
    assert event.occurred_at.astimezone(UTC).year == 9999  # in every sink's range
    assert _decode(occurred_at="0002-01-01T00:00:00+23:59").occurred_at.astimezone(UTC).year == 1


def test_timestamps_are_kept_to_the_millisecond_like_the_graph() -> None:
    assert _decode(occurred_at="2025-11-14T15:36:13.643999Z").occurred_at.microsecond == 643000


@pytest.mark.parametrize(
    ("fields", "path"),
    [
        ({"schema_version": True}, "schema_version"),
        ({"schema_version": "1"}, "schema_version"),
        ({"attempt": "2"}, "attempt"),
        ({"attempt": True}, "attempt"),
        ({"attempt": 2.5}, "attempt"),
        ({"tokens": {"input": "10"}}, "tokens.input"),
        ({"qc": {"passed": 1}}, "qc.passed"),
        ({"qc": {"score": "50"}}, "qc.score"),
        ({"occurred_at": "2025-11-14T15:36Z"}, "occurred_at"),
        ({"occurred_at": "2025-11-14T15:36:13,5Z"}, "occurred_at"),
    ],
)
def test_values_other_languages_refuse_are_refused(fields: dict[str, Any], path: str) -> None:
    assert _refused(**fields).startswith(f"invalid task-result: {path}: ")


def test_an_integral_number_is_an_integer_as_for_json_schema() -> None:
    """``2.0`` is the integer 2 for every JSON Schema validator, so it is for us too."""
    event = _decode(schema_version=1.0, attempt=2.0)
    assert (event.schema_version, event.attempt) == (1, 2)
    assert type(event.attempt) is int


def test_a_lone_surrogate_is_named_as_such() -> None:
    raw = json.dumps(RESULT).replace('"task-1"', '"task-\\ud800"').encode()
    with pytest.raises(DecodeError) as caught:
        decode_event(raw)
    assert caught.value.reason is DecodeReason.NOT_JSON
    assert "lone surrogate \\ud800" in caught.value.message
    assert "hex escape" not in caught.value.message
