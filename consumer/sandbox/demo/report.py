"""What ``runledger demo`` found, read back from where a user would look, and its summary.

Totals come from the relational ledger (``sinks.postgres.queries``), dead letters from the
dead-letter topic itself (their ``runledger.error.*`` headers), graph counts from the graph.
"""

from __future__ import annotations

import asyncio
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.table import Table
from rich.text import Text

from consumer import dead_letters as h
from consumer.operations.display import STATUS_STYLES, human_duration
from consumer.operations.replay import read_dead_letters
from consumer.sandbox.stream import ExpectedTotals
from consumer.settings import Settings
from sinks.postgres.queries import LedgerOverview

DLQ_READ_TIMEOUT_SECONDS = 15.0


@dataclass(frozen=True)
class DeadLetterGroup:
    """The dead letters of one reason: distinct original records, sinks, an example."""

    records: int
    sinks: tuple[str, ...]
    example: str


@dataclass(frozen=True)
class SinkThroughput:
    records: int
    seconds: float

    @property
    def per_second(self) -> float:
        return self.records / self.seconds if self.seconds > 0 else float(self.records)


@dataclass(frozen=True)
class WhereToLook:
    """Addresses and paths the summary points at."""

    database: str
    query_url: str
    metrics_url: str | None
    log_file: str
    bootstrap: str
    topic: str
    dead_letter_topic: str
    graph: str | None  # "host:port graph-name", when the graph sink ran
    graph_port: int | None = None


@dataclass(frozen=True)
class DemoReport:
    """Everything the summary shows; the tests compare it with the generator's totals."""

    expected: ExpectedTotals
    overview: LedgerOverview
    dead_letters: dict[str, DeadLetterGroup]
    throughput: dict[str, SinkThroughput]
    where: WhereToLook
    graph_counts: dict[str, int] | None = None
    graph_error: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def dead_letters_by_reason(self) -> dict[str, int]:
        return {reason: group.records for reason, group in sorted(self.dead_letters.items())}


async def group_dead_letters(settings: Settings) -> dict[str, DeadLetterGroup]:
    """The dead-letter topic grouped by reason, as ``runledger dlq list`` reads it.

    A record dead-lettered by both pipelines is one record with the sinks that parked it.
    """
    seen: dict[str, set[tuple[str, str, str]]] = defaultdict(set)
    sinks: dict[str, set[str]] = defaultdict(set)
    examples: dict[str, str] = {}
    async for letter in read_dead_letters(settings, settings.dead_letter_topic):
        reason = letter.header(h.REASON) or "unknown"
        seen[reason].add(letter.original)
        sinks[reason].add(letter.header(h.SINK) or "?")
        examples.setdefault(reason, letter.header(h.MESSAGE))
    return {
        reason: DeadLetterGroup(len(origins), tuple(sorted(sinks[reason])), examples[reason])
        for reason, origins in sorted(seen.items())
    }


async def count_graph(address: tuple[str, int], graph: str) -> dict[str, int]:
    """Nodes of the run graph, as a user would count them in FalkorDB."""
    from falkordb.asyncio import FalkorDB

    db = FalkorDB(host=address[0], port=address[1])
    try:
        g = db.select_graph(graph)
        counts = {}
        for label in ("Run", "TaskExecution", "Event"):
            result = await g.ro_query(f"MATCH (n:{label}) RETURN count(n)")
            counts[label] = int(result.result_set[0][0])
        return counts
    finally:
        async with asyncio.timeout(5):
            await db.aclose()


# -- rendering -------------------------------------------------------------------------


def _n(value: float) -> str:
    return f"{value:,.0f}"


def _table(*columns: str, numeric: tuple[str, ...] = (), clip: tuple[str, ...] = ()) -> Table:
    table = Table(box=None, header_style="bold", pad_edge=False, show_edge=False)
    for column in columns:
        table.add_column(
            column,
            justify="right" if column in numeric else "left",
            no_wrap=column not in clip,  # only long text wraps; ids and figures stay whole
        )
    return table


def _clip(text: str, length: int = 100) -> str:
    return text if len(text) <= length else text[: length - 1] + "…"


def _styled(status: str) -> Text:
    return Text(status, style=STATUS_STYLES.get(status, ""))


def _heading(console: Console, title: str, detail: str = "") -> None:
    console.print()
    console.print(Text.assemble((title, "bold"), (f"  {detail}" if detail else "", "dim")))


