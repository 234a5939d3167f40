"""The garbage collector tuned for a consumer: batches of short-lived objects, few cycles.

A batch allocates tens of thousands of container objects (records, events, rows) that
live until it is committed. With CPython's default thresholds (700, 10, 10) they set
off a young collection every few events, survive it into the older generations, and
the full collections that follow walk the whole heap: `runledger bench` measured a
quarter of the end-to-end time in them. Collections still run, cycles are still freed,
only less often; the objects of start-up (modules, schemas, table metadata) live as
long as the process, so they are frozen out of every collection.
"""

from __future__ import annotations

import gc

THRESHOLDS = (10_000, 50, 100)
"""Allocations before a young collection, and collections before an older one."""


def tune_collector() -> None:
    """Freeze what exists now and collect less often; call once, after start-up."""
    gc.freeze()
    gc.set_threshold(*THRESHOLDS)
