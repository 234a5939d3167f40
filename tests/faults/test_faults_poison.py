"""Poison records between good ones: every good record is written, every poison record is in
the dead-letter topic with its reason headers, offsets are committed past all of them, and
``runledger dlq replay`` of a corrected record brings it in."""

from __future__ import annotations

import json
from pathlib import Path

from consumer import dead_letters as h
from sinks.postgres import PostgresSink
from sinks.postgres.queries import get_run

from support.events import encode, event, valid_stream
from support.kafka import committed_offsets, end_offsets, keyed_by_run, produce, read_topic
from support.pipelines import Flow, consuming, make_settings
from support.postgres import count_events
from support.processes import runledger
from support.reference import check_ledger
from support.waiting import wait_until

MAX_BYTES = 16_384
ORIGIN = ("origin", b"poison-test")


RUN, NUL_RUN = "run-poison", "run-nul"
# (value, stage, reason, error class) of each poison record.
POISON = [
    (b'{"schema_version": 1, "event_id": "p1", "type": "run', "decode", "not_json", "DecodeError"),
    (b"[1, 2, 3]", "decode", "not_object", "DecodeError"),
    (encode(event("task-result", RUN, task_id="t", status="success", tokens={"input": "many"})),
     "validate", "invalid", "DecodeError"),
    (encode(event("task-exploded", RUN)), "validate", "unknown_type", "DecodeError"),
    (encode(event("run-start", RUN, schema_version=2)),
     "validate", "unsupported_schema_version", "DecodeError"),
    (encode(event("run-start", RUN, title="x" * (MAX_BYTES + 100))),
     "decode", "too_large", "DecodeError"),
    (encode(event("task-start", NUL_RUN, task_id="t1", title="bad\u0000title")),
     "sink", "rejected_by_sink", "PermanentSinkError"),
]  # fmt: skip


async def test_poison_records_are_dead_lettered_and_a_fixed_one_replays(
    flow: Flow,
    tmp_path: Path,
) -> None:
    good = valid_stream(runs=20, seed=41)
    stream = keyed_by_run(good)
    step = len(stream) // (len(POISON) + 1)
    for n, (value, *_) in enumerate(POISON):  # spread between good records
        stream.insert((n + 1) * step + n, (f"poison-{n}".encode(), value))
    acks = await produce(flow.bootstrap, flow.topic, stream, [ORIGIN], max_request_size=2**20)
    where = {value: ack for (_, value), ack in zip(stream, acks, strict=True)}
    settings = make_settings(flow.bootstrap, flow.topic, max_message_bytes=MAX_BYTES)
    group = settings.kafka.group_id("postgres")
    dlq = settings.dead_letter_topic

    async with consuming(settings, [PostgresSink(flow.postgres)]):

        async def good_ones_written() -> bool:
            return await count_events(flow.engine) == len(set(good))

        async def all_committed() -> bool:
            return await committed_offsets(flow.bootstrap, group, flow.topic) == end_offsets(acks)

        await wait_until(good_ones_written, what="every good record")
        await wait_until(all_committed, what="offsets committed past every poison record")
        letters = await read_topic(flow.bootstrap, dlq)
        originals = {
            (r.partition, r.offset): r for r in await read_topic(flow.bootstrap, flow.topic)
        }
        assert len(letters) == len(POISON)
        by_value = {letter.value: letter for letter in letters}
        for value, stage, reason, error_class in POISON:
            letter, ack = by_value[value], where[value]
            headers = dict(letter.headers)
            assert letter.key == stream[acks.index(ack)][0]
            assert headers[ORIGIN[0]] == ORIGIN[1]
            assert (headers[h.STAGE], headers[h.REASON]) == (stage.encode(), reason.encode())
            assert headers[h.ERROR_CLASS] == error_class.encode()
            assert headers[h.MESSAGE]
            assert headers[h.ORIGINAL_TOPIC] == flow.topic.encode()
            assert headers[h.ORIGINAL_PARTITION] == str(ack.partition).encode()
            assert headers[h.ORIGINAL_OFFSET] == str(ack.offset).encode()
            original = originals[(ack.partition, ack.offset)]
            assert headers[h.ORIGINAL_TIMESTAMP] == str(original.timestamp).encode()
            assert headers[h.SINK] == b"postgres"
            assert headers[h.FAILED_AT].startswith(b"20")
        await check_ledger(flow.engine, good, faults=len(POISON), name="poison records")

        # The operator finds the rejected record, fixes the value and replays it.
        env = {
            "RUNLEDGER_KAFKA__BOOTSTRAP_SERVERS": flow.bootstrap,
            "RUNLEDGER_KAFKA__TOPIC": flow.topic,
        }
        found = await runledger(
            "dlq", "inspect", "--stage", "sink", "--json", env=env, cwd=tmp_path
        )
        assert found.code == 0, found.stderr
        (listed,) = [json.loads(line) for line in found.stdout.splitlines()]
        assert listed["run_id"] == NUL_RUN
        assert listed["error_class"] == "PermanentSinkError"
        assert "SQLSTATE 22" in listed["message"]
        fixed = tmp_path / "fixed.json"
        fixed.write_text(listed["value"].replace("\\u0000", ""))  # the JSON escape
        replayed = await runledger(
            "dlq", "replay", "--offset", listed["position"], "--value-file", str(fixed),
            env=env, cwd=tmp_path,
        )  # fmt: skip
        assert replayed.code == 0, replayed.stderr
        assert "replayed 1 record(s)" in replayed.stdout

        async def nul_run_written() -> bool:
            return await get_run(flow.engine, NUL_RUN) is not None

        await wait_until(nul_run_written, what="the replayed record in the ledger")
    detail = await get_run(flow.engine, NUL_RUN)
    assert detail is not None
    assert [t["title"] for t in detail.tasks] == ["badtitle"]
    records = await read_topic(flow.bootstrap, flow.topic)
    assert len(records) == len(stream) + 1
    (replay,) = [r for r in records if any(k.startswith("runledger.replay.") for k, _ in r.headers)]
    names = [k for k, _ in replay.headers]
    assert names == [ORIGIN[0], "runledger.replay.source", "runledger.replay.at"]
    assert dict(replay.headers)["runledger.replay.source"] == f"{dlq}:{listed['position']}".encode()
