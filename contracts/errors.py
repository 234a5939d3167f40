"""Typed decode failures.

A record that cannot become an ``Event`` is dead-lettered, counted and logged, never
dropped. The consumer therefore needs three things from a failure: a low-cardinality
``reason`` for metric labels and the dead-letter ``class`` header, one readable line for
logs and the ``message`` header, and the individual field problems for tooling that wants
to point at them. ``DecodeError`` carries exactly that.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

__all__ = ["DecodeError", "DecodeReason", "FieldError"]


class DecodeReason(StrEnum):
    """Why a record was rejected; each value is a stable, low-cardinality metric label."""

    EMPTY = "empty"
    """No value at all (``None`` or ``b""``), e.g. a compaction tombstone."""
    TOO_LARGE = "too_large"
    """The value is over the configured byte limit; it is not even parsed."""
    NOT_JSON = "not_json"
    """Not RFC 8259 JSON: invalid UTF-8, a syntax error, or ``NaN``/``Infinity``."""
    NOT_OBJECT = "not_object"
    """Valid JSON, but not an object (an array, a string, a number, ...)."""
    UNSUPPORTED_SCHEMA_VERSION = "unsupported_schema_version"
    """``schema_version`` is missing or a newer major than this build reads; never guessed."""
    UNKNOWN_TYPE = "unknown_type"
    """``type`` is missing or not one of the event types of this schema version."""
    INVALID = "invalid"
    """A known type whose fields do not satisfy the contract; see ``field_errors``."""


@dataclass(frozen=True, slots=True)
class FieldError:
    """One field-level problem, addressed by a dotted path such as ``tokens.input``."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class DecodeError(Exception):
    """A record that is not a valid schema_version 1 event.

    ``str(exc)`` is ``exc.message``: a single line that never contains the whole payload,
    so it is safe for logs and Kafka headers. The exception pickles (``args`` holds every
    constructor argument), so it can cross process boundaries.
    """

    reason: DecodeReason
    message: str
    field_errors: tuple[FieldError, ...]

    def __init__(
        self,
        reason: DecodeReason,
        message: str,
        field_errors: Iterable[FieldError] = (),
    ) -> None:
        errors = tuple(field_errors)
        super().__init__(reason, message, errors)
        self.reason = DecodeReason(reason)
        self.message = message
        self.field_errors = errors

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"DecodeError(reason={self.reason.value!r}, message={self.message!r})"
