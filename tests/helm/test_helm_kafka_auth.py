"""The chart speaks OAUTHBEARER and AWS MSK IAM: consumers, Secrets, service account and KEDA."""

from __future__ import annotations

import pytest

from support.helm import CI_DIR, FieldRef, RenderFn, SecretRef

FULLNAME = "rel-runledger"
ROLE = "arn:aws:iam::123456789012:role/runledger-msk"


def test_oauthbearer_consumers_get_the_client_and_the_token_endpoint(render: RenderFn) -> None:
    rendered = render(CI_DIR / "oauth-values.yaml")

    env = rendered.deployment_env(f"{FULLNAME}-postgres")
    assert env["RUNLEDGER_KAFKA__SASL_MECHANISM"] == "OAUTHBEARER"
    token_url = env["RUNLEDGER_KAFKA__SASL_OAUTH_TOKEN_URL"]
    assert isinstance(token_url, str)
    assert token_url.startswith("https://idp.example.com/")
    assert env["RUNLEDGER_KAFKA__SASL_OAUTH_SCOPE"] == "kafka"
    assert env["RUNLEDGER_KAFKA__SASL_USERNAME"] == SecretRef("kafka-oauth-client", "client-id")
    assert env["RUNLEDGER_KAFKA__SASL_PASSWORD"] == SecretRef("kafka-oauth-client", "client-secret")


def test_keda_authenticates_with_oauthbearer_like_the_consumers(render: RenderFn) -> None:
    rendered = render(CI_DIR / "oauth-values.yaml")

    (trigger,) = rendered.get("ScaledObject", f"{FULLNAME}-postgres")["spec"]["triggers"]
    assert trigger["type"] == "kafka"
    assert trigger["metadata"]["sasl"] == "oauthbearer"
    assert trigger["metadata"]["tls"] == "enable"
    refs = rendered.get("TriggerAuthentication", f"{FULLNAME}-kafka")["spec"]["secretTargetRef"]
    assert {r["parameter"]: (r["name"], r["key"]) for r in refs} == {
        "username": ("kafka-oauth-client", "client-id"),
        "password": ("kafka-oauth-client", "client-secret"),
        "oauthTokenEndpointUri": (FULLNAME, "kafka-oauth-token-url"),
        "scopes": (FULLNAME, "kafka-oauth-scope"),
    }
    secret = rendered.get("Secret", FULLNAME)
    assert {"kafka-oauth-token-url", "kafka-oauth-scope"} <= secret["data"].keys()


def test_msk_iam_needs_no_kafka_secret_and_uses_the_service_accounts_role(
    render: RenderFn,
) -> None:
    rendered = render(CI_DIR / "msk-iam-values.yaml")

    env = rendered.deployment_env(f"{FULLNAME}-postgres")
    assert env["RUNLEDGER_KAFKA__SASL_MECHANISM"] == "AWS_MSK_IAM"
    assert env["RUNLEDGER_KAFKA__AWS_REGION"] == "eu-west-1"
    assert "RUNLEDGER_KAFKA__SASL_USERNAME" not in env
    assert "RUNLEDGER_KAFKA__SASL_PASSWORD" not in env
    assert env["RUNLEDGER_KAFKA__CLIENT_ID"] == FieldRef("metadata.name")
    account = rendered.get("ServiceAccount", FULLNAME)
    assert account["metadata"]["annotations"]["eks.amazonaws.com/role-arn"] == ROLE
    pod = rendered.get("Deployment", f"{FULLNAME}-postgres")["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == FULLNAME


def test_keda_scales_msk_iam_with_the_workloads_aws_identity(render: RenderFn) -> None:
    rendered = render(CI_DIR / "msk-iam-values.yaml")

    (trigger,) = rendered.get("ScaledObject", f"{FULLNAME}-postgres")["spec"]["triggers"]
    assert trigger["type"] == "apache-kafka"  # KEDA's kafka scaler has no MSK IAM
    assert trigger["metadata"]["sasl"] == "aws_msk_iam"
    assert trigger["metadata"]["awsRegion"] == "eu-west-1"
    assert trigger["metadata"]["tls"] == "enable"
    assert trigger["authenticationRef"] == {"name": f"{FULLNAME}-kafka"}
    auth = rendered.get("TriggerAuthentication", f"{FULLNAME}-kafka")["spec"]
    assert auth == {"podIdentity": {"provider": "aws", "identityOwner": "workload"}}


@pytest.mark.parametrize(
    ("kafka", "message"),
    [
        ({"securityProtocol": "SASL_SSL", "sasl": {"mechanism": "OAUTHBEARER",
          "username": "c", "password": "s"}}, "kafka.sasl.oauth.tokenUrl"),
        ({"securityProtocol": "SASL_SSL", "sasl": {"mechanism": "AWS_MSK_IAM"}},
         "kafka.aws.region"),
        ({"securityProtocol": "SASL_PLAINTEXT", "sasl": {"mechanism": "AWS_MSK_IAM"},
          "aws": {"region": "eu-west-1"}}, "SASL_SSL"),
        ({"securityProtocol": "SASL_SSL", "sasl": {"mechanism": "OAUTHBEARER",
          "oauth": {"tokenUrl": "https://idp.example/token"}}}, "kafka.sasl.username"),
    ],
    ids=["oauth-without-endpoint", "msk-without-region", "msk-without-tls", "oauth-no-client"],
)  # fmt: skip
def test_an_incomplete_token_setup_fails_the_render_naming_the_value(
    render: RenderFn, kafka: dict[str, object], message: str
) -> None:
    with pytest.raises(Exception, match=message.replace(".", r"\.")):
        render({"kafka": kafka})
