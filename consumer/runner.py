"""Run one pipeline per configured sink in this process, and stop them cleanly.

Each sink gets its own consumer (its own group, offsets and lag) and its own task, so
a slow or failing sink never holds another back. SIGTERM/SIGINT ask every pipeline
to finish its batch in flight and commit, then the consumers leave their groups and
the clients close. The whole shutdown fits in ``shutdown_timeout_seconds`` (keep it
below Kubernetes' termination grace period): the pipelines get all of it but a
reserve for closing; whatever is left at the deadline is cancelled uncommitted, which
at-least-once delivery and idempotent sinks make safe.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from collections.abc import (
    AsyncIterator,
    Awaitable,
    Callable,
    Coroutine,
    Generator,
    Iterator,
    Sequence,
)
from dataclasses import dataclass
from typing import Any, TypeVar

import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.errors import KafkaError
from tenacity import AsyncRetrying, retry_if_exception_type

from consumer.backoff import backoff
from consumer.dead_letters import KafkaDeadLetterQueue
from consumer.health import Health, monitoring
from consumer.http import serving
from consumer.kafka import create_topics, new_consumer, new_producer
from consumer.metrics import Metrics
from consumer.pipeline import PipelineOptions, PipelineStatus, SinkPipeline
from consumer.settings import Settings
from sinks.base import Sink

T = TypeVar("T")

log = structlog.get_logger("runledger.runner")


class ShutdownBudget:
    """One deadline for the whole shutdown, so it ends within the pod's grace period.

    It starts when the first pipeline is asked to stop (or the first client closes);
    the pipelines may use it all but ``reserve``, kept for leaving the groups.
    """

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.reserve = min(5.0, seconds / 5)
        self._deadline: float | None = None

    def start(self) -> None:
        if self._deadline is None:
            self._deadline = time.monotonic() + self.seconds

    def remaining(self, *, keep_reserve: bool = False) -> float:
        """Seconds left (starting the clock if needed), minus the reserve if asked."""
        self.start()
        assert self._deadline is not None
        left = self._deadline - time.monotonic() - (self.reserve if keep_reserve else 0.0)
        return max(0.0, left)


@dataclass
class RunningPipeline:
    """A pipeline with the clients it owns."""

    pipeline: SinkPipeline
    consumer: AIOKafkaConsumer
    producer: AIOKafkaProducer


def pipeline_options(settings: Settings, sink: str | None = None) -> PipelineOptions:
    """The pipeline's part of the settings; ``sink`` names its consumer group (lag label)."""
    return PipelineOptions(
        topic=settings.kafka.topic,
        group_id=settings.kafka.group_id(sink) if sink else "",
        max_batch_records=settings.kafka.max_batch_records,
        poll_timeout_ms=settings.kafka.poll_timeout_ms,
        max_message_bytes=settings.max_message_bytes,
        tolerate_errors=settings.dead_letter.tolerance == "all",
        retry=settings.retry,
    )


async def _with_broker_retries(settings: Settings, what: str, action: object) -> None:
    async for attempt in AsyncRetrying(
        retry=retry_if_exception_type(KafkaError),
        wait=backoff(settings.retry),
        before_sleep=lambda s: log.warning(
            "broker unreachable, retrying",
            action=what,
            attempt=s.attempt_number,
            error=str(s.outcome.exception()) if s.outcome else None,
        ),
    ):
        with attempt:
            assert callable(action)
            await action()


@contextlib.asynccontextmanager
async def open_pipeline(
    settings: Settings, sink: Sink, metrics: Metrics, budget: ShutdownBudget | None = None
) -> AsyncIterator[RunningPipeline]:
    """Start the clients of one sink's pipeline and close them all on exit, within ``budget``."""
    budget = budget or ShutdownBudget(settings.shutdown_timeout_seconds)
    consumer = new_consumer(settings.kafka, sink.name)
    # A dead letter is as large as the record it carries, which may be over our own limit.
    max_request = max(settings.max_message_bytes, settings.kafka.max_partition_fetch_bytes)
    producer = new_producer(settings.kafka, max_request_size=max_request + 64 * 1024)
    pipeline = SinkPipeline(
        sink=sink,
        consumer=consumer,
        dead_letters=KafkaDeadLetterQueue(
            producer,
            settings.dead_letter_topic,
            sink.name,
            create_topic=lambda: create_topics(settings.kafka, [settings.dead_letter_topic]),
        ),
        metrics=metrics,
        options=pipeline_options(settings, sink.name),
    )
    try:
        await _with_broker_retries(settings, "starting the producer", producer.start)
        await _with_broker_retries(settings, "starting the consumer", consumer.start)
        consumer.subscribe([settings.kafka.topic], listener=pipeline)
        yield RunningPipeline(pipeline, consumer, producer)
    finally:
        for close in (consumer.stop, producer.stop, sink.close):  # consumer first: leaves group
            await _close_bounded(close, budget, sink.name)


