"""``runledger reconcile``: do the sinks agree, run by run? Exit 1 on drift (for a CronJob)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Collection, Mapping, Sequence
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.table import Table

from consumer.config import build_sinks, load_settings, sinks_source
from consumer.logging import configure_logging
from consumer.operations.reconcile import (
    ReconcileReport,
    SourceReadError,
    TopicReference,
    reconcile,
)
from sinks.base import RunSnapshotSource, Sink


def reconcile_command(
    sink: Annotated[
        list[str] | None,
        typer.Option(
            "--sink",
            help="Compare this sink (repeatable); default: RUNLEDGER_SINKS.",
            show_default=False,
        ),
    ] = None,
    run: Annotated[
        list[str] | None,
        typer.Option(
            "--run", help="Only this run (repeatable); default: every run.", show_default=False
        ),
    ] = None,
    with_topic: Annotated[
        bool,
        typer.Option(
            "--with-topic",
            help="Also fold the whole topic through the reference model and compare with it "
            "(needs a retention that still holds every event).",
        ),
    ] = False,
    recheck_after: Annotated[
        float,
        typer.Option(
            help="Seconds to wait before reading drifted runs again; only lasting drift "
            "counts (sinks consume at their own pace).",
            min=0,
        ),
    ] = 0.0,
    limit: Annotated[int, typer.Option(help="Show at most this many drifts; 0 shows all.")] = 200,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON report.")] = False,
) -> None:
    """Compare what each sink holds, run by run: status, counters, token sums, attempts.

    Exit status 0 when every source agrees, 1 on any drift or an unreadable source, 2 on a
    configuration error.
    Reads RUNLEDGER_SINKS and each sink's settings (and RUNLEDGER_KAFKA__* with --with-topic).
    """  # fmt: skip
    settings = load_settings(**({"sinks": sink} if sink else {}))
    # Logs go to stderr (stdout is the report, --json parses), and only warnings unless DEBUG.
    quiet = settings.log.level if settings.log.level == "DEBUG" else "WARNING"
    configure_logging(settings.log.model_copy(update={"level": quiet}))
    sinks = build_sinks(settings.sinks, source=sinks_source(sink))
    sources: dict[str, RunSnapshotSource] = {}
    for built in sinks:
        if not isinstance(built, RunSnapshotSource):
            _usage(f"sink {built.name!r} cannot be reconciled: it does not implement run_snapshots")
        sources[built.name] = built
    if with_topic:
        sources[f"topic:{settings.kafka.topic}"] = TopicReference(settings)
    if len(sources) < 2:
        _usage(
            "reconciliation compares at least two sources: configure two sinks "
            "(e.g. RUNLEDGER_SINKS=postgres,graph) or add --with-topic"
        )
    try:
        report = asyncio.run(_reconcile(sources, sinks, run, recheck_after))
    except SourceReadError as error:
        typer.echo(f"runledger: error: {error}", err=True)
        raise typer.Exit(1) from None
    if as_json:
        typer.echo(json.dumps(_as_json(report)))
    else:
        _render(report, limit, Console())
    raise typer.Exit(0 if report.in_sync else 1)


def _usage(message: str) -> NoReturn:
    typer.echo(f"runledger: {message}", err=True)
    raise typer.Exit(2)


async def _reconcile(
    sources: Mapping[str, RunSnapshotSource],
    sinks: Sequence[Sink],
    run_ids: Collection[str] | None,
    recheck_after: float,
) -> ReconcileReport:
    try:
        return await reconcile(sources, run_ids or None, recheck_after)
    finally:
        for built in sinks:
            await built.close()


def _as_json(report: ReconcileReport) -> dict[str, object]:
    return {
        "sources": report.sources,
        "runs_compared": report.runs_compared,
        "in_sync": report.in_sync,
        "drifted_runs": report.drifted_runs,
        "drifts": [
            {"run_id": d.run_id, "what": d.what, "values": dict(d.values)} for d in report.drifts
        ],
    }


def _render(report: ReconcileReport, limit: int, console: Console) -> None:
    sources = ", ".join(report.sources)
    if report.in_sync:
        console.print(f"in sync: {report.runs_compared} run(s) agree across {sources}")
        return
    shown = report.drifts[:limit] if limit > 0 else report.drifts
    table = Table(title="drift")
    table.add_column("run")
    table.add_column("what")
    for name in report.sources:
        table.add_column(name, overflow="fold")
    for drift in shown:
        table.add_row(drift.run_id, drift.what, *(drift.values[n] for n in report.sources))
    console.print(table)
    hidden = len(report.drifts) - len(shown)
    more = f" ({hidden} not shown: --limit 0 shows all)" if hidden else ""
    console.print(
        f"DRIFT: {len(report.drifted_runs)} of {report.runs_compared} run(s) differ across "
        f"{sources}, {len(report.drifts)} difference(s){more}"
    )
