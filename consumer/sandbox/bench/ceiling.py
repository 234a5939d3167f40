"""The sink ceiling: runledger's own batched write path, fed from memory (no Kafka).

The end-to-end figure can approach this but not pass it: it is what the sink costs
when fetching and decoding are free.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterable, Sequence

from contracts import DecodeError, decode_event
from sinks.base import Sink, SinkRecord


def sink_records(values: Iterable[bytes], topic: str) -> list[SinkRecord]:
    """Decode the benchmark's values once (skipping any invalid one), with made-up offsets."""
    records = []
    for offset, value in enumerate(values):
        with contextlib.suppress(DecodeError):
            records.append(SinkRecord(decode_event(value), value, topic, 0, offset))
    return records


async def sink_ceiling_eps(sink: Sink, records: Sequence[SinkRecord], batch_size: int) -> float:
    """Events per second writing ``records`` in consecutive batches of ``batch_size``."""
    started = time.perf_counter()
    for first in range(0, len(records), batch_size):
        await sink.write(records[first : first + batch_size])
    return len(records) / (time.perf_counter() - started)
