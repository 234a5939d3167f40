"""Scraping, alert rules and the dashboard the chart ships."""

from __future__ import annotations

import json
import re
from typing import Any

import jsonschema
import pytest
import yaml

from support.helm import CHART_DIR, CI_DIR, NAMESPACE, RELEASE, RenderFn
from support.helm_crd_schemas import RULE_FILE

FULLNAME = "rel-runledger"
RULES_FILE = CHART_DIR / "files" / "prometheus-rules.yaml"
DASHBOARD_FILE = CHART_DIR / "files" / "grafana-dashboard.json"

# The metric families runledger exports (histograms add _bucket, _sum, _count).
METRICS = {
    "runledger_consumer_lag_messages",
    "runledger_consumer_lag_seconds",
    "runledger_messages_total",
    "runledger_decode_failures_total",
    "runledger_dead_letters_total",
    "runledger_sink_errors_total",
    "runledger_sink_retries_total",
    "runledger_sink_up",
    "runledger_rebalances_total",
    "runledger_assigned_partitions",
    "runledger_commits_total",
    "runledger_commit_failures_total",
    "runledger_build_info",
}
HISTOGRAMS = {
    "runledger_sink_write_duration_seconds",
    "runledger_batch_records",
    "runledger_event_age_seconds",
}
SERIES = METRICS | {f"{h}_{suffix}" for h in HISTOGRAMS for suffix in ("bucket", "sum", "count")}


def _rules() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(RULES_FILE.read_text())
    return loaded


# RunledgerAbsent and RunledgerTargetDown watch the scrape targets (`up`), which
# the chart copies once per Deployment (tests/helm/test_helm_alert_rules.py).
ANY_RUNLEDGER_TARGET = 'up{job=~".*runledger.*"}'


def _metric_rules(groups: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [rule for group in groups for rule in group["rules"] if "up{" not in rule["expr"]]


def _dashboard() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DASHBOARD_FILE.read_text())
    return loaded


def _dashboard_exprs(dashboard: dict[str, Any]) -> list[str]:
    return [t["expr"] for panel in dashboard["panels"] for t in panel.get("targets", [])]


def _metric_names(expr: str) -> set[str]:
    return set(re.findall(r"\brunledger_[a-z_]+\b", expr))


def test_the_rule_file_is_a_valid_prometheus_rule_file() -> None:
    rules = _rules()

    jsonschema.Draft202012Validator(RULE_FILE).validate(rules)
    alerts = [rule for group in rules["groups"] for rule in group["rules"]]
    assert len({a["alert"] for a in alerts}) == len(alerts)
    for alert in alerts:
        assert alert["labels"]["severity"] in {"warning", "critical"}
        assert {"summary", "description"} <= alert["annotations"].keys()


def test_the_rules_cover_the_issue() -> None:
    exprs = {r["alert"]: r["expr"] for g in _rules()["groups"] for r in g["rules"]}

    assert "runledger_consumer_lag_seconds" in exprs["RunledgerConsumerLagGrowing"]
    assert "runledger_dead_letters_total" in exprs["RunledgerDeadLettersArriving"]
    assert "runledger_sink_up" in exprs["RunledgerSinkDown"]
    not_consuming = exprs["RunledgerNotConsuming"]
    assert "runledger_messages_total" in not_consuming
    assert "runledger_consumer_lag_messages" in not_consuming
    assert "runledger_commit_failures_total" in exprs["RunledgerCommitFailures"]


def test_rules_and_dashboard_use_only_exported_metrics() -> None:
    exprs = [r["expr"] for g in _rules()["groups"] for r in g["rules"]]
    exprs += _dashboard_exprs(_dashboard())

    used = set().union(*(_metric_names(e) for e in exprs))
    assert used - SERIES == set()
    assert [e for e in exprs if not _metric_names(e) and ANY_RUNLEDGER_TARGET not in e] == []


def test_the_dashboard_has_the_panels_the_issue_asks_for() -> None:
    dashboard = _dashboard()
    exprs = "\n".join(_dashboard_exprs(dashboard))

    assert dashboard["uid"] == "runledger"
    for metric in (
        "runledger_consumer_lag_messages",
        "runledger_consumer_lag_seconds",
        "runledger_messages_total",
        "runledger_sink_errors_total",
        "runledger_sink_retries_total",
        "runledger_dead_letters_total",
        "runledger_sink_up",
    ):
        assert metric in exprs
    assert (
        "histogram_quantile(0.5, sum by (sink, le) (rate(runledger_event_age_seconds_bucket"
        in exprs
    )
    assert (
        "histogram_quantile(0.99, sum by (sink, le) (rate(runledger_event_age_seconds_bucket"
        in exprs
    )
    assert "sum by (sink, outcome)" in exprs
    datasources = {
        json.dumps(t["datasource"]) for p in dashboard["panels"] for t in p.get("targets", [])
    }
    assert datasources == {json.dumps({"type": "prometheus", "uid": "${datasource}"})}


