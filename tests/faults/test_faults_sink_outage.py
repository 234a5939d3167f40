"""Cut PostgreSQL off for longer than the longest backoff, then restore it: the pipeline keeps
its group membership, resumes by itself, loses nothing and counts nothing twice; a second
pipeline in the same process keeps consuming meanwhile (per-sink independence)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import pytest
from delivery_support import (
    RenamedSink,
    check_ledger,
    events_stored,
    extra_database,
    generate_stream,
    keyed_by_run,
    produce_records,
)
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from sinks.postgres import PostgresSink
from sinks.postgres.engine import create_engine
from sinks.postgres.settings import PostgresSettings

from support import consuming, make_settings, metric, wait_until
from tcp_proxy import TcpProxy

MAX_BACKOFF = 0.5


@pytest.fixture
async def other_postgres(postgres_template: str) -> AsyncIterator[PostgresSettings]:
    async for settings in extra_database(postgres_template):
        yield settings


async def test_postgres_outage_longer_than_the_backoff_loses_nothing(
    kafka_bootstrap: str,
    topic: str,
    postgres_settings: PostgresSettings,
    postgres_engine: AsyncEngine,
    other_postgres: PostgresSettings,
) -> None:
    values = generate_stream(runs=120, seed=11)
    first, second = values[: len(values) // 2], values[len(values) // 2 :]
    url = make_url(postgres_settings.url.get_secret_value())
    proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5432)
    proxied = PostgresSettings(
        url=url.set(port=await proxy.start()).render_as_string(hide_password=False)  # type: ignore[arg-type]
    )
    other_engine = create_engine(other_postgres)
    settings = make_settings(
        kafka_bootstrap, topic,
        kafka={"max_batch_records": 50},
        retry={"initial_backoff_seconds": 0.05, "max_backoff_seconds": MAX_BACKOFF},
    )  # fmt: skip
    cut_seconds = 0.0
    try:
        await produce_records(kafka_bootstrap, topic, keyed_by_run(first))
        sinks = [PostgresSink(proxied), RenamedSink(PostgresSink(other_postgres), "postgres-b")]
        async with consuming(settings, sinks) as metrics:

            async def both_have(engine_count: int) -> bool:
                return (
                    await events_stored(postgres_engine) == engine_count
                    and await events_stored(other_engine) == engine_count
                )

            await wait_until(lambda: both_have(len(set(first))), what="the first half in both")
            joined = metric(metrics, "runledger_rebalances_total", sink="postgres")

            proxy.cut()
            cut_at = time.monotonic()
            await produce_records(kafka_bootstrap, topic, keyed_by_run(second))

            async def other_is_current() -> bool:
                return await events_stored(other_engine) == len(set(values))

            async def backed_off_to_the_cap() -> bool:
                retries = metric(metrics, "runledger_sink_retries_total", sink="postgres")
                return retries >= 8 and time.monotonic() - cut_at > 3 * MAX_BACKOFF

            await wait_until(other_is_current, what="the other pipeline to stay current")
            await wait_until(backed_off_to_the_cap, what="retries beyond the longest backoff")
            assert metric(metrics, "runledger_sink_up", sink="postgres") == 0
            assert metric(metrics, "runledger_sink_up", sink="postgres-b") == 1
            assert await events_stored(postgres_engine) == len(set(first)), "wrote while cut"

            proxy.restore()
            cut_seconds = time.monotonic() - cut_at
            await wait_until(
                lambda: both_have(len(set(values))), what="the relational sink to catch up"
            )
            assert metric(metrics, "runledger_sink_up", sink="postgres") == 1
            # Still the same group generation: the outage cost no rebalance.
            assert metric(metrics, "runledger_rebalances_total", sink="postgres") == joined
        print(f"[sink outage] PostgreSQL cut for {cut_seconds:.1f}s (max backoff {MAX_BACKOFF}s)")
        await check_ledger(postgres_engine, values, faults=1, name="sink outage, cut sink")
        await check_ledger(other_engine, values, faults=0, name="sink outage, other sink")
    finally:
        await proxy.stop()
        await other_engine.dispose()
