"""Settings that cannot work are refused at start, in one line naming the variable."""

import sys
from types import ModuleType

import pytest

from users.entrypoints.cli import main
from users.settings import Settings


@pytest.mark.parametrize(
    ("variable", "value", "refusal"),
    [
        ("USERS_API_TOKEN", "", "must be visible ASCII characters without spaces"),
        ("USERS_WORKERS", "abc", "Input should be a valid integer"),
        ("USERS_CONCURRENCY", "-1", "Input should be greater than or equal to 1"),
        ("USERS_REQUEST_TIMEOUT_SECONDS", "0", "Input should be greater than 0"),
        ("USERS_REQUEST_TIMEOUT_SECONDS", "inf", "Input should be a finite number"),
        ("USERS_SHUTDOWN_DRAIN_SECONDS", "inf", "Input should be a finite number"),
        ("USERS_IDEMPOTENCY_RETENTION_SECONDS", "0", "Input should be greater than or equal to 1"),
        ("USERS_LOG_LEVEL", "loud", "Input should be 'DEBUG', 'INFO', 'WARNING' or 'ERROR'"),
        ("USERS_LOG_JSON", "maybe", "Input should be a valid boolean"),
        ("USERS_REPLICA_MAX_LAG_SECONDS", "0.1", "Input should be greater than or equal to 0.5"),
    ],
)
def test_a_setting_that_cannot_work_is_refused_in_one_line(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, refusal: str
) -> None:
    monkeypatch.setenv("USERS_DATABASE_URL", "memory://")
    monkeypatch.setenv(variable, value)

    with pytest.raises(SystemExit) as refused:
        main(["migrate"])

    message = str(refused.value.code)
    assert message.startswith(f"users-api: {variable}: {refusal}")
    assert "\n" not in message


def test_a_refused_token_is_not_shown(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("USERS_API_TOKEN", "s3cret but spaced")

    with pytest.raises(SystemExit) as refused:
        main(["migrate"])

    assert "s3cret" not in str(refused.value.code)


@pytest.mark.parametrize("level", ["info", "Warning", "DEBUG"])
def test_log_levels_are_taken_in_any_case(level: str) -> None:
    assert Settings(log_level=level).log_level == level.upper()


@pytest.mark.parametrize(
    ("flags", "refusal"),
    [
        (["--port", "70000"], "users-api: --port: Input should be less than or equal to 65535"),
        (["--workers", "0"], "users-api: --workers: Input should be greater than or equal to 1"),
    ],
)
def test_a_flag_that_cannot_work_is_refused_in_one_line(
    monkeypatch: pytest.MonkeyPatch, flags: list[str], refusal: str
) -> None:
    monkeypatch.setenv("USERS_DATABASE_URL", "memory://")

    with pytest.raises(SystemExit) as refused:
        main(["serve", *flags])

    assert refused.value.code == refusal


@pytest.mark.parametrize("url", ["", "postgresql://users@db:abc/users", "not a url"])
def test_a_database_url_that_cannot_be_read_is_refused_in_one_line(
    monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    monkeypatch.setenv("USERS_DATABASE_URL", url)

    with pytest.raises(SystemExit) as refused:
        main(["migrate"])

    assert refused.value.code == "users-api: USERS_DATABASE_URL: not a database URL"


def test_a_postgresql_driver_other_than_psycopg2_is_refused_in_one_line_even_installed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # psycopg 3, which SQLAlchemy 2.1 reads a bare postgresql:// as; a stand-in, not a dependency.
    monkeypatch.setitem(sys.modules, "psycopg", ModuleType("psycopg"))
    monkeypatch.setenv("USERS_DATABASE_URL", "postgresql+psycopg://users@db/users")

    with pytest.raises(SystemExit) as refused:
        main(["migrate"])

    assert refused.value.code == (
        "users-api: USERS_DATABASE_URL: 'postgresql+psycopg': this service reaches PostgreSQL "
        "through psycopg2 only; use postgresql+psycopg2://…"
    )


@pytest.mark.parametrize(
    ("primary", "replicas", "refusal"),
    [
        ("sqlite:///users.db", "postgresql://r1/users", "read replicas need a PostgreSQL"),
        ("memory://", "postgresql://r1/users", "read replicas need a PostgreSQL"),
        ("postgresql://p/users", "sqlite:///copy.db", "every replica must be a postgresql://"),
        ("postgresql://p/users", "postgresql://r1/users, postgresql://r1/users", "listed twice"),
        ("postgresql://p/users", "postgresql://r1:port/users", "not a database URL"),
        ("postgresql://p/users", "postgresql://r1/users,postgresql://p/users", "the primary is"),
    ],
)
def test_replicas_that_cannot_work_are_refused_in_one_line(
    monkeypatch: pytest.MonkeyPatch, primary: str, replicas: str, refusal: str
) -> None:
    monkeypatch.setenv("USERS_DATABASE_URL", primary)
    monkeypatch.setenv("USERS_DATABASE_REPLICA_URLS", replicas)

    with pytest.raises(SystemExit) as refused:
        main(["migrate"])

    message = str(refused.value.code)
    assert message.startswith("users-api: USERS_DATABASE_REPLICA_URLS: ")
    assert refusal in message
    assert "\n" not in message


def test_replicas_are_read_from_a_comma_separated_list() -> None:
    settings = Settings(
        database_url="postgresql://p/users",
        database_replica_urls=" postgresql://r1/users,postgresql://r2:5433/users ,",
    )

    assert [url.render_as_string() for url in settings.replicas] == [
        "postgresql+psycopg2://r1/users",
        "postgresql+psycopg2://r2:5433/users",
    ]
