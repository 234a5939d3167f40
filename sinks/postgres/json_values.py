"""JSON columns: how the engine encodes them, and payloads that are already JSON.

The engine (``sinks.postgres.engine``) and the writer both encode JSON here, so a
payload read from Kafka is stored byte for byte and everything else is encoded once.
"""

from __future__ import annotations

from typing import Any

import pydantic_core


class RawJson(str):
    """A JSON document that is already encoded: stored as it is, not encoded again."""

    __slots__ = ()


def json_serializer(value: Any) -> str:
    """The engine's JSON encoder: raw payloads pass through untouched, the rest through
    pydantic-core's encoder (compact, UTF-8; several times faster than ``json.dumps``)."""
    if isinstance(value, RawJson):
        return value
    if value is None:
        return "null"
    return pydantic_core.to_json(value).decode()
