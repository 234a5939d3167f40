"""Model behaviour the sinks rely on: forward compatibility, defaults, strict timestamps."""

import json
from datetime import UTC, datetime, timedelta
from typing import get_args

import pytest
from pydantic import ValidationError

import contracts
from contracts import (
    EVENT_ADAPTER,
    EVENT_TYPES,
    MAX_ATTRIBUTES_BYTES,
    SCHEMA_VERSION,
    DecodeError,
    DecodeReason,
    EventType,
    RunFinalized,
    RunStart,
    TaskResult,
    TaskStart,
    decode_event,
)

from support.events import encode, event

# A task-start as its producer wrote it: the time with the producer's own UTC offset.
START = event(
    "task-start",
    "exec-1",
    event_id="exec-1-e02",
    occurred_at="2025-11-14T15:36:13.700+01:00",
    task_id="task-1",
)


def _invalid_paths(raw: bytes) -> list[str]:
    with pytest.raises(DecodeError) as caught:
        decode_event(raw)
    assert caught.value.reason is DecodeReason.INVALID
    return [error.path for error in caught.value.field_errors]


def test_public_api_is_complete() -> None:
    for name in contracts.__all__:
        assert getattr(contracts, name) is not None
    assert SCHEMA_VERSION == 1
    assert contracts.DEFAULT_MAX_MESSAGE_BYTES == 1_048_576
    assert get_args(EventType) == EVENT_TYPES


def test_each_model_is_tagged_with_its_event_type() -> None:
    models = (RunStart, TaskStart, TaskResult, RunFinalized)
    tags = tuple(get_args(model.model_fields["type"].annotation)[0] for model in models)
    assert tags == EVENT_TYPES


def test_unknown_fields_are_kept_at_every_level() -> None:
    raw = json.dumps(
        {
            **START,
            "type": "task-result",
            "status": "success",
            "trace_id": "4bf92f3577b34da6",
            "cost": {"usd": 0.12},
            "tokens": {"input": 3, "output": 4, "cached": 2},
            "qc": {"passed": True, "reviewer": "qc-bot"},
        }
    ).encode()
    event = decode_event(raw)
    assert isinstance(event, TaskResult)
    assert event.model_extra == {"trace_id": "4bf92f3577b34da6", "cost": {"usd": 0.12}}
    assert event.tokens is not None
    assert event.tokens.model_extra == {"cached": 2}
    assert event.qc is not None
    assert event.qc.model_extra == {"reviewer": "qc-bot"}
    assert json.loads(event.model_dump_json())["trace_id"] == "4bf92f3577b34da6"


def test_unknown_fields_never_change_routing() -> None:
    """An extra named like a real field of another type is just kept, not interpreted."""
    event = decode_event(encode(START | {"status": "failure", "final_result": {"x": 1}}))
    assert type(event) is TaskStart
    assert event.model_extra == {"status": "failure", "final_result": {"x": 1}}


def test_attempt_defaults_to_one() -> None:
    start = decode_event(encode(START))
    assert isinstance(start, TaskStart)
    assert start.attempt == 1
    assert start.depends_on == []
    result = decode_event(
        json.dumps({**START, "type": "task-result", "status": "waiting"}).encode()
    )
    assert isinstance(result, TaskResult)
    assert result.attempt == 1


def test_offsets_are_preserved() -> None:
    event = decode_event(encode(START))
    assert event.occurred_at.utcoffset() == timedelta(hours=1)
    assert event.occurred_at == datetime(2025, 11, 14, 14, 36, 13, 700000, tzinfo=UTC)


@pytest.mark.parametrize(
    "occurred_at",
    [
        "2025-11-14T15:36:13.700",  # naive: no offset
        "2025-11-14 15:36:13",  # naive, space separator
        "2025-11-14",  # a date, not a timestamp
        1763134573,  # epoch seconds: pydantic would guess UTC
        1763134573700,  # epoch milliseconds
        "1763134573",  # epoch in a string
        "yesterday",
        None,
    ],
)
def test_timestamps_need_rfc3339_with_offset(occurred_at: object) -> None:
    assert _invalid_paths(encode(START | {"occurred_at": occurred_at})) == ["occurred_at"]


def test_naive_datetime_rejected_in_python_too() -> None:
    fields = event("run-start", "exec-1", occurred_at=datetime(2025, 11, 14, 15, 36))
    with pytest.raises(ValidationError, match="timezone"):
        RunStart.model_validate(fields)
    aware = {**fields, "occurred_at": datetime(2025, 11, 14, 15, 36, tzinfo=UTC)}
    assert RunStart.model_validate(aware).occurred_at.tzinfo is not None


def test_attributes_within_bound_are_kept_as_json() -> None:
    attributes = {"region": "eu-west-1", "tags": ["a", "b"], "nested": {"n": 1, "ok": True}}
    event = decode_event(encode(START | {"attributes": attributes}))
    assert event.attributes == attributes


def _attributes_of_size(size: int) -> dict[str, str]:
    overhead = len(json.dumps({"blob": ""}, separators=(",", ":")))
    return {"blob": "x" * (size - overhead)}


def test_attributes_at_exactly_the_bound_are_accepted() -> None:
    attributes = _attributes_of_size(MAX_ATTRIBUTES_BYTES)
    assert len(json.dumps(attributes, separators=(",", ":"))) == MAX_ATTRIBUTES_BYTES
    assert decode_event(encode(START | {"attributes": attributes})).attributes == attributes


def test_attributes_over_the_bound_are_invalid_with_a_clear_message() -> None:
    raw = encode(START | {"attributes": _attributes_of_size(MAX_ATTRIBUTES_BYTES + 1)})
    with pytest.raises(DecodeError) as caught:
        decode_event(raw)
    error = caught.value
    assert error.reason is DecodeReason.INVALID
    assert [e.path for e in error.field_errors] == ["attributes"]
    assert error.field_errors[0].message == (
        "encodes to 16385 bytes of compact JSON, over the limit of 16384 (16 KiB)"
    )
    assert error.message == f"invalid task-start: attributes: {error.field_errors[0].message}"


def test_attributes_bound_counts_utf8_bytes() -> None:
    """Two bytes per 'é': 9000 of them are 18 KB although only 9000 characters."""
    assert _invalid_paths(encode(START | {"attributes": {"note": "é" * 9000}})) == ["attributes"]


def test_events_are_immutable() -> None:
    event = decode_event(encode(START))
    assert isinstance(event, TaskStart)
    with pytest.raises(ValidationError, match="frozen"):
        event.task_id = "other"  # type: ignore[misc]


def test_models_can_be_built_in_python() -> None:
    """Producers written in Python construct events directly and serialise them."""
    event = TaskResult(
        schema_version=1,
        event_id="e-1",
        type="task-result",
        run_id="exec-1",
        occurred_at=datetime(2025, 11, 14, 15, 36, tzinfo=UTC),
        task_id="task-1",
        status="skipped",
    )
    assert event.attempt == 1
    assert decode_event(event.model_dump_json().encode()) == event


def test_event_adapter_discriminates_python_data() -> None:
    finalized = EVENT_ADAPTER.validate_python(event("run-finalized", "exec-1", cancelled=True))
    assert isinstance(finalized, RunFinalized)
    assert (finalized.cancelled, finalized.status) == (True, None)


def test_integers_are_bounded_to_what_every_sink_stores() -> None:
    assert _invalid_paths(encode(START | {"total_tasks": 2**31})) == ["total_tasks"]
    event = decode_event(encode(START | {"total_tasks": 2**31 - 1}))
    assert isinstance(event, TaskStart)
    assert event.total_tasks == 2**31 - 1
