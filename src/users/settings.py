"""The service's settings, read from `USERS_*` environment variables."""

import re
from typing import Annotated, Literal

from pydantic import BeforeValidator, Field, SecretStr, ValidationInfo, field_validator
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
            _parsed(url.get_secret_value())
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
    database_replica_urls: SecretStr = Field(
        SecretStr(""),
        description="read replicas of the PostgreSQL database, postgresql:// URLs separated by "
        "commas: reads fresh enough go to them",
    )
    replica_max_lag_seconds: float = Field(
        1.0,
        ge=0.5,
        le=3600,
        allow_inf_nan=False,
        description="how stale a read without a Consistency-Token may be: a replica further "
        "behind the primary is not read (replicas are looked at every 0.1 s)",
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

    @property
    def replicas(self) -> list[URL]:
        """`database_replica_urls` parsed, each with the installed PostgreSQL driver."""
        listed = self.database_replica_urls.get_secret_value()
        return [database_url(url.strip()) for url in listed.split(",") if url.strip()]

    @field_validator("database_replica_urls")
    @classmethod
    def _replicas_can_be_read(cls, urls: SecretStr, info: ValidationInfo) -> SecretStr:
        listed = [url.strip() for url in urls.get_secret_value().split(",") if url.strip()]
        if not listed:
            return urls
        primary = info.data.get("database_url")
        if primary is None or not _is_postgresql(primary.get_secret_value()):
            raise PydanticCustomError(
                "replicas", "read replicas need a PostgreSQL USERS_DATABASE_URL"
            )
        if not all(_is_postgresql(url) for url in listed):
            raise PydanticCustomError("replicas", "every replica must be a postgresql:// URL")
        replicas = {_parsed(url) for url in listed}
        if len(replicas) < len(listed):
            raise PydanticCustomError("replicas", "a replica is listed twice")
        if _parsed(primary.get_secret_value()) in replicas:
            raise PydanticCustomError("replicas", "the primary is listed as a replica")
        return urls

    @field_validator("api_token")
    @classmethod
    def _token_can_be_sent(cls, token: SecretStr | None) -> SecretStr | None:
        if token is not None and not _SENDABLE_TOKEN.fullmatch(token.get_secret_value()):
            raise PydanticCustomError(
                "unsendable_token",
                "must be visible ASCII characters without spaces; unset it to leave /users open",
            )
        return token


def _parsed(url: str) -> URL:
    """A database URL, or the one-line refusal of one that cannot be used."""
    try:
        return database_url(url)
    except UnsupportedDatabaseUrl as error:
        raise PydanticCustomError("database_url", "{reason}", {"reason": str(error)}) from None


def _is_postgresql(url: str) -> bool:
    return url != MEMORY_URL and _parsed(url).get_backend_name() == "postgresql"
