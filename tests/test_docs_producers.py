"""The producer guide's Python example, run as written: runledger understands what it sends."""

from __future__ import annotations

import asyncio
import json
import os
import re
import sys
import uuid
from asyncio.subprocess import PIPE
from pathlib import Path

import jsonschema

from contracts import decode_event
from sinks.state import fold, summarize_run, task_totals

from support.kafka import read_topic

ROOT = Path(__file__).resolve().parents[1]
GUIDE = ROOT / "docs" / "producers.md"


def _python_example() -> str:
    blocks: list[str] = re.findall(r"```python\n(.*?)```", GUIDE.read_text(), flags=re.DOTALL)
    return next(b for b in blocks if b.startswith("# publish_run.py"))


async def test_the_python_example_publishes_a_run_runledger_understands(
    kafka_bootstrap: str, topic: str, tmp_path: Path
) -> None:
    script = tmp_path / "publish_run.py"
    script.write_text(_python_example())
    run_id = f"exec-docs-{uuid.uuid4().hex[:8]}"
    env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap, "RUNLEDGER_TOPIC": topic,
           "RUN_ID": run_id}  # fmt: skip
    process = await asyncio.create_subprocess_exec(
        sys.executable, str(script), env=env, stdout=PIPE, stderr=PIPE
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 0, err.decode()
    assert out.decode().strip() == f"published run {run_id}"

    records = await read_topic(kafka_bootstrap, topic, 8)
    schema = json.loads((ROOT / "contracts/schemas/event.v1.schema.json").read_text())
    for record in records:
        assert record.key == run_id.encode()
        assert dict(record.headers)["content-type"] == b"application/json"
        jsonschema.validate(json.loads(record.value), schema)

    # Decoded and folded exactly as every sink does (sinks.state is their reference model).
    ledger = fold(decode_event(record.value) for record in records)
    summary = summarize_run(ledger.runs[run_id], task_totals(ledger.tasks_of(run_id)))
    assert (summary.status, summary.tasks_total, summary.tasks_successful) == ("completed", 2, 2)
    assert (summary.tokens_input, summary.tokens_output, summary.tool_calls) == (3200, 1100, 3)
    assert sorted((k.task_id, k.attempt, s.status) for k, s in ledger.tasks.items()) == [
        ("collect", 1, "failure"), ("collect", 2, "success"), ("write", 1, "success"),
    ]  # fmt: skip
    assert ledger.runs[run_id].declaration.plan_id == "plan-weekly-report"  # type: ignore[union-attr]
