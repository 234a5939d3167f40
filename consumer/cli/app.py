"""The ``runledger`` command: one verb per module, errors as one clear line."""

from __future__ import annotations

import sys

import typer
from aiokafka.errors import KafkaError
from sqlalchemy.exc import SQLAlchemyError

from consumer.bench.cli import bench
from consumer.cli import demo, dlq, migrate, publish, reconcile, run, runs
from consumer.config import ConfigurationError
from consumer.pipeline import PipelineHalted, SinkRefused

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
app.command("run")(run.run)
app.command("migrate")(migrate.migrate)
app.command("publish")(publish.publish)
app.command("demo")(demo.demo)
app.command("bench")(bench)
app.add_typer(runs.app, name="runs")
app.add_typer(dlq.app, name="dlq")
app.command("reconcile")(reconcile.reconcile_command)


def main() -> None:
    """Entry point of the console script: user and environment errors are one line, no traceback."""
    try:
        app()
    except ConfigurationError as error:
        _fail(f"configuration error: {error}", 2)
    except SinkRefused as error:
        _fail(f"configuration error: {error}", 2)
    except PipelineHalted as error:
        _fail(f"consumer stopped: {error}", 1)
    except (SQLAlchemyError, OSError) as error:
        _fail(f"cannot reach the database: {_first_line(error)}", 1)
    except KafkaError as error:
        _fail(f"cannot reach Kafka: {_first_line(error)}", 1)


def _first_line(error: BaseException) -> str:
    cause = getattr(error, "orig", None) or error
    lines = str(cause).strip().splitlines()
    return f"{type(cause).__name__}: {lines[0] if lines else ''}"[:300]


def _fail(message: str, code: int) -> None:
    print(f"runledger: error: {message}" if code != 2 else f"runledger: {message}", file=sys.stderr)
    sys.exit(code)