def test_monitoring_is_off_by_default(render: RenderFn) -> None:
    rendered = render()

    for kind in ("ServiceMonitor", "PodMonitor", "PrometheusRule"):
        assert rendered.of_kind(kind) == []
    assert rendered.find("ConfigMap", f"{FULLNAME}-dashboard") is None


def test_the_service_monitor_scrapes_every_consumer_service(render: RenderFn) -> None:
    rendered = render(CI_DIR / "monitoring-values.yaml")

    monitor = rendered.get("ServiceMonitor", FULLNAME)
    assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    spec = monitor["spec"]
    assert spec["namespaceSelector"] == {"matchNames": [NAMESPACE]}
    assert spec["endpoints"] == [
        {
            "port": "metrics",
            "path": "/metrics",
            "interval": "15s",
            "scrapeTimeout": "10s",
            "honorLabels": False,
        }
    ]
    selector = spec["selector"]["matchLabels"]
    services = rendered.of_kind("Service")
    assert len(services) == 2
    for service in services:
        assert selector.items() <= service["metadata"]["labels"].items()
        assert service["spec"]["ports"][0]["name"] == "metrics"


def test_the_pod_monitor_scrapes_consumer_pods_only(render: RenderFn) -> None:
    rendered = render({"metrics": {"podMonitor": {"enabled": True, "namespace": "monitoring"}}})

    monitor = rendered.get("PodMonitor", FULLNAME)
    assert monitor["metadata"]["namespace"] == "monitoring"
    assert monitor["spec"]["namespaceSelector"] == {"matchNames": [NAMESPACE]}
    assert monitor["spec"]["podMetricsEndpoints"][0]["port"] == "metrics"
    selector = monitor["spec"]["selector"]["matchLabels"]
    assert selector == {
        "app.kubernetes.io/name": "runledger",
        "app.kubernetes.io/instance": RELEASE,
        "app.kubernetes.io/component": "consumer",
    }
    job_pod = rendered.of_kind("Job")[0]["spec"]["template"]["metadata"]["labels"]
    assert not selector.items() <= job_pod.items()


def test_the_prometheus_rule_carries_the_rule_file(render: RenderFn) -> None:
    rendered = render(CI_DIR / "monitoring-values.yaml")

    rule = rendered.get("PrometheusRule", FULLNAME)
    assert rule["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    assert _metric_rules(rule["spec"]["groups"]) == _metric_rules(_rules()["groups"])
    targets = [r for g in rule["spec"]["groups"] for r in g["rules"] if "up{" in r["expr"]]
    assert {(r["alert"], r["labels"]["deployment"]) for r in targets} == {
        (alert, f"{FULLNAME}-{sink}")
        for alert in ("RunledgerAbsent", "RunledgerTargetDown")
        for sink in ("postgres", "graph")
    }


def test_additional_rule_labels_reach_every_alert(render: RenderFn) -> None:
    rendered = render(
        {"metrics": {"prometheusRule": {"enabled": True, "additionalRuleLabels": {"team": "data"}}}}
    )

    groups = rendered.get("PrometheusRule", FULLNAME)["spec"]["groups"]
    for rule, source in zip(_metric_rules(groups), _metric_rules(_rules()["groups"]), strict=True):
        assert rule["labels"] == {**source["labels"], "team": "data"}
        assert rule["expr"] == source["expr"]
    assert all(r["labels"]["team"] == "data" for g in groups for r in g["rules"])


def test_the_dashboard_config_map_is_found_by_the_grafana_sidecar(render: RenderFn) -> None:
    rendered = render(CI_DIR / "monitoring-values.yaml")

    config_map = rendered.get("ConfigMap", f"{FULLNAME}-dashboard")
    assert config_map["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert config_map["metadata"]["annotations"]["grafana_folder"] == "Kafka"
    assert json.loads(config_map["data"]["runledger.json"]) == _dashboard()


@pytest.mark.parametrize("kind", ["PrometheusRule", "ServiceMonitor"])
def test_monitoring_objects_can_live_in_another_namespace(render: RenderFn, kind: str) -> None:
    key = "prometheusRule" if kind == "PrometheusRule" else "serviceMonitor"
    rendered = render({"metrics": {key: {"enabled": True, "namespace": "monitoring"}}})

    assert rendered.get(kind, FULLNAME)["metadata"]["namespace"] == "monitoring"


def test_lag_alerts_and_panels_keep_consumer_groups_apart() -> None:
    lag_exprs = [e for e in _dashboard_exprs(_dashboard()) if "runledger_consumer_lag_" in e]
    (growing,) = [r for g in _rules()["groups"] for r in g["rules"]
                  if r.get("alert") == "RunledgerConsumerLagGrowing"]  # fmt: skip

    assert lag_exprs
    assert all("by (sink, group, topic)" in e for e in lag_exprs), lag_exprs
    assert "by (namespace, sink, group, topic)" in growing["expr"]
