"""An event id a sink already holds, arriving again: a repeat, a loser, or a replacement.

Every sink applies the rule of ``contracts.canonical`` across batches as the pipeline
does within one: the version whose canonical JSON sorts first is kept. Sinks store each
event's raw value (or its digest), so a byte-identical repeat, the common case, is told
apart without decoding anything; only a version with other bytes is decoded and ranked.
"""

from __future__ import annotations

import enum
import hashlib

from contracts import Event, canonical, decode_event
from sinks.base import Displaced, SinkRecord

# Stored values were accepted once; they are decoded again whatever their size.
_ANY_SIZE = 2**62


class Verdict(enum.Enum):
    """How an incoming version relates to the stored one."""

    SAME = "same"
    STORED_WINS = "stored_wins"
    INCOMING_WINS = "incoming_wins"


def digest(value: bytes) -> bytes:
    """The sha256 of a raw value: equal digests mean the very same event."""
    return hashlib.sha256(value).digest()


def decode_stored(value: str | bytes) -> Event:
    """A stored version as an event (it passed the contract when it was written)."""
    return decode_event(value.encode() if isinstance(value, str) else value, max_bytes=_ANY_SIZE)


def judge(incoming: Event, stored: Event) -> Verdict:
    """Apply the rule: equal content is a repeat, else the canonical JSON sorting first wins."""
    mine, theirs = canonical(incoming), canonical(stored)
    if mine == theirs:
        return Verdict.SAME
    return Verdict.INCOMING_WINS if mine < theirs else Verdict.STORED_WINS


def where(topic: str | None, partition: int | None, offset: int | None) -> str:
    """A version's source position, as the messages name it."""
    if topic is None or partition is None or offset is None:
        return "(original position unknown)"
    return f"{topic}[{partition}]@{offset}"


def loser_message(record: SinkRecord, stored_at: str | None = None) -> str:
    """Why an incoming version was not written: the sink holds one that sorts first."""
    at = f" (written from {stored_at})" if stored_at else ""
    return (
        f"event_id {record.event.event_id!r} is already stored with different content{at}; "
        "the version whose canonical JSON sorts first is kept, this one is not written"
    )


def displaced(
    stored: Event,
    by: SinkRecord,
    topic: str | None = None,
    partition: int | None = None,
    offset: int | None = None,
) -> Displaced:
    """The report of a stored version replaced by ``by``, which sorts first."""
    message = (
        f"displaced: event_id {stored.event_id!r} stored from "
        f"{where(topic, partition, offset)} arrived again with different content at "
        f"{where(by.topic, by.partition, by.offset)}; that version's canonical JSON sorts "
        "first, so it replaced this one and everything derived from this one was rebuilt"
    )
    value = canonical(stored).encode()
    return Displaced(stored.event_id, value, topic, partition, offset, message)
