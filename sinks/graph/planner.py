"""Which statements a batch needs, with their parameters (engine-independent).

The batch's event ids are looked up first (``EXISTING_EVENTS``). An id the graph holds
with the same payload is a repeat. One held with another payload is ranked by the rule
of ``sinks.conflicts``: a losing batch version is reported and not written; a winning
one replaces the stored version, and the runs of both versions are rebuilt: on Neo4j
they are write-locked first (``LOCK_RUNS``, in id order), their derived nodes are
deleted (``statements.REBUILD``) and all their stored events, the winner in, are
written again as new, through the same statements as any batch.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from contracts import Event
from sinks.base import Displaced, SinkRecord, TransientSinkError, WriteResult
from sinks.conflicts import Verdict, decode_stored, displaced, judge, loser_message
from sinks.graph.dialects import Dialect
from sinks.graph.engine import Call, GraphSession, Planned
from sinks.graph.rows import batch_rows
from sinks.graph.statements import (
    EMPTY_RUNS,
    EVENTS_OF_RUNS,
    EXISTING_EVENTS,
    GUARD,
    LOCK_RUNS,
    REBUILD,
    Statement,
    write_statements,
)

Version = tuple[Event, str]
"""An event and its payload (the raw value its Event node keeps)."""


def _call(statement: Statement, **values: Any) -> Call:
    return statement, statement.bind(values)


@dataclass
class _Triage:
    """The batch's records by what the graph holds of their event ids."""

    new: dict[str, Version] = field(default_factory=dict)
    duplicates: set[str] = field(default_factory=set)
    conflicts: dict[str, str] = field(default_factory=dict)
    replacements: list[tuple[SinkRecord, Event, str]] = field(default_factory=list)
    """(the batch's record, the stored version it replaces, that version's payload)."""


@dataclass
class _Rebuild:
    """Runs to build again from all their events, and what the plan read of them."""

    run_ids: list[str] = field(default_factory=list)
    events: dict[str, Version] = field(default_factory=dict)
    read: list[list[str]] = field(default_factory=list)
    counts: list[list[Any]] = field(default_factory=list)
    displaced: list[Displaced] = field(default_factory=list)


def _triage(records: Iterable[SinkRecord], stored: Mapping[str, str | None]) -> _Triage:
    """Sort records into new, repeats, losers and replacements of a stored version.

    An Event node written before events kept their payload (None) cannot be ranked: the
    stored version stays, as it did then, and the record counts as a repeat.
    """
    triage = _Triage()
    for record in records:
        event_id, payload = record.event.event_id, record.value.decode()
        if event_id not in stored:
            triage.new[event_id] = (record.event, payload)
            continue
        held = stored[event_id]
        if held is None or held == payload:
            triage.duplicates.add(event_id)
            continue
        version = decode_stored(held)
        verdict = judge(record.event, version)
        if verdict is Verdict.SAME:
            triage.duplicates.add(event_id)
        elif verdict is Verdict.STORED_WINS:
            triage.conflicts[event_id] = loser_message(record)
        else:
            triage.replacements.append((record, version, held))
    return triage


