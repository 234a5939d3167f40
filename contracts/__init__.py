"""The runledger message contract, schema_version 1.

Pydantic models of the four event types, the ``Event`` discriminated union, and
``decode_event``, which turns a Kafka record value into an ``Event`` or raises a
``DecodeError`` with a metric-friendly ``DecodeReason``. This package depends on pydantic
only, so producers written in Python can use it without pulling in the consumer.
"""

from contracts.canonical import canonical
from contracts.decode import DEFAULT_MAX_MESSAGE_BYTES, decode_event
from contracts.errors import DecodeError, DecodeReason, FieldError
from contracts.models import (
    EVENT_ADAPTER,
    EVENT_TYPES,
    INT32_MAX,
    JSON_SAFE_INT_MAX,
    MAX_ATTRIBUTES_BYTES,
    MAX_YEAR,
    MIN_YEAR,
    SCHEMA_VERSION,
    Event,
    EventBase,
    EventType,
    QualityCheck,
    RunFinalized,
    RunFinalStatus,
    RunStart,
    TaskResult,
    TaskResultStatus,
    TaskStart,
    TokenUsage,
)

__all__ = [
    "DEFAULT_MAX_MESSAGE_BYTES",
    "EVENT_ADAPTER",
    "EVENT_TYPES",
    "INT32_MAX",
    "JSON_SAFE_INT_MAX",
    "MAX_ATTRIBUTES_BYTES",
    "MAX_YEAR",
    "MIN_YEAR",
    "SCHEMA_VERSION",
    "DecodeError",
    "DecodeReason",
    "Event",
    "EventBase",
    "EventType",
    "FieldError",
    "QualityCheck",
    "RunFinalStatus",
    "RunFinalized",
    "RunStart",
    "TaskResult",
    "TaskResultStatus",
    "TaskStart",
    "TokenUsage",
    "canonical",
    "decode_event",
]
