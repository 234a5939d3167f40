"""The installed ``runledger`` command works end to end without any server (SQLite only).

.ci/lowest-bounds.sh runs these (with test_cli_help.py and test_unknown_settings.py)
against the lowest versions pyproject.toml allows, so a wrong lower bound fails CI.
"""

from __future__ import annotations

import os
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path


def runledger(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("RUNLEDGER_")}
    return subprocess.run(
        [sys.executable, "-m", "consumer.cli", *args], cwd=cwd, env={**clean, **env},
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def test_version_prints_the_package_version(tmp_path: Path) -> None:
    result = runledger("--version", cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    assert result.stdout == f"runledger {version('runledger')}\n"


def test_help_lists_every_command(tmp_path: Path) -> None:
    result = runledger("--help", cwd=tmp_path, COLUMNS="120")

    assert result.returncode == 0, result.stderr
    for command in ("run", "migrate", "publish", "runs", "dlq", "reconcile", "demo", "bench"):
        assert f" {command} " in result.stdout, command


def test_migrate_then_list_on_sqlite(tmp_path: Path) -> None:
    url = "sqlite:///ledger.db"

    migrated = runledger("migrate", cwd=tmp_path, RUNLEDGER_POSTGRES__URL=url)
    again = runledger("migrate", cwd=tmp_path, RUNLEDGER_POSTGRES__URL=url)
    listed = runledger("runs", "list", cwd=tmp_path, RUNLEDGER_POSTGRES__URL=url)

    assert migrated.returncode == 0, migrated.stderr
    assert "applied 0001, 0002" in migrated.stdout
    assert "schema already current" in again.stdout
    assert listed.returncode == 0, listed.stderr
    assert "no runs in the ledger yet" in listed.stdout


def test_a_configuration_error_is_one_line_with_exit_code_2(tmp_path: Path) -> None:
    result = runledger("migrate", cwd=tmp_path, RUNLEDGER_POSTGRES__URL="mysql://x")

    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
