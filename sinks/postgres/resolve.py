"""Event ids of a batch the ledger already holds: repeats, losers and replacements.

Runs inside the batch's transaction, after the batch's events were inserted with
``ON CONFLICT DO NOTHING`` (which waited for any concurrent writer of the same ids):

1. the held rows' digests are read (by the writer, one query, no lock); an equal digest
   is a repeat, the common case;
2. rows with another digest are locked (``FOR UPDATE``, in ``event_id`` order) and read
   again, so the version compared is the current one whatever other writers do; the
   rule of ``contracts.canonical`` says whether the batch's version is a repeat, loses,
   or replaces the stored one;
3. a replacement locks the runs of both versions, in ``run_id`` order, before it reads
   their events: a concurrent writer of those runs has either committed its events (and
   they are read) or waits for the run lock (and merges into the rebuilt rows). It then
   overwrites the ledger row and deletes the runs' derived rows, which the writer builds
   again from every stored event of those runs.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Text, bindparam, cast, delete, select, update

from contracts import Event
from sinks.base import Displaced, SinkRecord
from sinks.conflicts import Verdict, decode_stored, digest, displaced, judge, loser_message, where
from sinks.postgres.tables import run_events, runs, task_executions


@dataclass
class Resolution:
    """What became of the held event ids, and the runs to build again from scratch."""

    duplicates: set[str] = field(default_factory=set)
    conflicts: dict[str, str] = field(default_factory=dict)
    displaced: list[Displaced] = field(default_factory=list)
    rebuilt_runs: frozenset[str] = frozenset()
    rebuilt_events: list[Event] = field(default_factory=list)


def resolve_held(
    conn: Connection,
    held: Sequence[SinkRecord],
    stored_digests: Mapping[str, bytes | None],
    rows: Mapping[str, dict[str, Any]],
) -> Resolution:
    """Sort the held records into repeats, losers and replacements; apply replacements.

    ``stored_digests`` are the held rows' ``value_sha256``, ``rows`` the ledger rows the
    batch tried to insert, both by event id.
    """
    resolution = Resolution()
    differing = []
    for record in held:
        if stored_digests.get(record.event.event_id) == digest(record.value):
            resolution.duplicates.add(record.event.event_id)
        else:
            differing.append(record)
    if differing:
        winners = _judge_locked(conn, differing, resolution)
        if winners:
            _replace(conn, winners, rows, resolution)
    return resolution


_Replacement = tuple[SinkRecord, Event]


def _judge_locked(
    conn: Connection, records: Sequence[SinkRecord], resolution: Resolution
) -> list[_Replacement]:
    """Rank each record against the stored version, read under its row lock."""
    e = run_events.c
    query = (
        select(
            e.event_id, cast(e.payload, Text), e.source_topic, e.source_partition, e.source_offset
        )
        .where(e.event_id.in_([r.event.event_id for r in records]))
        .order_by(e.event_id)
        .with_for_update()
    )
    stored = {row[0]: row[1:] for row in conn.execute(query)}
    winners = []
    for record in records:
        payload, topic, partition, offset = stored[record.event.event_id]
        version = decode_stored(payload)
        verdict = judge(record.event, version)
        if verdict is Verdict.SAME:
            resolution.duplicates.add(record.event.event_id)
        elif verdict is Verdict.STORED_WINS:
            at = where(topic, partition, offset)
            resolution.conflicts[record.event.event_id] = loser_message(record, at)
        else:
            winners.append((record, version))
            resolution.displaced.append(displaced(version, record, topic, partition, offset))
    return winners


def _replace(
    conn: Connection,
    winners: Sequence[_Replacement],
    rows: Mapping[str, dict[str, Any]],
    resolution: Resolution,
) -> None:
    """Overwrite the stored versions and clear the derived rows of both versions' runs."""
    affected = sorted({e.run_id for r, stored in winners for e in (r.event, stored)})
    conn.execute(
        select(runs.c.run_id).where(runs.c.run_id.in_(affected)).order_by(runs.c.run_id)
        .with_for_update()
    )  # fmt: skip
    replacement = [{"key_event_id": r.event.event_id, **rows[r.event.event_id]} for r, _ in winners]
    columns = [c for c in replacement[0] if c not in ("key_event_id", "event_id")]
    conn.execute(
        update(run_events)
        .where(run_events.c.event_id == bindparam("key_event_id"))
        .values({c: bindparam(c) for c in columns}),
        replacement,
    )
    conn.execute(delete(task_executions).where(task_executions.c.run_id.in_(affected)))
    conn.execute(delete(runs).where(runs.c.run_id.in_(affected)))
    resolution.rebuilt_runs = frozenset(affected)
    resolution.rebuilt_events = _events_of(conn, affected)


def _events_of(conn: Connection, run_ids: Collection[str]) -> list[Event]:
    """Every stored event of the runs, as the contract decodes it."""
    query = select(cast(run_events.c.payload, Text)).where(run_events.c.run_id.in_(run_ids))
    return [decode_stored(payload) for payload in conn.execute(query).scalars()]
