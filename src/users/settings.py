"""The service's settings, read from `USERS_*` environment variables."""

import re
from typing import Annotated, Literal

from pydantic import BeforeValidator, Field, SecretStr, field_validator
from pydantic_core import PydanticCustomError
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy import URL

from users.adapters.memory import MEMORY_URL
from users.adapters.sql.engine import UnsupportedDatabaseUrl, database_url

# What an Authorization header can carry after "Bearer ": visible ASCII, no spaces.
_SENDABLE_TOKEN = re.compile(r"[\x21-\x7e]+")


def _upper_case(value: object) -> object:
    return value.upper() if isinstance(value, str) else value


class DatabaseSettings(BaseSettings):
    """Where users are kept: all that the `alembic` command reads."""

    model_config = SettingsConfigDict(env_prefix="USERS_", frozen=True)

    database_url: SecretStr = Field(
        SecretStr("sqlite:///users.db"),
        description="memory://, sqlite:///path or postgresql://user:password@host/db",
    )

    @field_validator("database_url")
    @classmethod
    def _database_url_can_be_used(cls, url: SecretStr) -> SecretStr:
        if url.get_secret_value() != MEMORY_URL:
            try:
                database_url(url.get_secret_value())
            except UnsupportedDatabaseUrl as error:
                raise PydanticCustomError(
                    "database_url", "{reason}", {"reason": str(error)}
                ) from None
        return url

    @property
    def store_kind(self) -> Literal["memory", "sql"]:
        """Which kind of store keeps the users: the in-memory one, or a SQL database."""
        return "memory" if self.database_url.get_secret_value() == MEMORY_URL else "sql"

    @property
    def database(self) -> URL:
        """`database_url` parsed, with the installed PostgreSQL driver; not for `memory://`."""
        return database_url(self.database_url.get_secret_value())


class Settings(DatabaseSettings):
    """Every setting, with the default a local run uses."""

    host: str = "127.0.0.1"
    port: int = Field(8000, ge=0, le=65535)
    workers: int = Field(1, ge=1)
    migrate_on_start: bool = True
    concurrency: int = Field(
        20, ge=1, description="requests a worker runs at once, each with one pooled connection"
    )
    request_timeout_seconds: float = Field(
        5.0,
        gt=0,
        le=3600,
        allow_inf_nan=False,
        description="the longest a request waits for its database work, queueing included; "
        "past it, 503 with Retry-After",
    )
    idempotency_retention_seconds: int = Field(
        86400,
        ge=1,
        le=30 * 86400,
        description="how long the answer to a write sent with an Idempotency-Key is kept for "
        "its retries",
    )
    connect_timeout_seconds: int = Field(
        2,
        ge=2,
        le=3600,
        description="how long connecting to the database may take, at start and for a request",
    )
    migration_lock_timeout_seconds: float = Field(
        2.0,
        gt=0,
        le=600,
        allow_inf_nan=False,
        description="how long a migration step waits for a table's lock, while requests queue "
        "behind it, before it gives way and tries again",
    )
    migration_wait_seconds: float = Field(
        60.0,
        gt=0,
        le=86400,
        allow_inf_nan=False,
        description="how long a migration waits for another service's migration to end",
    )
    shutdown_drain_seconds: float = Field(
        3.0,
        ge=0,
        le=3600,
        allow_inf_nan=False,
        description="after SIGTERM, how long /health answers 503 while requests are still "
        "served, so that a load balancer stops sending them first",
    )
    graceful_shutdown_seconds: int = Field(
        10,
        ge=0,
        le=3600,
        description="after the drain, how long requests in flight may take to finish",
    )
    metrics: bool = Field(True, description="serve Prometheus metrics at /metrics")
    api_token: SecretStr | None = Field(
        None, description="when set, /users needs this bearer token"
    )
    log_json: bool = False
    log_level: Annotated[
        Literal["DEBUG", "INFO", "WARNING", "ERROR"], BeforeValidator(_upper_case)
    ] = "INFO"

    @property
    def logs_requests(self) -> bool:
        """One access line per request is written at INFO: a higher level silences it."""
        return self.log_level in ("DEBUG", "INFO")

    @field_validator("api_token")
    @classmethod
    def _token_can_be_sent(cls, token: SecretStr | None) -> SecretStr | None:
        if token is not None and not _SENDABLE_TOKEN.fullmatch(token.get_secret_value()):
            raise PydanticCustomError(
                "unsendable_token",
                "must be visible ASCII characters without spaces; unset it to leave /users open",
            )
        return token
