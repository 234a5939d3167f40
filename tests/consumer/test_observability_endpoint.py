"""The HTTP endpoint of a real pipeline, scraped like Prometheus and probed like Kubernetes."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.engine import make_url

from consumer.lag import SAMPLE_INTERVAL_SECONDS
from consumer.metrics import package_version
from consumer.sandbox.embedded import free_port
from sinks.postgres import PostgresSink
from sinks.postgres.settings import PostgresSettings

from support.events import encode, event, example_lines
from support.kafka import keyed_by_run, produce, read_topic
from support.pipelines import Flow, consuming, make_settings
from support.postgres import count_events, proxied_postgres
from support.waiting import wait_until

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]
SINK = "postgres"


async def scrape(http: httpx.AsyncClient) -> Samples:
    response = await http.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    """A sample's value; a missing sample fails the test instead of reading as zero."""
    key = (name, frozenset(labels.items()))
    assert key in samples, f"{name}{labels} is not in the exposition"
    return samples[key]


def by_label(samples: Samples, name: str, label: str, **labels: str) -> dict[str, float]:
    """The samples of ``name`` that match ``labels``, keyed by the value of ``label``."""
    wanted = set(labels.items())
    return {
        dict(key)[label]: v
        for (metric, key), v in samples.items()
        if metric == name and wanted <= key and label in dict(key)
    }


def scraped(
    http: httpx.AsyncClient, check: Callable[[Samples], bool]
) -> Callable[[], Awaitable[bool]]:
    async def condition() -> bool:
        try:
            return check(await scrape(http))
        except httpx.TransportError:  # not listening yet
            return False

    return condition


def answers(http: httpx.AsyncClient, path: str, status: int) -> Callable[[], Awaitable[bool]]:
    async def condition() -> bool:
        try:
            return (await http.get(path)).status_code == status
        except httpx.TransportError:  # not listening yet
            return False

    return condition


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    port = free_port()
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=5) as client:
        yield client


def port_of(http: httpx.AsyncClient) -> int:
    port = http.base_url.port
    assert port is not None
    return port


async def test_lag_and_readiness_follow_a_sink_outage(
    flow: Flow,
    http: httpx.AsyncClient,
) -> None:
    proxy, proxied = await proxied_postgres(flow.postgres)
    sink = PostgresSink(proxied)
    settings = make_settings(flow.bootstrap, flow.topic, metrics={"port": port_of(http)})
    lag = "runledger_consumer_lag_messages"
    lag_seconds = "runledger_consumer_lag_seconds"
    try:
        async with consuming(settings, [sink]):
            await wait_until(answers(http, "/readyz", 200), what="/readyz to answer 200")
            await wait_until(
                scraped(http, lambda s: by_label(s, lag, "partition") == {"0": 0, "1": 0, "2": 0}),
                what="zero lag exported for the three partitions",
            )

            proxy.cut()
            lines = example_lines()  # one run: one partition, one producer batch (linger)
            await produce(flow.bootstrap, flow.topic, keyed_by_run(lines), linger_ms=200)
            first_timestamp = min(
                r.timestamp for r in await read_topic(flow.bootstrap, flow.topic, 10)
            )

            def behind(s: Samples) -> bool:
                return sum(by_label(s, lag, "partition").values()) == len(lines)

            await wait_until(scraped(http, behind), what="lag to rise to the 10 records")
            await wait_until(
                scraped(http, lambda s: max(by_label(s, lag_seconds, "partition").values()) >= 2),
                what="lag in seconds to grow while the sink is down",
            )
            before = time.time()
            samples = await scrape(http)
            after = time.time()
            assert value(samples, "runledger_sink_up", sink=SINK) == 0
            assert value(samples, "runledger_sink_retries_total", sink=SINK) > 0
            assert value(samples, "runledger_sink_errors_total", sink=SINK, kind="transient") > 0
            partition, records_behind = max(
                by_label(samples, lag, "partition").items(), key=lambda kv: kv[1]
            )
            assert records_behind == len(lines)
            group = settings.kafka.group_id(SINK)  # joins with kafka-lag-exporter's `group`
            age = value(
                samples, lag_seconds, sink=SINK, group=group, topic=flow.topic, partition=partition
            )
            oldest = first_timestamp / 1000  # the oldest unprocessed record's Kafka timestamp
            assert before - oldest - SAMPLE_INTERVAL_SECONDS - 1 <= age <= after - oldest

            not_ready = await http.get("/readyz")
            assert not_ready.status_code == 503
            assert not_ready.json()["not_ready"] == [SINK]
            assert "sink is down" in not_ready.json()["sinks"][SINK]["reasons"]
            assert (await http.get("/healthz")).status_code == 200  # waiting is not dead

            proxy.restore()

            def caught_up(s: Samples) -> bool:
                return set(by_label(s, lag, "partition").values()) == {0} and set(
                    by_label(s, lag_seconds, "partition").values()
                ) == {0}

            await wait_until(scraped(http, caught_up), what="lag back to zero")
            await wait_until(answers(http, "/readyz", 200), what="/readyz to recover")
            samples = await scrape(http)
            assert value(samples, "runledger_sink_up", sink=SINK) == 1
            written = by_label(samples, "runledger_messages_total", "type", outcome="written")
            assert sum(written.values()) == len(lines)
        assert await count_events(flow.engine) == len(lines)
    finally:
        await proxy.stop()


