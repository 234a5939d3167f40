"""KEDA scales each sink on its own consumer group's lag; no autoscaler passes the partitions."""

from __future__ import annotations

from typing import Any

import pytest

from support.helm import CI_DIR, RenderFn

FULLNAME = "rel-runledger"


def _triggers(scaled_object: dict[str, Any]) -> list[dict[str, Any]]:
    triggers: list[dict[str, Any]] = scaled_object["spec"]["triggers"]
    return triggers


def test_keda_scales_each_sink_on_its_own_consumer_group(render: RenderFn) -> None:
    rendered = render(CI_DIR / "keda-values.yaml")

    assert sorted(rendered.names("ScaledObject")) == [f"{FULLNAME}-graph", f"{FULLNAME}-postgres"]
    for sink in ("postgres", "graph"):
        scaled = rendered.get("ScaledObject", f"{FULLNAME}-{sink}")
        assert scaled["spec"]["scaleTargetRef"] == {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "name": f"{FULLNAME}-{sink}",
        }
        (trigger,) = _triggers(scaled)
        assert trigger["type"] == "kafka"
        metadata = trigger["metadata"]
        assert metadata["consumerGroup"] == f"runledger-{sink}"
        assert metadata["topic"] == "orchestration.telemetry"
        assert metadata["bootstrapServers"] == "kafka:9092"
        assert metadata["lagThreshold"] == "250"
        assert metadata["activationLagThreshold"] == "10"
        assert metadata["offsetResetPolicy"] == "earliest"
        assert metadata["allowIdleConsumers"] == "false"
        assert metadata["sasl"] == "scram_sha256"
        assert "tls" not in metadata
        assert trigger["authenticationRef"] == {"name": f"{FULLNAME}-kafka"}
        assert scaled["spec"]["fallback"] == {"failureThreshold": 3, "replicas": 2}
        behavior = scaled["spec"]["advanced"]["horizontalPodAutoscalerConfig"]["behavior"]
        assert behavior == {"scaleDown": {"stabilizationWindowSeconds": 300}}


def test_keda_never_scales_past_the_declared_partitions(render: RenderFn) -> None:
    rendered = render(CI_DIR / "keda-values.yaml")  # maxReplicaCount 12, partitions 4

    for scaled in rendered.of_kind("ScaledObject"):
        assert scaled["spec"]["minReplicaCount"] == 1
        assert scaled["spec"]["maxReplicaCount"] == 4


@pytest.mark.parametrize(
    ("partitions", "maximum", "expected"), [(3, 10, 3), (24, 10, 10), (6, 6, 6)]
)
def test_keda_maximum_is_the_smaller_of_the_two(
    render: RenderFn, partitions: int, maximum: int, expected: int
) -> None:
    rendered = render(
        {
            "kafka": {"partitions": partitions},
            "autoscaling": {"keda": {"enabled": True, "maxReplicaCount": maximum}},
        }
    )

    (scaled,) = rendered.of_kind("ScaledObject")
    assert scaled["spec"]["maxReplicaCount"] == expected
    assert scaled["spec"]["maxReplicaCount"] <= partitions


def test_keda_in_combined_mode_watches_both_groups(render: RenderFn) -> None:
    rendered = render(
        {
            "deployment": {"mode": "combined"},
            "sinks": {"graph": {"enabled": True}},
            "kafka": {"groupIdPrefix": "ledger"},
            "autoscaling": {"keda": {"enabled": True}},
        }
    )

    (scaled,) = rendered.of_kind("ScaledObject")
    groups = [t["metadata"]["consumerGroup"] for t in _triggers(scaled)]
    assert groups == ["ledger-postgres", "ledger-graph"]
    assert "authenticationRef" not in _triggers(scaled)[0]
    assert rendered.of_kind("TriggerAuthentication") == []


def test_keda_reads_the_consumers_sasl_credentials(render: RenderFn) -> None:
    rendered = render(CI_DIR / "keda-values.yaml")

    auth = rendered.get("TriggerAuthentication", f"{FULLNAME}-kafka")
    assert auth["spec"]["secretTargetRef"] == [
        {"parameter": "username", "name": FULLNAME, "key": "kafka-sasl-username"},
        {"parameter": "password", "name": FULLNAME, "key": "kafka-sasl-password"},
    ]


def test_keda_reads_the_consumers_tls_material(render: RenderFn) -> None:
    rendered = render(CI_DIR / "tls-values.yaml")

    (trigger,) = _triggers(rendered.get("ScaledObject", f"{FULLNAME}-postgres"))
    assert trigger["metadata"]["tls"] == "enable"
    assert "sasl" not in trigger["metadata"]
    auth = rendered.get("TriggerAuthentication", f"{FULLNAME}-kafka")
    parameters = {ref["parameter"]: ref["key"] for ref in auth["spec"]["secretTargetRef"]}
    assert parameters == {
        "ca": "ca.crt",
        "cert": "tls.crt",
        "key": "tls.key",
        "keyPassword": "key-password",
    }
    assert {ref["name"] for ref in auth["spec"]["secretTargetRef"]} == {"runledger-kafka-tls"}


def test_keda_with_existing_secrets(render: RenderFn) -> None:
    rendered = render(
        {
            "kafka": {
                "securityProtocol": "SASL_SSL",
                "sasl": {"mechanism": "PLAIN", "existingSecret": "kafka-user"},
            },
            "autoscaling": {"keda": {"enabled": True}},
        }
    )

    (trigger,) = _triggers(rendered.get("ScaledObject", f"{FULLNAME}-postgres"))
    assert trigger["metadata"]["sasl"] == "plaintext"
    assert trigger["metadata"]["tls"] == "enable"
    auth = rendered.get("TriggerAuthentication", f"{FULLNAME}-kafka")
    assert auth["spec"]["secretTargetRef"] == [
        {"parameter": "username", "name": "kafka-user", "key": "username"},
        {"parameter": "password", "name": "kafka-user", "key": "password"},
    ]


def test_no_autoscaler_by_default(render: RenderFn) -> None:
    rendered = render()

    assert rendered.of_kind("ScaledObject") == []
    assert rendered.of_kind("HorizontalPodAutoscaler") == []
    assert rendered.of_kind("TriggerAuthentication") == []


def test_hpa_is_capped_at_the_partitions(render: RenderFn) -> None:
    rendered = render(CI_DIR / "hpa-values.yaml")  # maxReplicas 10, partitions 3

    (hpa,) = rendered.of_kind("HorizontalPodAutoscaler")
    spec = hpa["spec"]
    assert spec["scaleTargetRef"]["name"] == f"{FULLNAME}-postgres"
    assert spec["minReplicas"] == 2
    assert spec["maxReplicas"] == 3
    targets = {
        m["resource"]["name"]: m["resource"]["target"]["averageUtilization"]
        for m in spec["metrics"]
    }
    assert targets == {"cpu": 70, "memory": 85}
