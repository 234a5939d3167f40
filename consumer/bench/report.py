"""The benchmark's figures: one object, shown as a table or printed as JSON."""

from __future__ import annotations

import json
import os
import statistics
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console
from rich.table import Table

# Throughput figures in the order the table shows them, with their labels.
THROUGHPUTS = {
    "raw_eps": "raw ceiling: fetch + decode, no sink",
    "per_event_eps": "per-event way: one transaction per event (PostgreSQL)",
    "sink_ceiling_eps": "sink ceiling: batched PostgreSQL writes from memory",
    "e2e_postgres_eps": "runledger end to end into PostgreSQL",
    "graph_per_event_eps": "per-event way into the graph (FalkorDB)",
    "graph_sink_ceiling_eps": "graph sink ceiling: batched writes from memory",
    "graph_eps": "runledger end to end into the graph (FalkorDB)",
    "e2e_both_eps": "runledger end to end, both sinks at once",
}


@dataclass(frozen=True)
class Target:
    """One of the issue's targets: a figure and the bound it must meet."""

    figure: str
    at_least: float | None = None
    below: float | None = None

    def label(self) -> str:
        bound = f">= {self.at_least:g}" if self.at_least is not None else f"< {self.below:g}"
        return f"{self.figure} {bound}"

    def met(self, value: float | None) -> bool | None:
        if value is None:
            return None
        if self.at_least is not None:
            return value >= self.at_least
        return self.below is not None and value < self.below


TARGETS = (
    Target("e2e_postgres_vs_per_event", at_least=20),
    Target("e2e_postgres_vs_sink_ceiling", at_least=0.7),
    Target("graph_vs_per_event", at_least=10),
    Target("graph_eps", at_least=10_000),
    Target("p99_event_age_s", below=1.0),
    Target("peak_rss_mb", below=200),
)


@dataclass
class Figures:
    """Everything one benchmark run measured; absent figures were skipped."""

    events: int
    repeat: int
    seed: int
    samples: dict[str, list[float]] = field(default_factory=dict)
    offered_load_eps: float | None = None
    p50_event_age_s: float | None = None
    p99_event_age_s: float | None = None
    peak_rss_mb: float | None = None
    backlog_events: int | None = None
    backlog_handled: int | None = None
    backlog_drain_eps: float | None = None
    notes: list[str] = field(default_factory=list)

    def add(self, name: str, value: float) -> None:
        self.samples.setdefault(name, []).append(value)

    def median(self, name: str) -> float | None:
        values = self.samples.get(name)
        return statistics.median(values) if values else None

    def ratio(self, numerator: str, denominator: str) -> float | None:
        top, bottom = self.median(numerator), self.median(denominator)
        return top / bottom if top is not None and bottom else None

    def ratios(self) -> dict[str, float | None]:
        return {
            "e2e_postgres_vs_raw": self.ratio("e2e_postgres_eps", "raw_eps"),
            "e2e_postgres_vs_per_event": self.ratio("e2e_postgres_eps", "per_event_eps"),
            "e2e_postgres_vs_sink_ceiling": self.ratio("e2e_postgres_eps", "sink_ceiling_eps"),
            "graph_vs_per_event": self.ratio("graph_eps", "graph_per_event_eps"),
            "graph_vs_sink_ceiling": self.ratio("graph_eps", "graph_sink_ceiling_eps"),
        }

    def targets(self) -> dict[str, dict[str, Any]]:
        """Each target with the figure measured for it and whether it is met (None: skipped)."""
        figures: dict[str, float | None] = {
            **self.ratios(),
            "graph_eps": self.median("graph_eps"),
            "p99_event_age_s": self.p99_event_age_s,
            "peak_rss_mb": self.peak_rss_mb,
        }
        return {
            t.label(): {"measured": figures[t.figure], "met": t.met(figures[t.figure])}
            for t in TARGETS
        }

    def as_json(self) -> dict[str, Any]:
        """The flat JSON object of ``--json``: medians, ranges, ratios, latency, memory."""
        out: dict[str, Any] = {name: self.median(name) for name in THROUGHPUTS}
        out["ranges"] = {k: [min(v), max(v)] for k, v in self.samples.items() if v}
        out["samples"] = self.samples
        out |= self.ratios()
        out |= {
            "offered_load_eps": self.offered_load_eps,
            "p50_event_age_s": self.p50_event_age_s,
            "p99_event_age_s": self.p99_event_age_s,
            "peak_rss_mb": self.peak_rss_mb,
            "backlog_events": self.backlog_events,
            "backlog_handled": self.backlog_handled,
            "backlog_drain_eps": self.backlog_drain_eps,
            "events": self.events,
            "repeat": self.repeat,
            "seed": self.seed,
            "cpus": os.cpu_count(),
            "load_average": list(os.getloadavg()),
            "targets": self.targets(),
            "notes": self.notes,
        }
        return out


def print_json(figures: Figures, console: Console) -> None:
    console.print_json(json.dumps(figures.as_json()))


def print_table(figures: Figures, console: Console) -> None:
    table = Table(title=f"runledger bench: {figures.events:,} events, {figures.repeat} repeat(s)")
    table.add_column("measure")
    table.add_column("events/s (median)", justify="right")
    table.add_column("min - max", justify="right")
    for name, label in THROUGHPUTS.items():
        values = figures.samples.get(name)
        if values:
            spread = f"{min(values):,.0f} - {max(values):,.0f}"
            table.add_row(label, f"{statistics.median(values):,.0f}", spread)
    console.print(table)

    summary = Table(show_header=False, title="ratios, latency, memory")
    for name, value in figures.ratios().items():
        if value is not None:
            summary.add_row(name.replace("_", " "), f"{value:,.2f}x")
    if figures.p99_event_age_s is not None:
        summary.add_row("offered load (half the maximum)", f"{figures.offered_load_eps:,.0f} ev/s")
        summary.add_row("event age at write p50", f"{figures.p50_event_age_s:.3f} s")
        summary.add_row("event age at write p99", f"{figures.p99_event_age_s:.3f} s")
    if figures.peak_rss_mb is not None:
        summary.add_row(
            f"peak RSS of runledger run, {figures.backlog_events:,} backlog",
            f"{figures.peak_rss_mb:,.0f} MB",
        )
        summary.add_row("backlog drained at", f"{figures.backlog_drain_eps:,.0f} ev/s")
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    summary.add_row("load average (1, 5, 15 min)", f"{load} on {os.cpu_count()} CPUs")
    console.print(summary)

    targets = Table(title="targets")
    for column in ("target", "measured", "met"):
        targets.add_column(column)
    for label, check in figures.targets().items():
        measured, met = check["measured"], check["met"]
        shown = "skipped" if measured is None else f"{measured:,.2f}"
        targets.add_row(label, shown, {True: "yes", False: "NO", None: "-"}[met])
    console.print(targets)
    for note in figures.notes:
        console.print(f"note: {note}")
