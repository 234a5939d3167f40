"""``runledger bench``: measure throughput, latency and memory on this machine."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer
from rich.console import Console

from consumer.bench.report import print_json, print_table
from consumer.bench.run import BenchOptions, run_bench
from consumer.embedded import EmbeddedEngineError


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
    """Measure runledger against its ceilings: raw consume, per-event writes, batched sink.

    Starts an embedded Tansu (unless RUNLEDGER_KAFKA__BOOTSTRAP_SERVERS is set) and an
    embedded FalkorDB, creates and drops a scratch PostgreSQL database, and prints
    events/s, ratios, event age at write, peak memory and which targets are met. The
    defaults take about a quarter of an hour on 2 cores; a quick look:
    runledger bench --events 5000 --repeat 1 --backlog 0 --latency-seconds 0
    """
    options = BenchOptions(
        events=events,
        repeat=repeat,
        backlog=backlog,
        skip_graph=skip_graph,
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
