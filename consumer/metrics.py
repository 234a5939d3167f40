"""Prometheus metrics, built against an injected registry (a fresh one per test).

docs/operations-metrics.md lists them for operators; keep it in step.

Labels are bounded: sink, group, topic, partition, type, outcome, stage, reason, kind;
never a run or event id. The lag gauges carry the consumer ``group`` under the label name
kafka-lag-exporter uses, so they join with its series and two releases stay apart.
Units are in the names (seconds, records), counters end in ``_total``.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    PlatformCollector,
    ProcessCollector,
)

from contracts import DecodeReason

EVENT_TYPES = ("run-start", "task-start", "task-result", "run-finalized")
OUTCOMES = ("written", "duplicate", "dead_lettered")
STAGES = ("decode", "validate", "sink")
ERROR_KINDS = ("transient", "permanent")

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
_AGE_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 86400)
_BATCH_BUCKETS = (1, 10, 50, 100, 250, 500, 1000, 2000, 5000, 10000)


def observe_many(histogram: Any, amounts: Iterable[float]) -> None:
    """``histogram.observe(a)`` for every amount, counted per bucket first: one increment
    per bucket and one of the sum per call, instead of a locked walk of the buckets per
    amount (the pipeline observes every event of a batch).

    ``histogram`` is a labelled child of a prometheus_client ``Histogram``; a client
    without the internals this relies on gets the amounts one by one.
    """
    amounts = sorted(amounts)
    if not amounts:
        return
    bounds = getattr(histogram, "_upper_bounds", None)
    buckets = getattr(histogram, "_buckets", None)
    total = getattr(histogram, "_sum", None)
    if bounds is None or buckets is None or total is None:
        for amount in amounts:
            histogram.observe(amount)
        return
    histogram._raise_if_not_observable()
    total.inc(sum(amounts))
    below = 0  # amounts in the buckets so far (``observe`` puts each in its first bound >= it)
    for bound, bucket in zip(bounds, buckets, strict=True):
        upto = bisect_right(amounts, bound)
        if upto > below:
            bucket.inc(upto - below)
            below = upto
        if below == len(amounts):
            return


def package_version() -> str:
    try:
        return version("runledger")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "0+unknown"


class Metrics:
    """Every metric runledger exports, registered on one registry."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        self.lag_messages = Gauge(
            "runledger_consumer_lag_messages",
            "Records behind the partition's high watermark.",
            ["sink", "group", "topic", "partition"],
            registry=r,
        )
        self.lag_seconds = Gauge(
            "runledger_consumer_lag_seconds",
            "Age of the oldest unprocessed record; 0 when caught up.",
            ["sink", "group", "topic", "partition"],
            registry=r,
        )
        self.messages = Counter(
            "runledger_messages",
            "Records handled, by event type and outcome (written, duplicate, dead_lettered).",
            ["sink", "type", "outcome"],
            registry=r,
        )
        self.decode_failures = Counter(
            "runledger_decode_failures",
            "Records that could not be decoded or validated, by reason.",
            ["sink", "reason"],
            registry=r,
        )
        self.conflicting_duplicates = Counter(
            "runledger_conflicting_duplicates",
            "Records dead-lettered because their event_id came with other content.",
            ["sink"],
            registry=r,
        )
        self.dead_letter_failures = Counter(
            "runledger_dead_letter_failures",
            "Failed sends to the dead-letter topic (retried; nothing is committed past them).",
            ["sink"],
            registry=r,
        )
        self.dead_letters = Counter(
            "runledger_dead_letters",
            "Records sent to the dead-letter topic, by stage.",
            ["sink", "stage"],
            registry=r,
        )
        self.write_duration = Histogram(
            "runledger_sink_write_duration_seconds",
            "Time to write one batch to the sink (one transaction).",
            ["sink"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.batch_records = Histogram(
            "runledger_batch_records",
            "Records per fetched batch.",
            ["sink"],
            buckets=_BATCH_BUCKETS,
            registry=r,
        )
        self.sink_errors = Counter(
            "runledger_sink_errors",
            "Failed sink writes by kind (transient, permanent).",
            ["sink", "kind"],
            registry=r,
        )
        self.sink_retries = Counter(
            "runledger_sink_retries", "Retries of a batch after a transient error.", ["sink"],
            registry=r,
        )  # fmt: skip
        self.sink_up = Gauge(
            "runledger_sink_up", "1 when the sink's last write or health check worked.", ["sink"],
            registry=r,
        )  # fmt: skip
        self.event_age = Histogram(
            "runledger_event_age_seconds",
            "Now minus occurred_at when an event is written: end-to-end freshness.",
            ["sink"],
            buckets=_AGE_BUCKETS,
            registry=r,
        )
        self.rebalances = Counter(
            "runledger_rebalances", "Partition assignments received.", ["sink"], registry=r
        )
        self.assigned_partitions = Gauge(
            "runledger_assigned_partitions", "Partitions assigned to this consumer.", ["sink"],
            registry=r,
        )  # fmt: skip
        self.commits = Counter(
            "runledger_commits", "Successful offset commits.", ["sink"], registry=r
        )
        self.commit_failures = Counter(
            "runledger_commit_failures", "Failed offset commits.", ["sink"], registry=r
        )
        self.build_info = Gauge(
            "runledger_build_info", "Always 1; the version label says which.", ["version"],
            registry=r,
        )  # fmt: skip
        self.build_info.labels(version=package_version()).set(1)
        # process_* (CPU, memory, open files) and python_info, as the default registry has.
        ProcessCollector(registry=r)
        PlatformCollector(registry=r)

    def init_sink(self, sink: str) -> None:
        """Pre-create the label sets of one sink so dashboards see zeros, not gaps."""
        for event_type in EVENT_TYPES:
            for outcome in OUTCOMES:
                self.messages.labels(sink, event_type, outcome)
        for reason in DecodeReason:
            self.decode_failures.labels(sink, reason.value)
        for stage in STAGES:
            self.dead_letters.labels(sink, stage)
        self.conflicting_duplicates.labels(sink)
        self.dead_letter_failures.labels(sink)
        for kind in ERROR_KINDS:
            self.sink_errors.labels(sink, kind)
        for metric in (self.sink_retries, self.rebalances, self.commits, self.commit_failures):
            metric.labels(sink)
        self.write_duration.labels(sink)
        self.batch_records.labels(sink)
        self.event_age.labels(sink)
        self.assigned_partitions.labels(sink).set(0)
        self.sink_up.labels(sink).set(0)