RUN = "exec-poison"
POISON = {
    # record value: (stage, decode reason or None for the sink stage)
    b"not json": ("decode", "not_json"),
    b"[1, 2]": ("decode", "not_object"),
    b"": ("decode", "empty"),
    encode(event("run-start", RUN, schema_version=2)): ("validate", "unsupported_schema_version"),
    encode(event("run-paused", RUN)): ("validate", "unknown_type"),
    encode(event("task-result", RUN, task_id="t1")): ("validate", "invalid"),  # no status
    # valid by the contract, refused by PostgreSQL (NUL in text): isolated and dead-lettered
    encode(event("task-start", RUN, task_id="t1", title="nul \u0000 byte")): ("sink", None),
}


async def test_every_outcome_is_counted_exactly(
    flow: Flow,
    http: httpx.AsyncClient,
) -> None:
    good = example_lines()
    await produce(flow.bootstrap, flow.topic, keyed_by_run([*good, *POISON]))
    settings = make_settings(flow.bootstrap, flow.topic, metrics={"port": port_of(http)})
    dead = "runledger_dead_letters_total"

    async with consuming(settings, [PostgresSink(flow.postgres)]):
        await wait_until(
            scraped(http, lambda s: sum(by_label(s, dead, "stage").values()) >= len(POISON)),
            what="every poison record dead-lettered",
        )
        await wait_until(
            scraped(http, lambda s: set(by_label(s, "runledger_consumer_lag_messages",
                                                 "partition").values()) == {0}),
            what="lag back to zero",
        )  # fmt: skip
        samples = await scrape(http)

    stages = [stage for stage, _ in POISON.values()]
    assert by_label(samples, dead, "stage") == {
        s: stages.count(s) for s in ("decode", "validate", "sink")
    }
    failures = by_label(samples, "runledger_decode_failures_total", "reason")
    assert {r: n for r, n in failures.items() if n} == {r: 1 for _, r in POISON.values() if r}
    outcomes = by_label(samples, "runledger_messages_total", "outcome")  # last type wins: sum
    totals = {
        outcome: sum(
            by_label(samples, "runledger_messages_total", "type", outcome=outcome).values()
        )
        for outcome in outcomes
    }
    assert totals == {"written": len(good), "duplicate": 0, "dead_lettered": 1}
    assert await count_events(flow.engine) == len(good)

    one = {"sink": SINK}
    assert value(samples, "runledger_event_age_seconds_count", **one) == len(good)
    assert value(samples, "runledger_batch_records_sum", **one) == len(good) + len(POISON)
    assert value(samples, "runledger_sink_write_duration_seconds_count", **one) >= 1
    assert value(samples, "runledger_sink_errors_total", kind="permanent", **one) >= 1
    assert value(samples, "runledger_sink_errors_total", kind="transient", **one) == 0
    assert value(samples, "runledger_sink_retries_total", **one) == 0
    assert value(samples, "runledger_commits_total", **one) >= 1
    assert value(samples, "runledger_commit_failures_total", **one) == 0
    assert value(samples, "runledger_rebalances_total", **one) >= 1
    assert value(samples, "runledger_assigned_partitions", **one) == 3
    assert value(samples, "runledger_sink_up", **one) == 1
    assert value(samples, "runledger_build_info", version=package_version()) == 1


