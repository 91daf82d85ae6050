"""The service's settings, read from `USERS_*` environment variables."""

from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

MEMORY_URL = "memory://"


class Settings(BaseSettings):
    """Every setting, with the default a local run uses."""

    model_config = SettingsConfigDict(env_prefix="USERS_", frozen=True)

    database_url: SecretStr = Field(
        SecretStr("sqlite:///users.db"),
        description="memory://, sqlite:///path or postgresql://user:password@host/db",
    )
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=0, le=65535)
    workers: int = Field(1, ge=1)
    migrate_on_start: bool = True
    concurrency: int = Field(
        20, ge=1, description="requests a worker runs at once, each with one pooled connection"
    )
    pool_timeout_seconds: float = Field(5.0, gt=0)
    connect_timeout_seconds: int = Field(2, ge=2)
    statement_timeout_ms: int = Field(5000, ge=1)
    api_token: SecretStr | None = Field(
        None, description="when set, /users needs this bearer token"
    )
    log_json: bool = False
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    @property
    def store(self) -> Literal["memory", "sql"]:
        """Which adapter keeps the users."""
        return "memory" if self.database_url.get_secret_value() == MEMORY_URL else "sql"
