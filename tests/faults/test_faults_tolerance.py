"""``errors.tolerance=none``: the consumer stops at the first bad record with a clear message,
commits nothing past it, and dead-letters nothing."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from consumer.metrics import Metrics
from consumer.pipeline import ToleranceExceeded
from consumer.runner import run_sinks
from sinks.postgres import PostgresSink
from sinks.postgres.settings import PostgresSettings

from support.events import encode, event, valid_stream
from support.kafka import committed_offsets, poisoned_topic
from support.pipelines import make_settings
from support.postgres import count_events
from support.processes import ConsumerProcess, consumer_env


async def test_tolerance_none_stops_the_process_at_the_bad_record(
    kafka_bootstrap: str,
    postgres_settings: PostgresSettings,
    postgres_engine: AsyncEngine,
    tmp_path: Path,
) -> None:
    good = valid_stream(runs=3, seed=5, duplicate_rate=0)
    bad_at = 7
    topic, _ = await poisoned_topic(kafka_bootstrap, good, b"{oops", bad_at)
    prefix = f"strict-{uuid.uuid4().hex[:8]}"
    env = consumer_env(
        kafka_bootstrap, topic, postgres_settings, prefix,
        RUNLEDGER_DEAD_LETTER__TOLERANCE="none",
    )  # fmt: skip
    process = ConsumerProcess(env, tmp_path, "strict.log").start()
    try:
        code = await process.wait(timeout=60)
    finally:
        process.kill()
    output = process.output()
    assert code == 1, output[-2000:]
    (line,) = [x for x in output.splitlines() if x.startswith("runledger: error:")]
    assert f"decode error at {topic}[0]@{bad_at}: not valid JSON" in line
    assert "RUNLEDGER_DEAD_LETTER__TOLERANCE is 'none'" in line
    assert "Traceback" not in output
    committed = await committed_offsets(kafka_bootstrap, f"{prefix}-postgres", topic)
    assert committed == {0: bad_at}, "committed past the bad record"
    assert await count_events(postgres_engine) == len(good), "good records are still written"


async def test_tolerance_none_stops_at_a_record_the_sink_rejects(
    kafka_bootstrap: str, postgres_settings: PostgresSettings
) -> None:
    good = valid_stream(runs=2, seed=6, duplicate_rate=0)
    rejected = encode(event("run-start", "run-nul", title="a\u0000b"))
    topic, _ = await poisoned_topic(kafka_bootstrap, good, rejected, 4)
    settings = make_settings(kafka_bootstrap, topic, dead_letter={"tolerance": "none"})
    sinks = [PostgresSink(postgres_settings)]
    with pytest.raises(ToleranceExceeded, match=rf"sink error at {topic}\[0\]@4: SQLSTATE 22"):
        await asyncio.wait_for(run_sinks(settings, sinks, Metrics()), timeout=60)
    committed = await committed_offsets(kafka_bootstrap, settings.kafka.group_id("postgres"), topic)
    assert committed == {0: 4}
