"""A frozen database (connections open, no answer) never makes the sink wait forever
(issue 12, item 6).

The server's ``statement_timeout`` cannot fire when the server or the network hangs, so
every wait is bounded on the client: a statement or commit in flight, a connection being
opened, a connection awaited from the pool. Each ends in a transient error within its
bound, and once the database answers again the next write goes through.
"""

from __future__ import annotations

import asyncio
import time

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from sinks.base import SinkRecord, TransientSinkError
from sinks.postgres import PostgresSink
from sinks.postgres.settings import PostgresSettings

from support.events import sink_records, valid_stream
from support.postgres import count_events, proxied_postgres

STATEMENT_SECONDS = 1.0
CONNECT_SECONDS = 1.0
BOUND = STATEMENT_SECONDS + 5.0 + 3.0  # the client's timeout, plus slack for a busy machine


def _records(seed: int) -> list[SinkRecord]:
    values = valid_stream(runs=2, seed=seed, duplicate_rate=0)
    return sink_records(values)


async def _fails_in_time(action: asyncio.Future[object] | object, what: str) -> float:
    started = time.monotonic()
    with pytest.raises(TransientSinkError):
        await asyncio.wait_for(action, timeout=30)  # type: ignore[arg-type]
    elapsed = time.monotonic() - started
    assert elapsed < BOUND, f"{what} took {elapsed:.1f}s"
    return elapsed


async def test_a_frozen_database_fails_each_wait_in_bounded_time(
    postgres_settings: PostgresSettings, postgres_engine: AsyncEngine
) -> None:
    proxy, through = await proxied_postgres(postgres_settings)
    settings = through.model_copy(
        update={
            "statement_timeout_seconds": STATEMENT_SECONDS,
            "connect_timeout_seconds": CONNECT_SECONDS,
            "pool_size": 1,
        }
    )
    sink = PostgresSink(settings)
    try:
        await sink.start()
        await sink.write(_records(1))

        proxy.freeze()  # the pooled connection stays open and never answers
        await _fails_in_time(sink.write(_records(2)), "a write on a frozen connection")
        await _fails_in_time(sink.health(), "a health check while frozen")

        proxy.thaw()
        await sink.write(_records(2))  # a fresh connection: the same batch goes through
    finally:
        await sink.close()
        await proxy.stop()
    assert await count_events(postgres_engine) == len(_records(1)) + len(_records(2))