def render(report: DemoReport, console: Console, *, keep_running: bool, program: str) -> None:
    """The end-of-demo summary: what was published, what the ledger says, where to look."""
    expected, ledger = report.expected, report.overview
    console.print()
    console.rule("[bold]runledger demo: summary")
    console.print(
        f"published {_n(expected.published)} records: {_n(expected.valid_events)} events of "
        f"{_n(expected.runs)} runs ({expected.child_runs} of them child runs), "
        f"{expected.duplicates} duplicates, {expected.reordered} runs with records out of "
        f"order, {expected.poison} poison records"
    )
    console.print()
    console.print(_overview(ledger))

    _heading(console, "slowest task attempts")
    slowest = _table("run", "task", "title", "duration", "status", numeric=("duration",))
    for row in ledger.slowest:
        slowest.add_row(
            row["run_id"], f"{row['task_id']} #{row['attempt']}", row["title"] or "-",
            human_duration(row["duration_ms"]), _styled(row["status"]),
        )  # fmt: skip
    console.print(slowest)

    failed_count = ledger.tasks_by_status.get("failure", 0)
    _heading(console, "failed tasks", f"{failed_count} in all; the latest {len(ledger.failed)}")
    failed = _table("run", "task", "title", "error", clip=("error",))
    for row in ledger.failed:
        failed.add_row(row["run_id"], f"{row['task_id']} #{row['attempt']}", row["title"] or "-",
                       _clip(row["error"] or "-"))  # fmt: skip
    if ledger.failed:
        console.print(failed)

    records = sum(group.records for group in report.dead_letters.values())
    _heading(console, "dead letters", f"{records} records on {report.where.dead_letter_topic}")
    letters = _table("reason", "records", "sinks", "example", numeric=("records",),
                     clip=("example",))  # fmt: skip
    for reason, group in report.dead_letters.items():
        letters.add_row(Text(reason, "red"), str(group.records), ", ".join(group.sinks),
                        _clip(group.example))  # fmt: skip
    if report.dead_letters:
        console.print(letters)

    _heading(console, "throughput", "from joining the consumer group to the last record")
    speed = _table("sink", "records", "seconds", "records/s", numeric=("records", "seconds",
                   "records/s"))  # fmt: skip
    for sink, figures in report.throughput.items():
        speed.add_row(sink, _n(figures.records), f"{figures.seconds:.2f}", _n(figures.per_second))
    console.print(speed)
    if report.graph_counts is not None:
        counts = ", ".join(f"{_n(n)} :{label}" for label, n in report.graph_counts.items())
        console.print(f"graph {report.where.graph}: {counts}")
    elif report.graph_error:
        console.print(f"graph: could not count nodes ({report.graph_error})", style="yellow")
    _where(report, console, keep_running, program)


def _overview(ledger: LedgerOverview) -> Table:
    statuses = _table("runs by status", "", numeric=("",))
    for status, count in sorted(ledger.runs_by_status.items(), key=lambda kv: -kv[1]):
        statuses.add_row(_styled(status), _n(count))
    statuses.add_row(Text("all runs", "bold"), _n(ledger.runs))
    tokens = _table("tokens", "", numeric=("",))
    tokens.add_row("input", _n(ledger.tokens_input))
    tokens.add_row("output", _n(ledger.tokens_output))
    tokens.add_row(Text("total", "bold"), _n(ledger.tokens_total))
    tokens.add_row("tool calls", _n(ledger.tool_calls))
    tasks = _table("tasks (current attempt)", "", numeric=("",))
    for status, count in sorted(ledger.tasks_by_status.items(), key=lambda kv: -kv[1]):
        tasks.add_row(_styled(status), _n(count))
    tasks.add_row("attempts", _n(ledger.task_attempts))
    tasks.add_row("declared", _n(ledger.tasks_total))
    overview = Table.grid(padding=(0, 5))
    overview.add_row(statuses, tokens, tasks)
    return overview


def _where(report: DemoReport, console: Console, keep_running: bool, program: str) -> None:
    where = report.where
    _heading(console, "where to look next")
    failed_run = next((row["run_id"] for row in report.overview.failed), None)
    lines = [
        f"database  {where.database}",
        f"query it  export RUNLEDGER_POSTGRES__URL={where.query_url}",
        f"          {program} runs list --status failed",
    ]
    if failed_run:
        lines.append(f"          {program} runs show {failed_run}")
    if where.metrics_url:
        note = "" if keep_running else "  (while the demo runs: use --keep-running)"
        lines.append(f"metrics   {where.metrics_url}{note}")
    lines.append(f"logs      {where.log_file}")
    if keep_running:
        lines.append(f"kafka     {where.bootstrap}, topic {where.topic}")
        lines.append(
            f"publish   RUNLEDGER_KAFKA__BOOTSTRAP_SERVERS={where.bootstrap} "
            f"{program} publish FILE.jsonl"
        )
        if where.graph and where.graph_port:
            query = "MATCH (r:Run)-[:FAILED_TASK]->(t) RETURN r.id, t.taskId, t.error LIMIT 5"
            lines.append(f"graph     FalkorDB {where.graph}")
            lines.append(
                f'cypher    {Path(sys.executable)} -c "from falkordb import FalkorDB; '
                f"print(FalkorDB(port={where.graph_port}).select_graph('runledger')"
                f".query('{query}').result_set)\""
            )
    for line in lines:
        console.print(line, soft_wrap=True, highlight=False)
