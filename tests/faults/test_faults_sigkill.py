"""SIGKILL the consumer process mid-stream, start it again: the ledger ends exactly at the
reference model's state, and a SIGTERM afterwards hands over cleanly (exit 0, all committed).

One kill: each costs a session timeout before the group lets the restarted member in."""

from __future__ import annotations

import signal
import uuid
from pathlib import Path

from support.events import valid_stream
from support.kafka import committed_offsets, end_offsets, keyed_by_run, produce
from support.pipelines import Flow
from support.postgres import count_events, wait_for_events
from support.processes import ConsumerProcess, consumer_env
from support.reference import check_ledger
from support.waiting import wait_until


async def test_sigkill_mid_stream_then_restart_reaches_the_exact_state(
    flow: Flow,
    tmp_path: Path,
) -> None:
    values = valid_stream(runs=400, seed=7)
    distinct = len(set(values))
    ends = end_offsets(await produce(flow.bootstrap, flow.topic, keyed_by_run(values)))
    group_prefix = f"kill-{uuid.uuid4().hex[:8]}"
    env = consumer_env(
        flow.bootstrap, flow.topic, flow.postgres, group_prefix,
        RUNLEDGER_KAFKA__MAX_BATCH_RECORDS="20",
    )  # fmt: skip

    kills = 0
    processes = []
    try:
        for share in (0.4,):  # kill while consuming, at about this share of the stream
            process = ConsumerProcess(env, tmp_path, f"consumer-{kills}.log").start()
            processes.append(process)
            await wait_for_events(flow.engine, int(distinct * share), 60, at_least=True)
            process.signal(signal.SIGKILL)
            await process.wait(timeout=10)
            kills += 1
            assert await count_events(flow.engine) < distinct, "killed too late"

        last = ConsumerProcess(env, tmp_path, "consumer-last.log").start()
        processes.append(last)
        await wait_for_events(flow.engine, distinct, 90, at_least=True)
        # A clean SIGTERM commits what was written and exits 0.
        group = f"{group_prefix}-postgres"

        async def all_committed() -> bool:
            return await committed_offsets(flow.bootstrap, group, flow.topic) == ends

        await wait_until(all_committed, timeout=30, what="offsets committed to the end")
        last.signal(signal.SIGTERM)
        assert await last.wait(timeout=30) == 0, last.output()[-2000:]
    finally:
        for process in processes:
            process.kill()

    await check_ledger(flow.engine, values, faults=kills, name="sigkill")
