"""SIGTERM: the consumer leaves its group at once (a restart rejoins without waiting for the
session to expire), and when things are already wrong it still exits within its shutdown
budget (RUNLEDGER_SHUTDOWN_TIMEOUT_SECONDS, below Kubernetes' grace period), commits nothing
it has not written, and a restarted consumer ends exactly at the reference state."""

from __future__ import annotations

import signal
import time
import uuid
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine

from consumer.sandbox.embedded import free_port, running
from consumer.sandbox.kafka_server import start_kafka
from sinks.postgres.settings import PostgresSettings

from support.events import valid_stream
from support.kafka import (
    committed_offsets,
    create_topic,
    end_offsets,
    kafka_admin,
    keyed_by_run,
    produce,
)
from support.pipelines import Flow
from support.postgres import count_events, proxied_postgres, wait_for_events
from support.processes import ConsumerProcess, consumer_env
from support.reference import check_ledger
from support.waiting import wait_until

SHUTDOWN_SECONDS = 4.0
# The budget, plus the interpreter's own exit; Kubernetes' default grace adds 10 s.
EXIT_DEADLINE = SHUTDOWN_SECONDS + 6


async def test_sigterm_while_the_sink_is_down_abandons_the_batch_uncommitted(
    flow: Flow,
    tmp_path: Path,
) -> None:
    values = valid_stream(runs=60, seed=71)
    first, second = values[: len(values) // 2], values[len(values) // 2 :]
    proxy, proxied = await proxied_postgres(flow.postgres)
    prefix = f"term-{uuid.uuid4().hex[:8]}"
    group = f"{prefix}-postgres"
    env = consumer_env(
        flow.bootstrap, flow.topic, proxied, prefix,
        RUNLEDGER_SHUTDOWN_TIMEOUT_SECONDS=str(SHUTDOWN_SECONDS),
    )  # fmt: skip
    first_ends = end_offsets(await produce(flow.bootstrap, flow.topic, keyed_by_run(first)))
    processes = []
    try:
        process = ConsumerProcess(env, tmp_path, "down.log").start()
        processes.append(process)

        async def committed(ends: dict[int, int]) -> bool:
            return await committed_offsets(flow.bootstrap, group, flow.topic) == ends

        await wait_until(lambda: committed(first_ends), what="the first half committed")
        proxy.cut()
        await produce(flow.bootstrap, flow.topic, keyed_by_run(second))
        await process.logged('"transient failure, retrying"', "the consumer backing off")
        process.signal(signal.SIGTERM)
        asked = time.monotonic()
        code = await process.wait(timeout=EXIT_DEADLINE)
        print(f"[shutdown, sink down] exit {code} {time.monotonic() - asked:.1f}s after SIGTERM")
        assert code == 0, process.output()[-2000:]
        assert await committed(first_ends), "committed a batch that was not written"
        assert await count_events(flow.engine) == len(set(first))

        proxy.restore()
        again = ConsumerProcess(env, tmp_path, "again.log").start()
        processes.append(again)
        await wait_for_events(flow.engine, len(set(values)), 60)
        again.signal(signal.SIGTERM)
        assert await again.wait(timeout=EXIT_DEADLINE) == 0, again.output()[-2000:]
    finally:
        for p in processes:
            p.kill()
        await proxy.stop()
    await check_ledger(flow.engine, values, faults=2, name="sigterm while the sink is down")


async def test_sigterm_with_the_broker_frozen_mid_stream_still_exits_within_the_budget(
    postgres_settings: PostgresSettings, postgres_engine: AsyncEngine, tmp_path: Path
) -> None:
    values = valid_stream(runs=300, seed=73)
    topic = f"telemetry-{uuid.uuid4().hex[:10]}"
    prefix = f"frozen-{uuid.uuid4().hex[:8]}"
    with running(start_kafka(tmp_path / "broker")) as broker:
        await create_topic(broker.address, topic, partitions=2)
        await produce(broker.address, topic, keyed_by_run(values))
        env = consumer_env(
            broker.address, topic, postgres_settings, prefix,
            RUNLEDGER_SHUTDOWN_TIMEOUT_SECONDS=str(SHUTDOWN_SECONDS),
            RUNLEDGER_KAFKA__MAX_BATCH_RECORDS="10",
        )  # fmt: skip
        processes = [ConsumerProcess(env, tmp_path, "frozen.log").start()]
        try:
            await wait_for_events(postgres_engine, len(values) // 4, at_least=True)
            # A frozen broker accepts connections and never answers: the commit in flight
            # and the dead-letter producer's flush would wait for aiokafka's request
            # timeout (40 s) without the budget.
            broker.process.send_signal(signal.SIGSTOP)
            processes[0].signal(signal.SIGTERM)
            asked = time.monotonic()
            code = await processes[0].wait(timeout=EXIT_DEADLINE)
            print(f"[shutdown, broker frozen] exit {code} {time.monotonic() - asked:.1f}s")
            assert code == 0, processes[0].output()[-2000:]
            assert await count_events(postgres_engine) < len(set(values)), "frozen too late"

            broker.process.send_signal(signal.SIGCONT)
            processes.append(ConsumerProcess(env, tmp_path, "thawed.log").start())
            await wait_for_events(postgres_engine, len(set(values)), 60)
        finally:
            broker.process.send_signal(signal.SIGCONT)
            for process in processes:
                process.kill()
    await check_ledger(postgres_engine, values, faults=2, name="sigterm with the broker frozen")


async def test_sigterm_while_the_broker_is_unreachable_at_start_up_exits_cleanly(
    postgres_settings: PostgresSettings, tmp_path: Path
) -> None:
    """A pod stopped before its broker ever answered exits 0, not killed by the signal."""
    nobody = f"127.0.0.1:{free_port()}"
    env = consumer_env(nobody, "telemetry", postgres_settings, f"early-{uuid.uuid4().hex[:8]}")
    process = ConsumerProcess(env, tmp_path, "early.log").start()
    try:
        await process.logged(
            '"broker unreachable, retrying"', "the consumer waiting for its broker"
        )
        process.signal(signal.SIGTERM)
        code = await process.wait(timeout=EXIT_DEADLINE)
        assert code == 0, process.output()[-2000:]
        assert '"stopped during start-up"' in process.output()
        assert "Traceback" not in process.output()
    finally:
        process.kill()


async def _members(bootstrap: str, group: str) -> int:
    async with kafka_admin(bootstrap) as admin:
        [described] = await admin.describe_consumer_groups([group])
    return sum(len(g["members"]) for g in described.to_object()["groups"])


async def test_sigterm_leaves_the_group_so_a_restart_rejoins_at_once(
    flow: Flow,
    tmp_path: Path,
) -> None:
    """A pod replaced by a rollout hands its partitions over at once: with a 60 s session,
    a consumer that left without LeaveGroup would keep them a minute."""
    values = valid_stream(runs=40, seed=75)
    first, second = values[: len(values) // 2], values[len(values) // 2 :]
    prefix = f"leave-{uuid.uuid4().hex[:8]}"
    group = f"{prefix}-postgres"
    env = consumer_env(
        flow.bootstrap, flow.topic, flow.postgres, prefix,
        RUNLEDGER_KAFKA__SESSION_TIMEOUT_MS="60000",
    )  # fmt: skip
    await produce(flow.bootstrap, flow.topic, keyed_by_run(first))
    processes = [ConsumerProcess(env, tmp_path, "leave.log").start()]
    try:
        await wait_for_events(flow.engine, len(set(first)))
        assert await _members(flow.bootstrap, group) == 1
        processes[0].signal(signal.SIGTERM)
        assert await processes[0].wait(timeout=EXIT_DEADLINE) == 0, processes[0].output()[-2000:]

        async def left() -> bool:
            return await _members(flow.bootstrap, group) == 0

        await wait_until(left, timeout=10, what="the group to be empty (LeaveGroup sent)")
        await produce(flow.bootstrap, flow.topic, keyed_by_run(second))
        processes.append(ConsumerProcess(env, tmp_path, "rejoined.log").start())
        await wait_for_events(flow.engine, len(set(values)), 20)
    finally:
        for process in processes:
            process.kill()
    await check_ledger(flow.engine, values, faults=1, name="sigterm leaves the group")
