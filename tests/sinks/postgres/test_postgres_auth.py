"""A wrong password or missing privileges stop ``runledger run`` with one line naming the
setting to fix, instead of retrying forever with /readyz at 503 (issue 12, item 6).

The shared test server trusts local connections, so these tests start a private
PostgreSQL cluster that checks passwords (SCRAM), on a free port, stopped by PID.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest

from consumer.sandbox.embedded import free_port

from support.processes import runledger
from support.waiting import wait_until

PASSWORD = "right pw@1"
BIN = Path(
    subprocess.run(
        ["pg_config", "--bindir"], capture_output=True, text=True, check=True
    ).stdout.strip()
)


def _as_postgres(argv: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: run its programs as the postgres user then."""
    return ["runuser", "-u", "postgres", "--", *argv] if os.geteuid() == 0 else argv


@pytest.fixture(scope="module")
def private_postgres() -> Iterator[int]:
    """A private cluster with password authentication; yields its port.

    Its folder is outside pytest's (private to root), so the postgres user can enter it.
    """
    root = Path(tempfile.mkdtemp(prefix="runledger-pg-auth-"))
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
    pwfile = root / "pw"
    pwfile.write_text(PASSWORD + "\n")
    data, port = root / "data", free_port()
    subprocess.run(
        _as_postgres([str(BIN / "initdb"), "-D", str(data), "-A", "scram-sha-256",
                      "-U", "postgres", f"--pwfile={pwfile}"]),
        check=True, capture_output=True,
    )  # fmt: skip
    server = subprocess.Popen(
        _as_postgres([str(BIN / "postgres"), "-D", str(data), "-p", str(port),
                      "-c", "listen_addresses=127.0.0.1", "-c", f"unix_socket_directories={root}"]),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        asyncio.run(_prepare(port))
        yield port
    finally:
        server.terminate()
        server.wait(30)
        shutil.rmtree(root, ignore_errors=True)


async def _prepare(port: int) -> None:
    async def answers() -> bool:
        try:
            conn = await asyncpg.connect(
                host="127.0.0.1", port=port, user="postgres", password=PASSWORD, timeout=2
            )
        except (OSError, asyncpg.PostgresError):
            return False
        await conn.execute("CREATE DATABASE ledger")
        await conn.execute("CREATE ROLE reader LOGIN PASSWORD 'reader pw'")
        await conn.close()
        return True

    await wait_until(answers, what="the private PostgreSQL answers")


def _env(bootstrap: str, topic: str, url: str) -> dict[str, str]:
    return {
        "RUNLEDGER_SINKS": "postgres",
        "RUNLEDGER_KAFKA__BOOTSTRAP_SERVERS": bootstrap,
        "RUNLEDGER_KAFKA__TOPIC": topic,
        "RUNLEDGER_KAFKA__GROUP_ID_PREFIX": f"auth-{uuid.uuid4().hex[:6]}",
        "RUNLEDGER_POSTGRES__URL": url,
        "RUNLEDGER_METRICS__PORT": "0",
        "RUNLEDGER_LOG__FORMAT": "json",
    }


@pytest.mark.parametrize(
    ("credentials", "secret", "expected"),
    [
        ("postgres:wrong%20pw", "wrong pw",
         "authentication failed: fix the user and password in RUNLEDGER_POSTGRES__URL"),
        ("nobody:x-pw-123", "x-pw-123",
         "authentication failed: fix the user and password in RUNLEDGER_POSTGRES__URL"),
        ("reader:reader%20pw", "reader pw",
         "permission denied: grant the user of RUNLEDGER_POSTGRES__URL"),
    ],
)  # fmt: skip
async def test_run_stops_with_the_setting_to_fix(
    kafka_bootstrap: str,
    topic: str,
    private_postgres: int,
    tmp_path: Path,
    credentials: str,
    secret: str,
    expected: str,
) -> None:
    url = f"postgresql://{credentials}@127.0.0.1:{private_postgres}/ledger"
    if credentials.startswith("reader"):  # a schema the reader may not read
        migrated = await runledger(
            "migrate",
            env=_env(kafka_bootstrap, topic, url.replace(credentials, "postgres:right%20pw%401")),
            cwd=tmp_path,
        )
        assert migrated.code == 0, migrated.stderr
    result = await runledger("run", env=_env(kafka_bootstrap, topic, url), cwd=tmp_path)

    assert result.code == 2, result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith(
        "runledger: configuration error: the postgres sink cannot work as configured: " + expected
    ), last
    assert "Traceback" not in result.stderr
    lines = [json.loads(x) for x in result.stderr.splitlines() if x.startswith("{")]
    (stopped,) = [x for x in lines if x["event"] == "pipeline halted"]
    assert stopped["level"] == "error"
    assert expected in stopped["reason"]
    assert secret not in result.stderr + result.stdout
