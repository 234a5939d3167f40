"""``runledger publish``: send events from a JSON-lines file (or stdin) to the topic."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Annotated, BinaryIO

import typer

from consumer.config import load_settings
from consumer.kafka import new_producer
from consumer.settings import Settings
from contracts import DecodeError, decode_event


def publish(
    file: Annotated[
        Path, typer.Argument(help="JSON-lines file of events; '-' reads standard input.")
    ] = Path("-"),
    validate: Annotated[
        bool,
        typer.Option(
            "--validate/--no-validate",
            help="Check every line against the contract first and send nothing if one fails.",
        ),
    ] = True,
    topic: Annotated[
        str | None, typer.Option(help="Topic (default RUNLEDGER_KAFKA__TOPIC).")
    ] = None,
) -> None:
    """Publish events, one JSON object per line, keyed by run_id (per-run ordering).

    Reads RUNLEDGER_KAFKA__* (brokers, topic, security).
    """
    settings = load_settings()
    with _open(file) as stream:
        lines = [line.rstrip(b"\r\n") for line in stream if line.strip()]
    if validate:
        problems = _problems(lines, settings.max_message_bytes)
        if problems:
            for number, message in problems[:20]:
                typer.echo(f"{file}:{number}: {message}", err=True)
            hidden = f" ({len(problems) - 20} not shown)" if len(problems) > 20 else ""
            typer.echo(
                f"runledger: {len(problems)} invalid line(s){hidden}; nothing sent "
                "(use --no-validate to send them anyway)",
                err=True,
            )
            raise typer.Exit(1)
    target = topic or settings.kafka.topic
    sent = asyncio.run(_send(settings, target, lines))
    typer.echo(f"published {sent} event(s) to {target}")


def _open(file: Path) -> BinaryIO:
    if str(file) == "-":
        return sys.stdin.buffer
    try:
        return file.open("rb")
    except OSError as error:
        raise typer.BadParameter(f"cannot read {file}: {error.strerror}") from None


def _problems(lines: list[bytes], max_bytes: int) -> list[tuple[int, str]]:
    problems = []
    for number, line in enumerate(lines, start=1):
        try:
            decode_event(line, max_bytes=max_bytes)
        except DecodeError as error:
            problems.append((number, error.message))
    return problems


def _key(line: bytes) -> bytes | None:
    try:
        run_id = json.loads(line).get("run_id")
    except (ValueError, AttributeError):
        return None
    return run_id.encode() if isinstance(run_id, str) else None


async def _send(settings: Settings, topic: str, lines: list[bytes]) -> int:
    producer = new_producer(settings.kafka)
    await producer.start()
    try:
        pending = [await producer.send(topic, value=line, key=_key(line)) for line in lines]
        await asyncio.gather(*pending)
    finally:
        await producer.stop()
    return len(pending)
