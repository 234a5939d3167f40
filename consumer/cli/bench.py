"""``runledger bench``: measure throughput, latency and memory on this machine."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer
from rich.console import Console

from consumer.sandbox.bench.report import print_json, print_table
from consumer.sandbox.bench.run import BenchOptions, run_bench
from consumer.sandbox.embedded import EmbeddedEngineError


def bench(
    events: Annotated[
        int, typer.Option(min=1, help="Events for the throughput measurements.")
    ] = BenchOptions.events,
    repeat: Annotated[
        int, typer.Option(min=1, help="Repeats of each throughput measurement.")
    ] = BenchOptions.repeat,
    backlog: Annotated[
        int, typer.Option(min=0, help="Backlog for the peak-memory measurement; 0 skips it.")
    ] = BenchOptions.backlog,
    skip_graph: Annotated[
        bool, typer.Option("--skip-graph", help="Do not measure the graph sink.")
    ] = False,
    skip_neo4j: Annotated[
        bool,
        typer.Option("--skip-neo4j", help="Measure the graph on FalkorDB only (no Neo4j)."),
    ] = False,
    skip_peer: Annotated[
        bool, typer.Option("--skip-peer", help="Do not measure the peer (Quix Streams).")
    ] = False,
    per_event_sample: Annotated[
        int, typer.Option(min=1, help="Events written the per-event way (it is slow).")
    ] = BenchOptions.per_event_sample,
    latency_seconds: Annotated[
        float, typer.Option(min=0, help="Length of the event-age measurement; 0 skips it.")
    ] = BenchOptions.latency_seconds,
    seed: Annotated[int, typer.Option(help="Seed of the generated events.")] = BenchOptions.seed,
    postgres_url: Annotated[
        str | None,
        typer.Option(
            help="PostgreSQL server to create a scratch database on "
            "(default RUNLEDGER_POSTGRES__URL).",
            show_default=False,
        ),
    ] = None,
    json_output: Annotated[
        bool, typer.Option("--json", help="Print the figures as one JSON object.")
    ] = False,
) -> None:
    """Measure runledger against its ceilings, its peer and its targets.

    Starts Apache Kafka (unless RUNLEDGER_KAFKA__BOOTSTRAP_SERVERS is set), FalkorDB and
    Neo4j, creates and drops a scratch PostgreSQL database, and prints events/s (raw,
    per event, sink ceilings with small and large runs, end to end, the peer Quix
    Streams when the bench extra is installed, the graph on both engines), ratios,
    event age at write, peak memory and which targets are met. The defaults take 13 to
    30 minutes on 2 cores; a quick look:
    runledger bench --events 5000 --repeat 1 --backlog 0 --latency-seconds 0
    """
    options = BenchOptions(
        events=events,
        repeat=repeat,
        backlog=backlog,
        skip_graph=skip_graph,
        skip_neo4j=skip_neo4j,
        skip_peer=skip_peer,
        per_event_sample=min(per_event_sample, events),
        latency_seconds=latency_seconds,
        seed=seed,
        postgres_url=postgres_url,
    )
    out, err = Console(), Console(stderr=True)
    try:
        figures = asyncio.run(run_bench(options, lambda line: err.print(f"[dim]{line}[/dim]")))
    except EmbeddedEngineError as error:
        err.print(f"runledger: error: {error}", markup=False)
        raise typer.Exit(1) from None
    if json_output:
        print_json(figures, out)
    else:
        print_table(figures, out)
