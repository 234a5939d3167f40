"""Event ids seen more than once in one batch: repeats, and conflicting versions.

An ``event_id`` is the idempotency key, so a batch may carry the same event twice (a
producer retry, a replay): the copies are *repeats*, written once and counted as
duplicates. Two events with the same id and different content are a producer error.
Which one is kept must not depend on arrival order or batching, so the winner is
chosen by a rule on the content alone: the version whose canonical JSON (keys sorted,
compact) sorts first. Every other version is a *conflict*: dead-lettered with reason
``conflicting_duplicate`` and never handed to a sink, so nothing of it is stored.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from contracts import canonical
from sinks.base import SinkRecord


@dataclass(slots=True)
class Deduplicated:
    """One record per event id, plus what was set aside and why."""

    records: list[SinkRecord] = field(default_factory=list)
    repeats: list[SinkRecord] = field(default_factory=list)
    conflicts: list[tuple[SinkRecord, SinkRecord]] = field(default_factory=list)
    """(losing record, the record kept instead)."""


def deduplicate(records: Sequence[SinkRecord]) -> Deduplicated:
    """Split a batch into one winner per event id, repeats of a winner, and conflicts."""
    # One dict entry per id; a list only for the (rare) ids that come more than once.
    first: dict[str, SinkRecord] = {}
    again: dict[str, list[SinkRecord]] = {}
    for record in records:
        event_id = record.event.event_id
        seen = first.get(event_id)
        if seen is None:
            first[event_id] = record
        elif event_id in again:
            again[event_id].append(record)
        else:
            again[event_id] = [seen, record]
    result = Deduplicated()
    if not again:
        result.records.extend(first.values())
        return result
    for event_id, single in first.items():
        group = again.get(event_id)
        if group is None:
            result.records.append(single)
            continue
        ranked = sorted(group, key=lambda r: canonical(r.event))
        winner, winning = ranked[0], canonical(ranked[0].event)
        result.records.append(winner)
        for other in ranked[1:]:
            if canonical(other.event) == winning:
                result.repeats.append(other)
            else:
                result.conflicts.append((other, winner))
    return result


def conflict_message(loser: SinkRecord, winner: SinkRecord) -> str:
    """One line for the dead-letter header and the log: what clashed, where the kept one is."""
    return (
        f"event_id {loser.event.event_id!r} was also sent with different content at "
        f"{winner.topic}[{winner.partition}]@{winner.offset}; the version whose canonical "
        "JSON sorts first is kept, this one is not written"
    )
