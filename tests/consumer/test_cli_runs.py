"""``runledger runs list|show`` on a ledger filled through the real pipeline (PostgreSQL)."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from consumer.cli.app import app
from consumer.operations.display import human_duration
from consumer.sandbox.stream import ExpectedTotals, generate
from sinks.postgres import PostgresSink
from sinks.postgres.engine import create_engine

from support.events import EXAMPLE_RUN_ID, example_expected, example_lines, parse_time
from support.kafka import create_topic, keyed_by_run, produce
from support.pipelines import consuming, make_settings
from support.postgres import settings_for, temporary_database, wait_for_events


class Ledger:
    """A filled ledger: its URL and what the generator says it holds."""

    def __init__(self, url: str, expected: ExpectedTotals) -> None:
        self.url = url
        self.expected = expected

    def run(self, *args: str) -> Any:
        return CliRunner().invoke(
            app, list(args), env={"RUNLEDGER_POSTGRES__URL": self.url, "COLUMNS": "200"}
        )

    def json(self, *args: str) -> Any:
        result = self.run(*args, "--json")
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)


@pytest.fixture(scope="module")
async def ledger(kafka_bootstrap: str, postgres_template: str) -> AsyncIterator[Ledger]:
    """The example run and 40 generated runs, published and consumed into a fresh database."""
    async with temporary_database("runledger_cli", postgres_template) as url:
        settings = settings_for(url)
        stream = generate(40, seed=21, poison=0)
        topic = f"cli-{uuid.uuid4().hex[:8]}"
        await create_topic(kafka_bootstrap, topic, partitions=3)
        await produce(kafka_bootstrap, topic, keyed_by_run([*example_lines(), *stream.events]))
        engine = create_engine(settings)
        total = len(example_lines()) + stream.expected.valid_events
        try:
            async with consuming(make_settings(kafka_bootstrap, topic), [PostgresSink(settings)]):
                await wait_for_events(engine, total, timeout=60, at_least=True)
        finally:
            await engine.dispose()
        yield Ledger(url, stream.expected)


# -- runs show ---------------------------------------------------------------------------


def test_show_prints_the_example_run_with_its_counters_and_attempts(ledger: Ledger) -> None:
    result = ledger.run("runs", "show", EXAMPLE_RUN_ID)
    assert result.exit_code == 0, result.output
    text = result.stdout
    expected = example_expected()["run"]
    assert EXAMPLE_RUN_ID in text
    assert re.search(r"status\s+failed", text)
    assert "5 total, 2 successful, 1 failed, 0 running, 0 waiting" in text
    assert "3,400 in, 1,250 out, 4,650 total" in text
    assert f"({expected['duration_ms']} ms)" in text
    attempts = re.findall(r"^(task-\d)\s+(\d)\s+(\w+)", text, flags=re.MULTILINE)
    assert attempts == [
        ("task-1", "1", "success"), ("task-2", "1", "failure"),
        ("task-3", "1", "failure"), ("task-3", "2", "success"),
    ]  # fmt: skip
    assert "pass 95" in text
    assert "fail 45" in text
    assert "Timeout waiting for API response" in text


def test_show_json_has_the_expected_counters(ledger: Ledger) -> None:
    document = ledger.json("runs", "show", EXAMPLE_RUN_ID)
    for key, value in example_expected()["run"].items():
        if key.endswith("_at"):
            assert parse_time(document[key]) == parse_time(value), key
        else:
            assert document[key] == value, key
    current = {t["task_id"]: t for t in document["tasks"]}  # last attempt wins
    assert {k: {"attempt": t["attempt"], "status": t["status"]} for k, t in current.items()} == (
        example_expected()["tasks"]
    )
    task2 = next(t for t in document["tasks"] if t["task_id"] == "task-2")
    assert (task2["qc_passed"], task2["qc_score"]) == (False, 45)
    assert task2["qc_issues"] == ["Incomplete data", "Missing validation"]
    assert document["children"] == []


def test_show_draws_child_runs_as_a_tree(ledger: Ledger) -> None:
    parents = {s for s in _runs(ledger) if s["parent_run_id"]}
    child = next(iter(sorted(parents, key=lambda r: r["run_id"])))
    parent_id = child["parent_run_id"]
    document = ledger.json("runs", "show", parent_id)
    assert child["run_id"] in [c["run_id"] for c in document["children"]]
    node = next(c for c in document["children"] if c["run_id"] == child["run_id"])
    assert node["status"] == ledger.expected.summaries[child["run_id"]].status
    assert node["children"] == []
    text = ledger.run("runs", "show", parent_id).stdout
    assert f"child runs of {parent_id}" in text
    assert re.search(rf"└── {re.escape(child['run_id'])}\s+{node['status']}", text)


def test_show_of_an_unknown_run_is_one_line(ledger: Ledger) -> None:
    result = ledger.run("runs", "show", "exec-nope")
    assert result.exit_code == 1
    assert result.stderr == "runledger: no run 'exec-nope' in the relational sink\n"


# -- runs list ---------------------------------------------------------------------------


class _Row(dict[str, Any]):
    """A run row that can sit in a set."""

    def __hash__(self) -> int:  # type: ignore[override]
        return hash(self["run_id"])


def _runs(ledger: Ledger, *args: str) -> list[_Row]:
    return [_Row(r) for r in ledger.json("runs", "list", "--limit", "1000", *args)["runs"]]


def test_list_is_newest_first_and_paginated(ledger: Ledger) -> None:
    every = _runs(ledger)
    assert len(every) == ledger.expected.runs + 1  # the example run too
    started = [r["started_at"] for r in every if r["started_at"]]
    assert started == sorted(started, reverse=True)
    page = ledger.json("runs", "list", "--limit", "7", "--page", "2")
    assert [r["run_id"] for r in page["runs"]] == [r["run_id"] for r in every[7:14]]
    assert (page["total"], page["has_more"]) == (len(every), True)
    text = ledger.run("runs", "list", "--limit", "7", "--page", "2").stdout
    assert f"runs 8-14 of {len(every)}" in text
    assert "next: --page 3" in text


def test_list_filters_by_status_plan_time_and_level(ledger: Ledger) -> None:
    expected = ledger.expected
    failed = _runs(ledger, "--status", "failed")
    assert {r["status"] for r in failed} == {"failed"}
    assert len(failed) == expected.runs_by_status["failed"] + 1  # the example run failed
    either = _runs(ledger, "--status", "completed,cancelled")
    assert len(either) == expected.runs_by_status["completed"] + expected.runs_by_status.get(
        "cancelled", 0
    )
    kolache = _runs(ledger, "--plan", "plan-kolache-recipe")
    assert kolache
    assert {r["plan_id"] for r in kolache} == {"plan-kolache-recipe"}
    assert EXAMPLE_RUN_ID in {r["run_id"] for r in kolache}

    top = _runs(ledger, "--top-level")
    assert len(top) == expected.runs + 1 - expected.child_runs
    assert all(r["parent_run_id"] is None for r in top)

    every = [r for r in _runs(ledger) if r["started_at"]]
    middle = datetime.fromisoformat(every[len(every) // 2]["started_at"])
    boundary = (middle + timedelta(milliseconds=1)).isoformat()
    newer = _runs(ledger, "--since", boundary)
    older = _runs(ledger, "--until", boundary)
    assert {r["run_id"] for r in newer} == {
        r["run_id"]
        for r in every
        if datetime.fromisoformat(r["started_at"]) >= parse_time(boundary)
    }
    assert len(newer) + len(older) == len(every)
    assert _runs(ledger, "--since", "2h") == []  # the example and the stream are from 2025


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--status", "done"], "runledger: unknown status 'done' (one of: pending, running, "
         "waiting, completed, failed, cancelled, partial)\n"),
        (["--since", "yesterday"], "runledger: --since: 'yesterday' is neither a duration like "
         "30m, 2h, 7d nor a date like 2025-11-14T15:00Z\n"),
    ],
)  # fmt: skip
def test_list_refuses_bad_filters_in_one_line(
    ledger: Ledger, args: list[str], message: str
) -> None:
    result = ledger.run("runs", "list", *args)
    assert (result.exit_code, result.stderr) == (1, message)


@pytest.mark.parametrize(
    ("ms", "text"),
    [(None, "-"), (999, "999 ms"), (59_940, "59.9 s"), (59_960, "1m00s"), (245_012, "4m05s"),
     (7_800_000, "2h10m")],
)  # fmt: skip
def test_durations_read_at_a_glance(ms: int | None, text: str) -> None:
    assert human_duration(ms) == text


# -- no ledger ---------------------------------------------------------------------------


def _invoke(url: str, *args: str) -> Any:
    return CliRunner().invoke(app, list(args), env={"RUNLEDGER_POSTGRES__URL": url})


def test_a_missing_sqlite_file_is_reported_not_created(tmp_path: Path) -> None:
    path = tmp_path / "absent.db"
    result = _invoke(f"sqlite:///{path}", "runs", "list")
    assert result.exit_code == 1
    assert result.stderr.startswith(f"runledger: no database at {path}: run `runledger demo`")
    assert result.stderr.count("\n") == 1
    assert not path.exists()


def test_a_database_without_the_schema_says_to_migrate(tmp_path: Path) -> None:
    path = tmp_path / "empty.db"
    path.touch()
    result = _invoke(f"sqlite:///{path}", "runs", "show", "x")
    assert result.exit_code == 1
    assert result.stderr == (
        f"runledger: sqlite+aiosqlite:///{path} has no runledger tables: run `runledger migrate`\n"
    )


def test_an_unreachable_server_is_one_line_without_the_password() -> None:
    result = _invoke("postgresql://reader:s3cret@127.0.0.1:1/ledger", "runs", "list")
    assert result.exit_code == 1
    assert result.stderr.startswith("runledger: cannot read postgresql+asyncpg://reader:***@")
    assert "s3cret" not in result.output
    assert result.stderr.count("\n") == 1


def test_a_page_past_the_end_says_so(ledger: Ledger) -> None:
    total = ledger.json("runs", "list", "--limit", "1000")["total"]
    pages = -(-total // 7)

    result = ledger.run("runs", "list", "--limit", "7", "--page", "99")

    assert result.exit_code == 0
    assert result.stdout.strip() == (
        f"page 99 is past the end: {total} runs make {pages} pages of 7; the last is --page {pages}"
    )