async def _close_bounded(
    close: Callable[[], Awaitable[None]], budget: ShutdownBudget, sink: str
) -> None:
    """Close a client within what is left of the budget: with the broker gone, leaving the
    group could wait for request timeouts. aiokafka's consumer may also re-raise the
    cancellation of its own retrying fetch tasks from ``stop()``: that is not ours, so it is
    only logged."""
    try:
        async with asyncio.timeout(budget.remaining()):
            await close()
    except (TimeoutError, KafkaError) as error:
        log.warning("client did not close cleanly", sink=sink, error=repr(error))
    except asyncio.CancelledError:
        task = asyncio.current_task()
        if task is not None and task.cancelling():
            raise
        log.warning("client did not close cleanly", sink=sink, error="cancelled inside the client")


@dataclass(eq=False)
class SinksHandle:
    """What ``run_sinks`` returns at once: each pipeline's status while they run, and the end.

    Awaiting the handle waits until the pipelines have stopped and raises what stopped
    them, if anything failed; ``stop()`` asks them to finish their batches and stop.
    """

    stopping: asyncio.Event
    pipelines: list[SinkPipeline]
    """Filled in once the pipelines have started (their clients are up)."""
    task: asyncio.Task[None]

    def status(self) -> dict[str, PipelineStatus]:
        """Each pipeline's status by sink name; empty until the pipelines have started."""
        return {p.sink.name: p.status for p in self.pipelines}

    def stop(self) -> None:
        self.stopping.set()

    def done(self) -> bool:
        return self.task.done()

    def __await__(self) -> Generator[Any, None, None]:
        return self.task.__await__()


def run_sinks(settings: Settings, sinks: Sequence[Sink], metrics: Metrics) -> SinksHandle:
    """Start a pipeline per sink; they run until SIGTERM/SIGINT, ``stop()`` or a failure.

    The metrics and health endpoint is up first (alive while the broker is awaited) and
    goes last; each pipeline's sink probe and lag sampler run while it runs. A signal
    during start-up (a pod stopped while its broker is still unreachable) ends it cleanly.
    Call it inside the event loop that is to run the pipelines.
    """
    stopping, pipelines = asyncio.Event(), list[SinkPipeline]()
    work = _run_sinks(settings, sinks, metrics, stopping, pipelines)
    return SinksHandle(stopping, pipelines, asyncio.create_task(work))


async def _run_sinks(
    settings: Settings,
    sinks: Sequence[Sink],
    metrics: Metrics,
    stopping: asyncio.Event,
    pipelines: list[SinkPipeline],
) -> None:
    budget = ShutdownBudget(settings.shutdown_timeout_seconds)
    with _signals_set(stopping):
        async with contextlib.AsyncExitStack() as stack:
            health = Health()
            await stack.enter_async_context(serving(settings.metrics, metrics.registry, health))

            async def start() -> list[RunningPipeline]:
                await _with_broker_retries(
                    settings,
                    "creating topics",
                    lambda: create_topics(settings.kafka, [settings.dead_letter_topic]),
                )
                return [
                    await stack.enter_async_context(open_pipeline(settings, s, metrics, budget))
                    for s in sinks
                ]

            running = await _unless_stopped(start(), stopping)
            if running is None:
                log.info("stopped during start-up")
                return
            for r in running:
                await stack.enter_async_context(monitoring(r.pipeline, metrics, health))
            pipelines.extend(r.pipeline for r in running)
            await supervise(pipelines, budget, stopping)


@contextlib.contextmanager
def _signals_set(stopping: asyncio.Event) -> Iterator[None]:
    """SIGTERM and SIGINT set ``stopping`` instead of killing the process."""
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)
    try:
        yield
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)


async def _unless_stopped(work: Coroutine[Any, Any, T], stopping: asyncio.Event) -> T | None:
    """``work``'s result, or ``None`` once ``stopping`` is set first (``work`` is cancelled)."""
    task = asyncio.create_task(work)
    waiter = asyncio.create_task(stopping.wait())
    try:
        await asyncio.wait([task, waiter], return_when=asyncio.FIRST_COMPLETED)
    finally:
        waiter.cancel()
        if not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
    return None if task.cancelled() else task.result()


async def supervise(
    pipelines: Sequence[SinkPipeline], budget: ShutdownBudget, stopping: asyncio.Event
) -> None:
    """Run the pipelines; stop all when a signal arrives, ``stopping`` is set or one fails.

    The pipelines get the shutdown budget minus its reserve to finish their batches.
    """
    tasks = [asyncio.create_task(p.run(), name=f"pipeline-{p.sink.name}") for p in pipelines]
    stop_waiter = asyncio.create_task(stopping.wait())
    try:
        await asyncio.wait([*tasks, stop_waiter], return_when=asyncio.FIRST_COMPLETED)
        budget.start()
        log.info("stopping pipelines", timeout_seconds=budget.seconds)
        for pipeline in pipelines:
            pipeline.stop()
        _, late = await asyncio.wait(tasks, timeout=budget.remaining(keep_reserve=True))
        for task in late:
            log.warning("pipeline did not stop in time; abandoning its batch", task=task.get_name())
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for task in tasks:
            if not task.cancelled() and task.exception() is not None:
                raise task.exception()  # type: ignore[misc]
    finally:
        stop_waiter.cancel()
