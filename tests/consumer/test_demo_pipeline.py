"""The demo's core on the session's broker: its summary equals the generator's own totals."""

from __future__ import annotations

import asyncio
import io
import json
import re
import uuid
from pathlib import Path
from typing import Any

from rich.console import Console
from typer.testing import CliRunner

from consumer.cli.app import app
from consumer.sandbox.demo.run import DemoSetup, run_demo
from consumer.sandbox.stream import generate
from sinks.registry import available_sinks


async def test_the_demo_summary_matches_the_generated_stream(
    kafka_bootstrap: str, falkordb_address: tuple[str, int], tmp_path: Path
) -> None:
    stream = generate(40, seed=7)
    expected = stream.expected
    with_graph = "graph" in available_sinks()
    setup = DemoSetup(
        workdir=tmp_path,
        bootstrap=kafka_bootstrap,
        topic=f"demo-{uuid.uuid4().hex[:8]}",
        group_prefix=f"demo-{uuid.uuid4().hex[:8]}",
        graph_address=falkordb_address if with_graph else None,
    )
    out = io.StringIO()

    report = await run_demo(setup, stream, Console(file=out, width=200))

    ledger = report.overview
    assert ledger.runs_by_status == expected.runs_by_status
    assert ledger.tasks_by_status == expected.tasks_by_status
    assert (ledger.tokens_input, ledger.tokens_output, ledger.tool_calls) == (
        expected.tokens_input, expected.tokens_output, expected.tool_calls,
    )  # fmt: skip
    assert (ledger.tasks_total, ledger.task_attempts) == (
        expected.tasks_total,
        expected.task_attempts,
    )
    assert ledger.events == expected.valid_events
    assert report.dead_letters_by_reason == expected.poison_by_reason
    assert {sink for g in report.dead_letters.values() for sink in g.sinks} == set(setup.sinks)
    assert set(report.throughput) == set(setup.sinks)
    assert all(t.records == expected.published for t in report.throughput.values())
    if with_graph:
        assert report.graph_counts is not None, report.graph_error
        assert report.graph_counts["Run"] == expected.runs
        assert report.graph_counts["TaskExecution"] == sum(expected.tasks_by_status.values())
        assert report.graph_counts["Event"] == expected.valid_events

    text = out.getvalue()
    assert re.search(rf"all runs\s+{expected.runs}\b", text)
    assert re.search(rf"total\s+{expected.tokens_total:,}\b", text)
    for status, count in expected.runs_by_status.items():
        assert re.search(rf"\b{status}\s+{count}\b", text), status
    assert f"{expected.poison} records on {setup.dead_letter_topic}" in text
    slowest = max((s for s in ledger.slowest), key=lambda row: row["duration_ms"], default=None)
    assert slowest is not None
    assert slowest["run_id"] in text
    failed_run = ledger.failed[0]["run_id"]
    assert f"runs show {failed_run}" in text
    assert "runs list --status failed" in text
    assert (tmp_path / "runledger.db").is_file()


async def _runledger(database: Path, *args: str) -> Any:
    """The query CLI on the demo's SQLite file, as the summary tells the user to run it."""
    env = {"RUNLEDGER_POSTGRES__URL": f"sqlite:///{database}"}
    result = await asyncio.to_thread(CliRunner().invoke, app, [*args, "--json"], env=env)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


async def test_the_query_cli_reads_the_demo_database(kafka_bootstrap: str, tmp_path: Path) -> None:
    stream = generate(25, seed=11)
    expected = stream.expected
    setup = DemoSetup(
        workdir=tmp_path,
        bootstrap=kafka_bootstrap,
        topic=f"demo-{uuid.uuid4().hex[:8]}",
        group_prefix=f"demo-{uuid.uuid4().hex[:8]}",
    )
    await run_demo(setup, stream, Console(file=io.StringIO(), width=200))

    listed = await _runledger(setup.database, "runs", "list", "--limit", "1000")
    assert listed["total"] == expected.runs
    by_status: dict[str, int] = {}
    for run in listed["runs"]:
        by_status[run["status"]] = by_status.get(run["status"], 0) + 1
    assert by_status == expected.runs_by_status

    failed = await _runledger(setup.database, "runs", "list", "--status", "failed")
    assert failed["total"] == expected.runs_by_status["failed"]
    run_id = failed["runs"][0]["run_id"]
    shown = await _runledger(setup.database, "runs", "show", run_id)
    summary = expected.summaries[run_id]
    assert (shown["status"], shown["tasks_failed"], shown["tokens_total"]) == (
        summary.status, summary.tasks_failed, summary.tokens_total,
    )  # fmt: skip
