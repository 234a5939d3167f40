"""Helpers of the delivery and fault tests: a stream generator, checks against the reference
model, extra databases, consumer subprocesses and committed offsets."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.structs import ConsumerRecord, RecordMetadata
from sqlalchemy import select
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from consumer.dead_letters import KafkaDeadLetterQueue
from consumer.kafka import consumer_options, producer_options
from consumer.metrics import Metrics
from consumer.operations.reconcile import compare, reference_snapshots
from consumer.operations.topic_reader import read_topic
from consumer.pipeline import SinkPipeline
from consumer.runner import pipeline_options
from consumer.settings import Settings
from contracts import decode_event
from sinks.base import RunSnapshot, Sink, SinkRecord, WriteResult
from sinks.graph import GraphSink
from sinks.postgres import PostgresSink
from sinks.postgres.queries import run_snapshots
from sinks.postgres.settings import PostgresSettings
from sinks.postgres.tables import run_events

from support import graph_query

ADMIN_URL = os.environ.get(
    "RUNLEDGER_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
_START = datetime(2025, 11, 14, 15, 0, tzinfo=UTC)


# -- a stream of runs -------------------------------------------------------------------


def generate_stream(runs: int, seed: int, duplicate_rate: float = 0.05) -> list[bytes]:
    """Events of ``runs`` runs (retries, failures, waits, unfinished runs), some published
    twice, interleaved across runs as a busy orchestrator would publish them."""
    rng = random.Random(seed)
    per_run = [_run_events(rng, f"run-{seed}-{n:04d}", n) for n in range(runs)]
    stream: list[bytes] = []
    while any(per_run):
        events = rng.choice([e for e in per_run if e])
        stream.append(events.pop(0))
        if rng.random() < duplicate_rate:
            stream.append(stream[-1])
    return stream


def _run_events(rng: random.Random, run_id: str, n: int) -> list[bytes]:
    clock = _START + timedelta(minutes=n)
    counter = 0

    def event(kind: str, **fields: Any) -> bytes:
        nonlocal clock, counter
        clock += timedelta(seconds=rng.randint(1, 30))
        counter += 1
        body = {
            "schema_version": 1,
            "event_id": f"{run_id}-e{counter:03d}",
            "type": kind,
            "run_id": run_id,
            "occurred_at": clock.isoformat().replace("+00:00", "Z"),
            **fields,
        }
        return json.dumps(body).encode()

    tasks = rng.randint(1, 5)
    out = [event("run-start", plan_id=f"plan-{n % 7}", total_tasks=tasks, title=f"run {n}")]
    for t in range(tasks):
        task_id = f"task-{t + 1}"
        for attempt in (1, 2):
            out.append(event("task-start", task_id=task_id, attempt=attempt))
            status = rng.choice(["success", "success", "success", "failure", "waiting"])
            if attempt == 2 and status == "failure" and rng.random() < 0.5:
                status = "success"
            tokens = {"input": rng.randint(0, 5000), "output": rng.randint(0, 2000)}
            out.append(
                event(
                    "task-result", task_id=task_id, attempt=attempt, status=status,
                    tokens=tokens, tool_calls=rng.randint(0, 9), duration_ms=rng.randint(1, 9999),
                )
            )  # fmt: skip
            if status != "failure":
                break
    if rng.random() < 0.8:
        out.append(event("run-finalized", **({"status": "partial"} if n % 11 == 0 else {})))
    return out


def run_id_of(value: bytes) -> str:
    run_id: str = json.loads(value)["run_id"]
    return run_id


def expected_snapshots(values: Iterable[bytes]) -> dict[str, RunSnapshot]:
    """What a sink must hold for these records: the reference model over the good ones."""
    return reference_snapshots(decode_event(v) for v in values)


@dataclass(frozen=True)
class Figures:
    """What a fault test reports: events sent, faults, events lost, runs counted twice."""

    sent: int
    unique: int
    faults: int
    lost: int
    drifted_runs: int

    def line(self, name: str) -> str:
        return (
            f"[{name}] events sent {self.sent} ({self.unique} distinct), faults injected "
            f"{self.faults}, events lost {self.lost}, runs drifted (double-counted or "
            f"short) {self.drifted_runs}"
        )


async def check_ledger(
    engine: AsyncEngine, values: Sequence[bytes], faults: int, name: str
) -> Figures:
    """Compare the relational ledger with the reference model; print and return figures."""
    wanted = {json.loads(v)["event_id"] for v in values}
    async with engine.connect() as conn:
        stored = set((await conn.execute(select(run_events.c.event_id))).scalars())
    report = compare({"reference": expected_snapshots(values), "sink": await run_snapshots(engine)})
    figures = Figures(
        len(values), len(wanted), faults, len(wanted - stored), len(report.drifted_runs)
    )
    print(figures.line(name))  # collected in the report of the test run (pytest -s)
    assert stored == wanted, f"lost {len(wanted - stored)}, unexpected {len(stored - wanted)}"
    assert report.in_sync, report.drifts[:5]
    return figures


async def check_graph(sink: GraphSink, values: Sequence[bytes], faults: int, name: str) -> Figures:
    """Compare the graph with the reference model, like ``check_ledger``."""
    wanted = {json.loads(v)["event_id"] for v in values}
    stored = {row[0] for row in await graph_rows(sink, "MATCH (e:Event) RETURN e.id")}
    report = compare({"reference": expected_snapshots(values), "graph": await sink.run_snapshots()})
    figures = Figures(
        len(values), len(wanted), faults, len(wanted - stored), len(report.drifted_runs)
    )
    print(figures.line(name))
    assert stored == wanted, f"lost {len(wanted - stored)}, unexpected {len(stored - wanted)}"
    assert report.in_sync, report.drifts[:5]
    return figures


async def graph_rows(sink: GraphSink, cypher: str) -> list[list[Any]]:
    """Rows of a read query on the sink's graph; none before the first write."""
    return await graph_query(sink, cypher)


