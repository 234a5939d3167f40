"""`runledger migrate` runs once per install/upgrade, as a hook Job, with its own credentials."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from support.helm import CI_DIR, Rendered, RenderFn, SecretRef

FULLNAME = "rel-runledger"
JOB = f"{FULLNAME}-migrate"
HOOK_SECRET = f"{FULLNAME}-migration"


def _job_env(rendered: Rendered) -> dict[str, Any]:
    pod = rendered.get("Job", JOB)["spec"]["template"]["spec"]
    return rendered.container_env(pod, "migrate")


def test_the_migration_job_is_a_pre_install_and_pre_upgrade_hook(render: RenderFn) -> None:
    job = render().get("Job", JOB)

    annotations = job["metadata"]["annotations"]
    assert annotations["helm.sh/hook"] == "pre-install,pre-upgrade"
    assert annotations["helm.sh/hook-delete-policy"] == "before-hook-creation,hook-succeeded"
    assert int(annotations["helm.sh/hook-weight"]) == 0
    pod = job["spec"]["template"]["spec"]
    assert pod["restartPolicy"] == "Never"
    (container,) = pod["containers"]
    assert container["args"] == ["migrate"]
    assert "command" not in container  # the image's ENTRYPOINT is `runledger`


def test_the_job_uses_no_resource_of_the_release(render: RenderFn) -> None:
    """Hooks run before the release's own ConfigMaps, Secret and ServiceAccount exist."""
    rendered = render(CI_DIR / "per-sink-values.yaml")

    pod = rendered.get("Job", JOB)["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert "envFrom" not in container
    assert "serviceAccountName" not in pod
    regular = {m["metadata"]["name"] for m in rendered.without_hooks() if m["kind"] == "Secret"}
    refs = {v.name for v in _job_env(rendered).values() if isinstance(v, SecretRef)}
    assert refs.isdisjoint(regular)


def test_the_job_reuses_the_consumer_credentials_by_default(render: RenderFn) -> None:
    rendered = render(CI_DIR / "per-sink-values.yaml")

    env = _job_env(rendered)
    assert (
        env["RUNLEDGER_POSTGRES__URL"] == "postgresql+asyncpg://db.example.internal:5432/runledger"
    )
    assert env["RUNLEDGER_POSTGRES__USER"] == "runledger_rw"
    assert env["RUNLEDGER_POSTGRES__PASSWORD"] == SecretRef(HOOK_SECRET, "postgres-password")
    secret = rendered.get("Secret", HOOK_SECRET)
    assert (
        base64.b64decode(secret["data"]["postgres-password"]).decode() == "ci-postgres-consumer-pw"
    )
    annotations = secret["metadata"]["annotations"]
    assert annotations["helm.sh/hook"] == "pre-install,pre-upgrade"
    assert int(annotations["helm.sh/hook-weight"]) < 0  # created before the Job


def test_the_job_can_use_a_schema_owner(render: RenderFn) -> None:
    rendered = render(CI_DIR / "tls-values.yaml")

    env = _job_env(rendered)
    assert env["RUNLEDGER_POSTGRES__USER"] == "runledger_owner"
    assert env["RUNLEDGER_POSTGRES__PASSWORD"] == SecretRef(HOOK_SECRET, "postgres-password")
    secret = rendered.get("Secret", HOOK_SECRET)
    assert base64.b64decode(secret["data"]["postgres-password"]).decode() == "ci-postgres-owner-pw"
    consumers = rendered.deployment_env(f"{FULLNAME}-postgres")
    assert consumers["RUNLEDGER_POSTGRES__USER"] == "runledger_rw"
    assert consumers["RUNLEDGER_POSTGRES__PASSWORD"] == SecretRef(FULLNAME, "postgres-password")


def test_the_job_can_use_a_schema_owner_from_an_existing_secret(render: RenderFn) -> None:
    rendered = render(CI_DIR / "existing-secrets-values.yaml")

    env = _job_env(rendered)
    assert env["RUNLEDGER_POSTGRES__URL"] == "postgresql+asyncpg://postgres-rw:5432/runledger"
    assert env["RUNLEDGER_POSTGRES__USER"] == "runledger_owner"
    assert env["RUNLEDGER_POSTGRES__PASSWORD"] == SecretRef("runledger-postgres-owner", "password")
    assert rendered.find("Secret", HOOK_SECRET) is None


def test_the_job_has_its_own_url_when_asked(render: RenderFn) -> None:
    rendered = render({"migration": {"url": "postgresql+asyncpg://owner@primary:5432/runledger"}})

    env = _job_env(rendered)
    assert env["RUNLEDGER_POSTGRES__URL"] == "postgresql+asyncpg://owner@primary:5432/runledger"
    assert "RUNLEDGER_POSTGRES__PASSWORD" not in env
    assert rendered.find("Secret", HOOK_SECRET) is None


def test_the_job_only_gets_postgres_and_log_settings(render: RenderFn) -> None:
    env = _job_env(render(CI_DIR / "keda-values.yaml"))

    assert env["RUNLEDGER_SINKS"] == "postgres"
    assert [k for k in env if k.startswith(("RUNLEDGER_GRAPH__", "RUNLEDGER_KAFKA__"))] == []


@pytest.mark.parametrize(
    "values",
    [
        {"sinks": {"postgres": {"enabled": False}, "graph": {"enabled": True}}},
        {"migration": {"enabled": False}},
    ],
    ids=["graph only", "migration disabled"],
)
def test_no_job_without_the_postgres_sink_or_when_disabled(
    render: RenderFn, values: dict[str, Any]
) -> None:
    rendered = render(values)

    assert rendered.of_kind("Job") == []
    assert rendered.find("Secret", HOOK_SECRET) is None


def test_consumers_never_migrate_themselves(render: RenderFn) -> None:
    for values in ({}, {"migration": {"enabled": False}}):
        env = render(values).deployment_env(f"{FULLNAME}-postgres")
        assert env["RUNLEDGER_POSTGRES__MIGRATE_ON_START"] == "false"
