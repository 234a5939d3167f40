"""OAUTHBEARER and AWS MSK IAM: settings accepted, tokens fetched, cached and handed to aiokafka."""

from __future__ import annotations

import asyncio
import base64
import json
import sys
import threading
import urllib.parse
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.abc import AbstractTokenProvider
from aiokafka.errors import KafkaConnectionError

from consumer.config import ConfigurationError, load_settings
from consumer.kafka import consumer_options
from consumer.kafka_auth import MskIamTokenProvider, OidcTokenProvider
from consumer.settings import KafkaSettings


class TokenEndpoint:
    """A real HTTP token endpoint on 127.0.0.1 that records what it was asked."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.expires_in = 3600
        self.status = 200
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"])).decode()
                endpoint.requests.append(
                    {"auth": self.headers["Authorization"], "form": urllib.parse.parse_qs(body)}
                )
                answer = json.dumps(
                    {"access_token": f"token-{len(endpoint.requests)}",
                     "expires_in": endpoint.expires_in, "token_type": "Bearer"}
                ).encode()  # fmt: skip
                self.send_response(endpoint.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/oauth2/token"


@pytest.fixture
def token_endpoint() -> Iterator[TokenEndpoint]:
    endpoint = TokenEndpoint()
    thread = threading.Thread(target=endpoint.server.serve_forever, daemon=True)
    thread.start()
    yield endpoint
    endpoint.server.shutdown()
    endpoint.server.server_close()
    thread.join(timeout=5)


OAUTH_ENV = {
    "RUNLEDGER_KAFKA__SECURITY_PROTOCOL": "SASL_SSL",
    "RUNLEDGER_KAFKA__SASL_MECHANISM": "OAUTHBEARER",
    "RUNLEDGER_KAFKA__SASL_USERNAME": "runledger-client",
    "RUNLEDGER_KAFKA__SASL_PASSWORD": "s3cret/+:",
    "RUNLEDGER_KAFKA__SASL_OAUTH_TOKEN_URL": "https://idp.example/token",
}


def test_oauthbearer_is_accepted_by_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in OAUTH_ENV.items():
        monkeypatch.setenv(name, value)

    kafka = load_settings().kafka

    assert kafka.sasl_mechanism == "OAUTHBEARER"
    assert kafka.sasl_oauth_token_url == "https://idp.example/token"


def test_oauthbearer_without_a_token_endpoint_names_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, value in OAUTH_ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("RUNLEDGER_KAFKA__SASL_OAUTH_TOKEN_URL")

    with pytest.raises(ConfigurationError, match="SASL_OAUTH_TOKEN_URL") as caught:
        load_settings()
    assert "\n" not in str(caught.value)
    assert "s3cret" not in str(caught.value)


def test_msk_iam_needs_a_region_and_tls(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RUNLEDGER_KAFKA__SASL_MECHANISM", "AWS_MSK_IAM")
    monkeypatch.setenv("RUNLEDGER_KAFKA__SECURITY_PROTOCOL", "SASL_SSL")
    with pytest.raises(ConfigurationError, match="AWS_REGION"):
        load_settings()
    monkeypatch.setenv("RUNLEDGER_KAFKA__AWS_REGION", "eu-west-1")
    monkeypatch.setenv("RUNLEDGER_KAFKA__SECURITY_PROTOCOL", "SASL_PLAINTEXT")
    with pytest.raises(ConfigurationError, match="SASL_SSL"):
        load_settings()


async def test_the_client_credentials_grant_is_sent_and_its_token_reused(
    token_endpoint: TokenEndpoint,
) -> None:
    provider = OidcTokenProvider(token_endpoint.url, "runledger-client", "s3cret/+:", "kafka")

    tokens = await asyncio.gather(*(provider.token() for _ in range(5)))

    assert tokens == ["token-1"] * 5
    (request,) = token_endpoint.requests
    assert request["form"] == {"grant_type": ["client_credentials"], "scope": ["kafka"]}
    user, secret = base64.b64decode(request["auth"].removeprefix("Basic ")).decode().split(":")
    assert urllib.parse.unquote(user) == "runledger-client"
    assert urllib.parse.unquote(secret) == "s3cret/+:"


async def test_a_token_is_renewed_before_it_expires(token_endpoint: TokenEndpoint) -> None:
    now = [1000.0]
    provider = OidcTokenProvider(token_endpoint.url, "c", "s", clock=lambda: now[0])
    token_endpoint.expires_in = 300

    assert await provider.token() == "token-1"
    now[0] += 200  # 100 s left: still good
    assert await provider.token() == "token-1"
    now[0] += 60  # 40 s left: inside the refresh margin
    assert await provider.token() == "token-2"


async def test_a_refused_client_is_a_connection_error_without_the_secret(
    token_endpoint: TokenEndpoint,
) -> None:
    token_endpoint.status = 401
    provider = OidcTokenProvider(token_endpoint.url, "runledger-client", "s3cret")

    with pytest.raises(KafkaConnectionError, match="HTTP 401") as caught:
        await provider.token()
    assert "s3cret" not in str(caught.value)


async def test_aiokafka_gets_the_token_provider(token_endpoint: TokenEndpoint) -> None:
    kafka = KafkaSettings.model_validate(
        {"security_protocol": "SASL_PLAINTEXT", "sasl_mechanism": "OAUTHBEARER",
         "sasl_username": "c", "sasl_password": "s", "sasl_oauth_token_url": token_endpoint.url}
    )  # fmt: skip
    options = consumer_options(kafka, "postgres")

    assert options["sasl_mechanism"] == "OAUTHBEARER"
    provider = options["sasl_oauth_token_provider"]
    assert isinstance(provider, AbstractTokenProvider)
    assert "sasl_plain_password" not in options
    consumer = AIOKafkaConsumer("telemetry", **options)  # aiokafka validates the SASL options
    await consumer.stop()
    assert await provider.token() == "token-1"


async def test_msk_iam_tokens_are_signed_by_awss_library(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLERUNLEDGER")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    kafka = KafkaSettings.model_validate(
        {
            "security_protocol": "SASL_SSL",
            "sasl_mechanism": "AWS_MSK_IAM",
            "aws_region": "eu-west-1",
        }
    )
    options = consumer_options(kafka, "postgres")
    provider = options["sasl_oauth_token_provider"]
    assert isinstance(provider, MskIamTokenProvider)
    assert options["sasl_mechanism"] == "OAUTHBEARER"

    token = await provider.token()

    url = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
    parsed = urllib.parse.urlparse(url)
    query = urllib.parse.parse_qs(parsed.query)
    assert parsed.netloc == "kafka.eu-west-1.amazonaws.com"
    assert query["Action"] == ["kafka-cluster:Connect"]
    assert query["X-Amz-Credential"][0].startswith("AKIDEXAMPLERUNLEDGER/")
    assert "/eu-west-1/kafka-cluster/" in query["X-Amz-Credential"][0]
    assert await provider.token() == token  # reused, not signed per connection


def test_msk_iam_without_the_extra_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "aws_msk_iam_sasl_signer", None)  # as if not installed
    kafka = KafkaSettings.model_validate(
        {
            "security_protocol": "SASL_SSL",
            "sasl_mechanism": "AWS_MSK_IAM",
            "aws_region": "eu-west-1",
        }
    )

    with pytest.raises(ConfigurationError, match=r"runledger\[msk-iam\]"):
        consumer_options(kafka, "postgres")
