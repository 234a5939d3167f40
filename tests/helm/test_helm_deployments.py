"""The consumer Deployments: one per sink (or one combined), configured and hardened."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from support.helm import (
    CI_DIR,
    NAMESPACE,
    FieldRef,
    Rendered,
    RenderFn,
    SecretRef,
    ci_files,
    load_values,
)

FULLNAME = "rel-runledger"


def _pod_specs(rendered: Rendered) -> Iterator[tuple[str, dict[str, Any]]]:
    for deployment in rendered.of_kind("Deployment"):
        yield deployment["metadata"]["name"], deployment["spec"]["template"]["spec"]
    for job in rendered.of_kind("Job"):
        yield job["metadata"]["name"], job["spec"]["template"]["spec"]


def _postgres_keys(env: dict[str, Any]) -> list[str]:
    return [k for k in env if k.startswith("RUNLEDGER_POSTGRES__")]


def _graph_keys(env: dict[str, Any]) -> list[str]:
    return [k for k in env if k.startswith("RUNLEDGER_GRAPH__")]


def test_defaults_run_the_postgres_sink_in_its_own_deployment(render: RenderFn) -> None:
    rendered = render()

    assert rendered.names("Deployment") == [f"{FULLNAME}-postgres"]
    env = rendered.deployment_env(f"{FULLNAME}-postgres")
    assert env["RUNLEDGER_SINKS"] == "postgres"
    assert env["RUNLEDGER_KAFKA__GROUP_ID_PREFIX"] == "runledger"
    assert env["RUNLEDGER_KAFKA__TOPIC"] == "orchestration.telemetry"
    assert (
        env["RUNLEDGER_POSTGRES__URL"] == "postgresql+asyncpg://runledger@postgresql:5432/runledger"
    )
    assert env["RUNLEDGER_POSTGRES__MIGRATE_ON_START"] == "false"
    assert _graph_keys(env) == []


def test_per_sink_mode_gives_each_sink_its_deployment_and_settings(render: RenderFn) -> None:
    rendered = render(CI_DIR / "per-sink-values.yaml")

    assert sorted(rendered.names("Deployment")) == [f"{FULLNAME}-graph", f"{FULLNAME}-postgres"]

    postgres = rendered.deployment_env(f"{FULLNAME}-postgres")
    assert postgres["RUNLEDGER_SINKS"] == "postgres"
    assert postgres["RUNLEDGER_KAFKA__GROUP_ID_PREFIX"] == "ledger"
    assert postgres["RUNLEDGER_KAFKA__BOOTSTRAP_SERVERS"] == "kafka-0.kafka:9092,kafka-1.kafka:9092"
    assert postgres["RUNLEDGER_POSTGRES__USER"] == "runledger_rw"
    assert postgres["RUNLEDGER_POSTGRES__PASSWORD"] == SecretRef(FULLNAME, "postgres-password")
    assert _graph_keys(postgres) == []

    graph = rendered.deployment_env(f"{FULLNAME}-graph")
    assert graph["RUNLEDGER_SINKS"] == "graph"
    assert graph["RUNLEDGER_KAFKA__GROUP_ID_PREFIX"] == "ledger"
    assert graph["RUNLEDGER_GRAPH__URI"] == "neo4j+s://neo4j.example.internal:7687"
    assert graph["RUNLEDGER_GRAPH__USER"] == "runledger"
    assert graph["RUNLEDGER_GRAPH__DATABASE"] == "ledger"
    assert graph["RUNLEDGER_GRAPH__PASSWORD"] == SecretRef(FULLNAME, "graph-password")
    assert _postgres_keys(graph) == []


def test_per_sink_deployments_scale_on_their_own(render: RenderFn) -> None:
    rendered = render(CI_DIR / "per-sink-values.yaml")

    postgres = rendered.get("Deployment", f"{FULLNAME}-postgres")
    graph = rendered.get("Deployment", f"{FULLNAME}-graph")
    assert postgres["spec"]["replicas"] == 3
    assert graph["spec"]["replicas"] == 2
    graph_resources = graph["spec"]["template"]["spec"]["containers"][0]["resources"]
    assert graph_resources["limits"] == {"cpu": "2", "memory": "768Mi"}
    postgres_resources = postgres["spec"]["template"]["spec"]["containers"][0]["resources"]
    assert postgres_resources["limits"] == {"cpu": "1", "memory": "512Mi"}


def test_combined_mode_runs_every_sink_in_one_deployment(render: RenderFn) -> None:
    rendered = render(CI_DIR / "combined-values.yaml")

    assert rendered.names("Deployment") == [FULLNAME]
    deployment = rendered.get("Deployment", FULLNAME)
    assert deployment["spec"]["replicas"] == 2
    env = rendered.deployment_env(FULLNAME)
    assert env["RUNLEDGER_SINKS"] == "postgres,graph"
    assert env["RUNLEDGER_KAFKA__GROUP_ID_PREFIX"] == "runledger"
    assert env["RUNLEDGER_POSTGRES__PASSWORD"] == SecretRef(FULLNAME, "postgres-password")
    assert env["RUNLEDGER_GRAPH__PASSWORD"] == SecretRef(FULLNAME, "graph-password")
    assert rendered.names("Service") == [FULLNAME]
    assert rendered.names("PodDisruptionBudget") == [FULLNAME]


def test_a_graph_only_release_knows_nothing_of_postgres(render: RenderFn) -> None:
    rendered = render(CI_DIR / "graph-only-values.yaml")

    assert rendered.names("Deployment") == [f"{FULLNAME}-graph"]
    env = rendered.deployment_env(f"{FULLNAME}-graph")
    assert env["RUNLEDGER_SINKS"] == "graph"
    assert env["RUNLEDGER_GRAPH__URI"] == "falkordb://falkordb:6379/runledger"
    assert "RUNLEDGER_GRAPH__USER" not in env
    assert _postgres_keys(env) == []
    pod = rendered.get("Deployment", f"{FULLNAME}-graph")["spec"]["template"]["spec"]
    assert "initContainers" not in pod
    assert rendered.of_kind("Job") == []
    assert rendered.get("Secret", FULLNAME)["data"].keys() == {"graph-password"}
    assert "postgres" not in yaml.safe_dump_all(rendered.manifests)


def test_a_graph_deployment_beside_postgres_gets_no_postgres_secret(render: RenderFn) -> None:
    rendered = render(CI_DIR / "existing-secrets-values.yaml")

    graph = rendered.deployment_env(f"{FULLNAME}-graph")
    secrets = {ref.name for ref in graph.values() if isinstance(ref, SecretRef)}
    assert secrets == {"runledger-kafka", "runledger-neo4j"}


@pytest.mark.parametrize("values_file", ci_files(), ids=lambda p: p.name)
def test_probes_use_the_health_endpoints_on_the_metrics_port(
    render: RenderFn, values_file: Path
) -> None:
    rendered = render(values_file)
    for deployment in rendered.of_kind("Deployment"):
        container = deployment["spec"]["template"]["spec"]["containers"][0]
        env = rendered.deployment_env(deployment["metadata"]["name"])
        assert container["ports"] == [{"name": "metrics", "containerPort": 9108, "protocol": "TCP"}]
        assert env["RUNLEDGER_METRICS__PORT"] == "9108"
        assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "metrics"}
        assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "metrics"}
        assert container["startupProbe"]["httpGet"] == {"path": "/healthz", "port": "metrics"}
        assert container["args"] == ["run"]


def test_the_metrics_port_is_one_setting(render: RenderFn) -> None:
    rendered = render({"metrics": {"port": 9200, "service": {"port": 80}}})

    name = f"{FULLNAME}-postgres"
    container = rendered.get("Deployment", name)["spec"]["template"]["spec"]["containers"][0]
    assert container["ports"][0]["containerPort"] == 9200
    assert rendered.deployment_env(name)["RUNLEDGER_METRICS__PORT"] == "9200"
    service = rendered.get("Service", name)
    assert service["spec"]["ports"] == [
        {"name": "metrics", "port": 80, "targetPort": "metrics", "protocol": "TCP"}
    ]


@pytest.mark.parametrize("values_file", ci_files(), ids=lambda p: p.name)
def test_every_pod_is_hardened(render: RenderFn, values_file: Path) -> None:
    rendered = render(values_file)
    for name, pod in _pod_specs(rendered):
        pod_context = pod["securityContext"]
        assert pod_context["runAsNonRoot"] is True, name
        assert pod_context["runAsUser"] == 10001, name
        assert pod_context["seccompProfile"] == {"type": "RuntimeDefault"}, name
        assert pod["automountServiceAccountToken"] is False, name
        assert pod["enableServiceLinks"] is False, name
        for container in pod["containers"]:
            context = container["securityContext"]
            assert context["runAsNonRoot"] is True, name
            assert context["readOnlyRootFilesystem"] is True, name
            assert context["allowPrivilegeEscalation"] is False, name
            assert context["capabilities"] == {"drop": ["ALL"]}, name
            assert context["seccompProfile"] == {"type": "RuntimeDefault"}, name
            resources = container["resources"]
            assert {"cpu", "memory"} <= resources["requests"].keys(), name
            assert "memory" in resources["limits"], name


def test_the_test_pod_is_hardened_too(render: RenderFn) -> None:
    pod = render().get("Pod", f"{FULLNAME}-test-readyz")["spec"]

    assert pod["securityContext"]["runAsNonRoot"] is True
    context = pod["containers"][0]["securityContext"]
    assert context["readOnlyRootFilesystem"] is True
    assert context["allowPrivilegeEscalation"] is False
    assert context["capabilities"] == {"drop": ["ALL"]}


@pytest.mark.parametrize(
    ("values", "shutdown", "grace"),
    [
        ({}, "25", 35),
        ({"config": {"shutdownTimeoutSeconds": 50}}, "50", 60),
        ({"deployment": {"terminationGracePeriodSeconds": 90}}, "25", 90),
    ],
)
def test_the_grace_period_outlasts_the_shutdown_timeout(
    render: RenderFn, values: dict[str, Any], shutdown: str, grace: int
) -> None:
    rendered = render(values)

    name = f"{FULLNAME}-postgres"
    pod = rendered.get("Deployment", name)["spec"]["template"]["spec"]
    assert rendered.deployment_env(name)["RUNLEDGER_SHUTDOWN_TIMEOUT_SECONDS"] == shutdown
    assert pod["terminationGracePeriodSeconds"] == grace
    assert grace > int(shutdown)


def test_the_client_id_names_the_pod_unless_set(render: RenderFn) -> None:
    name = f"{FULLNAME}-postgres"

    assert render().deployment_env(name)["RUNLEDGER_KAFKA__CLIENT_ID"] == FieldRef("metadata.name")
    configured = render({"kafka": {"clientId": "ledger-consumer"}})
    assert configured.deployment_env(name)["RUNLEDGER_KAFKA__CLIENT_ID"] == "ledger-consumer"


def test_optional_settings_reach_the_environment(render: RenderFn) -> None:
    rendered = render(
        {
            "kafka": {"maxBatchRecords": 500},
            "deadLetter": {"topic": "ledger.dead", "tolerance": "none"},
            "config": {"logLevel": "DEBUG", "logFormat": "console"},
        }
    )

    env = rendered.deployment_env(f"{FULLNAME}-postgres")
    assert env["RUNLEDGER_KAFKA__MAX_BATCH_RECORDS"] == "500"
    assert env["RUNLEDGER_DEAD_LETTER__TOPIC"] == "ledger.dead"
    assert env["RUNLEDGER_DEAD_LETTER__TOLERANCE"] == "none"
    assert env["RUNLEDGER_LOG__LEVEL"] == "DEBUG"
    assert env["RUNLEDGER_LOG__FORMAT"] == "console"
    defaults = render().deployment_env(f"{FULLNAME}-postgres")
    assert "RUNLEDGER_KAFKA__MAX_BATCH_RECORDS" not in defaults
    assert "RUNLEDGER_DEAD_LETTER__TOPIC" not in defaults


def test_every_environment_variable_is_a_runledger_setting(render: RenderFn) -> None:
    for values_file in ci_files():
        rendered = render(values_file)
        for name, pod in _pod_specs(rendered):
            env = rendered.container_env(pod, pod["containers"][0]["name"])
            assert [k for k in env if not k.startswith("RUNLEDGER_")] == [], name


def _passwords(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "password" and isinstance(value, str) and value:
                yield value
            else:
                yield from _passwords(value)


@pytest.mark.parametrize("values_file", ci_files(), ids=lambda p: p.name)
def test_no_secret_value_outside_a_secret(render: RenderFn, values_file: Path) -> None:
    values = load_values(values_file)
    passwords = list(_passwords(values))
    rendered = render(values)

    for config_map in rendered.of_kind("ConfigMap"):
        assert not [p for p in passwords for v in config_map["data"].values() if p in v]
    elsewhere = yaml.safe_dump_all([m for m in rendered.manifests if m["kind"] != "Secret"])
    assert [p for p in passwords if p in elsewhere] == []
    stored = {
        base64.b64decode(value).decode()
        for secret in rendered.of_kind("Secret")
        for value in secret["data"].values()
    }
    assert set(passwords) <= stored


def test_chart_managed_credentials_land_in_the_release_secret(render: RenderFn) -> None:
    rendered = render(CI_DIR / "keda-values.yaml")

    data = rendered.get("Secret", FULLNAME)["data"]
    decoded = {key: base64.b64decode(value).decode() for key, value in data.items()}
    assert decoded == {
        "kafka-sasl-username": "runledger",
        "kafka-sasl-password": "ci-kafka-pw",
        "postgres-password": "ci-postgres-consumer-pw",
        "graph-password": "ci-graph-pw",
    }
    for name in (f"{FULLNAME}-postgres", f"{FULLNAME}-graph"):
        env = rendered.deployment_env(name)
        assert env["RUNLEDGER_KAFKA__SECURITY_PROTOCOL"] == "SASL_PLAINTEXT"
        assert env["RUNLEDGER_KAFKA__SASL_MECHANISM"] == "SCRAM-SHA-256"
        assert env["RUNLEDGER_KAFKA__SASL_USERNAME"] == SecretRef(FULLNAME, "kafka-sasl-username")
        assert env["RUNLEDGER_KAFKA__SASL_PASSWORD"] == SecretRef(FULLNAME, "kafka-sasl-password")


def test_existing_secrets_replace_the_release_secret(render: RenderFn) -> None:
    rendered = render(CI_DIR / "existing-secrets-values.yaml")

    assert rendered.of_kind("Secret") == []
    postgres = rendered.deployment_env(f"{FULLNAME}-postgres")
    graph = rendered.deployment_env(f"{FULLNAME}-graph")
    for env in (postgres, graph):
        assert env["RUNLEDGER_KAFKA__SASL_USERNAME"] == SecretRef("runledger-kafka", "user")
        assert env["RUNLEDGER_KAFKA__SASL_PASSWORD"] == SecretRef("runledger-kafka", "password")
        assert env["RUNLEDGER_KAFKA__SSL_CAFILE"] == "/etc/runledger/kafka-tls/ca.crt"
        assert "RUNLEDGER_KAFKA__SSL_CERTFILE" not in env
    assert postgres["RUNLEDGER_POSTGRES__PASSWORD"] == SecretRef(
        "runledger-postgres-app", "password"
    )
    assert postgres["RUNLEDGER_POSTGRES__USER"] == "runledger_rw"
    assert graph["RUNLEDGER_GRAPH__PASSWORD"] == SecretRef("runledger-neo4j", "neo4j-password")


def test_kafka_tls_material_is_mounted_from_its_secret(render: RenderFn) -> None:
    rendered = render(CI_DIR / "tls-values.yaml")

    name = f"{FULLNAME}-postgres"
    pod = rendered.get("Deployment", name)["spec"]["template"]["spec"]
    volume = next(v for v in pod["volumes"] if v["name"] == "kafka-tls")
    assert volume["secret"]["secretName"] == "runledger-kafka-tls"
    assert volume["secret"]["items"] == [
        {"key": "ca.crt", "path": "ca.crt"},
        {"key": "tls.crt", "path": "tls.crt"},
        {"key": "tls.key", "path": "tls.key"},
    ]
    mount = next(m for m in pod["containers"][0]["volumeMounts"] if m["name"] == "kafka-tls")
    assert mount == {"name": "kafka-tls", "mountPath": "/etc/runledger/kafka-tls", "readOnly": True}
    env = rendered.deployment_env(name)
    assert env["RUNLEDGER_KAFKA__SECURITY_PROTOCOL"] == "SSL"
    assert env["RUNLEDGER_KAFKA__SSL_CAFILE"] == "/etc/runledger/kafka-tls/ca.crt"
    assert env["RUNLEDGER_KAFKA__SSL_CERTFILE"] == "/etc/runledger/kafka-tls/tls.crt"
    assert env["RUNLEDGER_KAFKA__SSL_KEYFILE"] == "/etc/runledger/kafka-tls/tls.key"
    assert env["RUNLEDGER_KAFKA__SSL_KEY_PASSWORD"] == SecretRef(
        "runledger-kafka-tls", "key-password"
    )
    assert "RUNLEDGER_KAFKA__SASL_USERNAME" not in env


def test_without_tls_nothing_is_mounted(render: RenderFn) -> None:
    pod = render().get("Deployment", f"{FULLNAME}-postgres")["spec"]["template"]["spec"]

    assert [v["name"] for v in pod["volumes"]] == ["tmp"]
    env = render().deployment_env(f"{FULLNAME}-postgres")
    assert [k for k in env if "SSL" in k or "SASL" in k] == []


def test_config_changes_roll_the_pods(render: RenderFn) -> None:
    def checksum(values: dict[str, Any]) -> str:
        deployment = render(values).get("Deployment", f"{FULLNAME}-postgres")
        annotations: dict[str, str] = deployment["spec"]["template"]["metadata"]["annotations"]
        return annotations["checksum/config"]

    assert checksum({}) == checksum({})
    assert checksum({}) != checksum({"config": {"logLevel": "DEBUG"}})


@pytest.mark.parametrize("values_file", ["keda-values.yaml", "hpa-values.yaml"])
def test_autoscaled_deployments_leave_replicas_to_the_autoscaler(
    render: RenderFn, values_file: str
) -> None:
    rendered = render(CI_DIR / values_file)

    assert rendered.of_kind("Deployment")
    assert [d for d in rendered.of_kind("Deployment") if "replicas" in d["spec"]] == []


def test_each_deployment_has_a_metrics_service_and_a_disruption_budget(render: RenderFn) -> None:
    rendered = render(CI_DIR / "per-sink-values.yaml")

    for name in rendered.names("Deployment"):
        service = rendered.get("Service", name)
        assert service["spec"]["ports"][0]["targetPort"] == "metrics"
        budget = rendered.get("PodDisruptionBudget", name)["spec"]
        assert budget["maxUnavailable"] == 1
        assert budget["unhealthyPodEvictionPolicy"] == "AlwaysAllow"

    hpa = render(CI_DIR / "hpa-values.yaml")
    budget = hpa.get("PodDisruptionBudget", f"{FULLNAME}-postgres")["spec"]
    assert budget["minAvailable"] == 1
    assert "maxUnavailable" not in budget


def test_helm_test_curls_readyz_of_every_metrics_service(render: RenderFn) -> None:
    rendered = render(CI_DIR / "per-sink-values.yaml")

    pod = rendered.get("Pod", f"{FULLNAME}-test-readyz")
    assert pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    container = pod["spec"]["containers"][0]
    assert container["command"] == ["curl"]
    assert "--fail" in container["args"]
    urls = [a for a in container["args"] if a.startswith("http://")]
    assert urls == [
        f"http://{name}.{NAMESPACE}.svc:9108/readyz" for name in rendered.names("Service")
    ]


def test_notes_tell_how_to_check_lag_and_health(render: RenderFn) -> None:
    notes = render(CI_DIR / "per-sink-values.yaml").notes

    assert "/readyz" in notes
    assert "/healthz" in notes
    assert "runledger_consumer_lag_messages" in notes
    assert "--describe --group ledger-postgres" in notes
    assert "--describe --group ledger-graph" in notes
    assert "helm test rel" in notes


def test_notes_warn_about_idle_replicas(render: RenderFn) -> None:
    notes = render({"kafka": {"partitions": 2}, "sinks": {"postgres": {"replicaCount": 3}}}).notes

    assert "WARNING" in notes
    assert "sit idle" in notes
