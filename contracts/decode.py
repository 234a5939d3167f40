"""Turn a Kafka record value into an ``Event``, or say precisely why it cannot be one.

Decoding sits on the hot path of every sink pipeline, so a good record costs one size
check and one ``EVENT_ADAPTER.validate_json`` call (parsing and validation in Rust).
Only a record that fails is looked at again, slowly, to classify the failure into a
``DecodeReason`` and a single readable line for the dead-letter headers and logs.
"""

import json
import re
from typing import Any, Final

from pydantic import ValidationError

from contracts.errors import DecodeError, DecodeReason, FieldError
from contracts.models import EVENT_ADAPTER, EVENT_TYPES, SCHEMA_VERSION, Event

__all__ = ["DEFAULT_MAX_MESSAGE_BYTES", "decode_event"]

DEFAULT_MAX_MESSAGE_BYTES: Final = 1_048_576
"""Kafka's default ``max.message.bytes``: anything larger is refused before parsing."""

_MAX_ECHO_CHARS: Final = 100
_MAX_FIELD_MESSAGE_CHARS: Final = 200
_MAX_LISTED_FIELD_ERRORS: Final = 10
_EXPECTED_TYPES: Final = ", ".join(EVENT_TYPES)
_UTF8_BOM: Final = b"\xef\xbb\xbf"
_MISSING: Final = object()
# A \\u escape of a UTF-16 surrogate (not itself escaped by an odd run of backslashes):
# a high one optionally followed by its low half, or a low one on its own.
_SURROGATE_ESCAPE: Final = re.compile(
    r"(?<!\\)(?:\\\\)*\\u(?:(?P<high>[dD][89abAB][0-9a-fA-F]{2})"
    r"(?P<low>\\u[dD][c-fC-F][0-9a-fA-F]{2})?|(?P<lone_low>[dD][c-fC-F][0-9a-fA-F]{2}))"
)


def decode_event(raw: bytes | None, *, max_bytes: int = DEFAULT_MAX_MESSAGE_BYTES) -> Event:
    """Decode one record value into the ``Event`` model its ``type`` names.

    Raises ``DecodeError`` (and nothing else) when the value is empty, larger than
    ``max_bytes``, not UTF-8 JSON, not an object, of another ``schema_version``, of an
    unknown ``type``, or violates the contract.
    """
    if not raw:
        raise DecodeError(DecodeReason.EMPTY, "empty value (no payload, e.g. a tombstone)")
    if len(raw) > max_bytes:
        raise DecodeError(
            DecodeReason.TOO_LARGE,
            f"value is {len(raw)} bytes, over the limit of {max_bytes} bytes",
        )
    try:
        event = EVENT_ADAPTER.validate_json(raw)
    except ValidationError as exc:
        raise _diagnose(raw, exc) from exc
    # The Rust parser accepts NaN/Infinity, which are not JSON (and PostgreSQL JSONB
    # refuses them). Two substring scans cost a fraction of a second parse; a hit is
    # usually inside a string, so only then parse again to be sure.
    if b"NaN" in raw or b"Infinity" in raw:
        _parse(raw)
    return event


class _NonFiniteNumber(ValueError):
    """``json.loads`` met ``NaN``, ``Infinity`` or ``-Infinity``."""


def _refuse_constant(name: str) -> object:
    raise _NonFiniteNumber(f"{name} is not a JSON number")


def _parse(raw: bytes) -> Any:
    """Parse strictly as RFC 8259 JSON, raising ``DecodeError(NOT_JSON)`` otherwise."""
    try:
        return json.loads(raw, parse_constant=_refuse_constant)
    except (ValueError, RecursionError) as exc:
        raise DecodeError(DecodeReason.NOT_JSON, f"not valid JSON: {_one_line(exc)}") from exc


