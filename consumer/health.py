"""Liveness and readiness of the pipelines, and the background monitors that feed them.

* **Alive** (``/healthz``): every pipeline's loop beat recently. The loop beats after
  every poll, also while it waits out a sink outage with paused partitions, so only a
  consumer that is really stuck fails it and gets restarted.
* **Ready** (``/readyz``): every pipeline has joined its consumer group and its sink
  answered a health check recently. A sink outage makes the process unready, never
  dead: restarting a consumer that only waits for its database helps nobody.

Each pipeline gets a ``SinkProbe`` (``sink.health()`` every few seconds, feeding
``runledger_sink_up``) and its lag sampler, started by ``monitoring`` for as long as
the pipeline runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import structlog

from consumer.metrics import Metrics
from consumer.pipeline import PipelineStatus, SinkPipeline
from sinks.base import Sink

log = structlog.get_logger("runledger.health")

PROBE_INTERVAL_SECONDS = 5.0
# /readyz wants a health check answered within this many seconds.
PROBE_FRESH_SECONDS = 3 * PROBE_INTERVAL_SECONDS
# /healthz fails when a pipeline's loop has not beaten for this long. Above the longest
# legitimate silence: one sink transaction, bounded by the sink's statement timeout.
STALL_SECONDS = 120.0


class SinkProbe:
    """Asks the sink ``health()`` periodically once it has started; records the answer."""

    def __init__(
        self,
        sink: Sink,
        status: PipelineStatus,
        metrics: Metrics,
        interval: float = PROBE_INTERVAL_SECONDS,
    ) -> None:
        self._sink = sink
        self._status = status
        self._metrics = metrics
        self._interval = interval
        self.last_ok: float | None = None  # time.monotonic() of the last good answer

    async def run(self) -> None:
        """Probe forever (until cancelled). Before the sink started, its pipeline reports."""
        while True:
            if self._status.sink_started:
                await self.check()
                await asyncio.sleep(self._interval)
            else:
                await asyncio.sleep(min(self._interval, 0.5))

    async def check(self) -> None:
        try:
            async with asyncio.timeout(self._interval):
                await self._sink.health()
        except Exception as error:  # whatever the sink raises, it is not answering
            self._set(up=False, error=error)
        else:
            self.last_ok = time.monotonic()
            self._set(up=True)

    def _set(self, *, up: bool, error: BaseException | None = None) -> None:
        if up != self._status.sink_up:
            if up:
                log.info("sink health check passed", sink=self._sink.name)
            else:
                log.warning("sink health check failed", sink=self._sink.name, error=repr(error))
        self._status.sink_up = up
        self._metrics.sink_up.labels(self._sink.name).set(1 if up else 0)


@dataclass
class _Watched:
    name: str
    status: PipelineStatus
    probe: SinkProbe


@dataclass
class Health:
    """What the endpoint reports: the pipelines of this process and their probes."""

    stall_seconds: float = STALL_SECONDS
    probe_fresh_seconds: float = PROBE_FRESH_SECONDS
    _watched: list[_Watched] = field(default_factory=list)

    def watch(self, name: str, status: PipelineStatus, probe: SinkProbe) -> None:
        self._watched.append(_Watched(name, status, probe))

    def liveness(self) -> tuple[bool, dict[str, Any]]:
        """Alive unless a pipeline's loop stalled (no pipeline yet: still starting, alive)."""
        now = time.monotonic()
        sinks = {
            w.name: {"seconds_since_progress": round(now - w.status.last_progress, 3)}
            for w in self._watched
        }
        stalled = [
            name for name, s in sinks.items() if s["seconds_since_progress"] > self.stall_seconds
        ]
        return not stalled, {
            "status": "stalled" if stalled else "ok",
            "stalled": stalled,
            "sinks": sinks,
        }

    def readiness(self) -> tuple[bool, dict[str, Any]]:
        """Ready when every pipeline joined its group and its sink answered recently."""
        now = time.monotonic()
        sinks = {w.name: self._sink_readiness(w, now) for w in self._watched}
        not_ready = [name for name, s in sinks.items() if s["reasons"]]
        ready = bool(sinks) and not not_ready
        body = {
            "status": "ready" if ready else ("starting" if not sinks else "not ready"),
            "not_ready": not_ready,
            "sinks": sinks,
        }
        return ready, body

    def _sink_readiness(self, watched: _Watched, now: float) -> dict[str, Any]:
        reasons = []
        if not watched.status.joined:
            reasons.append("consumer has not joined its group")
        if not watched.status.sink_up:
            reasons.append("sink is down")
        last_ok = watched.probe.last_ok
        if last_ok is None or now - last_ok > self.probe_fresh_seconds:
            reasons.append("no recent successful health check")
        return {
            "joined": watched.status.joined,
            "sink_up": watched.status.sink_up,
            "seconds_since_health_check": None if last_ok is None else round(now - last_ok, 3),
            "reasons": reasons,
        }


@contextlib.asynccontextmanager
async def monitoring(
    pipeline: SinkPipeline, metrics: Metrics, health: Health
) -> AsyncIterator[SinkProbe]:
    """Run a pipeline's sink probe and lag sampler in the background while it runs."""
    probe = SinkProbe(pipeline.sink, pipeline.status, metrics)
    health.watch(pipeline.sink.name, pipeline.status, probe)
    name = pipeline.sink.name
    tasks = [
        asyncio.create_task(probe.run(), name=f"probe-{name}"),
        asyncio.create_task(pipeline.lag.run(), name=f"lag-{name}"),
    ]
    try:
        yield probe
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
