"""SQLite (the embedded default) runs through the very same write path."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from sinks.postgres import PostgresSink
from sinks.postgres.errors import SchemaNotReadyError
from sinks.postgres.migrate import upgrade
from sinks.postgres.settings import PostgresSettings
from sinks.postgres.tables import runs

from support.events import example_expected, example_lines, parse_time, sink_records


async def test_sqlite_reaches_the_expected_state_in_any_order(tmp_path: Path) -> None:
    settings = PostgresSettings(url=f"sqlite:///{tmp_path / 'ledger.db'}")
    sink = PostgresSink(settings)
    await upgrade(sink.engine)
    await sink.start()
    lines = example_lines()
    records = sink_records(lines)
    try:
        await sink.write(list(reversed(records)))
        result = await sink.write(records[:3])  # a replay of some
        assert result.duplicate_event_ids == {r.event.event_id for r in records[:3]}
        async with sink.engine.connect() as conn:
            row = (await conn.execute(select(runs))).mappings().one()
    finally:
        await sink.close()
    for key, value in example_expected()["run"].items():
        assert row[key] == (parse_time(value) if key.endswith("_at") else value), key


async def test_start_refuses_a_schema_that_is_behind(tmp_path: Path) -> None:
    settings = PostgresSettings(url=f"sqlite:///{tmp_path / 'empty.db'}")
    sink = PostgresSink(settings)
    try:
        with pytest.raises(SchemaNotReadyError, match="run `runledger migrate`"):
            await sink.start()
    finally:
        await sink.close()