def _diagnose(raw: bytes, exc: ValidationError) -> DecodeError:
    """Classify a failed validation; cost only matters on the fast path, not here."""
    errors = exc.errors(include_url=False, include_input=False)
    for error in errors:
        if error["type"] == "json_invalid":
            return _not_json(raw, error.get("ctx", {}).get("error", error["msg"]))
    try:
        data = _parse(raw)
    except DecodeError as decode_error:
        return decode_error
    if not isinstance(data, dict):
        return DecodeError(
            DecodeReason.NOT_OBJECT, f"expected a JSON object, got {_json_kind(data)}"
        )

    version = data.get("schema_version", _MISSING)
    if version is _MISSING:
        return DecodeError(
            DecodeReason.UNSUPPORTED_SCHEMA_VERSION,
            f"schema_version is missing (this runledger reads {SCHEMA_VERSION})",
        )
    if isinstance(version, float) and version.is_integer():
        version = int(version)  # 2.0 is the number 2, as for JSON Schema
    if type(version) is int and version > SCHEMA_VERSION:
        return DecodeError(
            DecodeReason.UNSUPPORTED_SCHEMA_VERSION,
            f"schema_version {_echo(version)} is not supported "
            f"(this runledger reads {SCHEMA_VERSION})",
        )

    event_type = data.get("type", _MISSING)
    if event_type is _MISSING:
        return DecodeError(
            DecodeReason.UNKNOWN_TYPE, f"type is missing (expected one of: {_EXPECTED_TYPES})"
        )
    if not isinstance(event_type, str) or event_type not in EVENT_TYPES:
        return DecodeError(
            DecodeReason.UNKNOWN_TYPE,
            f"unknown type {_echo(event_type)} (expected one of: {_EXPECTED_TYPES})",
        )

    field_errors = tuple(_field_error(error, event_type) for error in errors)
    listed = "; ".join(str(error) for error in field_errors[:_MAX_LISTED_FIELD_ERRORS])
    if len(field_errors) > _MAX_LISTED_FIELD_ERRORS:
        listed += f"; and {len(field_errors) - _MAX_LISTED_FIELD_ERRORS} more"
    return DecodeError(DecodeReason.INVALID, f"invalid {event_type}: {listed}", field_errors)


def _not_json(raw: bytes, parser_message: str) -> DecodeError:
    """Explain a parse failure, naming bad UTF-8 or a BOM, which the parser reports vaguely."""
    try:
        bytes(raw).decode("utf-8")
    except UnicodeDecodeError as exc:
        return DecodeError(
            DecodeReason.NOT_JSON,
            f"not valid UTF-8: byte 0x{exc.object[exc.start]:02x} at offset {exc.start}",
        )
    if raw.startswith(_UTF8_BOM):
        return DecodeError(DecodeReason.NOT_JSON, "not valid JSON: starts with a UTF-8 BOM")
    surrogate = _lone_surrogate(bytes(raw).decode("utf-8"))
    if surrogate is not None:
        return DecodeError(DecodeReason.NOT_JSON, surrogate)
    return DecodeError(DecodeReason.NOT_JSON, f"not valid JSON: {_one_line(parser_message)}")


def _lone_surrogate(text: str) -> str | None:
    """Name a ``\\uD800``-style escape of half a UTF-16 pair, which is not a character.

    The parser refuses it as "unexpected end of hex escape"; say what is actually wrong.
    """
    for match in _SURROGATE_ESCAPE.finditer(text):
        half = match.group("lone_low") or (None if match.group("low") else match.group("high"))
        if half is not None:
            return (
                f"not valid JSON: lone surrogate \\u{half} at character {match.end()} "
                "(half of a UTF-16 pair, not a Unicode character; escape both halves "
                "or send the character as UTF-8)"
            )
    return None


def _field_error(error: Any, event_type: str) -> FieldError:
    """Turn one pydantic error into a ``FieldError`` with a path relative to the event.

    pydantic prefixes the location with the discriminator tag (``task-result.tokens``);
    the producer thinks in the message's own fields, so the tag is dropped.
    """
    loc: tuple[int | str, ...] = error["loc"]
    if loc and loc[0] == event_type:
        loc = loc[1:]
    path = _shorten(".".join(str(part) for part in loc))
    if error["type"] == "value_error" and "error" in error.get("ctx", {}):
        # Our own validators: show their text without pydantic's "Value error, " prefix.
        message = str(error["ctx"]["error"])
    else:
        message = str(error["msg"])
    return FieldError(path=path, message=_one_line(message, _MAX_FIELD_MESSAGE_CHARS))


def _json_kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "an array"


def _echo(value: object) -> str:
    """Quote a value from the payload for a message, never more than ~100 characters."""
    try:
        text = repr(value)
    except ValueError:  # an int too long to print (sys.int_info.default_max_str_digits)
        text = f"<{type(value).__name__}>"
    return _shorten(text)


def _one_line(value: object, limit: int = _MAX_ECHO_CHARS * 2) -> str:
    return _shorten(" ".join(str(value).split()), limit)


def _shorten(text: str, limit: int = _MAX_ECHO_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."
