"""The benchmark's events: realistic runs from ``consumer.sandbox.stream``, keyed by run_id.

Events come in chunks, each a separate stretch of simulated time (so run ids never
collide), so that a backlog of a million events never sits in memory at once. Every
event is valid (the generator's fast path makes no faults), so each figure counts only
events that reach the sink.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pydantic_core

from consumer.sandbox.stream import DEFAULT_START, valid_events

Keyed = tuple[bytes, bytes]

CHUNK = 100_000
_CHUNK_SPAN = timedelta(days=30)  # far more than a chunk's simulated time


def keyed_events(count: int, seed: int, chunk: int = CHUNK) -> Iterator[Keyed]:
    """Exactly ``count`` valid events as (run_id, value), reproducible from ``seed``."""
    produced = number = 0
    while produced < count:
        want = min(chunk, count - produced)
        start = DEFAULT_START + number * _CHUNK_SPAN
        values = valid_events(want, seed + number, start=start)
        for value in values:
            yield run_id_of(value), value
        produced += len(values)
        number += 1


def run_id_of(value: bytes) -> bytes:
    """The record key producers should use: the event's run_id."""
    run_id: str = pydantic_core.from_json(value)["run_id"]
    return run_id.encode()
