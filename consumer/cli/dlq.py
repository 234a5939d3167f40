"""``runledger dlq ...``: list dead letters with their reasons, and replay them after a fix."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from consumer import dead_letters as h
from consumer.config import load_settings
from consumer.operations.replay import (
    ReplayPlan,
    Selection,
    StoredDeadLetter,
    once_per_record,
    replay,
    select_dead_letters,
)
from consumer.operations.topic_reader import TopicReadError
from consumer.settings import Settings
from contracts import DecodeError, decode_event

app = typer.Typer(
    help="Inspect and replay the dead-letter topic (RUNLEDGER_DEAD_LETTER__TOPIC).",
    no_args_is_help=True,
)

Stage = Annotated[
    list[str] | None,
    typer.Option("--stage", help="decode, validate or sink (repeatable).", show_default=False),
]
Error = Annotated[
    list[str] | None,
    typer.Option(
        "--error",
        help="Error class or reason, e.g. not_json, invalid, PermanentSinkError (repeatable).",
        show_default=False,
    ),
]
Run = Annotated[
    list[str] | None,
    typer.Option("--run", help="Run id (repeatable).", show_default=False),
]
SinkName = Annotated[
    list[str] | None,
    typer.Option("--sink", help="Sink that dead-lettered it (repeatable).", show_default=False),
]
Position = Annotated[
    list[str] | None,
    typer.Option(
        "--offset",
        help="Position in the dead-letter topic, PARTITION:OFFSET (repeatable).",
        show_default=False,
    ),
]
Topic = Annotated[
    str | None,
    typer.Option("--dlq-topic", help="Dead-letter topic (default: the configured one)."),
]

_PROGRESS_FROM = 200  # records; shorter replays finish before a bar would help


def _selection(
    stage: list[str] | None,
    error: list[str] | None,
    run: list[str] | None,
    sink: list[str] | None,
    position: list[str] | None,
) -> Selection:
    for value in position or ():
        partition, _, offset = value.partition(":")
        if not (partition.isdigit() and offset.isdigit()):
            raise typer.BadParameter(f"{value!r} is not PARTITION:OFFSET", param_hint="--offset")
    return Selection(
        stages=frozenset(stage or ()),
        errors=frozenset(error or ()),
        run_ids=frozenset(run or ()),
        sinks=frozenset(sink or ()),
        positions=frozenset(position or ()),
    )


def _load(settings: Settings, topic: str, selection: Selection) -> list[StoredDeadLetter]:
    try:
        return asyncio.run(select_dead_letters(settings, topic, selection))
    except TopicReadError as error:
        typer.echo(f"runledger: {error}", err=True)
        raise typer.Exit(1) from None


@app.command("inspect")
def inspect(
    stage: Stage = None,
    error: Error = None,
    run: Run = None,
    sink: SinkName = None,
    position: Position = None,
    dlq_topic: Topic = None,
    limit: Annotated[int, typer.Option(help="Show at most this many; 0 shows all.")] = 200,
    as_json: Annotated[
        bool, typer.Option("--json", help="One JSON object per line, value included.")
    ] = False,
) -> None:
    """List dead letters with where they came from and why they failed.

    Reads RUNLEDGER_KAFKA__* and RUNLEDGER_DEAD_LETTER__TOPIC. Changes nothing.
    """
    settings = load_settings()
    topic = dlq_topic or settings.dead_letter_topic
    letters = _load(settings, topic, _selection(stage, error, run, sink, position))
    shown = letters[:limit] if limit > 0 else letters
    if as_json:
        for letter in shown:
            typer.echo(json.dumps(letter.as_json(), ensure_ascii=False))
        return
    console = Console()
    if letters:
        console.print(_table(shown))
    summary = f"{len(letters)} dead letter(s) in {topic}"
    if len(shown) < len(letters):
        summary += f" ({len(letters) - len(shown)} not shown: --limit 0 shows all)"
    if letters:
        summary += f"; by stage: {_count_by(letters, h.STAGE)}"
    typer.echo(summary)  # one line, never wrapped: scripts grep it


def _count_by(letters: list[StoredDeadLetter], header: str) -> str:
    counts = Counter(letter.header(header) or "-" for letter in letters)
    return ", ".join(f"{name} {n}" for name, n in sorted(counts.items()))


def _table(letters: list[StoredDeadLetter]) -> Table:
    table = Table(show_lines=False)
    for column in ("dlq offset", "failed at", "sink", "stage", "reason", "run", "from", "error"):
        table.add_column(column, overflow="fold")
    for letter in letters:
        topic, partition, offset = letter.original
        table.add_row(
            letter.position,
            letter.header(h.FAILED_AT)[:19],
            letter.header(h.SINK),
            letter.header(h.STAGE),
            letter.header(h.REASON),
            letter.run_id or "-",
            f"{topic}[{partition}]@{offset}",
            f"{letter.header(h.ERROR_CLASS)}: {letter.header(h.MESSAGE)}"[:200],
        )
    return table


@app.command("replay")
def replay_command(
    stage: Stage = None,
    error: Error = None,
    run: Run = None,
    sink: SinkName = None,
    position: Position = None,
    dlq_topic: Topic = None,
    everything: Annotated[
        bool, typer.Option("--all", help="Replay every dead letter (no filter needed).")
    ] = False,
    value_file: Annotated[
        Path | None,
        typer.Option(help="Send this file's content as the value instead (one record only)."),
    ] = None,
    to_topic: Annotated[
        str | None, typer.Option("--to", help="Target topic (default RUNLEDGER_KAFKA__TOPIC).")
    ] = None,
    validate: Annotated[
        bool,
        typer.Option(help="Check a --value-file against the contract before sending."),
    ] = True,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what would be sent; send nothing.")
    ] = False,
) -> None:
    """Send selected dead letters back to the main topic, after the cause is fixed.

    Key, value and headers are kept, minus the runledger.* headers; a
    runledger.replay.source header marks the replay. A record dead-lettered by several
    sinks is sent once. Reads RUNLEDGER_KAFKA__* and RUNLEDGER_DEAD_LETTER__TOPIC.
    """
    selection = _selection(stage, error, run, sink, position)
    if selection.empty and not everything:
        raise typer.BadParameter(
            "select dead letters with --stage/--error/--run/--sink/--offset, or pass --all"
        )
    settings = load_settings()
    corrected = (
        _read_value(value_file, validate, settings.max_message_bytes) if value_file else None
    )
    source = dlq_topic or settings.dead_letter_topic
    letters = once_per_record(_load(settings, source, selection))
    if corrected is not None and len(letters) != 1:
        raise typer.BadParameter(
            f"{len(letters)} dead letters match; --value-file replaces exactly one "
            "(narrow the selection with --offset PARTITION:OFFSET)"
        )
    hollow = [x for x in letters if x.header(h.OMITTED)] if corrected is None else []
    if hollow:
        topic, partition, offset = hollow[0].original
        raise typer.BadParameter(
            f"{len(hollow)} selected dead letter(s) were parked without their value, e.g. "
            f"{hollow[0].position} ({hollow[0].header(h.OMITTED)}): read the original at "
            f"{topic}[{partition}]@{offset} and replay it alone with --offset and --value-file"
        )
    target = to_topic or settings.kafka.topic
    plan = ReplayPlan(letters, target, source, corrected)
    console = Console(stderr=True)
    if not letters:
        typer.echo("no dead letter matches; nothing sent")
        return
    if dry_run:
        Console().print(_table(letters))
        typer.echo(f"dry run: would send {len(letters)} record(s) from {source} to {target}")
        return
    with Progress(
        TextColumn("replaying"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=len(letters) < _PROGRESS_FROM,
    ) as progress:
        task = progress.add_task("replay", total=len(letters))
        asyncio.run(replay(settings, plan, lambda n: progress.advance(task, n)))
    corrected_note = " with the corrected value" if corrected is not None else ""
    typer.echo(f"replayed {len(plan.sent)} record(s) from {source} to {target}{corrected_note}")


def _read_value(path: Path, validate: bool, max_bytes: int) -> bytes:
    try:
        value = path.read_bytes().strip()
    except OSError as error:
        raise typer.BadParameter(f"cannot read {path}: {error.strerror}") from None
    if validate:
        try:
            decode_event(value, max_bytes=max_bytes)
        except DecodeError as error:
            raise typer.BadParameter(
                f"{path} is not a valid event: {error.message} (--no-validate sends it anyway)"
            ) from None
    return value
