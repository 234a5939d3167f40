"""Runtime configuration, read once at start-up from ``RUNLEDGER_*`` variables and ``.env``.

Each component receives only its own part (``settings.kafka``, ``settings.metrics``, ...);
nothing reads the environment after start-up. Sink settings live with their sink
(``sinks.<name>``) and are loaded by the sink's plugin the same way.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from contracts import DEFAULT_MAX_MESSAGE_BYTES

SecurityProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
SaslMechanism = Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER", "AWS_MSK_IAM"]
# Mechanisms that authenticate with a user name and a password (or client id and secret).
_NEEDS_CREDENTIALS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER")


class KafkaSettings(BaseModel):
    """Where the events come from and how to reach the brokers."""

    bootstrap_servers: str = Field(
        "127.0.0.1:9092", description="Comma-separated host:port list of Kafka brokers."
    )
    topic: str = Field("orchestration.telemetry", description="Topic the orchestrators publish to.")
    group_id_prefix: str = Field(
        "runledger", description="Consumer group of sink S is '<prefix>-<S>' (one group per sink)."
    )
    client_id: str = Field("runledger", description="Kafka client id (shows in broker logs).")
    security_protocol: SecurityProtocol = Field("PLAINTEXT", description="Kafka security protocol.")
    sasl_mechanism: SaslMechanism | None = Field(
        None,
        description=(
            "SASL mechanism for SASL_*. OAUTHBEARER: OAuth 2.0 client credentials; "
            "AWS_MSK_IAM: Amazon MSK IAM (needs the msk-iam extra and SASL_SSL)."
        ),
    )
    sasl_username: str | None = Field(
        None, description="SASL user name; the OAuth client id with OAUTHBEARER."
    )
    sasl_password: SecretStr | None = Field(
        None, description="SASL password (secret); the OAuth client secret with OAUTHBEARER."
    )
    sasl_oauth_token_url: str | None = Field(
        None, description="OAUTHBEARER: the identity provider's OAuth 2.0 token endpoint."
    )
    sasl_oauth_scope: str | None = Field(
        None, description="OAUTHBEARER: scope(s) to request, space-separated; empty asks none."
    )
    aws_region: str | None = Field(
        None, description="AWS_MSK_IAM: region of the MSK cluster, e.g. eu-west-1."
    )
    aws_role_arn: str | None = Field(
        None,
        description=(
            "AWS_MSK_IAM: role to assume for the token; empty uses the default AWS "
            "credential chain (IRSA, EKS Pod Identity, AWS_* variables)."
        ),
    )
    ssl_cafile: Path | None = Field(None, description="CA bundle that signed the brokers' certs.")
    ssl_certfile: Path | None = Field(None, description="Client certificate for mutual TLS.")
    ssl_keyfile: Path | None = Field(None, description="Private key of the client certificate.")
    ssl_key_password: SecretStr | None = Field(None, description="Password of the client key.")
    max_batch_records: int = Field(
        2000, ge=1, description="Most records written to a sink in one transaction."
    )
    max_batch_bytes: int = Field(
        16 * 1024 * 1024, ge=1024, description="Most bytes fetched in one poll (bounds memory)."
    )
    max_partition_fetch_bytes: int = Field(
        4 * 1024 * 1024, ge=1024, description="Most bytes fetched per partition in one poll."
    )
    poll_timeout_ms: int = Field(500, ge=1, description="How long one poll waits for records.")
    session_timeout_ms: int = Field(30_000, ge=1000, description="Group session timeout.")
    max_poll_interval_ms: int = Field(
        300_000, ge=1000, description="Longest pause between polls before the group evicts us."
    )

    @model_validator(mode="after")
    def _sasl_needs_credentials(self) -> KafkaSettings:
        if not self.security_protocol.startswith("SASL_"):
            return self
        mechanism = self.sasl_mechanism
        if mechanism is None:
            raise ValueError("sasl_mechanism is required when security_protocol is SASL_*")
        if mechanism in _NEEDS_CREDENTIALS and (not self.sasl_username or not self.sasl_password):
            raise ValueError(f"sasl_username and sasl_password are required for {mechanism}")
        if mechanism == "OAUTHBEARER" and not self.sasl_oauth_token_url:
            raise ValueError("set SASL_OAUTH_TOKEN_URL (the token endpoint) for OAUTHBEARER")
        if mechanism == "AWS_MSK_IAM":
            if not self.aws_region:
                raise ValueError("set AWS_REGION (the MSK cluster's region) for AWS_MSK_IAM")
            if self.security_protocol != "SASL_SSL":
                raise ValueError("AWS_MSK_IAM needs security_protocol SASL_SSL (MSK's IAM port)")
        return self

    def group_id(self, sink: str) -> str:
        """The consumer group of one sink: each sink keeps its own offsets and lag."""
        return f"{self.group_id_prefix}-{sink}"


class DeadLetterSettings(BaseModel):
    """Where records that cannot be written go, and whether they may stop the stream."""

    topic: str | None = Field(None, description="Dead-letter topic (default '<topic>.dlq').")
    tolerance: Literal["all", "none"] = Field(
        "all",
        description="'all': dead-letter bad records and go on; 'none': stop the consumer instead.",
    )


class MetricsSettings(BaseModel):
    """The HTTP endpoint serving /metrics, /healthz and /readyz."""

    host: str = Field("0.0.0.0", description="Address the metrics endpoint listens on.")  # noqa: S104
    port: int = Field(9108, ge=0, le=65535, description="Port of the endpoint; 0 disables it.")


class LogSettings(BaseModel):
    """How runledger writes its own logs."""

    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field("INFO", description="Log level.")
    format: Literal["json", "console", "auto"] = Field(
        "auto", description="'json' lines, 'console' text, or 'auto': text on a terminal."
    )


class RetrySettings(BaseModel):
    """Backoff for transient sink errors: exponential with jitter, forever by default."""

    initial_backoff_seconds: float = Field(0.2, gt=0, description="First retry delay.")
    max_backoff_seconds: float = Field(30.0, gt=0, description="Cap of the retry delay.")
    max_attempts: int = Field(0, ge=0, description="Attempts before giving up; 0 means forever.")


class Settings(BaseSettings):
    """All of runledger's settings; see the README's configuration reference."""

    model_config = SettingsConfigDict(
        env_prefix="RUNLEDGER_",
        env_nested_delimiter="__",
        env_file=".env",
        extra="ignore",
    )

    sinks: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["postgres"],
        description="Comma-separated sinks to run, each in its own consumer group.",
    )
    max_message_bytes: int = Field(
        DEFAULT_MAX_MESSAGE_BYTES, ge=1, description="Larger records are dead-lettered."
    )
    shutdown_timeout_seconds: float = Field(
        25.0, gt=0, description="Time to finish the batch in flight on SIGTERM (< grace period)."
    )
    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    dead_letter: DeadLetterSettings = Field(default_factory=DeadLetterSettings)
    retry: RetrySettings = Field(default_factory=RetrySettings)
    metrics: MetricsSettings = Field(default_factory=MetricsSettings)
    log: LogSettings = Field(default_factory=LogSettings)

    @field_validator("sinks", mode="before")
    @classmethod
    def _split_sinks(cls, value: object) -> object:
        if isinstance(value, str):
            value = [part.strip() for part in value.split(",")]
        if isinstance(value, list):
            names = [str(v).strip() for v in value if str(v).strip()]
            if not names:
                raise ValueError("name at least one sink, e.g. 'postgres' or 'postgres,graph'")
            return list(dict.fromkeys(names))
        return value

    @property
    def dead_letter_topic(self) -> str:
        """The dead-letter topic in force: configured, or '<topic>.dlq'."""
        return self.dead_letter.topic or f"{self.kafka.topic}.dlq"