async def test_runledger_run_logs_json_without_secrets_and_serves_the_endpoint(
    kafka_bootstrap: str,
    topic: str,
    postgres_settings: PostgresSettings,
    http: httpx.AsyncClient,
    tmp_path: Path,
) -> None:
    # trust authentication ignores the password, so a fake one can ride in the URL
    url = make_url(postgres_settings.url.get_secret_value()).set(password="pg-secret-1")
    env = {
        **os.environ,
        "RUNLEDGER_KAFKA__BOOTSTRAP_SERVERS": kafka_bootstrap,
        "RUNLEDGER_KAFKA__TOPIC": topic,
        "RUNLEDGER_KAFKA__GROUP_ID_PREFIX": f"rl-{uuid.uuid4().hex[:8]}",
        "RUNLEDGER_KAFKA__SESSION_TIMEOUT_MS": "10000",  # joins the group sooner
        "RUNLEDGER_KAFKA__SASL_PASSWORD": "kafka-secret-2",  # unused with PLAINTEXT, still masked
        "RUNLEDGER_POSTGRES__URL": url.render_as_string(hide_password=False),
        "RUNLEDGER_METRICS__PORT": str(port_of(http)),
        "RUNLEDGER_SINKS": SINK,
    }
    poison = encode(event("run-paused", "exec-logged"))
    stderr_path = tmp_path / "stderr"
    with stderr_path.open("wb") as stderr:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-c", "from consumer.cli import main; main()", "run",
            env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=stderr,
        )  # fmt: skip
        try:
            await wait_until(answers(http, "/readyz", 200), what="/readyz of `runledger run`")
            await produce(kafka_bootstrap, topic, keyed_by_run([*example_lines(), poison]))
            await wait_until(
                scraped(http, lambda s: value(s, "runledger_dead_letters_total", sink=SINK,
                                              stage="validate") == 1),
                what="the poison record dead-lettered",
            )  # fmt: skip
            process.send_signal(signal.SIGTERM)
            assert await asyncio.wait_for(process.wait(), 30) == 0
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()

    text = stderr_path.read_text()
    assert "pg-secret-1" not in text
    assert "kafka-secret-2" not in text
    lines = [json.loads(line) for line in text.splitlines()]  # every line is JSON
    starting = next(line for line in lines if line["event"] == "starting")
    assert starting["settings"]["kafka"]["sasl_password"] == "***"
    assert starting["settings"]["metrics"]["port"] == port_of(http)
    configured = next(line for line in lines if line["event"] == "sink configured")
    assert configured["settings"]["url"].startswith("postgresql://postgres:***@127.0.0.1:5432/")
    letter = next(line for line in lines if line["event"] == "dead-lettered")
    assert letter["level"] == "warning"
    assert letter["sink"] == SINK
    assert letter["topic"] == topic
    assert letter["run_id"] == "exec-logged"
    assert {"partition", "offset", "reason"} <= letter.keys()
