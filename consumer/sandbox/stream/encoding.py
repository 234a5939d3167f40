"""Events as producers put them on the wire: compact JSON, millisecond UTC timestamps."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import pydantic_core

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)


def ms(moment: datetime) -> int:
    return round((moment - _EPOCH).total_seconds() * 1000)


def timestamp(ms: int) -> str:
    return f"{_second(ms // 1000)}.{ms % 1000:03d}Z"


@functools.lru_cache(maxsize=4096)
def _second(seconds: int) -> str:
    return (_EPOCH + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%S")


def encode(event: Mapping[str, Any]) -> bytes:
    return pydantic_core.to_json(event)


def run_key(event: Mapping[str, Any]) -> bytes:
    return str(event["run_id"]).encode()
