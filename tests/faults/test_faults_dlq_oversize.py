"""A record too large to dead-letter whole is dead-lettered without its value: it never
stops its partition (issue 12, item 1).

The broker accepted it on the main topic, but the dead letter would be over the
dead-letter producer's request limit (4 MiB + 64 KiB with the default settings) or over
the dead-letter topic's ``max.message.bytes``. It is parked without its value, with
headers saying what was left out, why, and where the original lies; every good record
behind it is written and the offsets move past it.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from consumer import dead_letters as h
from sinks.postgres import PostgresSink
from sinks.postgres.settings import PostgresSettings

from support.events import valid_stream
from support.kafka import committed_offsets, create_topic, end_offsets, produce, read_topic
from support.pipelines import consuming, make_settings
from support.processes import runledger
from support.reference import check_ledger
from support.waiting import wait_until

LARGE_TOPIC_BYTES = 6_000_000


def _max_bytes(limit: int) -> dict[str, str]:
    return {"max.message.bytes": str(limit)}


@pytest.mark.parametrize(
    ("poison_bytes", "dead_letter_topic_bytes", "why"),
    [
        # The record: over the dead-letter producer's own request limit.
        (5_000_000, LARGE_TOPIC_BYTES, "over the dead-letter producer's request limit"),
        # Under that limit, but over the dead-letter topic's limit: the broker refuses it.
        (2_000_000, 1_048_588, "refused by the broker as too large for the dead-letter topic"),
    ],
)
async def test_a_record_too_large_to_dead_letter_whole_goes_without_its_value(
    kafka_bootstrap: str,
    postgres_settings: PostgresSettings,
    postgres_engine: AsyncEngine,
    tmp_path: Path,
    poison_bytes: int,
    dead_letter_topic_bytes: int,
    why: str,
) -> None:
    topic = f"telemetry-{uuid.uuid4().hex[:10]}"
    settings = make_settings(kafka_bootstrap, topic)
    await create_topic(kafka_bootstrap, topic, config=_max_bytes(LARGE_TOPIC_BYTES))
    dead_letter_topic = settings.dead_letter_topic
    await create_topic(
        kafka_bootstrap, dead_letter_topic, config=_max_bytes(dead_letter_topic_bytes)
    )
    good = valid_stream(runs=4, seed=71, duplicate_rate=0)
    poison = b'{"huge": "' + b"x" * (poison_bytes - 12) + b'"}'
    stream = [(b"k", v) for v in good[:7]] + [(b"poison-key", poison)]
    stream += [(b"k", v) for v in good[7:]]
    acks = await produce(
        kafka_bootstrap, topic, stream, [("origin", b"o")], max_request_size=LARGE_TOPIC_BYTES
    )
    group = settings.kafka.group_id("postgres")

    async with consuming(settings, [PostgresSink(postgres_settings)]):

        async def all_committed() -> bool:
            return await committed_offsets(kafka_bootstrap, group, topic) == end_offsets(acks)

        await wait_until(all_committed, what="offsets committed past the oversized record")
    (letter,) = await read_topic(kafka_bootstrap, settings.dead_letter_topic)
    headers = dict(letter.headers)
    assert not letter.value  # empty: left out
    assert letter.key == b"poison-key"
    assert headers["origin"] == b"o"
    assert headers[h.REASON] == b"too_large"
    assert headers[h.VALUE_BYTES] == str(len(poison)).encode()
    omitted = headers[h.OMITTED].decode()
    assert omitted.startswith("value left out (")
    assert why in omitted
    assert omitted.endswith(f"the original is at {topic}[0]@7")
    assert (headers[h.ORIGINAL_TOPIC], headers[h.ORIGINAL_OFFSET]) == (topic.encode(), b"7")
    await check_ledger(postgres_engine, good, faults=1, name="oversized dead letter")

    # Replaying it as it is would send an empty value: the CLI says where the original is.
    env = {"RUNLEDGER_KAFKA__BOOTSTRAP_SERVERS": kafka_bootstrap, "RUNLEDGER_KAFKA__TOPIC": topic}
    replayed = await runledger("dlq", "replay", "--all", env=env, cwd=tmp_path)
    assert replayed.code == 2
    shown = " ".join(replayed.stderr.replace("│", " ").split())  # a rich box
    assert f"read the original at {topic}[0]@7" in shown
