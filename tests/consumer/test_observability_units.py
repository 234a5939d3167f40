"""Pure logic of observability: lag arithmetic, health verdicts, HTTP routing, masking."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from dataclasses import dataclass, field
from typing import Any

import pytest
from pydantic import SecretStr

from consumer.config import ConfigurationError
from consumer.health import Health, SinkProbe
from consumer.http import ObservabilityServer, serving
from consumer.lag import ConsumerLag
from consumer.logging import mask_url, masked_settings, redact_urls
from consumer.metrics import Metrics
from consumer.pipeline import PipelineStatus
from consumer.settings import MetricsSettings, Settings
from sinks.postgres.settings import PostgresSettings

from support.fakes import P0, TOPIC, FakeConsumer


@dataclass
class Rec:
    offset: int
    timestamp: int  # ms


def lag_of(metrics: Metrics) -> tuple[float | None, float | None]:
    labels = {"sink": "postgres", "group": "runledger-postgres", "topic": TOPIC, "partition": "0"}
    get = metrics.registry.get_sample_value
    return get("runledger_consumer_lag_messages", labels), get(
        "runledger_consumer_lag_seconds", labels
    )


@dataclass
class AnsweringLater(FakeConsumer):
    """A consumer whose ``position`` waits until the test answers it."""

    answer: asyncio.Future[int] | None = None
    asked: asyncio.Event = field(default_factory=asyncio.Event)

    async def position(self, tp: Any) -> int:
        self.answer = asyncio.get_running_loop().create_future()
        self.asked.set()
        return await self.answer


async def test_the_lag_sampler_stops_when_cancelled_as_the_broker_answers() -> None:
    # asyncio.wait_for of Python 3.11 returns the answer and drops a cancellation that
    # arrives with it: the sampler then slept on, and shutting down waited for it forever.
    consumer = AnsweringLater(positions={P0: 5}, ends={P0: 9})
    lag = ConsumerLag(consumer, Metrics(), "postgres", TOPIC, group="runledger-postgres")
    lag.assigned([P0])
    sampling = asyncio.create_task(lag.run(interval=3600))
    await asyncio.wait_for(consumer.asked.wait(), 5)
    assert consumer.answer is not None

    consumer.answer.set_result(5)
    sampling.cancel()  # in the same step as the answer
    done, _ = await asyncio.wait([sampling], timeout=5)

    assert sampling in done
    assert sampling.cancelled()


async def test_lag_follows_fetches_writes_and_pauses() -> None:
    consumer, metrics = FakeConsumer(now=1000.0, positions={P0: 5}, ends={P0: 9}), Metrics()
    lag = ConsumerLag(
        consumer, metrics, "postgres", TOPIC, group="runledger-postgres", clock=lambda: consumer.now
    )
    lag.assigned([P0])

    consumer.now = 1003.0
    await lag.sample()  # nothing fetched yet: the broker's end offset, age since assignment
    assert lag_of(metrics) == (4, 3.0)

    consumer.fetch(highwater=12)
    consumer.positions[P0] = 12
    lag.fetched({P0: [Rec(5, 990_000), Rec(11, 995_000)]})
    consumer.now = 1010.0
    consumer.polled_at[P0] = 1010.0
    await lag.sample()  # in flight: exact, from the oldest record's timestamp
    assert lag_of(metrics) == (7, 20.0)

    consumer.ends[P0] = 3  # too small, as Tansu answers after multi-record batches
    consumer.now = 1030.0  # paused for a sink outage: the high watermark went stale
    await lag.sample()
    assert lag_of(metrics) == (7, 40.0)
    consumer.ends[P0] = 15  # records arrived meanwhile, only the broker knows
    await lag.sample()
    assert lag_of(metrics) == (10, 40.0)

    lag.processed({P0: [Rec(5, 990_000), Rec(11, 995_000)]})
    consumer.fetch(highwater=15)
    await lag.sample()  # 12..14 unfetched: they came after the last processed record
    assert lag_of(metrics) == (3, 35.0)

    consumer.positions[P0] = 15
    await lag.sample()
    assert lag_of(metrics) == (0, 0.0)

    lag.revoked([P0])  # its new owner reports it
    assert lag_of(metrics) == (None, None)


class Answering:
    """A sink whose health check answers or not, by hand."""

    name = "postgres"
    up = True

    async def health(self) -> None:
        if not self.up:
            raise ConnectionRefusedError("connection refused")


async def test_readiness_needs_the_group_and_a_recent_health_check() -> None:
    sink, status, metrics, health = Answering(), PipelineStatus(), Metrics(), Health()
    probe = SinkProbe(sink, status, metrics)  # type: ignore[arg-type]
    health.watch("postgres", status, probe)
    server = ObservabilityServer(metrics.registry, health, "127.0.0.1", 0)

    def answer(path: str) -> tuple[int, dict[str, Any]]:
        code, content_type, body = server.respond("GET", path)
        assert content_type == "application/json"
        return code, json.loads(body)

    code, body = answer("/readyz")
    assert code == 503
    assert body["sinks"]["postgres"]["reasons"] == [
        "consumer has not joined its group", "sink is down", "no recent successful health check",
    ]  # fmt: skip
    status.joined = True
    await probe.check()
    assert answer("/readyz")[0] == 200
    assert metrics.registry.get_sample_value("runledger_sink_up", {"sink": "postgres"}) == 1

    sink.up = False
    await probe.check()
    code, body = answer("/readyz")
    assert (code, body["not_ready"]) == (503, ["postgres"])
    assert metrics.registry.get_sample_value("runledger_sink_up", {"sink": "postgres"}) == 0
    assert answer("/healthz")[0] == 200  # down sink, live consumer

    status.last_progress = time.monotonic() - health.stall_seconds - 1
    code, body = answer("/healthz")
    assert (code, body["stalled"]) == (503, ["postgres"])


def test_the_endpoint_serves_three_paths_only() -> None:
    server = ObservabilityServer(Metrics().registry, Health(), "127.0.0.1", 0)

    code, content_type, body = server.respond("GET", "/metrics")
    assert (code, content_type.split(";")[0]) == (200, "text/plain")
    assert b"runledger_build_info{" in body
    assert server.respond("GET", "/readyz")[0] == 503  # no pipeline yet: starting
    assert server.respond("GET", "/healthz")[0] == 200
    assert server.respond("GET", "/admin")[0] == 404
    assert server.respond("POST", "/metrics")[0] == 405


async def _raw(port: int, request: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request)
    await writer.drain()
    answer = await asyncio.wait_for(reader.read(), 5)
    writer.close()
    return answer


async def test_the_socket_answers_head_and_drops_garbage() -> None:
    server = ObservabilityServer(Metrics().registry, Health(), "127.0.0.1", 0)
    port = await server.start()
    try:
        head = await _raw(port, b"HEAD /healthz?verbose=1 HTTP/1.1\r\nHost: x\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200 OK\r\n")
        assert head.endswith(b"\r\n\r\n")  # headers only
        assert await _raw(port, b"\x00\xff garbage\r\n\r\n") == b""
    finally:
        await server.close()


async def test_a_taken_port_is_one_clear_configuration_error() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        settings = MetricsSettings(host="127.0.0.1", port=port)
        with pytest.raises(ConfigurationError, match=rf"^RUNLEDGER_METRICS__PORT: .*:{port}"):
            async with serving(settings, Metrics().registry, Health()):
                pass


def test_logged_settings_mask_secrets_but_show_where_things_are() -> None:
    settings = Settings(kafka={"sasl_password": "kafka-pw"})
    postgres = PostgresSettings(
        url=SecretStr(
            "postgresql://app:db-pw@db.internal:5432/ledger?sslmode=require&sslpassword=key-pw"
        ),
        password=SecretStr("override-pw"),
    )

    shown = json.dumps([masked_settings(settings), masked_settings(postgres)])

    for secret in ("kafka-pw", "db-pw", "key-pw", "override-pw"):
        assert secret not in shown
    assert masked_settings(settings)["kafka"]["sasl_password"] == "***"
    assert masked_settings(postgres)["url"] == (
        "postgresql://app:***@db.internal:5432/ledger?sslmode=require&sslpassword=***"
    )
    assert mask_url("bolt://neo4j@graph:7687") == "bolt://neo4j@graph:7687"


def test_url_passwords_never_reach_a_log_line() -> None:
    line = {"event": "write failed", "error": "cannot connect to postgresql://app:pw1@db/x now"}

    assert redact_urls(None, "warning", line)["error"] == (
        "cannot connect to postgresql://app:***@db/x now"
    )
