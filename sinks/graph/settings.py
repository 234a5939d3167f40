"""Settings of the graph sink, read from ``RUNLEDGER_GRAPH__*``.

The engine follows from the URI's scheme: ``neo4j://``, ``neo4j+s://``, ``neo4j+ssc://``,
``bolt://``, ``bolt+s://``, ``bolt+ssc://`` for Neo4j; ``falkordb://host:port/graph-name``
(``falkordbs://`` for TLS) for FalkorDB, the embedded default.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from sinks.graph.dialects import EngineName

DEFAULT_URI = "falkordb://127.0.0.1:6379/runledger"
DEFAULT_GRAPH = "runledger"

NEO4J_SCHEMES = frozenset({"neo4j", "neo4j+s", "neo4j+ssc", "bolt", "bolt+s", "bolt+ssc"})
FALKORDB_SCHEMES = frozenset({"falkordb", "falkordbs"})


@dataclass(frozen=True)
class FalkorAddress:
    """Where a FalkorDB graph lives, parsed from a ``falkordb://`` URI."""

    host: str
    port: int
    graph: str
    tls: bool
    username: str | None
    password: str | None


class GraphSettings(BaseSettings):
    """Where the graph lives and how to reach it."""

    model_config = SettingsConfigDict(
        env_prefix="RUNLEDGER_GRAPH__", env_file=".env", extra="ignore"
    )

    uri: str = Field(
        DEFAULT_URI,
        description=(
            "neo4j://, neo4j+s://, bolt://, bolt+s:// (Neo4j) or "
            "falkordb://host:port/graph-name (FalkorDB; falkordbs:// for TLS)."
        ),
    )
    user: str | None = Field(None, description="User name (Neo4j: usually 'neo4j').")
    password: SecretStr | None = Field(None, description="Password (secret).")
    database: str | None = Field(
        None,
        description=(
            "Neo4j database (default: the server's default database). FalkorDB: the graph "
            "name when the URI names none."
        ),
    )
    generic_node_label: bool = Field(
        False,
        description=(
            "Also label Run and TaskExecution nodes :Node (their `type` property is always "
            "set), for orchestrators that query that generic shape."
        ),
    )
    tls_ca_file: Path | None = Field(
        None, description="CA bundle for neo4j:// / bolt:// / falkordbs:// with TLS."
    )
    tls_client_cert_file: Path | None = Field(None, description="Client certificate (mTLS).")
    tls_client_key_file: Path | None = Field(None, description="Key of the client certificate.")
    tls: bool = Field(
        False,
        description="Encrypt neo4j:// and bolt:// connections (the +s schemes always do).",
    )
    connection_timeout_seconds: float = Field(
        15.0, gt=0, description="Give up connecting after this long (then retry)."
    )
    transaction_timeout_seconds: float = Field(
        120.0, gt=0, description="A batch's transaction running longer fails (and is retried)."
    )

    @field_validator("uri")
    @classmethod
    def _known_scheme(cls, value: str) -> str:
        parts = urlsplit(value)
        scheme = parts.scheme.lower()
        if scheme not in NEO4J_SCHEMES | FALKORDB_SCHEMES:
            raise ValueError(
                "scheme must be neo4j://, neo4j+s://, bolt://, bolt+s:// or falkordb:// "
                f"(got {value.split('://')[0] + '://' if '://' in value else value!r})"
            )
        if not parts.hostname:
            raise ValueError("the URI names no host, e.g. falkordb://127.0.0.1:6379/runledger")
        try:
            parts.port  # noqa: B018 - raises on a port that is not a number
        except ValueError:
            raise ValueError("the port is not a number") from None
        return value

    @model_validator(mode="after")
    def _tls_options_fit_the_scheme(self) -> GraphSettings:
        scheme = urlsplit(self.uri).scheme.lower()
        custom = self.tls or self.tls_ca_file or self.tls_client_cert_file
        if "+" in scheme and custom:
            raise ValueError(
                f"{scheme}:// sets TLS itself: use {scheme.split('+')[0]}:// with the TLS "
                "options, or drop RUNLEDGER_GRAPH__TLS*"
            )
        if bool(self.tls_client_cert_file) != bool(self.tls_client_key_file):
            raise ValueError("tls_client_cert_file and tls_client_key_file go together")
        return self

    @property
    def engine(self) -> EngineName:
        """Which engine the URI points at."""
        return "falkordb" if urlsplit(self.uri).scheme.lower() in FALKORDB_SCHEMES else "neo4j"

    def falkordb_address(self) -> FalkorAddress:
        """Host, port, graph name and credentials of a ``falkordb://`` URI."""
        parts = urlsplit(self.uri)
        graph = unquote(parts.path.strip("/")) or self.database or DEFAULT_GRAPH
        password = self.password.get_secret_value() if self.password else parts.password
        return FalkorAddress(
            host=parts.hostname or "127.0.0.1",
            port=parts.port or 6379,
            graph=graph,
            tls=parts.scheme.lower() == "falkordbs" or self.tls,
            username=self.user or (unquote(parts.username) if parts.username else None),
            password=unquote(password) if password else None,
        )

    def display_uri(self) -> str:
        """The URI safe to log: credentials removed."""
        parts = urlsplit(self.uri)
        netloc = parts.hostname or ""
        if parts.port:
            netloc += f":{parts.port}"
        return parts._replace(netloc=netloc).geturl()