async def graph_events_stored(sink: GraphSink) -> int:
    ((count,),) = await graph_rows(sink, "MATCH (e:Event) RETURN count(e)")
    return int(count)


async def events_stored(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        rows = await conn.execute(select(run_events.c.event_id))
        return len(rows.all())


# -- Kafka ------------------------------------------------------------------------------


async def produce_records(
    bootstrap: str,
    topic: str,
    records: Sequence[tuple[bytes | None, bytes]],
    headers: Sequence[tuple[str, bytes]] = (),
    max_request_size: int = 1_048_576,
) -> dict[int, int]:
    """Send (key, value) pairs; return the end offset of each partition written to."""
    return end_offsets(await produce_acked(bootstrap, topic, records, headers, max_request_size))


async def produce_acked(
    bootstrap: str,
    topic: str,
    records: Sequence[tuple[bytes | None, bytes]],
    headers: Sequence[tuple[str, bytes]] = (),
    max_request_size: int = 1_048_576,
) -> list[RecordMetadata]:
    """Send (key, value) pairs in order; return where each one landed."""
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", max_request_size=max_request_size
    )
    await producer.start()
    try:
        futures = [
            await producer.send(topic, key=k, value=v, headers=list(headers) or None)
            for k, v in records
        ]
        return list(await asyncio.gather(*futures))
    finally:
        await producer.stop()


def end_offsets(acks: Iterable[RecordMetadata]) -> dict[int, int]:
    ends: dict[int, int] = {}
    for ack in acks:
        ends[ack.partition] = max(ends.get(ack.partition, 0), ack.offset + 1)
    return ends


def keyed_by_run(values: Iterable[bytes]) -> list[tuple[bytes | None, bytes]]:
    return [(run_id_of(v).encode(), v) for v in values]


def keyed_at_random(values: Iterable[bytes], seed: int) -> list[tuple[bytes | None, bytes]]:
    """Random keys: one run's events land on every partition."""
    rng = random.Random(seed)
    return [(rng.randbytes(8), v) for v in values]


