"""runledger end to end: the real pipelines (fetch, decode, write, commit) over a topic.

The clock of each pipeline starts when it joins its group (so the group join, which
the broker may delay on purpose, is not counted) and stops when it has committed
every expected record.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from consumer.metrics import Metrics
from consumer.pipeline import PipelineStatus
from consumer.runner import SinksHandle, run_sinks
from consumer.settings import MetricsSettings, Settings
from sinks.base import Sink, SinkRecord, WriteResult

_TICK = 0.005

Finished = Callable[[PipelineStatus], bool]


@dataclass
class _Clock:
    joined: float | None = None
    done: float | None = None


async def e2e_eps(settings: Settings, sinks: Sequence[Sink], expected: int) -> float:
    """Events per second of the slowest of ``sinks`` to consume ``expected`` events."""
    durations = await consume(settings, sinks, lambda s: s.records_done >= expected)
    return expected / max(durations)


async def consume(
    settings: Settings, sinks: Sequence[Sink], finished: Finished, timeout: float = 3600.0
) -> list[float]:
    """Run one pipeline per sink until each is ``finished``; seconds each took after joining.

    The pipelines run exactly as ``runledger run`` runs them (``run_sinks``), without the
    HTTP endpoint.
    """
    quiet = settings.model_copy(update={"metrics": MetricsSettings(port=0)})
    running = run_sinks(quiet, sinks, Metrics())
    try:
        clocks = await _watch(running, [s.name for s in sinks], finished, timeout)
    finally:
        running.stop()
        await running
    return [c.done - c.joined for c in clocks if c.done is not None and c.joined is not None]


async def _watch(
    running: SinksHandle, names: Sequence[str], finished: Finished, timeout: float
) -> list[_Clock]:
    clocks = [_Clock() for _ in names]
    deadline = time.monotonic() + timeout
    while any(c.done is None for c in clocks):
        if running.done():
            await running  # a pipeline that failed fails the benchmark
            raise RuntimeError("the pipelines stopped before the benchmark was done")
        now = time.perf_counter()
        statuses = running.status()
        for name, clock in zip(names, clocks, strict=True):
            status = statuses.get(name)
            if status is None:
                continue
            if clock.joined is None and status.joined:
                clock.joined = now
            if clock.done is None and finished(status):
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
