"""The alert rules and the dashboard the chart ships query only what the code exports."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from consumer.metrics import Metrics

FILES = Path(__file__).resolve().parents[2] / "helm" / "runledger" / "files"
# Labels Prometheus adds to every series it scrapes from a pod.
TARGET_LABELS = {"namespace", "pod", "job", "instance", "container", "service", "endpoint"}
SELECTOR = re.compile(r"\b(runledger_[a-z_]+)\b(?:\{([^}]*)\})?")
MATCHER = re.compile(r'(\w+)\s*(=~|!~|!=|=)\s*"([^"]*)"')


def exported() -> dict[str, dict[str, set[str]]]:
    """Every series name the registry exposes, with the label values it uses."""
    metrics = Metrics()
    metrics.init_sink("postgres")
    lag_labels = ("postgres", "runledger-postgres", "telemetry", "0")
    metrics.lag_messages.labels(*lag_labels).set(0)  # set by the sampler once assigned
    metrics.lag_seconds.labels(*lag_labels).set(0)
    series: dict[str, dict[str, set[str]]] = {}
    for family in metrics.registry.collect():
        for sample in family.samples:
            labels = series.setdefault(sample.name, {})
            for key, value in sample.labels.items():
                labels.setdefault(key, set()).add(value)
    return series


def rule_exprs() -> list[str]:
    rules: dict[str, Any] = yaml.safe_load((FILES / "prometheus-rules.yaml").read_text())
    return [rule["expr"] for group in rules["groups"] for rule in group["rules"]]


def dashboard_exprs() -> list[str]:
    dashboard: dict[str, Any] = json.loads((FILES / "grafana-dashboard.json").read_text())
    return [t["expr"] for p in dashboard["panels"] for t in p.get("targets", []) if "expr" in t]


@pytest.mark.parametrize("source", [rule_exprs, dashboard_exprs], ids=["rules", "dashboard"])
def test_every_expression_queries_exported_series_and_labels(source: Any) -> None:
    series, exprs = exported(), source()
    assert exprs

    for expr in exprs:
        selectors = SELECTOR.findall(expr)
        if not selectors and 'up{job=~".*runledger.*"}' in expr:
            continue  # a target alert: Prometheus' own `up`, not an exported series
        assert selectors, f"no runledger metric in {expr!r}"
        for name, matchers in selectors:
            assert name in series, f"{name} is not exported (in {expr!r})"
            for label, op, wanted in MATCHER.findall(matchers):
                if label in TARGET_LABELS:
                    continue
                assert label in series[name], f"{name} has no label {label!r}"
                if op == "=" and not wanted.startswith("$"):
                    assert wanted in series[name][label], f"{name}: {label} is never {wanted!r}"
        for label in re.findall(r"\bby\s*\(([^)]*)\)", expr):
            used = {part.strip() for part in label.split(",")} - TARGET_LABELS - {"le"}
            known = set().union(*(series[n].keys() for n, _ in selectors))
            assert used <= known, f"grouping by unknown labels {used - known} in {expr!r}"


def test_the_rules_alert_on_what_the_issue_names() -> None:
    joined = "\n".join(rule_exprs())

    for needed in (
        "runledger_consumer_lag_seconds",  # lag growing
        "runledger_dead_letters_total",  # dead letters arriving
        "runledger_sink_up",  # a sink down
        "runledger_messages_total",  # no consumption
    ):
        assert needed in joined