class BatchPlanner:
    """Plans a batch: merges for the new events, then refreshes of what they touch."""

    def __init__(self, dialect: Dialect, generic_label: bool) -> None:
        self._dialect = dialect
        self._generic_label = generic_label
        self._statements = write_statements(dialect)

    async def plan(self, records: Sequence[SinkRecord], session: GraphSession) -> Planned:
        """Read what the graph holds of the batch's event ids, and plan the batch."""
        unique = {r.event.event_id: r for r in records}
        found = await session.read(EXISTING_EVENTS, {"ids": sorted(unique)})
        triage = _triage(unique.values(), {str(r["id"]): r["payload"] for r in found})
        rebuild = await _prepare_rebuild(triage, session) if triage.replacements else _Rebuild()
        events = {**triage.new, **rebuild.events}
        emptied = sorted(set(rebuild.run_ids) - {event.run_id for event, _ in events.values()})
        calls: list[Call] = []
        if rebuild.run_ids:
            calls = [_call(s, rebuiltRunIds=rebuild.run_ids) for s in REBUILD]
            calls.append(_call(EMPTY_RUNS, emptiedRunIds=emptied))
        calls += self.calls(events, emptied)
        guard = _call(
            GUARD,
            absentIds=sorted(triage.new),
            storedPayloads=rebuild.read,
            runEventCounts=rebuild.counts,
        )
        result = WriteResult(
            frozenset(triage.duplicates), triage.conflicts, tuple(rebuild.displaced)
        )
        return Planned(calls, guard, result)

    def calls(self, events: Mapping[str, Version], emptied: Sequence[str] = ()) -> list[Call]:
        """The calls writing ``events`` as new; none for no events.

        ``emptied`` are rebuilt runs left without events: bare nodes, dropped unless a
        child names them.
        """
        if not events:
            return []
        payloads = {event_id: payload for event_id, (_, payload) in events.items()}
        rows = batch_rows([event for event, _ in events.values()], payloads, self._dialect)
        s, label = self._statements, self._generic_label
        calls = [
            _call(s.merge_runs, runs=rows.packed_runs(), genericLabel=label),
            _call(s.create_events, events=rows.packed_events()),
        ]
        if rows.packed_attempt_rows:
            calls += [
                _call(s.merge_attempts, attempts=rows.packed_attempts(), genericLabel=label),
                _call(s.refresh_tasks, taskExecutionKeys=rows.task_execution_keys),
            ]
        calls += [
            _call(s.refresh_runs, runIds=rows.run_ids),
            _call(s.link_plans, runIds=rows.run_ids),
            _call(s.link_parents, runIds=rows.run_ids),
            _call(s.delete_bare_runs, parentIds=sorted({*rows.parent_ids, *emptied})),
            _call(s.link_chains, chains=rows.chains),
        ]
        return calls


async def _prepare_rebuild(triage: _Triage, session: GraphSession) -> _Rebuild:
    """Lock the runs of both versions of each replacement, then read all their events.

    A stored version that changed since it was ranked (another writer replaced it
    first) makes the batch start over: raised as transient.
    """
    run_ids = sorted({e.run_id for r, stored, _ in triage.replacements for e in (r.event, stored)})
    await session.lock(LOCK_RUNS, {"rebuiltRunIds": run_ids})
    ids = [record.event.event_id for record, _, _ in triage.replacements]
    again = {str(r["id"]): r["payload"] for r in await session.read(EXISTING_EVENTS, {"ids": ids})}
    if any(again.get(r.event.event_id) != held for r, _, held in triage.replacements):
        raise TransientSinkError("a stored version changed while the batch was planned")
    stored = await session.read(EVENTS_OF_RUNS, {"rebuiltRunIds": run_ids})
    if any(row["payload"] is None for row in stored):
        _keep_unrebuildable(triage)
        return _Rebuild()
    rebuild = _Rebuild(run_ids=run_ids)
    for row in stored:
        event_id, payload = str(row["id"]), str(row["payload"])
        rebuild.events[event_id] = (decode_stored(payload), payload)
        rebuild.read.append([event_id, payload])
    per_run = [event.run_id for event, _ in rebuild.events.values()]
    rebuild.counts = [[run_id, per_run.count(run_id)] for run_id in run_ids]
    for record, version, _ in triage.replacements:
        rebuild.events[record.event.event_id] = (record.event, record.value.decode())
        rebuild.displaced.append(displaced(version, record))
    return rebuild


def _keep_unrebuildable(triage: _Triage) -> None:
    """Runs holding events stored without their payload cannot be rebuilt: the stored
    versions stay, and the batch's versions are reported as losers instead."""
    for record, _, _ in triage.replacements:
        triage.conflicts[record.event.event_id] = (
            loser_message(record) + " (its run holds events stored before the graph kept "
            "their payload, so it cannot be rebuilt: the stored version stays)"
        )
    triage.replacements.clear()
