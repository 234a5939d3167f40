"""The adversarial corpus: hostile records, each with the outcome it must have in every sink.

``hostile_records.jsonl`` holds one record per line: its ``value`` (a JSON object, or raw
``text``, ``hex`` bytes or repeated ``text_repeat`` pieces; ``fill`` pads a field to a
length), the expected ``outcome`` (``written``, ``duplicate`` or ``dead_lettered``) and,
for a dead letter, its ``stage`` and ``reason``. The records are sent between nothing
else, both sinks consume them, and each sink must end with exactly the written ones
(checked against the reference model) and a dead letter for each of the others.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from consumer import dead_letters as h
from consumer.metrics import Metrics
from contracts import DecodeError, decode_event
from sinks.graph import GraphSink
from sinks.graph.settings import GraphSettings
from sinks.postgres import PostgresSink
from sinks.postgres.tables import runs

from support.graph import query
from support.kafka import committed_offsets, end_offsets, produce, read_topic
from support.pipelines import Flow, consuming, make_settings, metric
from support.reference import check_graph, check_ledger
from support.waiting import wait_until

CORPUS = Path(__file__).with_name("hostile_records.jsonl")
MAX_MESSAGE_BYTES = 65_536
KEY = b"corpus"  # one partition: the order below is the order each sink reads


@dataclass(frozen=True)
class Hostile:
    name: str
    value: bytes
    outcome: str
    stage: str | None
    reason: str | None


def _fill(value: dict[str, Any], fill: dict[str, Any]) -> None:
    *parents, last = fill["field"].split(".")
    for part in parents:
        value = value[part]
    value[last] = fill["char"] * fill["count"]


def _value(line: dict[str, Any]) -> bytes:
    if "value" in line:
        value = line["value"]
        if "fill" in line:
            _fill(value, line["fill"])
        return json.dumps(value).encode()
    if "hex" in line:
        return bytes.fromhex(line["hex"])
    if "text_repeat" in line:
        return "".join(piece * count for piece, count in line["text_repeat"]).encode()
    return str(line["text"]).encode()


def load_corpus() -> list[Hostile]:
    lines = [json.loads(text) for text in CORPUS.read_text(encoding="utf-8").splitlines()]
    return [
        Hostile(line["name"], _value(line), line["outcome"], line.get("stage"), line.get("reason"))
        for line in lines
    ]


HOSTILE = load_corpus()
WRITTEN = [r.value for r in HOSTILE if r.outcome == "written"]
LETTERS = [r for r in HOSTILE if r.outcome == "dead_lettered"]
DUPLICATES = sum(r.outcome == "duplicate" for r in HOSTILE)


@pytest.mark.parametrize("record", HOSTILE, ids=[r.name for r in HOSTILE])
def test_each_record_decodes_as_the_corpus_says(record: Hostile) -> None:
    """Decode-stage outcomes hold without any service (the fast half of the corpus)."""
    refused_by_decoder = record.outcome == "dead_lettered" and record.stage != "sink"
    if record.reason == "conflicting_duplicate" or not refused_by_decoder:
        decode_event(record.value, max_bytes=MAX_MESSAGE_BYTES)  # valid on its own
        return
    with pytest.raises(DecodeError) as caught:
        decode_event(record.value, max_bytes=MAX_MESSAGE_BYTES)
    assert caught.value.reason.value == record.reason
    assert "\n" not in caught.value.message


async def test_both_sinks_give_every_hostile_record_its_outcome(
    flow: Flow,
    graph_settings: GraphSettings,
) -> None:
    acks = await produce(
        flow.bootstrap, flow.topic, [(KEY, r.value) for r in HOSTILE], max_request_size=2**20
    )
    settings = make_settings(flow.bootstrap, flow.topic, max_message_bytes=MAX_MESSAGE_BYTES)
    graph = GraphSink(graph_settings)
    metrics = Metrics()
    async with consuming(settings, [PostgresSink(flow.postgres), graph], metrics):
        for sink in ("postgres", "graph"):
            group = settings.kafka.group_id(sink)

            async def committed(group: str = group) -> bool:
                return await committed_offsets(flow.bootstrap, group, flow.topic) == end_offsets(
                    acks
                )

            await wait_until(committed, what=f"{sink}: offsets past every hostile record")

        letters = await read_topic(flow.bootstrap, settings.dead_letter_topic)
        for sink in ("postgres", "graph"):
            mine = {
                int(dict(x.headers)[h.ORIGINAL_OFFSET]): dict(x.headers)
                for x in letters
                if dict(x.headers)[h.SINK] == sink.encode()
            }
            got = {
                HOSTILE[acks.index(a)].name: (
                    mine[a.offset][h.STAGE].decode(),
                    mine[a.offset][h.REASON].decode(),
                )
                for a in acks
                if a.offset in mine
            }
            assert got == {r.name: (r.stage, r.reason) for r in LETTERS}, sink
            outcomes: Counter[str] = Counter()
            for event_type in ("run-start", "task-start", "task-result", "run-finalized"):
                for outcome in ("written", "duplicate"):
                    outcomes[outcome] += int(
                        metric(metrics, "runledger_messages_total", sink=sink, type=event_type,
                               outcome=outcome)
                    )  # fmt: skip
            assert outcomes == {"written": len(WRITTEN), "duplicate": DUPLICATES}, sink
            conflicts = metric(metrics, "runledger_conflicting_duplicates_total", sink=sink)
            assert conflicts == sum(r.reason == "conflicting_duplicate" for r in LETTERS)

        await check_ledger(flow.engine, WRITTEN, faults=len(LETTERS), name="corpus, postgres")
        await check_graph(graph, WRITTEN, faults=len(LETTERS), name="corpus, graph")
        async with flow.engine.connect() as conn:
            run_ids = set((await conn.execute(select(runs.c.run_id))).scalars())
        graph_run_ids = {row[0] for row in await query(graph, "MATCH (r:Run) RETURN r.id")}
        assert "zz-phantom-run" not in run_ids | graph_run_ids  # nothing of the losing version
        assert run_ids == graph_run_ids
