"""values.yaml, values.schema.json and the README agree, and bad values are refused."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import helm_python
import jsonschema
import pytest
import yaml

from support.helm import BAD_VALUES_DIR, CHART_DIR, RenderFn, ci_files, load_values

VALUES_TEXT = (CHART_DIR / "values.yaml").read_text()
VALUES: dict[str, Any] = yaml.safe_load(VALUES_TEXT)
SCHEMA: dict[str, Any] = json.loads((CHART_DIR / "values.schema.json").read_text())
PARAMS = re.findall(r"^\s*## @param (\S+) \S", VALUES_TEXT, flags=re.MULTILINE)


def _object_nodes(node: dict[str, Any], path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    if "properties" in node:
        yield path, node
        for key, child in node["properties"].items():
            yield from _object_nodes(child, f"{path}.{key}".lstrip("."))


def _leaves(node: Any, path: str = "") -> Iterator[str]:
    if isinstance(node, dict) and node:
        for key, child in node.items():
            yield from _leaves(child, f"{path}.{key}".lstrip("."))
    else:
        yield path


def _schema_node(path: str) -> dict[str, Any]:
    node = SCHEMA
    for part in path.split("."):
        node = node["properties"][part]
    return node


def _values_node(path: str) -> Any:
    node: Any = VALUES
    for part in path.split("."):
        node = node[part]
    return node


def test_values_yaml_points_editors_at_the_schema() -> None:
    assert VALUES_TEXT.splitlines()[0] == "# yaml-language-server: $schema=values.schema.json"


def test_every_schema_object_refuses_unknown_keys() -> None:
    loose = [
        path or "<root>"
        for path, node in _object_nodes(SCHEMA)
        # `global` is shared with a parent chart and its other subcharts: open by design.
        if node.get("additionalProperties") is not False and path != "global"
    ]

    assert loose == []


def test_defaults_and_ci_scenarios_satisfy_the_schema() -> None:
    validator = jsonschema.Draft7Validator(SCHEMA)

    validator.validate(VALUES)
    for path in ci_files():
        validator.validate(load_values(path))


def test_every_value_has_a_param_comment() -> None:
    def documented(leaf: str) -> bool:
        parts = leaf.split(".")
        return any(".".join(parts[:n]) in PARAMS for n in range(1, len(parts) + 1))

    assert [leaf for leaf in _leaves(VALUES) if not documented(leaf)] == []
    assert len(PARAMS) == len(set(PARAMS)), "a value is documented twice"


@pytest.mark.parametrize("param", PARAMS)
def test_every_param_exists_in_values_and_schema(param: str) -> None:
    _values_node(param)
    assert _schema_node(param)


def test_the_readme_lists_every_param() -> None:
    readme = (CHART_DIR / "README.md").read_text()

    assert [p for p in PARAMS if f"| `{p}` |" not in readme] == []


def _bad_files() -> list[Path]:
    return sorted(BAD_VALUES_DIR.glob("*.yaml"))


def _offending(path: Path) -> str:
    match = re.search(r"^# offending: (\S+)$", path.read_text(), flags=re.MULTILINE)
    assert match, f"{path.name} names no offending key"
    return match.group(1)


@pytest.mark.parametrize("bad_file", _bad_files(), ids=lambda p: p.stem)
def test_the_schema_refuses_a_bad_values_file(render: RenderFn, bad_file: Path) -> None:
    with pytest.raises(helm_python.HelmValuesError) as refused:
        render(bad_file)

    assert _offending(bad_file) in str(refused.value)


@pytest.mark.parametrize("bad_file", _bad_files(), ids=lambda p: p.stem)
def test_lint_reports_a_bad_values_file(bad_file: Path) -> None:
    report = helm_python.lint(CHART_DIR, load_values(bad_file))

    assert any(_offending(bad_file) in error for error in report["errors"])


def test_there_are_bad_values_files_of_each_kind() -> None:
    stems = [p.stem for p in _bad_files()]

    assert any(s.startswith("typo-") for s in stems)
    assert any(s.startswith("wrong-type-") for s in stems)


REFUSED_COMBINATIONS = {
    "no sink": (
        {"sinks": {"postgres": {"enabled": False}, "graph": {"enabled": False}}},
        "enable at least one sink",
    ),
    "hpa and keda": (
        {"autoscaling": {"hpa": {"enabled": True}, "keda": {"enabled": True}}},
        "exclusive",
    ),
    "two monitors": (
        {"metrics": {"serviceMonitor": {"enabled": True}, "podMonitor": {"enabled": True}}},
        "not both",
    ),
    "grace not above shutdown timeout": (
        {
            "config": {"shutdownTimeoutSeconds": 30},
            "deployment": {"terminationGracePeriodSeconds": 30},
        },
        "must exceed config.shutdownTimeoutSeconds",
    ),
    "password in postgres url": (
        {"postgres": {"url": "postgresql+asyncpg://runledger:hunter2@db:5432/runledger"}},
        "remove the password",
    ),
    "password in migration url": (
        {"migration": {"url": "postgresql://owner:hunter2@db/runledger"}},
        "remove the password",
    ),
    "sasl without credentials": (
        {"kafka": {"securityProtocol": "SASL_SSL"}},
        "kafka.sasl.username and kafka.sasl.password",
    ),
    "client certificate without key": (
        {
            "kafka": {
                "securityProtocol": "SSL",
                "tls": {"existingSecret": "tls", "certKey": "tls.crt"},
            }
        },
        "set kafka.tls.certKey and kafka.tls.keyKey together",
    ),
    "tls secret with nothing to mount": (
        {"kafka": {"securityProtocol": "SSL", "tls": {"existingSecret": "tls", "caKey": ""}}},
        "neither kafka.tls.caKey nor kafka.tls.certKey",
    ),
    "keda minimum above the partitions": (
        {
            "kafka": {"partitions": 2},
            "autoscaling": {"keda": {"enabled": True, "minReplicaCount": 3}},
        },
        "minReplicaCount exceeds",
    ),
    "hpa minimum above the partitions": (
        {"kafka": {"partitions": 2}, "autoscaling": {"hpa": {"enabled": True, "minReplicas": 3}}},
        "minReplicas exceeds",
    ),
    "hpa without a metric": (
        {"autoscaling": {"hpa": {"enabled": True, "targetCPUUtilizationPercentage": None}}},
        "needs targetCPUUtilizationPercentage",
    ),
}


@pytest.mark.parametrize(
    ("values", "message"), list(REFUSED_COMBINATIONS.values()), ids=list(REFUSED_COMBINATIONS)
)
def test_the_templates_refuse_inconsistent_values(
    render: RenderFn, values: dict[str, Any], message: str
) -> None:
    with pytest.raises(helm_python.HelmRenderError, match=re.escape(message)):
        render(values)
