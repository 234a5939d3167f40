"""Cut one sink off through a TCP proxy for longer than the longest backoff, then restore it:
its pipeline keeps its group membership, resumes by itself, loses nothing and counts nothing
twice, while the other sink's pipeline in the same process keeps consuming and stays current
(per-sink independence). Both directions: PostgreSQL cut, then FalkorDB cut."""

from __future__ import annotations

import time

import pytest
from sqlalchemy.engine import make_url

from sinks.base import Sink
from sinks.graph import GraphSink
from sinks.graph.settings import GraphSettings
from sinks.postgres import PostgresSink
from sinks.postgres.settings import PostgresSettings

from support.events import valid_stream
from support.graph import count_graph_events
from support.kafka import keyed_by_run, produce
from support.pipelines import Flow, consuming, make_settings, metric
from support.postgres import count_events
from support.processes import TcpProxy
from support.reference import check_graph, check_ledger
from support.waiting import wait_until

MAX_BACKOFF = 0.5


@pytest.mark.parametrize("cut", ["postgres", "graph"])
async def test_one_sink_cut_longer_than_the_backoff_loses_nothing_and_holds_no_other_back(
    cut: str,
    flow: Flow,
    falkordb_address: tuple[str, int],
    falkordb_graph: GraphSettings,
) -> None:
    values = valid_stream(runs=120, seed=11)
    first, second = values[: len(values) // 2], values[len(values) // 2 :]
    pg_url = make_url(flow.postgres.url.get_secret_value())
    falkor_host, falkor_port = falkordb_address
    proxy = (
        TcpProxy(pg_url.host or "127.0.0.1", pg_url.port or 5432)
        if cut == "postgres"
        else TcpProxy(falkor_host, falkor_port)
    )
    proxy_port = await proxy.start()
    pg_port = proxy_port if cut == "postgres" else pg_url.port
    falkor = proxy_port if cut == "graph" else falkor_port
    written_pg = PostgresSettings(
        url=pg_url.set(port=pg_port).render_as_string(hide_password=False)
    )
    written_graph = GraphSettings(uri=falkordb_graph.uri.replace(f":{falkor_port}/", f":{falkor}/"))
    reader = GraphSink(falkordb_graph)
    other = "graph" if cut == "postgres" else "postgres"

    async def stored(sink: str) -> int:
        if sink == "postgres":
            return await count_events(flow.engine)
        return await count_graph_events(reader)

    settings = make_settings(
        flow.bootstrap, flow.topic,
        kafka={"max_batch_records": 50},
        retry={"initial_backoff_seconds": 0.05, "max_backoff_seconds": MAX_BACKOFF},
    )  # fmt: skip
    cut_seconds = 0.0
    try:
        await produce(flow.bootstrap, flow.topic, keyed_by_run(first))
        sinks: list[Sink] = [PostgresSink(written_pg), GraphSink(written_graph)]
        async with consuming(settings, sinks) as metrics:

            async def both_have(count: int) -> bool:
                return await stored("postgres") == count and await stored("graph") == count

            await wait_until(lambda: both_have(len(set(first))), what="the first half in both")
            joined = metric(metrics, "runledger_rebalances_total", sink=cut)

            proxy.cut()
            cut_at = time.monotonic()
            await produce(flow.bootstrap, flow.topic, keyed_by_run(second))

            async def other_is_current() -> bool:
                return await stored(other) == len(set(values))

            async def backed_off_to_the_cap() -> bool:
                retries = metric(metrics, "runledger_sink_retries_total", sink=cut)
                return retries >= 8 and time.monotonic() - cut_at > 3 * MAX_BACKOFF

            await wait_until(other_is_current, what=f"the {other} pipeline to stay current")
            await wait_until(backed_off_to_the_cap, what="retries beyond the longest backoff")
            assert metric(metrics, "runledger_sink_up", sink=cut) == 0
            assert metric(metrics, "runledger_sink_up", sink=other) == 1
            assert metric(metrics, "runledger_sink_retries_total", sink=other) == 0
            assert await stored(cut) == len(set(first)), "wrote while cut"

            proxy.restore()
            cut_seconds = time.monotonic() - cut_at
            await wait_until(
                lambda: both_have(len(set(values))), what=f"the {cut} sink to catch up"
            )
            assert metric(metrics, "runledger_sink_up", sink=cut) == 1
            # Still the same group generation: the outage cost no rebalance.
            assert metric(metrics, "runledger_rebalances_total", sink=cut) == joined
        print(f"[sink outage] {cut} cut for {cut_seconds:.1f}s (max backoff {MAX_BACKOFF}s)")
        pg_faults, graph_faults = (1, 0) if cut == "postgres" else (0, 1)
        await check_ledger(flow.engine, values, pg_faults, f"{cut} cut: postgres")
        await check_graph(reader, values, graph_faults, f"{cut} cut: graph")
    finally:
        await proxy.stop()
        await reader.close()
