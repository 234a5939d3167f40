"""``runledger demo`` as a user runs it: a real process, its engines, Ctrl-C, its files."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from subprocess import Popen

import httpx
from prometheus_client.parser import text_string_to_metric_families

from consumer.sandbox.stream import generate

RUNLEDGER = Path(sys.executable).with_name("runledger")


def _children(pid: int) -> set[int]:
    """PIDs whose parent is ``pid`` (the servers the demo started)."""
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.add(int(stat.parent.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


class Output:
    """Collects a process's output in a thread, so the test can wait for a line."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.text = ""
        self._process = process
        self._thread = threading.Thread(target=self._pump, daemon=True)
        self._thread.start()

    def _pump(self) -> None:
        assert self._process.stdout is not None
        for line in self._process.stdout:
            self.text += line

    def all(self, timeout: float = 10.0) -> str:
        """Everything the process wrote, once it exited and its pipe is drained."""
        self._thread.join(timeout)
        return self.text

    def wait_for(self, marker: str, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while marker not in self.text:
            if time.monotonic() > deadline or self._process.poll() is not None:
                raise AssertionError(f"no {marker!r} in the demo's output:\n{self.text}")
            time.sleep(0.1)
        return self.text


def _env(home: Path, **settings: str) -> dict[str, str]:
    """The environment without the user's runledger and Tansu settings, unbuffered."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RUNLEDGER_", "CALF_"))}
    return {**env, "HOME": str(home), "PYTHONUNBUFFERED": "1", **settings}


@contextlib.contextmanager
def _demo(cwd: Path, env: dict[str, str], *args: str) -> Iterator[tuple[Popen[str], Output]]:
    """``runledger demo ARGS`` running, its output collected; killed on exit if still up."""
    process = subprocess.Popen(
        [str(RUNLEDGER), "demo", *args],
        cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        yield process, Output(process)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def _interrupt(process: Popen[str]) -> None:
    """Ctrl-C, and wait for the demo to exit."""
    process.send_signal(signal.SIGINT)
    process.wait(timeout=30)


def test_demo_keeps_running_until_ctrl_c_and_then_leaves_nothing_behind(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    env = _env(
        home,
        COLUMNS="160",
        # The demo must not use the user's settings: these would point it nowhere.
        RUNLEDGER_KAFKA__BOOTSTRAP_SERVERS="127.0.0.1:1",
        RUNLEDGER_POSTGRES__URL="postgresql://nobody@127.0.0.1:1/nothing",
        RUNLEDGER_SINKS="nonexistent",
    )
    args = ["--runs", "30", "--seed", "5", "--keep-running", "--workdir", "demo-files"]
    with _demo(tmp_path, env, *args) as (process, output):
        text = output.wait_for("Ctrl-C to stop", timeout=60)
        servers = _children(process.pid)
        assert servers, "the demo started no server processes"

        expected = generate(30, seed=5).expected
        assert re.search(rf"all runs\s+{expected.runs}\b", text), text
        assert re.search(rf"total\s+{expected.tokens_total:,}\b", text), text
        assert f"{expected.poison} records on orchestration.telemetry.dlq" in text

        metrics_url = re.search(r"http://127\.0\.0\.1:\d+/metrics", text)
        assert metrics_url, text
        scraped = httpx.get(metrics_url.group(0), timeout=5).text
        handled = sum(
            sample.value
            for family in text_string_to_metric_families(scraped)
            for sample in family.samples
            if sample.name == "runledger_messages_total" and sample.labels["sink"] == "postgres"
        )
        assert handled == expected.published - expected.poison

        _interrupt(process)
    assert process.returncode == 0, output.text
    assert output.all().rstrip().endswith("stopped the pipelines and every engine the demo started")
    assert not [pid for pid in servers if _alive(pid)], "servers left running"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["demo-files", "home"]
    assert list(home.iterdir()) == [], "the demo wrote into the home directory"
    left = {p.name for p in (tmp_path / "demo-files").iterdir()}
    assert "runledger.db" in left
    assert left <= {"runledger.db", "runledger.log", "tansu.log", "falkordb.log"}


def test_a_missing_broker_binary_is_one_line_and_leaves_no_files(tmp_path: Path) -> None:
    env = {**os.environ, "HOME": str(tmp_path), "CALF_TANSU_BIN": str(tmp_path / "no-tansu")}
    done = subprocess.run(
        [str(RUNLEDGER), "demo", "--runs", "5", "--workdir", "wd"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 1
    assert done.stderr == (
        f"runledger: cannot start the embedded broker: CALF_TANSU_BIN="
        f"'{tmp_path / 'no-tansu'}' does not point at an executable file.\n"
    )
    assert [p.name for p in tmp_path.iterdir()] == ["wd"]
    assert list((tmp_path / "wd").iterdir()) == []


def test_ctrl_c_while_consuming_stops_every_process(tmp_path: Path) -> None:
    log = tmp_path / "wd" / "runledger.log"
    with _demo(tmp_path, _env(tmp_path), "--runs", "800", "--workdir", "wd") as (process, output):
        deadline = time.monotonic() + 60
        while '"pipeline started"' not in (log.read_text() if log.exists() else ""):
            assert process.poll() is None, output.text
            assert time.monotonic() < deadline, output.text
            time.sleep(0.1)
        servers = _children(process.pid)
        assert servers
        _interrupt(process)
    assert process.returncode == 130, output.text
    assert "interrupted: stopped the pipelines and every engine the demo started" in output.all()
    assert not [pid for pid in servers if _alive(pid)], "servers left running"
    assert [p.name for p in tmp_path.iterdir()] == ["wd"]
