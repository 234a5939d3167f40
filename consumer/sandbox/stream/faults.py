"""What real delivery does to a stream: re-sent records, swapped records, poison records."""

from __future__ import annotations

import json
import random
from collections import defaultdict
from datetime import datetime

from consumer.sandbox.stream.encoding import encode, ms, timestamp


def reorder(rng: random.Random, records: list[tuple[bytes | None, bytes]], rate: float) -> int:
    """Swap two records of a share of the runs in place (e.g. a result before its start)."""
    positions: dict[bytes | None, list[int]] = defaultdict(list)
    for index, (key, _) in enumerate(records):
        positions[key].append(index)
    eligible = [indexes for indexes in positions.values() if len(indexes) >= 2]
    chosen = rng.sample(eligible, min(len(eligible), max(rate > 0, round(rate * len(eligible)))))
    for indexes in chosen:
        i, j = sorted(rng.sample(indexes, 2))
        records[i], records[j] = records[j], records[i]
    return len(chosen)


def add_duplicates_and_poison(
    rng: random.Random,
    records: list[tuple[bytes | None, bytes]],
    duplicate_rate: float,
    poison: int,
    start: datetime,
) -> list[tuple[bytes | None, bytes]]:
    """Re-publish some records a little later and slip poison records in between."""
    slots: list[tuple[float, int, tuple[bytes | None, bytes]]] = []
    for index, record in enumerate(records):
        slots.append((index, len(slots), record))
        if rng.random() < duplicate_rate:
            slots.append((index + rng.uniform(0.5, 40), len(slots), record))
    for number in range(poison):
        slots.append((rng.uniform(0, len(records)), len(slots), _poison(number, start)))
    slots.sort(key=lambda slot: (slot[0], slot[1]))
    return [record for _, _, record in slots]


def _poison(number: int, start: datetime) -> tuple[bytes | None, bytes]:
    """One invalid record of each kind in turn, as broken producers send them."""
    run_id = f"exec-broken-{number + 1}"
    base = {
        "schema_version": 1, "event_id": f"{run_id}-e001", "run_id": run_id,
        "occurred_at": timestamp(ms(start)), "producer": "legacy-orchestrator",
    }  # fmt: skip
    kind = number % 6
    if kind == 0:  # not_json: a producer crashed mid-write
        return run_id.encode(), json.dumps({**base, "type": "task-start"}).encode()[:-12]
    if kind == 1:  # unknown_type
        return run_id.encode(), encode({**base, "type": "task-progress", "task_id": "task-1"})
    if kind == 2:  # invalid: a status the contract does not know, negative tokens
        value = {**base, "type": "task-result", "task_id": "task-1", "status": "done",
                 "tokens": {"input": -5}}  # fmt: skip
        return run_id.encode(), encode(value)
    if kind == 3:  # unsupported_schema_version: a producer on a future contract
        return run_id.encode(), encode({**base, "schema_version": 2, "type": "run-start"})
    if kind == 4:  # not_object
        return run_id.encode(), json.dumps(["run-start", run_id]).encode()
    return None, b""  # empty: a tombstone
