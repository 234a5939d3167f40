"""The alert rules pass ``promtool``: syntax, unit tests, and the chart's per-release copies.

promtool comes from Debian's ``prometheus`` package (``apt-get install -y prometheus``).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import helm_python
import yaml

from support.helm import CHART_DIR, render_chart

ROOT = Path(__file__).resolve().parents[2]
RULES = CHART_DIR / "files" / "prometheus-rules.yaml"
RUNBOOK = ROOT / "docs" / "runbook.md"


def promtool(*args: str | Path) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("promtool")
    assert binary, "promtool is missing: apt-get install -y prometheus"
    return subprocess.run(
        [binary, *map(str, args)], capture_output=True, text=True, timeout=120, check=False
    )


def _alerts() -> list[dict[str, Any]]:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"] if "alert" in rule]


def test_the_rule_file_is_valid() -> None:
    result = promtool("check", "rules", RULES)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_rule_unit_tests_pass() -> None:
    tests = sorted((Path(__file__).parent / "alerts").glob("*.test.yaml"))
    assert tests
    result = promtool("test", "rules", *tests)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_links_its_runbook_section() -> None:
    anchors = {
        re.sub(r"[^a-z0-9 -]", "", line.removeprefix("## ").strip().lower()).replace(" ", "-")
        for line in RUNBOOK.read_text().splitlines()
        if line.startswith("## ")
    }
    for alert in _alerts():
        url = alert["annotations"].get("runbook_url", "")
        assert url.split("#")[0].endswith("docs/runbook.md"), alert["alert"]
        assert url.split("#")[1] in anchors, f"{alert['alert']}: no section #{url.split('#')[1]}"


def test_an_alert_fires_when_every_pod_is_gone() -> None:
    absent = [a for a in _alerts() if a["expr"].strip().startswith("absent(")]
    assert absent, "no absent() rule: with every pod gone no alert could fire"


def test_the_charts_rules_tell_two_releases_in_one_namespace_apart(tmp_path: Path) -> None:
    chart = helm_python.Chart.load(str(CHART_DIR))
    rendered = render_chart(
        chart,
        {"metrics": {"prometheusRule": {"enabled": True}}, "sinks": {"graph": {"enabled": True}}},
    )
    (rule,) = rendered.of_kind("PrometheusRule")
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump({"groups": rule["spec"]["groups"]}))
    up = 'up{{job="ledger/{d}", namespace="ledger", pod="{d}-5d8f9c-abcde", instance="{ip}:9108"}}'
    cases = {
        "rule_files": ["rules.yaml"],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": [
                    # release "rel": its postgres pods vanish, its graph pods stay
                    {"series": up.format(d="rel-runledger-postgres", ip="10.0.0.1"),
                     "values": "1x4 _x20"},
                    {"series": up.format(d="rel-runledger-graph", ip="10.0.0.2"), "values": "1x24"},
                    # release "other" in the same namespace keeps running
                    {"series": up.format(d="other-runledger-postgres", ip="10.0.0.3"),
                     "values": "1x24"},
                ],
                "alert_rule_test": [
                    {
                        "eval_time": "15m",
                        "alertname": "RunledgerAbsent",
                        "exp_alerts": [
                            {
                                "exp_labels": {
                                    "severity": "critical",
                                    "namespace": "ledger",
                                    "deployment": "rel-runledger-postgres",
                                },
                                "exp_annotations": _annotations("RunledgerAbsent"),
                            }
                        ],
                    }
                ],
            }
        ],
    }  # fmt: skip
    (tmp_path / "rules.test.yaml").write_text(yaml.safe_dump(cases))

    result = promtool("test", "rules", tmp_path / "rules.test.yaml")
    assert result.returncode == 0, result.stdout + result.stderr


def _annotations(alert: str) -> dict[str, str]:
    (rule,) = [a for a in _alerts() if a["alert"] == alert]
    annotations: dict[str, str] = rule["annotations"]
    return annotations
