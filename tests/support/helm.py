"""Render the runledger chart offline and look into the result.

The chart is rendered with Helm's own Go engine (helm-python-sdk): the same
template functions, values coalescing and values.schema.json validation as
``helm install``, without a cluster.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import helm_python
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
CHART_DIR = REPO_ROOT / "helm" / "runledger"
CI_DIR = CHART_DIR / "ci"
BAD_VALUES_DIR = REPO_ROOT / "tests" / "helm" / "bad-values"

RELEASE = "rel"
NAMESPACE = "ledger"

Manifest = dict[str, Any]


def load_values(path: Path) -> dict[str, Any]:
    """A values file as a dict (an empty file or ``{}`` gives ``{}``)."""
    loaded = yaml.safe_load(path.read_text())
    return loaded or {}


def ci_files() -> list[Path]:
    return sorted(CI_DIR.glob("*-values.yaml"))


@dataclass(frozen=True)
class SecretRef:
    """An environment variable read from a Secret key."""

    name: str
    key: str


@dataclass(frozen=True)
class FieldRef:
    """An environment variable read from the pod's own fields."""

    path: str


EnvValue = str | SecretRef | FieldRef


@dataclass
class Rendered:
    """The manifests of one render, plus NOTES.txt."""

    manifests: list[Manifest]
    notes: str
    sources: dict[int, str] = field(default_factory=dict)

    def of_kind(self, kind: str) -> list[Manifest]:
        return [m for m in self.manifests if m["kind"] == kind]

    def names(self, kind: str) -> list[str]:
        return [m["metadata"]["name"] for m in self.of_kind(kind)]

    def get(self, kind: str, name: str) -> Manifest:
        found = [m for m in self.of_kind(kind) if m["metadata"]["name"] == name]
        assert len(found) == 1, f"expected one {kind} {name}, found {self.names(kind)}"
        return found[0]

    def find(self, kind: str, name: str) -> Manifest | None:
        found = [m for m in self.of_kind(kind) if m["metadata"]["name"] == name]
        return found[0] if found else None

    def without_hooks(self) -> Iterator[Manifest]:
        for m in self.manifests:
            if "helm.sh/hook" not in (m["metadata"].get("annotations") or {}):
                yield m

    def container_env(self, pod_spec: dict[str, Any], container: str) -> dict[str, EnvValue]:
        """The container's environment as the kubelet would build it.

        ConfigMap sources are resolved to their values; Secret and field
        references stay references (the values are not the chart's business).
        """
        spec = next(c for c in pod_spec["containers"] if c["name"] == container)
        env: dict[str, EnvValue] = {}
        for source in spec.get("envFrom", []):
            ref = source["configMapRef"]["name"]
            env.update(self.get("ConfigMap", ref)["data"])
        for var in spec.get("env", []):
            if "value" in var:
                env[var["name"]] = var["value"]
                continue
            value_from = var["valueFrom"]
            if "secretKeyRef" in value_from:
                ref = value_from["secretKeyRef"]
                env[var["name"]] = SecretRef(ref["name"], ref["key"])
            elif "fieldRef" in value_from:
                env[var["name"]] = FieldRef(value_from["fieldRef"]["fieldPath"])
            else:
                raise AssertionError(f"unexpected env source {value_from}")
        return env

    def deployment_env(self, name: str) -> dict[str, EnvValue]:
        pod = self.get("Deployment", name)["spec"]["template"]["spec"]
        return self.container_env(pod, "runledger")


def render_chart(chart: helm_python.Chart, values: dict[str, Any] | None) -> Rendered:
    """Render as a first install of release ``rel`` into namespace ``ledger``."""
    output = chart.render(values, name=RELEASE, namespace=NAMESPACE, is_install=True)
    manifests: list[Manifest] = []
    notes = ""
    sources: dict[int, str] = {}
    for template, text in sorted(output.items()):
        if template.endswith("NOTES.txt"):
            notes = text
            continue
        for document in yaml.safe_load_all(text):
            if document:
                sources[len(manifests)] = template
                manifests.append(document)
    return Rendered(manifests=manifests, notes=notes, sources=sources)


# The ``render`` fixture: ``render(values_dict)``, ``render(values_path)`` or ``render()``.
RenderFn = Callable[..., Rendered]
