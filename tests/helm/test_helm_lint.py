"""The chart lints clean and describes the application it ships."""

from __future__ import annotations

import tomllib
from pathlib import Path

import helm_python
import pytest
import yaml

from support.helm import CHART_DIR, REPO_ROOT, ci_files, load_values

WARNING = 2


def test_chart_metadata_matches_the_package() -> None:
    meta = yaml.safe_load((CHART_DIR / "Chart.yaml").read_text())
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]

    assert meta["apiVersion"] == "v2"
    assert meta["name"] == "runledger"
    assert meta["type"] == "application"
    assert meta["version"] == "0.2.0"
    assert meta["appVersion"] == project["version"]


def test_chart_lints_without_warnings() -> None:
    report = helm_python.lint(CHART_DIR, strict=True)

    assert report["errors"] == []
    assert [m for m in report["messages"] if m["severity"] >= WARNING] == []


@pytest.mark.parametrize("values_file", ci_files(), ids=lambda p: p.name)
def test_every_ci_scenario_lints(values_file: Path) -> None:
    report = helm_python.lint(CHART_DIR, load_values(values_file), strict=True)

    assert report["errors"] == []
    assert [m for m in report["messages"] if m["severity"] >= WARNING] == []


def test_the_ci_scenarios_cover_the_issue() -> None:
    names = {p.name.removesuffix("-values.yaml") for p in ci_files()}

    assert {
        "default",
        "per-sink",
        "combined",
        "graph-only",
        "keda",
        "hpa",
        "monitoring",
        "existing-secrets",
        "tls",
    } <= names
