"""``runledger run``: consume the topic into the configured sinks."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Sequence
from typing import Annotated

import structlog
import typer

from consumer.collector import tune_collector
from consumer.config import build_sinks, load_settings, sinks_source
from consumer.logging import configure_logging, masked_settings
from consumer.metrics import Metrics, package_version
from consumer.runner import run_sinks
from consumer.settings import Settings
from consumer.unknown_settings import unknown_variables
from sinks.base import Sink

log = structlog.get_logger("runledger")


def run(
    sink: Annotated[
        list[str] | None,
        typer.Option(
            "--sink",
            help="Run only this sink (repeatable); default: RUNLEDGER_SINKS.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Consume the topic into the sinks, one consumer group per sink, until SIGTERM.

    Reads RUNLEDGER_SINKS, RUNLEDGER_KAFKA__*, RUNLEDGER_DEAD_LETTER__*, RUNLEDGER_RETRY__*,
    RUNLEDGER_METRICS__*, RUNLEDGER_LOG__* and each sink's own settings
    (RUNLEDGER_POSTGRES__*, RUNLEDGER_GRAPH__*).
    """
    settings = load_settings(**({"sinks": sink} if sink else {}))
    configure_logging(settings.log)
    for problem in unknown_variables(os.environ):
        log.warning("unknown setting", problem=problem)
    sinks = build_sinks(settings.sinks, source=sinks_source(sink))
    log.info(
        "starting",
        version=package_version(),
        dead_letter_topic=settings.dead_letter_topic,
        settings=masked_settings(settings),  # the effective configuration, secrets masked
    )
    try:
        asyncio.run(_until_stopped(settings, sinks))
    except KeyboardInterrupt:  # a second Ctrl-C: stop at once
        raise typer.Exit(130) from None


async def _until_stopped(settings: Settings, sinks: Sequence[Sink]) -> None:
    tune_collector()
    await run_sinks(settings, sinks, Metrics())
