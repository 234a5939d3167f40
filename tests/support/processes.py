"""Processes and connections for tests: ``runledger`` run as a user runs it, and a TCP
proxy to cut or freeze a connection.

Every process a helper starts is stopped by the test that started it, by PID.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from sinks.postgres.settings import PostgresSettings

from support.waiting import wait_until

RUNLEDGER = (sys.executable, "-m", "consumer.cli")
"""The ``runledger`` command of the environment the tests run in."""


@dataclass(frozen=True)
class CliResult:
    code: int
    stdout: str
    stderr: str


async def runledger(
    *args: str, env: dict[str, str], cwd: Path | None = None, timeout: float = 60
) -> CliResult:
    """Run ``runledger ARGS`` as a user would, configured through the environment."""
    process = await asyncio.create_subprocess_exec(
        *RUNLEDGER, *args,
        env={**os.environ, **env}, cwd=cwd,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), timeout)
    assert process.returncode is not None
    return CliResult(process.returncode, out.decode(), err.decode())


class ConsumerProcess:
    """``runledger run`` in a subprocess, configured through the environment only."""

    def __init__(self, env: dict[str, str], workdir: Path, log_name: str) -> None:
        self._env = {**os.environ, **env}
        self._workdir = workdir
        self._log = workdir / log_name
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> ConsumerProcess:
        with self._log.open("ab") as log:
            self.process = subprocess.Popen(
                [*RUNLEDGER, "run"],
                env=self._env,
                cwd=self._workdir,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return self

    def signal(self, sig: signal.Signals) -> None:
        assert self.process is not None
        self.process.send_signal(sig)

    async def wait(self, timeout: float) -> int:
        assert self.process is not None
        return await asyncio.wait_for(asyncio.to_thread(self.process.wait), timeout)

    def output(self) -> str:
        return self._log.read_text(errors="replace")

    async def logged(self, text: str, what: str, timeout: float = 30.0) -> None:
        """Wait until the process has logged ``text`` (fails naming ``what``)."""

        async def seen() -> bool:
            return text in self.output()

        await wait_until(seen, timeout, what)

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def consumer_env(
    bootstrap: str, topic: str, postgres: PostgresSettings, group_prefix: str, **extra: str
) -> dict[str, str]:
    """The environment of ``runledger run`` into PostgreSQL, with the tests' short timings."""
    return {
        "RUNLEDGER_SINKS": "postgres",
        "RUNLEDGER_KAFKA__BOOTSTRAP_SERVERS": bootstrap,
        "RUNLEDGER_KAFKA__TOPIC": topic,
        "RUNLEDGER_KAFKA__GROUP_ID_PREFIX": group_prefix,
        "RUNLEDGER_KAFKA__SESSION_TIMEOUT_MS": "6000",
        "RUNLEDGER_KAFKA__POLL_TIMEOUT_MS": "100",
        "RUNLEDGER_POSTGRES__URL": postgres.url.get_secret_value(),
        "RUNLEDGER_METRICS__PORT": "0",
        "RUNLEDGER_RETRY__INITIAL_BACKOFF_SECONDS": "0.05",
        "RUNLEDGER_RETRY__MAX_BACKOFF_SECONDS": "0.5",
        "RUNLEDGER_LOG__FORMAT": "json",
        **extra,
    }


class TcpProxy:
    """Forwards 127.0.0.1:<port> to a target; ``cut()`` drops every connection and refuses
    new ones until ``restore()``, like a network partition; ``freeze()`` keeps connections
    open (and accepts new ones) but forwards nothing until ``thaw()``, like a hung server."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self._target = (target_host, target_port)
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._cut = False
        self._thawed = asyncio.Event()
        self._thawed.set()
        self.port = 0

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    def cut(self) -> None:
        self._cut = True
        for writer in list(self._writers):
            writer.close()
        self._writers.clear()

    def restore(self) -> None:
        self._cut = False

    def freeze(self) -> None:
        self._thawed.clear()

    def thaw(self) -> None:
        self._thawed.set()

    async def stop(self) -> None:
        self.cut()
        self.thaw()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._cut:
            writer.close()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self._target)
        except OSError:
            writer.close()
            return
        self._writers.update((writer, up_writer))
        await asyncio.gather(
            self._pipe(reader, up_writer), self._pipe(up_reader, writer), return_exceptions=True
        )

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while not self._cut and (data := await reader.read(65536)):
                await self._thawed.wait()
                if self._cut:
                    break
                writer.write(data)
                await writer.drain()
        finally:
            self._writers.discard(writer)
            with contextlib.suppress(Exception):
                writer.close()
