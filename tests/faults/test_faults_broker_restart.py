"""Restart the broker under a running consumer: it survives, reconnects and consumes what is
published afterwards. The embedded broker keeps nothing on disk, so the new one is empty:
this proves reconnection, not broker durability."""

from __future__ import annotations

import uuid

from delivery_support import (
    check_ledger,
    events_stored,
    generate_stream,
    keyed_by_run,
    produce_records,
)
from sqlalchemy.ext.asyncio import AsyncEngine

from consumer.embedded import running, start_tansu
from sinks.postgres import PostgresSink
from sinks.postgres.settings import PostgresSettings

from support import consuming, create_topic, make_settings, metric, wait_until


async def test_consumer_survives_a_broker_restart(
    postgres_settings: PostgresSettings, postgres_engine: AsyncEngine
) -> None:
    values = generate_stream(runs=40, seed=23)
    before = [v for v in values if int(v.split(b'"run-23-')[1][:4]) % 2 == 0]
    after = [v for v in values if v not in before]
    topic = f"telemetry-{uuid.uuid4().hex[:10]}"
    broker = start_tansu()
    port = broker.port
    with running(broker):
        await create_topic(broker.address, topic, partitions=2)
        await produce_records(broker.address, topic, keyed_by_run(before))
        settings = make_settings(broker.address, topic, kafka={"max_batch_records": 50})
        async with consuming(settings, [PostgresSink(postgres_settings)]) as metrics:

            async def stored(n: int) -> bool:
                return await events_stored(postgres_engine) == n

            await wait_until(lambda: stored(len(set(before))), what="events before the restart")
            broker.stop()
            with running(start_tansu(port=port)) as restarted:
                await create_topic(restarted.address, topic, partitions=2)
                await produce_records(restarted.address, topic, keyed_by_run(after))
                await wait_until(
                    lambda: stored(len(set(values))),
                    timeout=60,
                    what="events published after the restart",
                )
                assert metric(metrics, "runledger_sink_up", sink="postgres") == 1
    await check_ledger(postgres_engine, values, faults=1, name="broker restart")
