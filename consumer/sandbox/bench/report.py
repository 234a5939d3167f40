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
    "sink_ceiling_small_runs_eps": "sink ceiling, runs of 50 tasks",
    "sink_ceiling_large_runs_eps": "sink ceiling, runs of 50,000 tasks",
    "e2e_postgres_eps": "runledger end to end into PostgreSQL",
    "peer_eps": "peer: Quix Streams PostgreSQLSink, upsert per event",
}

# The graph's figures, one row each, FalkorDB and Neo4j side by side.
GRAPH_ENGINES = {"falkordb": "FalkorDB", "neo4j": "Neo4j"}
GRAPH_MEASURES = {
    "sink_ceiling_eps": "graph sink ceiling: batched writes from memory",
    "eps": "runledger end to end into the graph",
    "per_event_eps": "per-event way into the graph",
    "both_eps": "end to end, both sinks at once (a group each)",
}


def graph_figure(engine: str, measure: str) -> str:
    """The figure's name: ``graph_eps`` (FalkorDB, as before) or ``neo4j_graph_eps``."""
    name = f"graph_{measure}" if measure != "both_eps" else "e2e_both_eps"
    return name if engine == "falkordb" else f"{engine}_{name}"


@dataclass(frozen=True)
class Target:
    """One of the issue's targets: a figure and the bound it must meet."""

    figure: str
    at_least: float | None = None
    at_most: float | None = None
    below: float | None = None

    def label(self) -> str:
        if self.at_least is not None:
            return f"{self.figure} >= {self.at_least:g}"
        if self.at_most is not None:
            return f"{self.figure} <= {self.at_most:g}"
        return f"{self.figure} < {self.below:g}"

    def met(self, value: float | None) -> bool | None:
        if value is None:
            return None
        if self.at_least is not None:
            return value >= self.at_least
        if self.at_most is not None:
            return value <= self.at_most
        return self.below is not None and value < self.below


TARGETS = (
    Target("e2e_postgres_vs_peer", at_least=1.5),
    Target("e2e_postgres_vs_sink_ceiling", at_least=0.9),
    Target("large_runs_vs_small_runs", at_least=0.8),
    Target("graph_eps", at_least=10_000),
    Target("both_vs_slower_alone", at_least=0.8),
    Target("peak_rss_mb", at_most=200),
    Target("p99_event_age_s", below=1.0),
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
    peer: str | None = None
    """Why the peer was not measured, if it was not (e.g. how to install it)."""

    def add(self, name: str, value: float) -> None:
        self.samples.setdefault(name, []).append(value)

    def median(self, name: str) -> float | None:
        values = self.samples.get(name)
        return statistics.median(values) if values else None

    def ratio(self, numerator: str, denominator: str) -> float | None:
        top, bottom = self.median(numerator), self.median(denominator)
        return top / bottom if top is not None and bottom else None

    def both_vs_slower(self, engine: str) -> float | None:
        """Both sinks at once against the slower of PostgreSQL and the graph alone."""
        alone = [self.median("e2e_postgres_eps"), self.median(graph_figure(engine, "eps"))]
        both = self.median(graph_figure(engine, "both_eps"))
        if both is None or any(a is None for a in alone):
            return None
        return both / min(a for a in alone if a is not None)

    def ratios(self) -> dict[str, float | None]:
        return {
            "e2e_postgres_vs_peer": self.ratio("e2e_postgres_eps", "peer_eps"),
            "e2e_postgres_vs_sink_ceiling": self.ratio("e2e_postgres_eps", "sink_ceiling_eps"),
            "large_runs_vs_small_runs": self.ratio(
                "sink_ceiling_large_runs_eps", "sink_ceiling_small_runs_eps"
            ),
            "e2e_postgres_vs_raw": self.ratio("e2e_postgres_eps", "raw_eps"),
            "e2e_postgres_vs_per_event": self.ratio("e2e_postgres_eps", "per_event_eps"),
            "graph_vs_sink_ceiling": self.ratio("graph_eps", "graph_sink_ceiling_eps"),
            "graph_vs_per_event": self.ratio("graph_eps", "graph_per_event_eps"),
            "both_vs_slower_alone": self.both_vs_slower("falkordb"),
            "neo4j_graph_vs_sink_ceiling": self.ratio(
                "neo4j_graph_eps", "neo4j_graph_sink_ceiling_eps"
            ),
            "neo4j_both_vs_slower_alone": self.both_vs_slower("neo4j"),
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
        graph = [graph_figure(e, m) for e in GRAPH_ENGINES for m in GRAPH_MEASURES]
        out: dict[str, Any] = {name: self.median(name) for name in [*THROUGHPUTS, *graph]}
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
            "peer": self.peer,
            "notes": self.notes,
        }
        return out


def print_json(figures: Figures, console: Console) -> None:
    console.print_json(json.dumps(figures.as_json()))


def print_table(figures: Figures, console: Console) -> None:
    console.print(_throughput_table(figures))
    console.print(_graph_table(figures))
    console.print(_summary_table(figures))
    console.print(_targets_table(figures))
    for note in figures.notes:
        console.print(f"note: {note}", markup=False)


def _spread(values: list[float]) -> tuple[str, str]:
    return f"{statistics.median(values):,.0f}", f"{min(values):,.0f} - {max(values):,.0f}"


def _throughput_table(figures: Figures) -> Table:
    table = Table(title=f"runledger bench: {figures.events:,} events, {figures.repeat} repeat(s)")
    table.add_column("measure")
    table.add_column("events/s (median)", justify="right")
    table.add_column("min - max", justify="right")
    for name, label in THROUGHPUTS.items():
        values = figures.samples.get(name)
        if values:
            table.add_row(label, *_spread(values))
        elif name == "peer_eps" and figures.peer:
            table.add_row(label, "not measured", "see the note below")
    return table


def _graph_table(figures: Figures) -> Table:
    table = Table(title="graph sink, events/s (median, min - max)")
    table.add_column("measure")
    for engine in GRAPH_ENGINES.values():
        table.add_column(engine, justify="right")
    for measure, label in GRAPH_MEASURES.items():
        cells = []
        for engine in GRAPH_ENGINES:
            values = figures.samples.get(graph_figure(engine, measure))
            cells.append("skipped" if not values else "{} ({})".format(*_spread(values)))
        table.add_row(label, *cells)
    return table


def _summary_table(figures: Figures) -> Table:
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
    return summary


def _targets_table(figures: Figures) -> Table:
    targets = Table(title="targets")
    for column in ("target", "measured", "met"):
        targets.add_column(column)
    for label, check in figures.targets().items():
        measured, met = check["measured"], check["met"]
        shown = "skipped" if measured is None else f"{measured:,.2f}"
        targets.add_row(label, shown, {True: "yes", False: "NO", None: "-"}[met])
        if label.startswith("graph_eps"):  # Neo4j beside it, reported, not a target
            neo4j = figures.median("neo4j_graph_eps")
            shown = "skipped" if neo4j is None else f"{neo4j:,.2f}"
            targets.add_row("neo4j_graph_eps (reported beside)", shown, "-")
    return targets
