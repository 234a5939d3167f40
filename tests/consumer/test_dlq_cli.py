"""``runledger dlq inspect`` and ``runledger dlq replay`` against dead letters on a real broker."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime
from pathlib import Path

from typer.testing import CliRunner, Result

from consumer import dead_letters as h
from consumer.cli.app import app
from consumer.dead_letters import DeadLetter, KafkaDeadLetterQueue
from sinks.base import PermanentSinkError

from support.events import encode, event
from support.fakes import consumer_record
from support.kafka import create_topic, kafka_producer, read_topic

TRACE = ("trace", b"abc")


async def _dead_letters(bootstrap: str, topic: str) -> None:
    nul = encode(event("run-start", "run-c", 1, title="a\u0000b"))
    invalid = encode(event("run-start", "run-b", 1, total_tasks=-1))
    rejected = consumer_record(nul, 12, b"run-c", [TRACE])
    letters = {
        "postgres": [
            DeadLetter(consumer_record(b"{nope", 10, b"run-a", [TRACE]), "decode", "not_json",
                       "DecodeError", "not valid JSON"),
            DeadLetter(consumer_record(invalid, 11, None, [TRACE]), "validate", "invalid",
                       "DecodeError", "total_tasks: must be >= 0"),
            DeadLetter.from_sink_error(rejected, PermanentSinkError("SQLSTATE 22P05: no NUL")),
        ],
        "graph": [DeadLetter.from_sink_error(rejected, PermanentSinkError("no NUL in a property"))],
    }  # fmt: skip
    async with kafka_producer(bootstrap) as producer:
        for sink, batch in letters.items():
            await KafkaDeadLetterQueue(producer, topic, sink).send(batch)


async def _cli(bootstrap: str, topic: str, *args: str) -> Result:
    env = {
        "RUNLEDGER_KAFKA__BOOTSTRAP_SERVERS": bootstrap,
        "RUNLEDGER_KAFKA__TOPIC": topic,
        "COLUMNS": "400",  # error panels unwrapped, whatever the length of tmp paths
    }
    runner = CliRunner()
    return await asyncio.to_thread(runner.invoke, app, list(args), env=env)


async def test_inspect_lists_and_filters_dead_letters(kafka_bootstrap: str) -> None:
    topic = f"telemetry-{uuid.uuid4().hex[:10]}"
    await create_topic(kafka_bootstrap, f"{topic}.dlq")
    await _dead_letters(kafka_bootstrap, f"{topic}.dlq")

    async def listed(*filters: str) -> list[dict[str, object]]:
        result = await _cli(kafka_bootstrap, topic, "dlq", "inspect", "--json", *filters)
        assert result.exit_code == 0, result.output
        return [json.loads(line) for line in result.stdout.splitlines()]

    everything = await listed()
    assert [x["position"] for x in everything] == ["0:0", "0:1", "0:2", "0:3"]
    first = everything[0]
    assert first["stage"] == "decode"
    assert first["reason"] == "not_json"
    assert first["run_id"] == "run-a"  # from the key: the value is not JSON
    assert first["original"] == {"topic": "telemetry", "partition": "0", "offset": "10"}
    assert first["value"] == "{nope"
    assert [x["run_id"] for x in await listed("--stage", "validate")] == ["run-b"]
    assert [x["position"] for x in await listed("--error", "PermanentSinkError")] == ["0:2", "0:3"]
    assert [x["sink"] for x in await listed("--run", "run-c", "--sink", "graph")] == ["graph"]
    assert [x["position"] for x in await listed("--offset", "0:1", "--offset", "0:0")] == [
        "0:0", "0:1",
    ]  # fmt: skip

    table = await _cli(kafka_bootstrap, topic, "dlq", "inspect")
    assert table.exit_code == 0, table.output
    assert "4 dead letter(s)" in table.stdout
    assert "by stage: decode 1, sink 2, validate 1" in table.stdout

    missing = await _cli(kafka_bootstrap, topic, "dlq", "inspect", "--dlq-topic", "nope-x")
    assert missing.exit_code == 1
    assert "no topic 'nope-x'" in missing.output


async def test_replay_sends_a_record_once_without_runledger_headers(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    topic = f"telemetry-{uuid.uuid4().hex[:10]}"
    await create_topic(kafka_bootstrap, topic)
    await create_topic(kafka_bootstrap, f"{topic}.dlq")
    await _dead_letters(kafka_bootstrap, f"{topic}.dlq")

    unfiltered = await _cli(kafka_bootstrap, topic, "dlq", "replay")
    assert unfiltered.exit_code == 2
    assert "or pass --all" in unfiltered.output

    dry = await _cli(kafka_bootstrap, topic, "dlq", "replay", "--run", "run-c", "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert f"dry run: would send 1 record(s) from {topic}.dlq to {topic}" in dry.stdout

    invalid = tmp_path / "invalid.json"
    invalid.write_text('{"schema_version": 1}')
    refused = await _cli(
        kafka_bootstrap, topic, "dlq", "replay", "--run", "run-c", "--value-file", str(invalid)
    )
    assert refused.exit_code == 2
    assert "is not a valid event" in refused.output

    fixed = tmp_path / "fixed.json"
    fixed.write_text(encode(event("run-start", "run-c", 1, title="ab")).decode())
    several = await _cli(
        kafka_bootstrap, topic, "dlq", "replay", "--all", "--value-file", str(fixed)
    )
    assert several.exit_code == 2
    assert "3 dead letters match" in several.output

    sent = await _cli(
        kafka_bootstrap, topic, "dlq", "replay", "--run", "run-c", "--value-file", str(fixed)
    )
    assert sent.exit_code == 0, sent.output
    assert "replayed 1 record(s)" in sent.stdout
    (record,) = await read_topic(kafka_bootstrap, topic)
    assert record.key == b"run-c"
    assert record.value == fixed.read_bytes()
    assert [k for k, _ in record.headers] == [
        TRACE[0],
        "runledger.replay.source",
        "runledger.replay.at",
    ]
    assert dict(record.headers)["runledger.replay.source"] == f"{topic}.dlq:0:2".encode()


def test_dead_lettering_a_replayed_record_keeps_the_replay_marker() -> None:
    record = consumer_record(b"{}", 5, b"k", [TRACE])
    record.headers = [
        TRACE,
        (h.STAGE, b"decode"),  # left over from an earlier failure
        ("runledger.replay.source", b"t.dlq:0:7"),
    ]
    headers = DeadLetter(record, "sink", "rejected_by_sink", "E", "m").headers(
        "postgres", datetime(2025, 1, 1, tzinfo=UTC)
    )
    names = [k for k, _ in headers]
    assert names[:2] == [TRACE[0], "runledger.replay.source"]
    assert names.count(h.STAGE) == 1
    assert dict(headers)[h.STAGE] == b"sink"
    assert dict(headers)[h.FAILED_AT] == b"2025-01-01T00:00:00+00:00"
