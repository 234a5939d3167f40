"""A frozen graph engine (connections open, no answer) never makes the graph sink wait
forever (issue 12, item 6), on FalkorDB and on Neo4j.

The server's transaction timeout cannot fire when the server or the network hangs, so
the sink bounds each batch and each health check on the client side; the failure is
transient, and once the engine answers again the same batch goes through (retried, as the
pipeline does, while the server lets go of the abandoned transaction).
"""

from __future__ import annotations

import asyncio
import time
from urllib.parse import urlsplit

import pytest

from sinks.base import SinkRecord, TransientSinkError
from sinks.graph import GraphSink
from sinks.graph.settings import GraphSettings

from support.events import sink_records, valid_stream
from support.graph import count_graph_events
from support.processes import TcpProxy
from support.waiting import wait_until

TRANSACTION_SECONDS = 3.0
CONNECT_SECONDS = 1.0
# The sink's bound (two transaction timeouts, a connection, 5 s), plus slack for a busy
# machine: without a client-side bound the wait would never end.
BOUND = 2 * TRANSACTION_SECONDS + CONNECT_SECONDS + 5 + 4


def _records(seed: int) -> list[SinkRecord]:
    values = valid_stream(runs=2, seed=seed, duplicate_rate=0)
    return sink_records(values)


async def _fails_in_time(action: object, what: str) -> None:
    started = time.monotonic()
    with pytest.raises(TransientSinkError):
        await asyncio.wait_for(action, timeout=60)  # type: ignore[arg-type]
    elapsed = time.monotonic() - started
    assert elapsed < BOUND, f"{what} took {elapsed:.1f}s"


async def test_a_frozen_graph_fails_each_wait_in_bounded_time(
    graph_settings: GraphSettings,
) -> None:
    warm = GraphSink(graph_settings)  # a cold Neo4j takes longer than the short timeouts
    await warm.start()
    try:
        await warm.write(_records(3))
    finally:
        await warm.close()
    parts = urlsplit(graph_settings.uri)
    proxy = TcpProxy(parts.hostname or "127.0.0.1", parts.port or 0)
    port = await proxy.start()
    through = graph_settings.model_copy(
        update={
            "uri": parts._replace(netloc=f"127.0.0.1:{port}").geturl(),
            "transaction_timeout_seconds": TRANSACTION_SECONDS,
            "connection_timeout_seconds": CONNECT_SECONDS,
        }
    )
    sink = GraphSink(through)
    try:
        await sink.start()
        await sink.write(_records(1))

        proxy.freeze()  # open connections, no answer
        await _fails_in_time(sink.write(_records(2)), "a write while frozen")
        await _fails_in_time(sink.health(), "a health check while frozen")

        proxy.thaw()

        async def written() -> bool:  # as the pipeline retries it, with backoff
            try:
                await sink.write(_records(2))
            except TransientSinkError:  # the abandoned transaction may still hold locks
                return False
            return True

        await wait_until(written, what="the same batch written once the engine answers")
        stored = await count_graph_events(sink)
        assert stored == len(_records(1)) + len(_records(2)) + len(_records(3))
    finally:
        await sink.close()
        await proxy.stop()
