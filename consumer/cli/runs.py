"""``runledger runs list|show``: read runs back from the relational sink.

Text for people by default, ``--json`` for scripts. Every failure to read (no database,
no schema, server down, no such run) is one line on stderr and exit code 1.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated, Any, NoReturn, TypeVar

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text
from rich.tree import Tree
from sqlalchemy.ext.asyncio import AsyncEngine

from consumer.cli.reading import ReadError, open_ledger, parse_moment
from consumer.config import load
from consumer.operations.display import STATUS_STYLES, human_duration
from sinks.postgres.queries import RunDetail, RunFilter, RunPage, get_run, list_runs
from sinks.postgres.settings import PostgresSettings

app = typer.Typer(
    help="Read runs from the relational sink (RUNLEDGER_POSTGRES__URL).", no_args_is_help=True
)

RUN_STATUSES = ("pending", "running", "waiting", "completed", "failed", "cancelled", "partial")

NARROW = 110
"""Below this terminal width, tables leave out their least needed columns."""

T = TypeVar("T")
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]


@app.command("list")
def list_command(
    status: Annotated[
        list[str] | None,
        typer.Option(
            "--status",
            "-s",
            help=f"Only runs in this status (repeatable or comma-separated): "
            f"{', '.join(RUN_STATUSES)}.",
            show_default=False,
        ),
    ] = None,
    plan: Annotated[str | None, typer.Option("--plan", help="Only runs of this plan id.")] = None,
    since: Annotated[
        str | None,
        typer.Option(help="Only runs started at or after: 30m, 2h, 7d, or 2025-11-14[T15:00Z]."),
    ] = None,
    until: Annotated[
        str | None, typer.Option(help="Only runs started before (same forms as --since).")
    ] = None,
    top_level: Annotated[bool, typer.Option("--top-level", help="Leave out child runs.")] = False,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="Runs per page.")] = 20,
    page: Annotated[int, typer.Option(min=1, help="Page number (newest runs first).")] = 1,
    as_json: JsonOption = False,
) -> None:
    """List runs, newest first, with their status, task counters and tokens."""
    where = RunFilter(
        statuses=_statuses(status or []),
        plan_id=plan,
        since=_moment("--since", since),
        until=_moment("--until", until),
        top_level=top_level,
    )
    offset = (page - 1) * limit
    result = _read(lambda engine: list_runs(engine, where, limit=limit, offset=offset))
    if as_json:
        typer.echo(json.dumps(_page_json(result, page), indent=2, default=_default))
        return
    _render_page(result, page, Console())


@app.command("show")
def show(
    run_id: Annotated[str, typer.Argument(help="The run to show, e.g. exec-1763134573643.")],
    as_json: JsonOption = False,
) -> None:
    """Show a run: status, counters, tokens, its tasks with every attempt, its child runs."""
    detail = _read(lambda engine: get_run(engine, run_id))
    if detail is None:
        _fail(f"no run {run_id!r} in the relational sink")
    if as_json:
        typer.echo(json.dumps(_detail_json(detail), indent=2, default=_default))
        return
    _render_detail(detail, Console())


# -- reading ---------------------------------------------------------------------------


def _read(query: Callable[[AsyncEngine], Awaitable[T]]) -> T:
    settings = load(PostgresSettings)
    try:
        return asyncio.run(_run_query(settings, query))
    except ReadError as error:
        _fail(str(error))


async def _run_query(settings: PostgresSettings, query: Callable[[AsyncEngine], Awaitable[T]]) -> T:
    async with open_ledger(settings) as engine:
        return await query(engine)


def _fail(message: str) -> NoReturn:
    typer.echo(f"runledger: {message}", err=True)
    raise typer.Exit(1)


def _statuses(values: list[str]) -> list[str]:
    statuses = [part.strip() for value in values for part in value.split(",") if part.strip()]
    unknown = [s for s in statuses if s not in RUN_STATUSES]
    if unknown:
        _fail(f"unknown status {unknown[0]!r} (one of: {', '.join(RUN_STATUSES)})")
    return statuses


def _moment(option: str, value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        return parse_moment(value)
    except ValueError as error:
        _fail(f"{option}: {error}")


# -- JSON ------------------------------------------------------------------------------


def _default(value: object) -> str:
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    raise TypeError(type(value).__name__)


def _page_json(result: RunPage, page: int) -> dict[str, Any]:
    return {
        "runs": result.runs,
        "total": result.total,
        "page": page,
        "limit": result.limit,
        "has_more": result.has_more,
    }


def _detail_json(detail: RunDetail) -> dict[str, Any]:
    document = {**detail.run, "tasks": detail.tasks, "children": detail.children}
    if detail.truncated:
        document["children_truncated"] = True
    return document


# -- text ------------------------------------------------------------------------------


def _text(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] + "Z"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def _exact_duration(ms: int | None) -> str:
    """``4m05s (245012 ms)``: the rounded form and, when it rounds, the exact one."""
    if ms is None or ms < 1000:
        return human_duration(ms)
    return f"{human_duration(ms)} ({ms} ms)"


def _status(status: str) -> Text:
    return Text(status, style=STATUS_STYLES.get(status, ""))


def _table(columns: tuple[str, ...], wrap: tuple[str, ...], numeric: tuple[str, ...] = ()) -> Table:
    """A borderless table whose ids and figures never wrap; only free text does."""
    table = Table(box=None, header_style="bold", pad_edge=False, collapse_padding=True)
    for column in columns:
        table.add_column(
            column, no_wrap=column not in wrap, justify="right" if column in numeric else "left"
        )
    return table


def _short_time(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value else "-"


def _render_page(result: RunPage, page: int, console: Console) -> None:
    if not result.runs:
        pages = -(-result.total // result.limit)
        if result.total and result.offset >= result.total:
            console.print(
                f"page {page} is past the end: {result.total} runs make {pages} "
                f"page{'s' if pages > 1 else ''} of {result.limit}; the last is --page {pages}"
            )
        else:
            console.print("no runs match" if result.total else "no runs in the ledger yet")
        return
    columns: tuple[str, ...] = (
        "run",
        "status",
        "started (UTC)",
        "duration",
        "ok/fail/all",
        "tokens",
        "plan",
    )
    if console.width < NARROW:  # keep each run on one line: the plan is in `runs show`
        columns = columns[:-1]
    table = _table(columns, wrap=("plan",), numeric=("duration", "ok/fail/all", "tokens"))
    for run in result.runs:
        counters = f"{run['tasks_successful']}/{run['tasks_failed']}/{run['tasks_total']}"
        run_id = f"↳ {run['run_id']}" if run["parent_run_id"] else run["run_id"]
        cells = [
            run_id, _status(run["status"]), _short_time(run["started_at"]),
            human_duration(run["duration_ms"]), counters, f"{run['tokens_total']:,}",
            _text(run["plan_id"]),
        ]  # fmt: skip
        table.add_row(*cells[: len(columns)])
    console.print(table)
    first = result.offset + 1
    last = result.offset + len(result.runs)
    pages = -(-result.total // result.limit)
    footer = f"runs {first}-{last} of {result.total}, newest first (page {page} of {pages})"
    if result.has_more:
        footer += f"; next: --page {page + 1}"
    console.print(footer + "; ↳ marks child runs", style="dim")


def _render_detail(detail: RunDetail, console: Console) -> None:
    run = detail.run
    summary = Table.grid(padding=(0, 2))
    summary.add_column(style="bold")
    summary.add_column()
    rows: list[tuple[str, str | Text]] = [
        ("run", run["run_id"]), ("title", _text(run["title"])), ("plan", _text(run["plan_id"])),
        ("owner", _text(run["owner"])), ("parent", _text(run["parent_run_id"])),
        ("status", _status(run["status"])), ("started", _text(run["started_at"])),
        ("ended", _text(run["ended_at"])),
        ("duration", _exact_duration(run["duration_ms"])),
        ("tasks", f"{run['tasks_total']} total, {run['tasks_successful']} successful, "
                  f"{run['tasks_failed']} failed, {run['tasks_running']} running, "
                  f"{run['tasks_waiting']} waiting"),
        ("tokens", f"{run['tokens_input']:,} in, {run['tokens_output']:,} out, "
                   f"{run['tokens_total']:,} total"),
        ("tool calls", _text(run["tool_calls"])),
    ]  # fmt: skip
    if run["error"]:
        rows.append(("error", run["error"]))
    for label, value in rows:
        summary.add_row(label, value)
    console.print(summary)
    console.print()
    if detail.tasks:
        console.print(Text("tasks, every attempt (# is the attempt)", style="bold"))
        console.print(_tasks_table(detail.tasks, narrow=console.width < NARROW))
    else:
        console.print("no task events yet", style="dim")
    if detail.children:
        tree = Tree(f"[bold]child runs of {run['run_id']}[/]")
        _grow(tree, detail.children)
        if detail.truncated:
            tree.add("[dim]... (tree cut: too many runs)[/]")
        console.print()
        console.print(tree)


def _tasks_table(tasks: list[dict[str, Any]], narrow: bool) -> Table:
    columns: tuple[str, ...] = (
        "task", "#", "status", "duration", "tokens in/out", "tools", "qc", "title", "depends on",
        "error",
    )  # fmt: skip
    if narrow:  # titles and dependencies are in --json
        columns = tuple(c for c in columns if c not in ("title", "depends on"))
    table = _table(
        columns,
        wrap=("title", "depends on", "error"),
        numeric=("#", "duration", "tokens in/out", "tools"),
    )
    for task in tasks:
        qc = "-"
        if task["qc_score"] is not None or task["qc_passed"] is not None:
            verdict = {True: "pass", False: "fail", None: ""}[task["qc_passed"]]
            score = f" {task['qc_score']:g}" if task["qc_score"] is not None else ""
            qc = f"{verdict}{score}".strip()
        cells: dict[str, str | Text] = {
            "task": task["task_id"], "#": str(task["attempt"]), "status": _status(task["status"]),
            "duration": human_duration(task["duration_ms"]),
            "tokens in/out": f"{task['tokens_input']:,}/{task['tokens_output']:,}",
            "tools": str(task["tool_calls"]), "qc": qc, "title": _text(task["title"]),
            "depends on": ", ".join(task["depends_on"] or []) or "-",
            "error": _text(task["error"]),
        }  # fmt: skip
        table.add_row(*(cells[c] for c in columns))
    return table


def _grow(tree: Tree, children: list[dict[str, Any]]) -> None:
    for child in children:
        label = Text.assemble(
            (child["run_id"], "bold"), "  ", _status(child["status"]),
            f"  {_text(child['title'])}  {human_duration(child['duration_ms'])}",
        )  # fmt: skip
        _grow(tree.add(label), child["children"])
