"""Every ``DecodeReason`` is produced by a realistic bad record, with a precise message."""

import json
import pickle
from typing import Any

import pytest

from contracts import (
    DEFAULT_MAX_MESSAGE_BYTES,
    DecodeError,
    DecodeReason,
    FieldError,
    TaskResult,
    decode_event,
)

TASK_RESULT: dict[str, Any] = {
    "schema_version": 1,
    "event_id": "exec-1-e03",
    "type": "task-result",
    "run_id": "exec-1",
    "occurred_at": "2025-11-14T15:36:18.700Z",
    "task_id": "task-1",
    "status": "success",
    "tokens": {"input": 1000, "output": 500},
}


def _encode(payload: object) -> bytes:
    return json.dumps(payload).encode()


def _with(**changes: Any) -> bytes:
    return _encode({**TASK_RESULT, **changes})


def _without(*keys: str) -> bytes:
    return _encode({k: v for k, v in TASK_RESULT.items() if k not in keys})


def _decode_error(raw: bytes | None, **kwargs: Any) -> DecodeError:
    with pytest.raises(DecodeError) as caught:
        decode_event(raw, **kwargs)
    error = caught.value
    assert isinstance(error.reason, DecodeReason)
    assert str(error) == error.message
    assert "\n" not in error.message
    assert len(error.message) < 2_500
    return error


def test_the_base_record_is_valid() -> None:
    assert isinstance(decode_event(_encode(TASK_RESULT)), TaskResult)


# --- one realistic record per reason -------------------------------------------------


@pytest.mark.parametrize("raw", [None, b""], ids=["tombstone", "empty-bytes"])
def test_empty(raw: bytes | None) -> None:
    error = _decode_error(raw)
    assert error.reason is DecodeReason.EMPTY
    assert "empty" in error.message
    assert error.field_errors == ()


def test_too_large_is_refused_before_parsing() -> None:
    raw = _with(output="x" * DEFAULT_MAX_MESSAGE_BYTES)
    error = _decode_error(raw)
    assert error.reason is DecodeReason.TOO_LARGE
    assert str(len(raw)) in error.message
    assert str(DEFAULT_MAX_MESSAGE_BYTES) in error.message
    assert "xxxx" not in error.message


def test_max_bytes_is_configurable() -> None:
    raw = _encode(TASK_RESULT)
    assert isinstance(decode_event(raw, max_bytes=len(raw)), TaskResult)
    error = _decode_error(raw, max_bytes=len(raw) - 1)
    assert error.reason is DecodeReason.TOO_LARGE


def test_not_json_truncated_record() -> None:
    raw = _encode(TASK_RESULT)[:-10]
    error = _decode_error(raw)
    assert error.reason is DecodeReason.NOT_JSON
    assert error.message.startswith("not valid JSON: ")
    assert "line 1 column" in error.message


def test_not_json_invalid_utf8() -> None:
    raw = _encode(TASK_RESULT).replace(b"task-1", b"task-\xff")
    error = _decode_error(raw)
    assert error.reason is DecodeReason.NOT_JSON
    assert "UTF-8" in error.message
    assert "0xff" in error.message


def test_not_json_latin1_text() -> None:
    """A producer that encodes in Latin-1 instead of UTF-8."""
    raw = _with(output="café").decode().replace("\\u00e9", "é").encode("latin-1")
    error = _decode_error(raw)
    assert error.reason is DecodeReason.NOT_JSON
    assert "not valid UTF-8: byte 0xe9" in error.message


def test_not_json_byte_order_mark() -> None:
    error = _decode_error(b"\xef\xbb\xbf" + _encode(TASK_RESULT))
    assert error.reason is DecodeReason.NOT_JSON
    assert "BOM" in error.message


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_not_json_non_finite_numbers(constant: str) -> None:
    """Python's and pydantic's parsers accept these; JSON (and PostgreSQL JSONB) do not."""
    raw = _encode(TASK_RESULT).replace(b'"status"', f'"output": {constant}, "status"'.encode())
    error = _decode_error(raw)
    assert error.reason is DecodeReason.NOT_JSON
    assert constant in error.message


def test_the_words_nan_and_infinity_inside_strings_are_fine() -> None:
    event = decode_event(_with(output="NaN and Infinity are not JSON numbers"))
    assert isinstance(event, TaskResult)
    assert event.output == "NaN and Infinity are not JSON numbers"


def test_not_json_nested_too_deep() -> None:
    error = _decode_error(_with(output=[]).replace(b"[]", b"[" * 5000 + b"]" * 5000))
    assert error.reason is DecodeReason.NOT_JSON


@pytest.mark.parametrize(
    ("payload", "kind"),
    [([TASK_RESULT], "an array"), ("task-result", "a string"), (42, "a number"), (None, "null")],
)
def test_not_object(payload: object, kind: str) -> None:
    error = _decode_error(_encode(payload))
    assert error.reason is DecodeReason.NOT_OBJECT
    assert error.message == f"expected a JSON object, got {kind}"


def test_unsupported_schema_version_newer_major() -> None:
    error = _decode_error(_with(schema_version=2, type="task-progress"))
    assert error.reason is DecodeReason.UNSUPPORTED_SCHEMA_VERSION
    assert error.message == "schema_version 2 is not supported (this runledger reads 1)"


