"""A realistic, reproducible stream of orchestration telemetry, with the totals it must give.

Used by ``runledger demo`` and the benchmarks. ``generate(runs, seed)`` simulates runs of a
few plans (parallel and dependent tasks, retries, failures, tasks waiting on a human,
cancelled and partial runs, child runs, producers that send no ``run-start``) and then
does to the stream what real delivery does: some records are published twice, some of a
run's records arrive out of order, and a few poison records sit between good ones.
``expected`` is computed from the intended events with the reference model
(``sinks.state``), so a sink can be checked against it. ``valid_events(n, seed)`` is the
fast path for benchmarks: exactly ``n`` valid records, no faults, no reference model.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from consumer.sandbox.stream.encoding import encode, run_key
from consumer.sandbox.stream.faults import add_duplicates_and_poison, reorder
from consumer.sandbox.stream.simulation import MEAN_RUN_GAP_SECONDS, simulate
from consumer.sandbox.stream.totals import ExpectedTotals, expected_totals

__all__ = [
    "DEFAULT_START",
    "MEAN_RUN_GAP_SECONDS",
    "ExpectedTotals",
    "GeneratedStream",
    "generate",
    "valid_events",
]

DEFAULT_START: Final = datetime(2025, 11, 14, 15, 0, tzinfo=UTC)


@dataclass(frozen=True)
class GeneratedStream:
    """Raw records in publish order and the totals they must amount to."""

    events: list[bytes]
    keys: list[bytes | None]
    """The Kafka key of each record: its run_id (None for poison that names no run)."""
    expected: ExpectedTotals

    def keyed(self) -> Iterator[tuple[bytes | None, bytes]]:
        """(key, value) pairs in publish order."""
        return zip(self.keys, self.events, strict=True)


# -- public API ------------------------------------------------------------------------


def generate(
    runs: int,
    seed: int,
    *,
    duplicate_rate: float = 0.03,
    reorder_rate: float = 0.08,
    poison: int = 6,
    start: datetime = DEFAULT_START,
) -> GeneratedStream:
    """A stream of ``runs`` runs (child runs included) with faults, and its expected totals.

    ``duplicate_rate`` is the share of records published twice, ``reorder_rate`` the share
    of runs with two records swapped, ``poison`` the number of invalid records (one of each
    kind in turn). The same arguments always give the same bytes.
    """
    if runs < 1:
        raise ValueError("runs must be at least 1")
    rng = random.Random(seed)  # noqa: S311 - reproducible test data, no secrets
    timeline = simulate(rng, runs, start)
    records: list[tuple[bytes | None, bytes]] = [(run_key(e), encode(e)) for _, _, e in timeline]
    reordered = reorder(rng, records, reorder_rate)
    published = add_duplicates_and_poison(rng, records, duplicate_rate, poison, start)
    values = [value for _, value in published]
    return GeneratedStream(
        events=values,
        keys=[key for key, _ in published],
        expected=expected_totals(values, reordered),
    )


def valid_events(count: int, seed: int = 0, *, start: datetime = DEFAULT_START) -> list[bytes]:
    """Exactly ``count`` valid records in publish order: no faults, no reference model."""
    rng = random.Random(seed)  # noqa: S311 - reproducible test data, no secrets
    runs = max(1, count // 11 + 1)
    while True:
        timeline = simulate(rng, runs, start)
        if len(timeline) >= count:
            return [encode(e) for _, _, e in timeline[:count]]
        runs *= 2
