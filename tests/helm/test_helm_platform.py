"""The chart fits a platform team's cluster: network policy, spreading, registry, sidecars."""

from __future__ import annotations

from typing import Any

from support.helm import CI_DIR, Rendered, RenderFn

FULLNAME = "rel-runledger"


def _pods(rendered: Rendered) -> list[dict[str, Any]]:
    pods = [d["spec"]["template"]["spec"] for d in rendered.of_kind("Deployment")]
    pods += [j["spec"]["template"]["spec"] for j in rendered.of_kind("Job")]
    pods += [p["spec"] for p in rendered.of_kind("Pod")]
    return pods


def _egress_ports(policy: dict[str, Any]) -> list[set[int | str]]:
    return [{p["port"] for p in rule.get("ports", [])} for rule in policy["spec"]["egress"]]


def test_global_image_registry_and_pull_secrets_reach_every_pod(render: RenderFn) -> None:
    rendered = render(CI_DIR / "platform-values.yaml")

    for pod in _pods(rendered):
        for container in pod["containers"]:
            if container["name"] in ("runledger", "migrate", "readyz"):
                assert container["image"].startswith("registry.internal.example/"), container
        assert pod["imagePullSecrets"] == [{"name": "mirror-pull"}, {"name": "runledger-pull"}]


def test_the_default_image_keeps_its_registry(render: RenderFn) -> None:
    pod = render().get("Deployment", f"{FULLNAME}-postgres")["spec"]["template"]["spec"]

    assert pod["containers"][0]["image"] == "ghcr.io/runledger/runledger:0.1.0"
    assert "imagePullSecrets" not in pod


def test_network_policy_opens_the_metrics_port_and_the_services_ports(render: RenderFn) -> None:
    rendered = render(
        {
            "networkPolicy": {"enabled": True},
            "sinks": {"graph": {"enabled": True}},
            "kafka": {"bootstrapServers": "k-0:9093,k-1:9093,k-2:19092"},
            "postgres": {"url": "postgresql+asyncpg://runledger@db:6432/ledger"},
            "graph": {"uri": "neo4j+s://graph.example:7688"},
        }
    )

    policy = rendered.get("NetworkPolicy", FULLNAME)
    assert policy["spec"]["podSelector"]["matchLabels"]["app.kubernetes.io/component"] == "consumer"
    assert policy["spec"]["policyTypes"] == ["Ingress", "Egress"]
    assert policy["spec"]["ingress"] == [{"ports": [{"port": "metrics", "protocol": "TCP"}]}]
    assert _egress_ports(policy) == [{53}, {9093, 19092}, {6432, 7688}]


def test_network_policy_restricts_peers_when_told(render: RenderFn) -> None:
    rendered = render(CI_DIR / "msk-iam-values.yaml")

    policy = rendered.get("NetworkPolicy", FULLNAME)
    assert _egress_ports(policy) == [{53}, {9098}, {5432}, {443}]  # 443: AWS STS
    database_rule = policy["spec"]["egress"][2]
    assert database_rule["to"] == [{"ipBlock": {"cidr": "10.0.32.0/20"}}]
    platform = render(CI_DIR / "platform-values.yaml").get("NetworkPolicy", FULLNAME)
    (ingress,) = platform["spec"]["ingress"]
    assert ingress["from"][0]["namespaceSelector"]["matchLabels"] == {
        "kubernetes.io/metadata.name": "monitoring"
    }


def test_no_network_policy_unless_enabled(render: RenderFn) -> None:
    assert render().of_kind("NetworkPolicy") == []


def test_replicas_of_a_sink_prefer_different_nodes_by_default(render: RenderFn) -> None:
    rendered = render({"sinks": {"graph": {"enabled": True}}})

    for sink in ("postgres", "graph"):
        pod = rendered.get("Deployment", f"{FULLNAME}-{sink}")["spec"]["template"]["spec"]
        (term,) = pod["affinity"]["podAntiAffinity"][
            "preferredDuringSchedulingIgnoredDuringExecution"
        ]
        assert term["podAffinityTerm"]["topologyKey"] == "kubernetes.io/hostname"
        assert term["podAffinityTerm"]["labelSelector"]["matchLabels"]["runledger/unit"] == sink


def test_an_explicit_affinity_or_none_preset_replaces_the_default(render: RenderFn) -> None:
    mine = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": [{"matchExpressions": [
            {"key": "pool", "operator": "In", "values": ["ledger"]}]}]}}}  # fmt: skip
    explicit = render({"deployment": {"affinity": mine}})
    pod = explicit.get("Deployment", f"{FULLNAME}-postgres")["spec"]["template"]["spec"]
    assert pod["affinity"] == mine
    none = render({"deployment": {"podAntiAffinityPreset": "none"}})
    assert (
        "affinity" not in none.get("Deployment", f"{FULLNAME}-postgres")["spec"]["template"]["spec"]
    )


def test_topology_spread_gets_the_deployments_own_selector(render: RenderFn) -> None:
    rendered = render(CI_DIR / "platform-values.yaml")

    pod = rendered.get("Deployment", f"{FULLNAME}-graph")["spec"]["template"]["spec"]
    (constraint,) = pod["topologySpreadConstraints"]
    assert constraint["topologyKey"] == "topology.kubernetes.io/zone"
    assert constraint["labelSelector"]["matchLabels"]["runledger/unit"] == "graph"
    assert "requiredDuringSchedulingIgnoredDuringExecution" in pod["affinity"]["podAntiAffinity"]


def test_sidecars_init_containers_and_lifecycle_hooks(render: RenderFn) -> None:
    rendered = render(CI_DIR / "platform-values.yaml")

    pod = rendered.get("Deployment", f"{FULLNAME}-postgres")["spec"]["template"]["spec"]
    names = [c["name"] for c in pod["containers"]]
    assert names == ["runledger", "log-shipper"]
    assert [c["name"] for c in pod["initContainers"]] == ["wait-for-kafka"]
    assert pod["containers"][0]["lifecycle"] == {"preStop": {"exec": {"command": ["sleep", "5"]}}}
    for extra in (pod["containers"][1], pod["initContainers"][0]):
        assert extra["securityContext"]["readOnlyRootFilesystem"] is True  # hardened like ours
        assert extra["securityContext"]["capabilities"] == {"drop": ["ALL"]}


def test_notes_warn_when_fixed_replicas_exceed_the_partitions_in_combined_mode(
    render: RenderFn,
) -> None:
    notes = render(
        {"deployment": {"mode": "combined", "replicaCount": 8}, "kafka": {"partitions": 6}}
    ).notes

    assert "WARNING: rel-runledger has 8 replicas but kafka.partitions is 6" in notes
