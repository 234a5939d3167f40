"""Settings: environment names, clear one-line errors, secrets never shown."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from consumer.config import ConfigurationError, build_sinks, load_settings
from sinks.postgres.settings import PostgresSettings


def test_nested_variables_and_comma_separated_sinks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RUNLEDGER_KAFKA__BOOTSTRAP_SERVERS", "k1:9092,k2:9092")
    monkeypatch.setenv("RUNLEDGER_SINKS", "postgres, graph")
    monkeypatch.setenv("RUNLEDGER_KAFKA__SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("RUNLEDGER_KAFKA__SASL_MECHANISM", "SCRAM-SHA-512")
    monkeypatch.setenv("RUNLEDGER_KAFKA__SASL_USERNAME", "svc")
    monkeypatch.setenv("RUNLEDGER_KAFKA__SASL_PASSWORD", "hunter2")
    settings = load_settings()
    assert settings.kafka.bootstrap_servers == "k1:9092,k2:9092"
    assert settings.sinks == ["postgres", "graph"]
    assert settings.kafka.group_id("graph") == "runledger-graph"
    assert settings.dead_letter_topic == "orchestration.telemetry.dlq"
    assert "hunter2" not in repr(settings)
    assert "hunter2" not in str(settings.model_dump())


def test_a_wrong_setting_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RUNLEDGER_KAFKA__MAX_BATCH_RECORDS", "lots")
    with pytest.raises(ConfigurationError, match=r"^RUNLEDGER_KAFKA__MAX_BATCH_RECORDS: "):
        load_settings()


def test_sasl_without_credentials_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RUNLEDGER_KAFKA__SECURITY_PROTOCOL", "SASL_PLAINTEXT")
    with pytest.raises(ConfigurationError, match="RUNLEDGER_KAFKA: sasl_mechanism is required"):
        load_settings()


def test_unknown_sink_lists_the_installed_ones() -> None:
    with pytest.raises(
        ConfigurationError, match=r"unknown sink 'kafka-connect' \(installed: .*postgres"
    ):
        build_sinks(["kafka-connect"])


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"RUNLEDGER_POSTGRES__URL": "not a url at all"},
         "runledger: configuration error: RUNLEDGER_POSTGRES__URL: "),
        ({"RUNLEDGER_POSTGRES__URL": "postgresql://nobody@127.0.0.1:1/none"},
         "runledger: error: cannot reach the database"),
    ],
)  # fmt: skip
def test_cli_reports_user_errors_in_one_line(env: dict[str, str], expected: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "consumer.cli", "migrate"],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith(expected), result.stderr


def test_database_passwords_are_masked_and_overridable() -> None:
    settings = PostgresSettings(
        url="postgresql://app:inurl@db:5432/ledger?sslmode=require",
        password="fromsecret",
    )
    assert settings.sqlalchemy_url().drivername == "postgresql+asyncpg"
    assert settings.sqlalchemy_url().password == "fromsecret"
    assert "fromsecret" not in settings.display_url()
    assert "inurl" not in settings.display_url()
