"""Every manifest of every install scenario is valid Kubernetes.

Built-in kinds are validated against the Kubernetes OpenAPI schemas shipped
with kubernetes-validate (offline, strict: unknown fields fail), at the oldest
Kubernetes the chart supports and at a recent one; custom resources against
``support.helm_crd_schemas``.
"""

from __future__ import annotations

import re
from pathlib import Path

import jsonschema
import kubernetes_validate
import pytest

from support.helm import NAMESPACE, RELEASE, Manifest, Rendered, RenderFn, ci_files
from support.helm_crd_schemas import CRD_SCHEMAS

KUBERNETES_VERSIONS = ["1.27.0", "1.33.0"]
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def _validate(manifest: Manifest, version: str) -> None:
    crd_schema = CRD_SCHEMAS.get((manifest["apiVersion"], manifest["kind"]))
    if crd_schema is not None:
        jsonschema.Draft202012Validator(crd_schema).validate(manifest)
    else:
        kubernetes_validate.validate(manifest, version, strict=True)


@pytest.fixture(params=ci_files(), ids=lambda p: p.name.removesuffix("-values.yaml"))
def scenario(request: pytest.FixtureRequest, render: RenderFn) -> Rendered:
    values_file: Path = request.param
    return render(values_file)


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_every_manifest_is_valid(scenario: Rendered, version: str) -> None:
    assert scenario.manifests
    for index, manifest in enumerate(scenario.manifests):
        try:
            _validate(manifest, version)
        except (jsonschema.ValidationError, kubernetes_validate.utils.SchemaNotFoundError) as error:
            where = f"{scenario.sources[index]}: {manifest['kind']} {manifest['metadata']['name']}"
            pytest.fail(f"{where}: {getattr(error, 'message', error)}")


def test_names_are_unique_dns_labels(scenario: Rendered) -> None:
    seen = [(m["kind"], m["metadata"]["name"]) for m in scenario.manifests]

    assert len(seen) == len(set(seen))
    assert [name for _, name in seen if not DNS_LABEL.match(name) or len(name) > 63] == []


def test_every_resource_is_labelled_and_namespaced(scenario: Rendered) -> None:
    for manifest in scenario.manifests:
        meta = manifest["metadata"]
        assert meta["namespace"] == NAMESPACE
        assert meta["labels"]["app.kubernetes.io/name"] == "runledger"
        assert meta["labels"]["app.kubernetes.io/instance"] == RELEASE
        assert meta["labels"]["app.kubernetes.io/managed-by"] == "Helm"
        assert meta["labels"]["helm.sh/chart"] == "runledger-0.2.0"


def test_selectors_match_their_pods(scenario: Rendered) -> None:
    pods = {
        d["metadata"]["name"]: d["spec"]["template"]["metadata"]["labels"]
        for d in scenario.of_kind("Deployment")
    }
    for deployment in scenario.of_kind("Deployment"):
        selector = deployment["spec"]["selector"]["matchLabels"]
        matching = [name for name, labels in pods.items() if selector.items() <= labels.items()]
        assert matching == [deployment["metadata"]["name"]], "selectors overlap"
    for kind in ("Service", "PodDisruptionBudget"):
        for item in scenario.of_kind(kind):
            spec = item["spec"]
            selector = spec["selector"] if kind == "Service" else spec["selector"]["matchLabels"]
            assert [n for n, labels in pods.items() if selector.items() <= labels.items()] == [
                item["metadata"]["name"]
            ]


def test_long_names_are_cut_to_63_characters_keeping_the_suffix(render: RenderFn) -> None:
    rendered = render(
        {"fullnameOverride": "r" * 63, "sinks": {"graph": {"enabled": True}}},
    )

    names = [m["metadata"]["name"] for m in rendered.manifests]
    assert all(len(name) <= 63 for name in names)
    deployments = rendered.names("Deployment")
    assert sorted(n.rsplit("-", 1)[1] for n in deployments) == ["graph", "postgres"]
    assert any(n.endswith("-migrate") for n in rendered.names("Job"))
