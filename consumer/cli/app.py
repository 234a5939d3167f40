"""The ``runledger`` command: one verb per module, errors as one clear line."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from consumer.cli import bench, demo, dlq, errors, migrate, publish, reconcile, run, runs
from consumer.cli.help import hide_flag_types
from consumer.metrics import package_version

hide_flag_types()

app = typer.Typer(
    name="runledger",
    help=(
        "Idempotent Kafka consumer group that turns orchestration telemetry into a run "
        "ledger in PostgreSQL and Neo4j. Settings come from RUNLEDGER_* variables or .env."
    ),
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"runledger {package_version()}")
        raise typer.Exit()


@app.callback()
def _global_options(
    version: Annotated[
        bool,
        typer.Option(
            "--version", is_eager=True, callback=_print_version, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Options that apply before any command."""


app.command("run")(run.run)
app.command("migrate")(migrate.migrate)
app.command("publish")(publish.publish)
app.command("demo")(demo.demo)
app.command("bench")(bench.bench)
app.add_typer(runs.app, name="runs")
app.add_typer(dlq.app, name="dlq")
app.command("reconcile")(reconcile.reconcile_command)


def main() -> None:
    """Entry point of the console script: user and environment errors are one line, no traceback."""
    try:
        app()
    except Exception as error:
        explained = errors.explain(error)
        if explained is None:
            raise
        message, code = explained
        print(f"runledger: {message}", file=sys.stderr)
        sys.exit(code)
