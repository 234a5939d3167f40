"""Records framed by a schema-registry serializer are written, their schema id kept."""

from __future__ import annotations

import json
import struct

from sqlalchemy import select

from sinks.postgres import PostgresSink
from sinks.postgres.tables import run_events

from support.events import example_lines
from support.kafka import keyed_by_run, produce
from support.pipelines import Flow, consuming, make_settings, metric
from support.postgres import count_events
from support.waiting import wait_until

SCHEMA_ID = 7


async def test_framed_json_is_decoded_and_the_schema_id_is_on_the_event_row(
    flow: Flow,
) -> None:
    lines = example_lines()
    framed = [b"\x00" + struct.pack(">I", SCHEMA_ID) + line for line in lines[:5]]
    await produce(flow.bootstrap, flow.topic, keyed_by_run(framed + lines[5:]))
    settings = make_settings(flow.bootstrap, flow.topic)

    async with consuming(settings, [PostgresSink(flow.postgres)]) as metrics:

        async def all_written() -> bool:
            return await count_events(flow.engine) == len(lines)

        await wait_until(all_written, what="every event, framed or not, in run_events")
        assert metric(metrics, "runledger_decode_failures_total", sink="postgres",
                      reason="not_json") == 0  # fmt: skip

    async with flow.engine.connect() as conn:
        rows = (await conn.execute(select(run_events))).mappings().all()
    schema_ids = {r["event_id"]: r["schema_id"] for r in rows}
    framed_ids = {_event_id(line) for line in lines[:5]}
    assert {e for e, s in schema_ids.items() if s == SCHEMA_ID} == framed_ids
    assert {e for e, s in schema_ids.items() if s is None} == {_event_id(x) for x in lines[5:]}
    assert all(isinstance(r["payload"], dict) for r in rows)  # the JSON, not the header


def _event_id(line: bytes) -> str:
    event_id: str = json.loads(line)["event_id"]
    return event_id
