"""Properties of decoding that must hold for any input, not just the cases we thought of.

A consumer must never crash on a record (it would stop the partition), so whatever bytes
arrive, ``decode_event`` returns an event or raises ``DecodeError``. And whatever the
checked-in JSON Schema accepts, the consumer accepts too, or producers that validate
before sending would still feed the dead-letter topic.
"""

import json
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from contracts import DecodeError, DecodeReason, EventBase, decode_event
from contracts.schema_files import SCHEMA_DIR

EXAMPLES_DIR = Path(__file__).resolve().parents[1] / "data"
EXAMPLES: list[dict[str, Any]] = [
    json.loads(line)
    for line in (EXAMPLES_DIR / "mimir_run.jsonl").read_text(encoding="utf-8").splitlines()
    if line.strip()
]
EVENT_SCHEMA = Draft202012Validator(
    json.loads((SCHEMA_DIR / "event.v1.schema.json").read_text(encoding="utf-8"))
)

# Only UTF-8 encodable text: lone surrogates are legal in Python strings, not in JSON.
text = st.text(st.characters(codec="utf-8"), max_size=12)
json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | text
)
json_values = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(text, children, max_size=3),
    max_leaves=8,
)
# Around every bound, and the type confusions other languages' validators refuse.
counts = (
    st.integers(min_value=-2, max_value=2**64)
    | st.sampled_from([0, 1, 2**31 - 1, 2**31, 2**53 - 1, 2**53, 2**63 - 1, 2**63])
    | st.sampled_from([2.0, 2.5, -0.0, 1e300, "2", True, False, None])
)

# Plausible replacements, so that mutated events are often still valid.
FIELD_VALUES: dict[str, st.SearchStrategy[Any]] = {
    "schema_version": st.sampled_from([1, 1.0, 2, 2.0, 0, "1", True, 1.5, None]),
    "type": st.sampled_from(["run-start", "task-start", "task-result", "run-finalized", "x"]),
    "occurred_at": st.sampled_from(
        [
            "2025-11-14T15:36:13Z",
            "2025-11-14T15:36:13+05:30",
            "2025-11-14T15:36:13",
            17,
            "0002-01-01T00:00:00+23:59",
            "9998-12-31T23:59:59.999999-23:59",
            "0001-01-01T00:30:00+01:00",
            "9999-12-31T23:00:00-05:00",
            "0000-01-01T00:00:00Z",
            "2025-11-14T15:36Z",
            "2025-11-14T15:36:13,5Z",
            "2025-11-14t15:36:13.123456789z",
            "2025-11-14 15:36:13Z",
            "2025-11-14T15:36:60Z",
            "2025-11-14T24:00:00Z",
            "2025-11-14T15:36:13+24:00",
            "1763134573",
            "2025-11-14T15:36:13.Z",
        ]
    ),
    "attempt": counts,
    "total_tasks": counts,
    "duration_ms": counts,
    "tool_calls": counts,
    "status": st.sampled_from(["success", "failure", "waiting", "completed", "partial", "?"]),
    "tokens": st.fixed_dictionaries({}, optional={"input": counts, "output": counts}),
    "qc": st.fixed_dictionaries(
        {},
        optional={
            "passed": st.none() | st.booleans() | st.sampled_from([0, 1, "true"]),
            "score": st.none()
            | st.floats(min_value=-1, max_value=101, allow_nan=False)
            | st.sampled_from([0, 100, "50", True]),
            "issues": st.lists(text, max_size=2),
        },
    ),
    "depends_on": st.lists(text, max_size=3),
    "attributes": st.none() | st.dictionaries(text, json_values, max_size=3),
    "cancelled": st.sampled_from([True, False, "yes", 1, None]),
}
MUTABLE_KEYS = sorted({*FIELD_VALUES, "event_id", "run_id", "task_id", "output", "extra"})


@st.composite
def mutated_examples(draw: st.DrawFn) -> dict[str, Any]:
    """An example event with a few fields deleted or replaced."""
    event = dict(draw(st.sampled_from(EXAMPLES)))
    for key in draw(st.lists(st.sampled_from(MUTABLE_KEYS), max_size=3, unique=True)):
        if draw(st.booleans()):
            event.pop(key, None)
        else:
            event[key] = draw(FIELD_VALUES.get(key, json_values) | json_values)
    return event


def _decode_is_total(raw: bytes) -> EventBase | None:
    """Decode, allowing only an event or a well-formed ``DecodeError`` as the outcome."""
    try:
        event = decode_event(raw)
    except DecodeError as error:
        _assert_well_formed(error)
        return None
    assert isinstance(event, EventBase)
    return event


def _assert_well_formed(error: DecodeError) -> None:
    assert isinstance(error.reason, DecodeReason)
    assert error.message
    assert "\n" not in error.message
    assert len(error.message) < 2_500
    if error.reason is not DecodeReason.INVALID:
        assert error.field_errors == ()


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=512))
def test_arbitrary_bytes_never_raise_anything_but_decode_error(raw: bytes) -> None:
    _decode_is_total(raw)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(EXAMPLES), st.data())
def test_corrupted_example_bytes_never_raise_anything_but_decode_error(
    example: dict[str, Any], data: st.DataObject
) -> None:
    raw = bytearray(json.dumps(example).encode())
    for _ in range(data.draw(st.integers(min_value=1, max_value=4))):
        position = data.draw(st.integers(min_value=0, max_value=len(raw) - 1))
        raw[position] = data.draw(st.integers(min_value=0, max_value=255))
    _decode_is_total(bytes(raw))


@settings(max_examples=400, deadline=None)
@given(mutated_examples())
def test_mutated_events_never_raise_anything_but_decode_error(event: dict[str, Any]) -> None:
    _decode_is_total(json.dumps(event).encode())


@settings(max_examples=600, deadline=None)
@given(mutated_examples())
def test_the_decoder_accepts_exactly_what_the_json_schema_accepts(event: dict[str, Any]) -> None:
    """Both directions: a producer validating against the published schema is never
    dead-lettered, and runledger never takes what another language's validator refuses."""
    schema_errors = [e.message for e in EVENT_SCHEMA.iter_errors(event)]
    decoded = _decode_is_total(json.dumps(event).encode())
    assert (decoded is not None) == (not schema_errors), (event, schema_errors)
