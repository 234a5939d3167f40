"""Checks of what a sink holds against the reference model (``sinks.state``)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine

from consumer.operations.reconcile import compare, reference_snapshots
from contracts import decode_event
from sinks.base import RunSnapshot
from sinks.graph import GraphSink
from sinks.postgres.queries import run_snapshots

from support.events import event_ids
from support.graph import stored_graph_event_ids
from support.postgres import stored_event_ids


def expected_snapshots(values: Iterable[bytes]) -> dict[str, RunSnapshot]:
    """What a sink must hold for these records: the reference model over them (all valid)."""
    return reference_snapshots(decode_event(v) for v in values)


@dataclass(frozen=True)
class Figures:
    """What a fault test reports: events sent, faults, events lost, runs counted twice."""

    sent: int
    unique: int
    faults: int
    lost: int
    drifted_runs: int

    def line(self, name: str) -> str:
        return (
            f"[{name}] events sent {self.sent} ({self.unique} distinct), faults injected "
            f"{self.faults}, events lost {self.lost}, runs drifted (double-counted or "
            f"short) {self.drifted_runs}"
        )


async def check_ledger(
    engine: AsyncEngine, values: Sequence[bytes], faults: int, name: str
) -> Figures:
    """Compare the relational ledger with the reference model; print and return figures."""
    stored, held = await stored_event_ids(engine), await run_snapshots(engine)
    return _check(values, stored, "sink", held, faults, name)


async def check_graph(sink: GraphSink, values: Sequence[bytes], faults: int, name: str) -> Figures:
    """Compare the graph with the reference model, like ``check_ledger``."""
    stored, held = await stored_graph_event_ids(sink), await sink.run_snapshots()
    return _check(values, stored, "graph", held, faults, name)


def _check(
    values: Sequence[bytes],
    stored: set[str],
    holder: str,
    held: Mapping[str, RunSnapshot],
    faults: int,
    name: str,
) -> Figures:
    wanted = event_ids(values)
    report = compare({"reference": expected_snapshots(values), holder: held})
    figures = Figures(
        len(values), len(wanted), faults, len(wanted - stored), len(report.drifted_runs)
    )
    print(figures.line(name))  # collected in the report of the test run (pytest -s)
    assert stored == wanted, f"lost {len(wanted - stored)}, unexpected {len(stored - wanted)}"
    assert report.in_sync, report.drifts[:5]
    return figures
