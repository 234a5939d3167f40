"""Checking whether the schema is current logs nothing: retries must not repeat alembic's banner."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from sinks.postgres.engine import create_engine
from sinks.postgres.migrate import pending_revisions
from sinks.postgres.settings import PostgresSettings


async def test_a_schema_check_logs_no_alembic_lines(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    engine = create_engine(PostgresSettings(url=f"sqlite:///{tmp_path / 'l.db'}"))
    try:
        with caplog.at_level(logging.INFO):
            for _ in range(3):  # as a consumer waiting for `runledger migrate` does
                assert await pending_revisions(engine) == ["0004", "0003", "0002", "0001"]
    finally:
        await engine.dispose()

    assert [r.getMessage() for r in caplog.records if r.name.startswith("alembic")] == []
