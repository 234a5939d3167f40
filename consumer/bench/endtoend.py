"""runledger end to end: the real pipelines (fetch, decode, write, commit) over a topic.

The clock of each pipeline starts when it joins its group (so the group join, which
the broker may delay on purpose, is not counted) and stops when it has committed
every expected record.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from consumer.metrics import Metrics
from consumer.pipeline import SinkPipeline
from consumer.runner import ensure_topics, open_pipeline
from consumer.settings import Settings
from sinks.base import Sink, SinkRecord, WriteResult

_TICK = 0.005

Finished = Callable[[SinkPipeline], bool]


@dataclass
class _Clock:
    joined: float | None = None
    done: float | None = None


async def e2e_eps(settings: Settings, sinks: Sequence[Sink], expected: int) -> float:
    """Events per second of the slowest of ``sinks`` to consume ``expected`` events."""
    durations = await consume(settings, sinks, lambda p: p.status.records_done >= expected)
    return expected / max(durations)


async def consume(
    settings: Settings, sinks: Sequence[Sink], finished: Finished, timeout: float = 3600.0
) -> list[float]:
    """Run one pipeline per sink until each is ``finished``; seconds each took after joining."""
    await ensure_topics(settings, [settings.dead_letter_topic])
    metrics = Metrics()
    async with contextlib.AsyncExitStack() as stack:
        pipelines = [
            (await stack.enter_async_context(open_pipeline(settings, s, metrics))).pipeline
            for s in sinks
        ]
        tasks = [asyncio.create_task(p.run()) for p in pipelines]
        try:
            clocks = await _watch(pipelines, tasks, finished, timeout)
        finally:
            for pipeline in pipelines:
                pipeline.stop()
            await asyncio.gather(*tasks)
    return [c.done - c.joined for c in clocks if c.done is not None and c.joined is not None]


async def _watch(
    pipelines: Sequence[SinkPipeline],
    tasks: Sequence[asyncio.Task[None]],
    finished: Finished,
    timeout: float,
) -> list[_Clock]:
    clocks = [_Clock() for _ in pipelines]
    deadline = time.monotonic() + timeout
    while any(c.done is None for c in clocks):
        for task in tasks:
            if task.done():
                task.result()  # a pipeline that failed fails the benchmark
                raise RuntimeError("a pipeline stopped before the benchmark was done")
        now = time.perf_counter()
        for pipeline, clock in zip(pipelines, clocks, strict=True):
            if clock.joined is None and pipeline.status.joined:
                clock.joined = now
            if clock.done is None and finished(pipeline):
                clock.done = now
        if time.monotonic() > deadline:
            raise TimeoutError(f"the pipelines did not finish within {timeout:.0f}s")
        await asyncio.sleep(_TICK)
    return clocks


@dataclass
class AgeRecordingSink:
    """Wraps a sink and notes each event's age (now minus occurred_at) once it is written."""

    inner: Sink
    ages: list[float] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.inner.name

    async def start(self) -> None:
        await self.inner.start()

    async def write(self, batch: Sequence[SinkRecord]) -> WriteResult:
        result = await self.inner.write(batch)
        now = time.time()
        self.ages.extend(now - record.event.occurred_at.timestamp() for record in batch)
        return result

    async def health(self) -> None:
        await self.inner.health()

    async def close(self) -> None:
        await self.inner.close()
