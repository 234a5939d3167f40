"""Peak resident memory of ``runledger run`` draining a backlog.

The consumer runs as its own process, exactly as deployed, so the figure is its
memory and not the benchmark's. Its peak (``VmHWM`` in ``/proc/<pid>/status``) is
read until it has handled the whole backlog; progress comes from its own
``/metrics`` endpoint.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from consumer.sandbox.embedded import free_port

# Every record handled, whatever the outcome (written, duplicate, dead-lettered).
_HANDLED = re.compile(rb"^runledger_messages_total\{[^}]*\} (\S+)$", re.M)


@dataclass(frozen=True)
class DrainResult:
    """What draining the backlog took: peak memory, time and how many records were handled."""

    peak_rss_mb: float
    seconds: float
    handled: int


def peak_rss_kib(pid: int) -> int:
    """``VmHWM`` of a process: the most resident memory it has used so far."""
    status = Path(f"/proc/{pid}/status").read_text()
    match = re.search(r"^VmHWM:\s+(\d+) kB$", status, re.M)
    if match is None:
        raise RuntimeError(f"no VmHWM in /proc/{pid}/status")
    return int(match.group(1))


def _handled(port: int) -> int:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as response:
            body: bytes = response.read()
    except OSError:
        return 0  # not listening yet
    return int(sum(float(value) for value in _HANDLED.findall(body)))


async def drain_backlog(env: dict[str, str], backlog: int, timeout: float) -> DrainResult:
    """Run ``runledger run`` with ``env`` until it handled ``backlog`` events, then stop it."""
    port = free_port()
    child_env = {
        **os.environ,
        **env,
        "RUNLEDGER_METRICS__HOST": "127.0.0.1",
        "RUNLEDGER_METRICS__PORT": str(port),
        "RUNLEDGER_LOG__LEVEL": "WARNING",
    }
    with tempfile.TemporaryFile() as errors:  # a pipe nobody reads could fill up
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "consumer.cli", "run",
            env=child_env, stdout=asyncio.subprocess.DEVNULL, stderr=errors,
        )  # fmt: skip
        started = time.perf_counter()
        peak = handled = 0
        try:
            while handled < backlog:
                if process.returncode is not None:
                    errors.seek(0)
                    tail = errors.read().decode(errors="replace").strip()[-500:]
                    raise RuntimeError(f"runledger run exited early: {tail}")
                if time.perf_counter() - started > timeout:
                    break
                peak = max(peak, peak_rss_kib(process.pid))
                handled = await asyncio.to_thread(_handled, port)
                await asyncio.sleep(0.5)
            peak = max(peak, peak_rss_kib(process.pid))
            seconds = time.perf_counter() - started
        finally:
            if process.returncode is None:
                process.send_signal(signal.SIGTERM)
                try:
                    async with asyncio.timeout(30):
                        await process.wait()
                except TimeoutError:
                    process.kill()
                    await process.wait()
    return DrainResult(peak / 1024, seconds, handled)
