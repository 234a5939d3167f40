"""Events for tests: one builder, the example run, and generated streams.

``event`` builds one event as a producer publishes it; ``sink_records`` turns events into
what a sink receives. Streams of many runs come from ``consumer.sandbox.stream``, the same
generator the demo and the benchmarks use.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from consumer.sandbox.stream import generate
from contracts import Event, decode_event
from sinks.base import SinkRecord

T0 = datetime(2025, 11, 14, 15, 0, tzinfo=UTC)
"""When every built event happens, unless it is numbered."""

EXAMPLES = Path(__file__).resolve().parents[1] / "data"
EXAMPLE_RUN_ID = "exec-1763134573643"


def event(kind: str, run_id: str = "run-1", n: int | None = None, **fields: Any) -> dict[str, Any]:
    """One event of ``run_id`` as a producer publishes it (a JSON object).

    ``n`` numbers the run's events: event ``n`` has the id ``<run_id>/e<n:04d>`` and
    happens ``n`` seconds after ``T0``. Without ``n`` the id is unique and the event
    happens at ``T0``. ``fields`` come last, so they can override anything, to build an
    invalid event too (``schema_version=2``).
    """
    return {
        "schema_version": 1,
        "event_id": f"{run_id}/e{n:04d}" if n is not None else f"{run_id}/{uuid.uuid4().hex}",
        "type": kind,
        "run_id": run_id,
        "occurred_at": timestamp(T0 + timedelta(seconds=n or 0)),
        **fields,
    }


def encode(body: Mapping[str, Any]) -> bytes:
    """The Kafka value of an event."""
    return json.dumps(body).encode()


def timestamp(moment: datetime) -> str:
    """An ISO 8601 UTC time as producers write it (``Z``)."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def sink_record(body: Mapping[str, Any] | bytes, offset: int = 0, topic: str = "t") -> SinkRecord:
    """An event as a sink receives it: decoded through the contract, as the pipeline does."""
    value = body if isinstance(body, bytes) else encode(body)
    return SinkRecord(decode_event(value), value, topic, 0, offset)


def sink_records(bodies: Iterable[Mapping[str, Any] | bytes], topic: str = "t") -> list[SinkRecord]:
    """Events as one batch of a partition: offsets 0, 1, 2, ..."""
    return [sink_record(body, offset, topic) for offset, body in enumerate(bodies)]


def decoded(bodies: Iterable[Mapping[str, Any] | bytes]) -> list[Event]:
    return [record.event for record in sink_records(bodies)]


def run_id_of(value: bytes) -> str:
    run_id: str = json.loads(value)["run_id"]
    return run_id


def event_ids(values: Iterable[bytes]) -> set[str]:
    return {json.loads(v)["event_id"] for v in values}


def valid_stream(runs: int, seed: int, duplicate_rate: float = 0.05) -> list[bytes]:
    """Values of ``runs`` runs (child runs, retries, failures, waits, unfinished runs) from
    ``consumer.sandbox.stream``, interleaved as a busy orchestrator publishes them, some
    published twice and some of a run's out of order; no invalid record."""
    return generate(runs, seed, duplicate_rate=duplicate_rate, poison=0).events


def example_lines() -> list[bytes]:
    """The example run (``tests/data/mimir_run.jsonl``), one Kafka value a line."""
    text = (EXAMPLES / "mimir_run.jsonl").read_text(encoding="utf-8")
    return [line.encode() for line in text.splitlines() if line.strip()]


def example_expected() -> dict[str, Any]:
    """What the sinks must derive from the example run."""
    expected: dict[str, Any] = json.loads((EXAMPLES / "mimir_run.expected.json").read_text())
    return expected
