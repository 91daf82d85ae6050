"""The tables, as SQLAlchemy Core metadata that the migrations must match."""

from datetime import UTC, datetime

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Dialect,
    Identity,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
)

from users.domain.idempotency import KEY_MAX_LENGTH
from users.domain.model import EMAIL_MAX_LENGTH, FIRST_VERSION, NAME_MAX_LENGTH

EMAIL_KEY_CONSTRAINT = "uq_users_email_key"


class UtcDateTime(TypeDecorator[datetime]):
    """A moment stored in UTC and read back as an aware UTC datetime, on every dialect."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(
        self,
        value: datetime | None,
        dialect: Dialect,  # noqa: ARG002
    ) -> datetime | None:
        # SQLite has no time zones: SQLAlchemy's DATETIME there keeps the UTC time, zone dropped.
        return None if value is None else value.astimezone(UTC)

    def process_result_value(
        self,
        value: datetime | None,
        dialect: Dialect,  # noqa: ARG002
    ) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


metadata = MetaData(
    naming_convention={
        "pk": "pk_%(table_name)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ix": "ix_%(table_name)s_%(column_0_name)s",
    }
)

users_table = Table(
    "users",
    metadata,
    # SQLite's AUTOINCREMENT, like PostgreSQL's identity, never hands out an id twice.
    Column("id", BigInteger().with_variant(Integer, "sqlite"), Identity(), primary_key=True),
    Column("name", String(NAME_MAX_LENGTH), nullable=False),
    Column("email", String(EMAIL_MAX_LENGTH), nullable=False),
    # Lower-casing can lengthen an address (İ becomes i and a combining dot), so the key has
    # no length limit.
    Column("email_key", Text, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    # Counts the user's writes; its entity tag is made of it.
    Column("version", BigInteger, nullable=False, server_default=str(FIRST_VERSION)),
    UniqueConstraint("email_key", name=EMAIL_KEY_CONSTRAINT),
    sqlite_autoincrement=True,
)

idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("key", String(KEY_MAX_LENGTH), primary_key=True),
    Column("fingerprint", String(64), nullable=False),
    Column("started_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
    # JSON: the user answered with, or the refusal; NULL while the attempt runs.
    Column("outcome", Text, nullable=True),
    Index(None, "expires_at"),
)

# Which phase each schema step applied is (`steps.py`): what a build reads about later steps.
schema_steps = Table(
    "schema_steps",
    metadata,
    Column("revision", String(32), primary_key=True),
    Column("phase", String(8), nullable=False),
    Column("applied_at", UtcDateTime, nullable=False),
)

# One row per serving process, refreshed while it serves: who `migrate --contract` would break.
serving_builds = Table(
    "serving_builds",
    metadata,
    Column("instance", String(255), primary_key=True),
    # The last schema step the process's build knows.
    Column("build", String(32), nullable=False),
    Column("seen_at", UtcDateTime, nullable=False),
)