async def committed_offsets(bootstrap: str, group_id: str, topic: str) -> dict[int, int]:
    """The group's committed position per partition (partitions without a commit omitted)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(group_id)
    finally:
        await admin.close()
    return {tp.partition: meta.offset for tp, meta in offsets.items() if tp.topic == topic}


# -- databases and sinks ----------------------------------------------------------------


async def _admin(sql: str) -> None:
    conn = await asyncpg.connect(ADMIN_URL)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def extra_database(template: str) -> AsyncIterator[PostgresSettings]:
    """A second migrated database for one test (use as an async generator fixture)."""
    name = f"runledger_x_{uuid.uuid4().hex[:12]}"
    await _admin(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    url = make_url(ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    try:
        yield PostgresSettings(url=url)  # type: ignore[arg-type]
    finally:
        await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class RenamedSink:
    """A real sink under another name, so it gets its own consumer group: stands in for a
    second kind of sink in tests that need two independent pipelines in one process."""

    def __init__(self, inner: PostgresSink, name: str) -> None:
        self._inner = inner
        self._name = name

    @property
    def name(self) -> str:
        return self._name

    async def start(self) -> None:
        await self._inner.start()

    async def write(self, batch: Sequence[SinkRecord]) -> WriteResult:
        return await self._inner.write(batch)

    async def health(self) -> None:
        await self._inner.health()

    async def close(self) -> None:
        await self._inner.close()


# -- the consumer as a process ----------------------------------------------------------


class ConsumerProcess:
    """``runledger run`` in a subprocess, configured through the environment only."""

    def __init__(self, env: dict[str, str], workdir: Path, log_name: str) -> None:
        self._env = {**os.environ, **env}
        self._workdir = workdir
        self._log = workdir / log_name
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> ConsumerProcess:
        with self._log.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "consumer.cli", "run"],
                env=self._env,
                cwd=self._workdir,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return self

    def signal(self, sig: signal.Signals) -> None:
        assert self.process is not None
        self.process.send_signal(sig)

    async def wait(self, timeout: float) -> int:
        assert self.process is not None
        return await asyncio.wait_for(asyncio.to_thread(self.process.wait), timeout)

    def output(self) -> str:
        return self._log.read_text(errors="replace")

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def consumer_env(
    bootstrap: str, topic: str, postgres: PostgresSettings, group_prefix: str, **extra: str
) -> dict[str, str]:
    return {
        "RUNLEDGER_SINKS": "postgres",
        "RUNLEDGER_KAFKA__BOOTSTRAP_SERVERS": bootstrap,
        "RUNLEDGER_KAFKA__TOPIC": topic,
        "RUNLEDGER_KAFKA__GROUP_ID_PREFIX": group_prefix,
        "RUNLEDGER_KAFKA__SESSION_TIMEOUT_MS": "6000",
        "RUNLEDGER_KAFKA__POLL_TIMEOUT_MS": "100",
        "RUNLEDGER_POSTGRES__URL": postgres.url.get_secret_value(),
        "RUNLEDGER_METRICS__PORT": "0",
        "RUNLEDGER_RETRY__INITIAL_BACKOFF_SECONDS": "0.05",
        "RUNLEDGER_RETRY__MAX_BACKOFF_SECONDS": "0.5",
        "RUNLEDGER_LOG__FORMAT": "json",
        **extra,
    }


@dataclass(frozen=True)
class CliResult:
    code: int
    stdout: str
    stderr: str


async def runledger(*args: str, env: dict[str, str], cwd: Path, timeout: float = 60) -> CliResult:
    """Run ``runledger ARGS`` as a user would, configured through the environment."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "consumer.cli", *args,
        env={**os.environ, **env}, cwd=cwd,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), timeout)
    assert process.returncode is not None
    return CliResult(process.returncode, out.decode(), err.decode())


async def topic_records(bootstrap: str, topic: str) -> list[ConsumerRecord[bytes, bytes]]:
    """Every record of a topic now, read without a consumer group (no join to wait for)."""
    settings = Settings(kafka={"bootstrap_servers": bootstrap, "topic": topic})  # type: ignore[arg-type]
    return [record async for record in read_topic(settings, topic, timeout=30)]


@contextlib.asynccontextmanager
async def hand_wired(
    settings: Settings,
    sink: Sink,
    *,
    metrics: Metrics | None = None,
    pipeline_type: type[SinkPipeline] = SinkPipeline,
    max_request_size: int | None = None,
) -> AsyncIterator[tuple[SinkPipeline, AIOKafkaConsumer]]:
    """One sink's pipeline wired as the runner wires it, but by hand, so a test can watch
    it or cripple a part: its clients are started and subscribed, not the pipeline; on
    exit the clients are stopped and the sink closed. The dead-letter queue cannot create
    its topic."""
    consumer = AIOKafkaConsumer(**consumer_options(settings.kafka, sink.name))
    limit = {} if max_request_size is None else {"max_request_size": max_request_size}
    producer = AIOKafkaProducer(**producer_options(settings.kafka), **limit)
    pipeline = pipeline_type(
        sink=sink,
        consumer=consumer,
        dead_letters=KafkaDeadLetterQueue(producer, settings.dead_letter_topic, sink.name),
        metrics=metrics or Metrics(),
        options=pipeline_options(settings, sink.name),
    )
    await producer.start()
    await consumer.start()
    consumer.subscribe([settings.kafka.topic], listener=pipeline)
    try:
        yield pipeline, consumer
    finally:
        await consumer.stop()
        await producer.stop()
        await sink.close()
