"""A misspelt RUNLEDGER_* variable is reported at start-up instead of silently ignored."""

from __future__ import annotations

import json
import os
import selectors
import signal
import subprocess
import sys
import time
from pathlib import Path

from consumer.unknown_settings import unknown_variables


def test_unknown_variables_are_named_with_the_closest_setting(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("RUNLEDGER_LOG__LEVL=DEBUG\nRUNLEDGER_SINKS=postgres\n")
    environ = {
        "RUNLEDGER_KAFKA__BOOTSTRAP_SERVER": "kafka:9092",
        "RUNLEDGER_KAFKA__SASL_PASSWORD": "hunter2",
        "runledger_postgres__url": "sqlite:///x.db",  # case-insensitive, as pydantic reads it
        "PATH": "/usr/bin",
    }

    problems = unknown_variables(environ, env_file)

    assert problems == [
        "RUNLEDGER_KAFKA__BOOTSTRAP_SERVER is not a runledger setting and is ignored; "
        "did you mean RUNLEDGER_KAFKA__BOOTSTRAP_SERVERS?",
        "RUNLEDGER_LOG__LEVL is not a runledger setting and is ignored; "
        "did you mean RUNLEDGER_LOG__LEVEL?",
    ]
    assert not any("hunter2" in p or "kafka:9092" in p for p in problems)


def _env(**extra: str) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("RUNLEDGER_")}
    return {**clean, **extra}


def test_migrate_warns_about_a_typo(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "consumer.cli", "migrate"], cwd=tmp_path, capture_output=True,
        text=True, timeout=60, check=False,
        env=_env(RUNLEDGER_POSTGRES__URL="sqlite:///l.db",
                 RUNLEDGER_POSTGRES__MIGRATE_ON_STRAT="1"),
    )  # fmt: skip

    assert result.returncode == 0, result.stderr
    assert (
        "runledger: warning: RUNLEDGER_POSTGRES__MIGRATE_ON_STRAT is not a runledger setting "
        "and is ignored; did you mean RUNLEDGER_POSTGRES__MIGRATE_ON_START?"
    ) in result.stderr


def test_run_logs_the_typo_at_start_up(tmp_path: Path) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "consumer.cli", "run"], cwd=tmp_path, stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE, text=True,
        env=_env(RUNLEDGER_POSTGRES__URL="sqlite:///l.db", RUNLEDGER_LOG__FORMAT="json",
                 RUNLEDGER_METRICS__PORT="0", RUNLEDGER_KAFKA__BOOTSTRAP_SERVER="kafka:9092",
                 RUNLEDGER_KAFKA__BOOTSTRAP_SERVERS="127.0.0.1:1"),
    )  # fmt: skip
    assert process.stderr is not None
    warnings: list[dict[str, str]] = []
    try:
        with selectors.DefaultSelector() as selector:
            selector.register(process.stderr, selectors.EVENT_READ)
            deadline = time.monotonic() + 60
            while not warnings and time.monotonic() < deadline:
                if not selector.select(timeout=deadline - time.monotonic()):
                    break
                line = process.stderr.readline()
                if not line:
                    break
                if line.startswith("{") and json.loads(line).get("event") == "unknown setting":
                    warnings.append(json.loads(line))
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)

    assert warnings, "no 'unknown setting' warning logged at start-up"
    assert warnings[0]["level"] == "warning"
    assert "RUNLEDGER_KAFKA__BOOTSTRAP_SERVER is not a runledger setting" in warnings[0]["problem"]
    assert "kafka:9092" not in warnings[0]["problem"]