def test_unsupported_schema_version_missing() -> None:
    error = _decode_error(_without("schema_version"))
    assert error.reason is DecodeReason.UNSUPPORTED_SCHEMA_VERSION
    assert error.message == "schema_version is missing (this runledger reads 1)"


def test_unsupported_schema_version_huge_number_is_echoed_short() -> None:
    error = _decode_error(_with(schema_version=10**200))
    assert error.reason is DecodeReason.UNSUPPORTED_SCHEMA_VERSION
    assert len(error.message) < 200


@pytest.mark.parametrize("version", [0, -1, "1", 1.5, "two"])
def test_malformed_schema_version_is_invalid(version: object) -> None:
    error = _decode_error(_with(schema_version=version))
    assert error.reason is DecodeReason.INVALID
    assert [e.path for e in error.field_errors] == ["schema_version"]


def test_unknown_type() -> None:
    error = _decode_error(_with(type="task-progress"))
    assert error.reason is DecodeReason.UNKNOWN_TYPE
    assert error.message == (
        "unknown type 'task-progress' "
        "(expected one of: run-start, task-start, task-result, run-finalized)"
    )


def test_unknown_type_missing() -> None:
    error = _decode_error(_without("type"))
    assert error.reason is DecodeReason.UNKNOWN_TYPE
    assert error.message.startswith("type is missing (expected one of: run-start, ")


@pytest.mark.parametrize("value", [None, 7, ["task-result"], {"name": "task-result"}])
def test_unknown_type_not_a_string(value: object) -> None:
    error = _decode_error(_with(type=value))
    assert error.reason is DecodeReason.UNKNOWN_TYPE


def test_unknown_type_echo_is_truncated() -> None:
    error = _decode_error(_with(type="x" * 10_000))
    assert error.reason is DecodeReason.UNKNOWN_TYPE
    assert "x" * 90 in error.message
    assert "x" * 101 not in error.message


def test_invalid_lists_field_paths_without_the_type_tag() -> None:
    payload = {k: v for k, v in TASK_RESULT.items() if k != "status"}
    error = _decode_error(_encode({**payload, "tokens": {"input": -1, "output": 2}}))
    assert error.reason is DecodeReason.INVALID
    assert set(error.field_errors) == {
        FieldError("tokens.input", "Input should be greater than or equal to 0"),
        FieldError("status", "Field required"),
    }
    assert error.message.startswith("invalid task-result: ")
    assert "tokens.input: Input should be greater than or equal to 0" in error.message
    assert "status: Field required" in error.message
    assert "task-result.tokens" not in error.message


def test_invalid_list_item_path() -> None:
    raw = _encode(
        {
            **TASK_RESULT,
            "type": "task-start",
            "depends_on": ["task-1", "task-2", ""],
        }
    )
    error = _decode_error(raw)
    assert error.reason is DecodeReason.INVALID
    assert [e.path for e in error.field_errors] == ["depends_on.2"]
    assert "depends_on.2: String should have at least 1 character" in error.message


@pytest.mark.parametrize(
    ("changes", "path"),
    [
        ({"status": "done"}, "status"),
        ({"task_id": ""}, "task_id"),
        ({"attempt": 0}, "attempt"),
        ({"attempt": 2**63}, "attempt"),
        ({"event_id": "e" * 129}, "event_id"),
        ({"run_id": 17}, "run_id"),
        ({"occurred_at": "2025-11-14T15:36:18"}, "occurred_at"),
        ({"occurred_at": 1763134578}, "occurred_at"),
        ({"duration_ms": -5}, "duration_ms"),
        ({"qc": {"score": 101}}, "qc.score"),
        ({"qc": {"issues": "one big issue"}}, "qc.issues"),
        ({"tokens": "1000"}, "tokens"),
        ({"attributes": ["not", "an", "object"]}, "attributes"),
    ],
)
def test_invalid_field(changes: dict[str, Any], path: str) -> None:
    error = _decode_error(_with(**changes))
    assert error.reason is DecodeReason.INVALID
    assert [e.path for e in error.field_errors] == [path]
    assert f"invalid task-result: {path}: " in error.message


def test_invalid_message_does_not_echo_payload_values() -> None:
    secret = "sk-live-do-not-log-me"
    error = _decode_error(_with(status=secret, prompt=secret, duration_ms=-1))
    assert secret not in error.message
    assert secret not in repr(error)


def test_invalid_message_lists_at_most_ten_errors() -> None:
    payload = {**TASK_RESULT, "type": "task-start", "depends_on": [""] * 25}
    error = _decode_error(_encode(payload))
    assert error.reason is DecodeReason.INVALID
    assert len(error.field_errors) == 25
    assert error.message.endswith("; and 15 more")
    assert error.message.count("String should have at least 1 character") == 10


def test_decode_error_pickles() -> None:
    error = _decode_error(_with(status="done"))
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.reason, copy.message, copy.field_errors) == (
        error.reason,
        error.message,
        error.field_errors,
    )


def test_reasons_are_stable_metric_labels() -> None:
    assert {reason.value for reason in DecodeReason} == {
        "empty",
        "too_large",
        "not_json",
        "not_object",
        "unsupported_schema_version",
        "unknown_type",
        "invalid",
    }
    assert f"{DecodeReason.NOT_JSON}" == "not_json"
