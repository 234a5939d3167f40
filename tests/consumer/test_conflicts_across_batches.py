"""A conflicting version of an event id in a later batch, through the real pipelines
(issue 12, item 3): in either order, each sink dead-letters the losing version once, with
reason ``conflicting_duplicate``, and counts it; a winner arriving second displaces the
stored loser, which is dead-lettered with its canonical JSON."""

from __future__ import annotations

import json

import pytest

from consumer import dead_letters as h
from consumer.metrics import Metrics
from contracts import canonical, decode_event
from sinks.graph import GraphSink
from sinks.graph.settings import GraphSettings
from sinks.postgres import PostgresSink
from sinks.postgres.settings import PostgresSettings

from support.kafka import committed_offsets, end_offsets, produce, read_topic
from support.pipelines import consuming, make_settings, metric
from support.waiting import wait_until

_TWIN = {"schema_version": 1, "event_id": "e-twin", "type": "task-start",
         "occurred_at": "2025-11-14T15:00:00Z"}  # fmt: skip
WINNER = json.dumps({**_TWIN, "run_id": "run-a", "task_id": "t-a"}).encode()
LOSER = json.dumps({**_TWIN, "run_id": "run-b", "task_id": "t-b"}).encode()
SINKS = ("postgres", "graph")


@pytest.mark.parametrize("order", ["winner first", "loser first"])
async def test_the_loser_is_dead_lettered_once_in_either_order(
    kafka_bootstrap: str,
    topic: str,
    postgres_settings: PostgresSettings,
    falkordb_graph: GraphSettings,
    order: str,
) -> None:
    first, second = (WINNER, LOSER) if order == "winner first" else (LOSER, WINNER)
    settings = make_settings(kafka_bootstrap, topic)
    metrics = Metrics()
    async with consuming(
        settings, [PostgresSink(postgres_settings), GraphSink(falkordb_graph)], metrics
    ):
        acks = []
        for value in (first, second):  # one batch each: the second waits for the first
            acks += await produce(kafka_bootstrap, topic, [(b"k", value)])
            ends = end_offsets(acks)
            for sink in SINKS:
                group = settings.kafka.group_id(sink)

                async def committed(group: str = group, ends: dict[int, int] = ends) -> bool:
                    return await committed_offsets(kafka_bootstrap, group, topic) == ends

                await wait_until(committed, what=f"{sink} committed {len(acks)} record(s)")

        letters = await read_topic(kafka_bootstrap, settings.dead_letter_topic)
    loser = canonical(decode_event(LOSER)).encode()
    for sink in SINKS:
        (letter,) = [x for x in letters if dict(x.headers)[h.SINK] == sink.encode()]
        headers = dict(letter.headers)
        assert headers[h.REASON] == b"conflicting_duplicate", sink
        assert metric(metrics, "runledger_conflicting_duplicates_total", sink=sink) == 1
        if order == "winner first":  # the record itself, where it lies
            assert letter.value == LOSER
            assert headers[h.ORIGINAL_OFFSET] == str(acks[1].offset).encode()
        else:  # the stored version, as canonical JSON, from where it was written if known
            assert letter.value == loser
            assert headers[h.ERROR_CLASS] == b"DisplacedDuplicate"
            expected = str(acks[0].offset) if sink == "postgres" else "unknown"
            assert headers[h.ORIGINAL_OFFSET] == expected.encode(), sink
