"""One benchmark run: start the engines, load the events, measure everything, clean up.

Measurements of one kind are repeated and interleaved with the others (raw, per
event, sink ceilings, end to end, the peer, the graph engines, then again), so a burst
of load on a shared machine spreads over all figures instead of spoiling one.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import signal
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from consumer.collector import tune_collector
from consumer.config import load_settings
from consumer.kafka import create_topics
from consumer.logging import configure_logging
from consumer.pipeline import PipelineStatus
from consumer.sandbox.bench.ceiling import sink_ceiling_eps, sink_records
from consumer.sandbox.bench.endtoend import AgeRecordingSink, consume, e2e_eps
from consumer.sandbox.bench.events import keyed_events
from consumer.sandbox.bench.latency import percentile, start_publisher
from consumer.sandbox.bench.load import load_topic
from consumer.sandbox.bench.memory import drain_backlog
from consumer.sandbox.bench.peer import INSTALL_HINT, peer_available, peer_eps
from consumer.sandbox.bench.per_event import per_event_eps
from consumer.sandbox.bench.raw import raw_eps
from consumer.sandbox.bench.report import Figures, graph_figure
from consumer.sandbox.bench.run_size import LARGE_RUNS, SMALL_RUNS, sized_run_events
from consumer.sandbox.bench.services import (
    PEER_TABLE,
    broker,
    empty_tables,
    falkordb,
    neo4j,
    scratch_database,
    server_url,
)
from consumer.settings import LogSettings, Settings
from sinks.base import Sink, SinkRecord
from sinks.graph.bench import measure_graph, scratch_graph
from sinks.graph.settings import GraphSettings
from sinks.graph.sink import GraphSink
from sinks.postgres import PostgresSink
from sinks.postgres.engine import create_engine
from sinks.postgres.settings import PostgresSettings

Progress = Callable[[str], None]

# Neo4j syncs its transaction log on every commit: one event per transaction runs at
# tens of events per second here, so a smaller sample gives the same rate in less time.
NEO4J_PER_EVENT_SAMPLE = 300


@dataclass(frozen=True)
class BenchOptions:
    """What to measure and how much of it."""

    events: int = 100_000
    repeat: int = 3
    backlog: int = 1_000_000
    skip_graph: bool = False
    skip_neo4j: bool = False
    skip_peer: bool = False
    per_event_sample: int = 3_000
    latency_seconds: float = 15.0
    seed: int = 42
    partitions: int = 3
    postgres_url: str | None = None


# The clocks start after the group join, so a shorter session timeout only shortens the
# benchmark (a join may wait for it), not its figures.
SESSION_TIMEOUT_MS = 10_000


def _on_topic(settings: Settings, bootstrap: str, topic: str) -> Settings:
    """Settings for one measurement: its own topic and fresh consumer groups."""
    kafka = settings.kafka.model_copy(
        update={
            "bootstrap_servers": bootstrap,
            "topic": topic,
            "group_id_prefix": f"bench-{uuid.uuid4().hex[:8]}",
            "session_timeout_ms": SESSION_TIMEOUT_MS,
        }
    )
    return settings.model_copy(update={"kafka": kafka})


async def run_bench(options: BenchOptions, progress: Progress) -> Figures:
    """Measure every figure in one run and return them."""
    server = server_url(options.postgres_url)
    base = load_settings()
    configure_logging(LogSettings(level="WARNING", format=base.log.format))
    _cancel_on_sigterm()
    tune_collector()  # as `runledger run` does: every figure with the same collector
    figures = Figures(events=options.events, repeat=options.repeat, seed=options.seed)
    if not options.skip_peer and not peer_available():
        figures.peer = f"Quix Streams is not installed: {INSTALL_HINT}"
        figures.notes.append(f"the peer was not measured: {figures.peer}")
    with contextlib.ExitStack() as engines:
        progress("starting the engines")
        bootstrap = engines.enter_context(broker())
        graphs: dict[str, GraphSettings] = {}
        if not options.skip_graph:
            graphs["falkordb"] = GraphSettings(uri=engines.enter_context(falkordb()))
            if not options.skip_neo4j:
                graphs["neo4j"] = GraphSettings(uri=engines.enter_context(neo4j()))
        async with scratch_database(server) as postgres:
            bench = _Bench(options, base, bootstrap, postgres, graphs, figures, progress)
            try:
                await bench.throughput()
                await bench.latency()
                await bench.memory()
            finally:
                await bench.close()
    return figures


def _cancel_on_sigterm() -> None:
    """SIGTERM cancels the run like Ctrl-C does, so the engines are stopped and the
    scratch database is dropped on the way out."""
    task = asyncio.current_task()
    if task is not None:
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)


class _Bench:
    def __init__(
        self,
        options: BenchOptions,
        base: Settings,
        bootstrap: str,
        postgres: PostgresSettings,
        graphs: dict[str, GraphSettings],
        figures: Figures,
        progress: Progress,
    ) -> None:
        self.options = options
        self.base = base
        self.bootstrap = bootstrap
        self.postgres = postgres
        self.graphs = graphs
        self.figures = figures
        self.progress = progress
        self.engine = create_engine(postgres)

    def _settings(self, topic: str) -> Settings:
        return _on_topic(self.base, self.bootstrap, topic)

    async def throughput(self) -> None:
        o, figures = self.options, self.figures
        topic = f"bench-{uuid.uuid4().hex[:8]}"
        self.progress(f"generating and loading {o.events:,} events into {topic}")
        keyed = list(keyed_events(o.events, o.seed))
        await load_topic(self._settings(topic).kafka, keyed, o.partitions)
        records = sink_records((value for _, value in keyed), topic)
        del keyed
        sized = {
            tasks: sink_records(sized_run_events(o.events, tasks), topic)
            for tasks in (SMALL_RUNS, LARGE_RUNS)
        }
        sample = [r.event for r in records[: o.per_event_sample]]
        gc.freeze()  # the loaded events are long-lived: keep them out of every collection
        settings = self._settings(topic)
        batch = settings.kafka.max_batch_records
        for round_ in range(1, o.repeat + 1):
            label = f"round {round_}/{o.repeat}"
            self.progress(f"{label}: raw ceiling")
            raw = await raw_eps(settings.kafka, o.partitions, o.events, settings.max_message_bytes)
            figures.add("raw_eps", raw)
            self.progress(f"{label}: per-event way ({len(sample):,} events)")
            await empty_tables(self.engine)
            figures.add("per_event_eps", await per_event_eps(self.engine, sample))
            self.progress(f"{label}: sink ceiling")
            figures.add("sink_ceiling_eps", await self._sink_ceiling(records, batch))
            for tasks, name in ((SMALL_RUNS, "small"), (LARGE_RUNS, "large")):
                self.progress(f"{label}: sink ceiling, runs of {tasks:,} tasks")
                eps = await self._sink_ceiling(sized[tasks], batch)
                figures.add(f"sink_ceiling_{name}_runs_eps", eps)
            self.progress(f"{label}: end to end into PostgreSQL")
            await empty_tables(self.engine)
            eps = await e2e_eps(self._settings(topic), [PostgresSink(self.postgres)], o.events)
            figures.add("e2e_postgres_eps", eps)
            if figures.peer is None and not o.skip_peer:
                self.progress(f"{label}: the peer (Quix Streams) into PostgreSQL")
                await empty_tables(self.engine)
                dsn = self.postgres.url.get_secret_value()
                figures.add(
                    "peer_eps", await peer_eps(self.bootstrap, topic, dsn, PEER_TABLE, o.events)
                )
            for engine, graph in self.graphs.items():
                await self._graph_round(engine, graph, topic, records, label)

    async def _sink_ceiling(self, records: list[SinkRecord], batch: int) -> float:
        await empty_tables(self.engine)
        sink = PostgresSink(self.postgres)
        try:
            await sink.start()
            return await sink_ceiling_eps(sink, records, batch)
        finally:
            await sink.close()

    async def _graph_round(
        self, engine: str, graph: GraphSettings, topic: str, records: list[SinkRecord], label: str
    ) -> None:
        """The graph's per-event way and sink ceiling, then end to end alone and with PostgreSQL."""
        o, figures = self.options, self.figures
        self.progress(f"{label}: {engine} sink ceiling and per-event way")
        sample = o.per_event_sample if engine == "falkordb" else NEO4J_PER_EVENT_SAMPLE
        measured = await measure_graph(graph, records, min(sample, o.per_event_sample))
        figures.add(graph_figure(engine, "sink_ceiling_eps"), measured.batched_eps)
        figures.add(graph_figure(engine, "per_event_eps"), measured.per_event_eps)
        self.progress(f"{label}: end to end into {engine}")
        async with scratch_graph(graph) as scratch:
            eps = await e2e_eps(self._settings(topic), [GraphSink(scratch)], o.events)
        figures.add(graph_figure(engine, "eps"), eps)
        self.progress(f"{label}: end to end into PostgreSQL and {engine} (a group each)")
        await empty_tables(self.engine)
        async with scratch_graph(graph) as scratch:
            sinks: list[Sink] = [PostgresSink(self.postgres), GraphSink(scratch)]
            eps = await e2e_eps(self._settings(topic), sinks, o.events)
        figures.add(graph_figure(engine, "both_eps"), eps)

    async def latency(self) -> None:
        o, figures = self.options, self.figures
        top = figures.median("e2e_postgres_eps")
        if not top or o.latency_seconds <= 0:
            return
        rate = top / 2
        count = max(1, int(rate * o.latency_seconds))
        topic = f"bench-latency-{uuid.uuid4().hex[:8]}"
        self.progress(f"event age at write: {rate:,.0f} events/s for {o.latency_seconds:.0f}s")
        settings = self._settings(topic)
        await create_topics(settings.kafka, [topic], o.partitions)
        await empty_tables(self.engine)
        sink = AgeRecordingSink(PostgresSink(self.postgres))
        publisher = None

        def finished(status: PipelineStatus) -> bool:
            nonlocal publisher
            if publisher is None and status.joined:
                publisher = start_publisher(settings.kafka, o.partitions, rate, count)
            return len(sink.ages) >= count

        try:
            await consume(settings, [sink], finished)
        finally:
            if publisher is not None:
                publisher.join(30)
        figures.offered_load_eps = rate
        figures.p50_event_age_s = percentile(sink.ages, 0.50)
        figures.p99_event_age_s = percentile(sink.ages, 0.99)

    async def memory(self) -> None:
        o, figures = self.options, self.figures
        if o.backlog <= 0:
            return
        topic = f"bench-backlog-{uuid.uuid4().hex[:8]}"
        self.progress(f"loading a backlog of {o.backlog:,} events into {topic}")
        await load_topic(
            self._settings(topic).kafka, keyed_events(o.backlog, o.seed + 1), o.partitions
        )
        await empty_tables(self.engine)
        self.progress("draining the backlog with `runledger run`, sampling its memory")
        env = {
            "RUNLEDGER_SINKS": "postgres",
            "RUNLEDGER_KAFKA__BOOTSTRAP_SERVERS": self.bootstrap,
            "RUNLEDGER_KAFKA__TOPIC": topic,
            "RUNLEDGER_KAFKA__GROUP_ID_PREFIX": f"bench-{uuid.uuid4().hex[:8]}",
            "RUNLEDGER_KAFKA__SESSION_TIMEOUT_MS": str(SESSION_TIMEOUT_MS),
            "RUNLEDGER_POSTGRES__URL": self.postgres.url.get_secret_value(),
        }
        result = await drain_backlog(env, o.backlog, timeout=max(600.0, o.backlog / 500))
        figures.peak_rss_mb = result.peak_rss_mb
        figures.backlog_events = o.backlog
        figures.backlog_handled = result.handled
        figures.backlog_drain_eps = result.handled / result.seconds
        if result.handled < o.backlog:
            figures.notes.append(
                f"the backlog was not drained in time ({result.handled:,} of {o.backlog:,})"
            )

    async def close(self) -> None:
        await self.engine.dispose()
