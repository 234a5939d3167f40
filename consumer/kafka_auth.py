"""SASL/OAUTHBEARER token providers handed to aiokafka (``sasl_oauth_token_provider``).

Two sources of tokens, chosen by ``RUNLEDGER_KAFKA__SASL_MECHANISM``:

- ``OAUTHBEARER``: an OAuth 2.0 client-credentials grant against the identity
  provider's token endpoint (Keycloak, Okta, Entra ID, Confluent Cloud's OIDC...).
  The client id and secret are ``SASL_USERNAME`` / ``SASL_PASSWORD``, as KEDA names them.
- ``AWS_MSK_IAM``: Amazon MSK's IAM access control. The token is a SigV4-signed
  request made by AWS's own signer library (the optional ``msk-iam`` extra), from the
  default AWS credential chain (IRSA, EKS Pod Identity, environment) or a role to assume.

A token is fetched once and reused by every connection until shortly before it expires
(aiokafka asks for one per connection). A failure to get one is a ``KafkaConnectionError``,
so it is retried and reported like any broker that cannot be reached, never with the secret.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
import urllib.error
import urllib.parse
import urllib.request
from abc import abstractmethod
from collections.abc import Callable
from typing import Any

from aiokafka.abc import AbstractTokenProvider
from aiokafka.errors import KafkaConnectionError

from consumer.config import ConfigurationError
from consumer.settings import KafkaSettings

# Refresh this long before the token expires: a connection opened just before expiry
# must still authenticate.
REFRESH_MARGIN_SECONDS = 60.0
_HTTP_TIMEOUT_SECONDS = 10.0
MSK_IAM_EXTRA = "pip install 'runledger[msk-iam]'"


class CachingTokenProvider(AbstractTokenProvider):  # type: ignore[misc]
    """Fetches a token at most once per lifetime, however many connections ask at once."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = asyncio.Lock()
        self._token: str | None = None
        self._expires_at = 0.0

    async def token(self) -> str:
        async with self._lock:
            if self._token is None or self._clock() >= self._expires_at - REFRESH_MARGIN_SECONDS:
                token, lifetime = await asyncio.to_thread(self._fetch)
                self._token, self._expires_at = token, self._clock() + lifetime
            return self._token

    @abstractmethod
    def _fetch(self) -> tuple[str, float]:
        """A new token and its lifetime in seconds (runs in a worker thread)."""


class OidcTokenProvider(CachingTokenProvider):
    """OAuth 2.0 client-credentials grant (RFC 6749 §4.4), client authenticated by Basic."""

    def __init__(
        self,
        token_url: str,
        client_id: str,
        client_secret: str,
        scope: str | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(clock)
        self._token_url = token_url
        self._client_id = client_id
        self._client_secret = client_secret
        self._scope = scope

    def _fetch(self) -> tuple[str, float]:
        form = {"grant_type": "client_credentials"}
        if self._scope:
            form["scope"] = self._scope
        credentials = ":".join(
            urllib.parse.quote(part, safe="") for part in (self._client_id, self._client_secret)
        )
        request = urllib.request.Request(  # noqa: S310 - the URL is the operator's setting
            self._token_url,
            data=urllib.parse.urlencode(form).encode(),
            headers={
                "Authorization": "Basic " + base64.b64encode(credentials.encode()).decode(),
                "Content-Type": "application/x-www-form-urlencoded",
                "Accept": "application/json",
            },
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=_HTTP_TIMEOUT_SECONDS) as response:  # noqa: S310
                body: dict[str, Any] = json.loads(response.read())
        except urllib.error.HTTPError as error:
            raise KafkaConnectionError(
                f"OAUTHBEARER token endpoint {self._token_url} answered HTTP {error.code}: "
                "check RUNLEDGER_KAFKA__SASL_USERNAME (client id) and SASL_PASSWORD (secret)"
            ) from None
        except (OSError, ValueError) as error:
            raise KafkaConnectionError(
                f"OAUTHBEARER token endpoint {self._token_url}: {type(error).__name__}: {error}"
            ) from None
        token = body.get("access_token")
        if not isinstance(token, str) or not token:
            raise KafkaConnectionError(
                f"OAUTHBEARER token endpoint {self._token_url} returned no access_token"
            )
        return token, float(body.get("expires_in") or 300)


class MskIamTokenProvider(CachingTokenProvider):
    """Amazon MSK IAM: a token signed by ``aws-msk-iam-sasl-signer-python``."""

    def __init__(
        self, region: str, role_arn: str | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        super().__init__(clock)
        self._region = region
        self._role_arn = role_arn
        self._signer = _msk_signer()

    def _fetch(self) -> tuple[str, float]:
        try:
            if self._role_arn:
                token, expiry_ms = self._signer.generate_auth_token_from_role_arn(
                    self._region, self._role_arn
                )
            else:
                token, expiry_ms = self._signer.generate_auth_token(self._region)
        except Exception as error:  # botocore raises many unrelated classes
            raise KafkaConnectionError(
                f"AWS_MSK_IAM: cannot sign a token for region {self._region}: "
                f"{type(error).__name__}: {error}"
            ) from None
        return str(token), max(0.0, expiry_ms / 1000 - time.time())


def _msk_signer() -> Any:
    try:
        from aws_msk_iam_sasl_signer import MSKAuthTokenProvider
    except ImportError:
        raise ConfigurationError(
            "RUNLEDGER_KAFKA__SASL_MECHANISM=AWS_MSK_IAM needs AWS's signer library: "
            + MSK_IAM_EXTRA
        ) from None
    return MSKAuthTokenProvider


def token_provider(kafka: KafkaSettings) -> AbstractTokenProvider | None:
    """The provider the settings ask for, or None for mechanisms without tokens."""
    if kafka.sasl_mechanism == "OAUTHBEARER":
        assert kafka.sasl_oauth_token_url
        assert kafka.sasl_username
        assert kafka.sasl_password
        return OidcTokenProvider(
            kafka.sasl_oauth_token_url,
            kafka.sasl_username,
            kafka.sasl_password.get_secret_value(),
            kafka.sasl_oauth_scope,
        )
    if kafka.sasl_mechanism == "AWS_MSK_IAM":
        assert kafka.aws_region
        return MskIamTokenProvider(kafka.aws_region, kafka.aws_role_arn)
    return None
