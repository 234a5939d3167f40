"""Restart the broker under a running consumer: it reconnects, the broker keeps on disk
what it had (records and committed offsets), and what is published afterwards is written."""

from __future__ import annotations

import uuid
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine

from consumer.metrics import Metrics
from consumer.sandbox.embedded import free_port, running
from consumer.sandbox.kafka_server import KafkaPorts, start_kafka
from sinks.postgres import PostgresSink
from sinks.postgres.settings import PostgresSettings

from support.events import run_id_of, valid_stream
from support.kafka import (
    committed_offsets,
    create_topic,
    keyed_by_run,
    produce,
    read_topic,
)
from support.pipelines import consuming, make_settings, metric
from support.postgres import wait_for_events
from support.reference import check_ledger
from support.waiting import wait_until


async def test_consumer_survives_a_broker_restart_and_the_data_survives_it(
    postgres_settings: PostgresSettings, postgres_engine: AsyncEngine, tmp_path: Path
) -> None:
    values = valid_stream(runs=40, seed=23)
    half_the_runs = set(sorted({run_id_of(v) for v in values})[::2])
    before = [v for v in values if run_id_of(v) in half_the_runs]
    after = [v for v in values if v not in before]
    topic = f"telemetry-{uuid.uuid4().hex[:10]}"
    ports = KafkaPorts(broker=free_port(), controller=free_port())
    broker = start_kafka(tmp_path / "broker", ports)
    with running(broker):
        await create_topic(broker.address, topic, partitions=2)
        await produce(broker.address, topic, keyed_by_run(before))
        settings = make_settings(broker.address, topic, kafka={"max_batch_records": 50})
        group = f"{settings.kafka.group_id_prefix}-postgres"
        async with consuming(settings, [PostgresSink(postgres_settings)]) as metrics:
            await wait_for_events(postgres_engine, len(set(before)))

            async def all_committed(address: str) -> bool:
                offsets = await committed_offsets(address, group, topic)
                return sum(offsets.values()) == len(before)

            await wait_until(
                lambda: all_committed(broker.address), what="offsets of the first half committed"
            )
            handled_before_restart = _records_handled(metrics)
            broker.stop()
            with running(start_kafka(tmp_path / "broker", ports)) as restarted:
                # Durability: the records and the group's offsets are still there. A broker
                # that is still loading its offsets topic may answer "no offsets" for a while,
                # so the offsets are awaited (they never come back if they were lost).
                kept = await read_topic(restarted.address, topic, len(before), timeout=60)
                assert sorted(r.value for r in kept) == sorted(before)
                await wait_until(
                    lambda: all_committed(restarted.address),
                    timeout=60,
                    what="the first half's offsets, read back after the restart",
                )
                # They were read back, not re-committed after consuming everything again.
                assert _records_handled(metrics) == handled_before_restart

                await produce(restarted.address, topic, keyed_by_run(after))
                await wait_for_events(postgres_engine, len(set(values)), 60)
                assert metric(metrics, "runledger_sink_up", sink="postgres") == 1
    await check_ledger(postgres_engine, values, faults=1, name="broker restart")


def _records_handled(metrics: Metrics) -> float:
    """Every record the pipeline counted (written, duplicate or dead-lettered)."""
    return sum(
        sample.value
        for family in metrics.registry.collect()
        if family.name == "runledger_messages"
        for sample in family.samples
        if sample.name == "runledger_messages_total"
    )
