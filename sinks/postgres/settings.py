"""Settings of the relational sink, read from ``RUNLEDGER_POSTGRES__*``."""

from __future__ import annotations

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

# The embedded default: a SQLite file in the working directory, no server needed.
DEFAULT_URL = "sqlite+aiosqlite:///runledger.db"

# Every spelling a user may paste, mapped to the async driver runledger ships; any other
# scheme is refused at start-up (not first met as a missing module or connect option).
_ASYNC_DRIVERS = {
    "postgres": "postgresql+asyncpg",
    "postgresql": "postgresql+asyncpg",
    "postgresql+asyncpg": "postgresql+asyncpg",
    "postgresql+psycopg": "postgresql+asyncpg",
    "postgresql+psycopg2": "postgresql+asyncpg",
    "postgresql+pg8000": "postgresql+asyncpg",
    "sqlite": "sqlite+aiosqlite",
    "sqlite+pysqlite": "sqlite+aiosqlite",
    "sqlite+aiosqlite": "sqlite+aiosqlite",
}


class PostgresSettings(BaseSettings):
    """Where the relational ledger lives. SQLite is accepted for the embedded default."""

    model_config = SettingsConfigDict(
        env_prefix="RUNLEDGER_POSTGRES__", env_file=".env", extra="ignore"
    )

    url: SecretStr = Field(
        SecretStr(DEFAULT_URL),
        description=(
            "SQLAlchemy URL, e.g. postgresql://runledger@db:5432/runledger?sslmode=verify-full "
            "(TLS through sslmode) or sqlite:///runledger.db."
        ),
    )
    user: str | None = Field(None, description="Overrides the URL's user name.")
    password: SecretStr | None = Field(None, description="Overrides the URL's password (secret).")
    migrate_on_start: bool = Field(
        False, description="Apply schema migrations when `runledger run` starts."
    )
    pool_size: int = Field(5, ge=1, description="Connections kept open per process.")
    statement_timeout_seconds: float = Field(
        60.0,
        gt=0,
        description=(
            "A statement running longer fails (and is retried). The server enforces it; "
            "the client also gives up this long plus 5 s after sending any statement, "
            "commit included, in case the server or the network froze."
        ),
    )
    connect_timeout_seconds: float = Field(
        10.0,
        gt=0,
        description="Longest wait to open a connection, or to get one from the pool.",
    )

    @property
    def client_timeout_seconds(self) -> float:
        """The client-side bound of any statement: the server's timeout fires first."""
        return self.statement_timeout_seconds + 5.0

    @field_validator("url")
    @classmethod
    def _parses(cls, value: SecretStr) -> SecretStr:
        try:
            url = make_url(value.get_secret_value())
        except ArgumentError:
            raise ValueError("not a database URL (e.g. postgresql://user@host:5432/db)") from None
        if url.drivername not in _ASYNC_DRIVERS:
            raise ValueError(
                f"unsupported database '{url.drivername}': use postgresql://user@host:5432/db "
                "or sqlite:///runledger.db"
            )
        return value

    @model_validator(mode="after")
    def _sqlite_has_no_credentials(self) -> PostgresSettings:
        is_sqlite = make_url(self.url.get_secret_value()).get_backend_name() == "sqlite"
        if is_sqlite and (self.user or self.password is not None):
            raise ValueError(
                "SQLite takes no user or password: unset RUNLEDGER_POSTGRES__USER and "
                "RUNLEDGER_POSTGRES__PASSWORD, or point RUNLEDGER_POSTGRES__URL at PostgreSQL"
            )
        return self

    def sqlalchemy_url(self) -> URL:
        """The URL with an async driver and the user/password overrides applied."""
        url = make_url(self.url.get_secret_value())
        url = url.set(drivername=_ASYNC_DRIVERS[url.drivername])
        if self.user:
            url = url.set(username=self.user)
        if self.password is not None:
            url = url.set(password=self.password.get_secret_value())
        return url

    def display_url(self) -> str:
        """The URL safe to log: password masked."""
        return self.sqlalchemy_url().render_as_string(hide_password=True)
