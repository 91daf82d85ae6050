"""The `users-api` command: serve the API, or bring the database schema up to date."""

import argparse
import logging
import logging.config
import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn
from pydantic import ValidationError
from sqlalchemy import URL
from sqlalchemy.exc import DBAPIError

from users.adapters.sql.adoption import ForeignSchema, TableInUse
from users.adapters.sql.schema import (
    Migration,
    UnknownRevision,
    expected_revision,
    migrate,
    revision_at,
)
from users.adapters.sql.stored_users import RowsRefused
from users.entrypoints.metrics import MULTIPROCESS_DIRECTORY
from users.entrypoints.observability import logging_config
from users.settings import MEMORY_URL, Settings

log = logging.getLogger("users.startup")


def main(argv: list[str] | None = None) -> None:
    """Run the command line; settings come from `USERS_*` variables, flags override them."""
    arguments = _parser().parse_args(argv)
    settings = _settings(_flags(arguments))
    logging.config.dictConfig(
        logging_config(json_lines=settings.log_json, level=settings.log_level)
    )
    if arguments.command == "migrate":
        _migrate(settings)
    else:
        _serve(settings)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="users-api", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="migrate the database, then serve the API")
    serve.add_argument("--host", help="address to listen on (USERS_HOST)")
    serve.add_argument("--port", type=int, help="port to listen on (USERS_PORT)")
    serve.add_argument("--workers", type=int, help="worker processes (USERS_WORKERS)")
    serve.add_argument(
        "--no-migrate", action="store_true", help="do not migrate first (USERS_MIGRATE_ON_START)"
    )
    commands.add_parser(
        "migrate",
        help="bring the database schema up to date (adopting the replaced app's users table), "
        "then exit",
    )
    return parser


def _flags(arguments: argparse.Namespace) -> dict[str, object]:
    """The settings given as flags, which take the place of their `USERS_*` variables."""
    given = {name: getattr(arguments, name, None) for name in ("host", "port", "workers")}
    if getattr(arguments, "no_migrate", False):
        given["migrate_on_start"] = False
    return {name: value for name, value in given.items() if value is not None}


def _settings(flags: dict[str, object]) -> Settings:
    """The settings, or an exit with one line per setting that cannot work."""
    try:
        return Settings(**flags)  # type: ignore[arg-type]
    except ValidationError as invalid:
        sys.exit(
            "\n".join(_refusal(error["loc"][0], error["msg"], flags) for error in invalid.errors())
        )


def _refusal(field: object, message: str, flags: dict[str, object]) -> str:
    source = f"--{field}" if field in flags else f"USERS_{str(field).upper()}"
    return f"users-api: {source}: {message}"


def _migrate(settings: Settings) -> None:
    if settings.store == "memory":
        log.info("store %s: users live in this process; nothing to migrate", MEMORY_URL)
        return
    url = settings.database
    try:
        migration = migrate(url)
    except DBAPIError as error:
        sys.exit(f"users-api: cannot migrate the database at {_shown(url)}: {_one_line(error)}")
    except (RowsRefused, ForeignSchema, TableInUse, UnknownRevision) as refusal:
        sys.exit(f"users-api: {_shown(url)}: {refusal}")
    log.info(
        "database %s at schema revision %s: %s", _shown(url), migration.after, _done(migration)
    )


def _done(migration: Migration) -> str:
    if migration.adopted_users is not None:
        return (
            f"adopted the replaced app's users table ({migration.adopted_users} users; "
            f"new ids follow {migration.highest_adopted_id})"
        )
    if migration.before == migration.after:
        return "already up to date"
    return f"migrated from {migration.before or 'an empty database'}"


def _report_unmigrated(settings: Settings) -> None:
    if settings.store == "memory":
        return
    url = settings.database
    try:
        revision = revision_at(url)
    except DBAPIError as error:
        log.warning("database %s does not answer: %s", _shown(url), _one_line(error))
        return
    except UnknownRevision as unknown:
        log.warning("database %s: %s", _shown(url), unknown)
        return
    expected = expected_revision()
    if revision == expected:
        log.info(
            "database %s at schema revision %s: not migrated (up to date)", _shown(url), revision
        )
    else:
        log.warning(
            "database %s at schema revision %s, not migrated; this build expects %s, so /health "
            "answers 503 until `users-api migrate` runs",
            _shown(url),
            revision or "none of this service's",
            expected,
        )


def _one_line(error: DBAPIError) -> str:
    # psycopg2 adds hints on lines of their own ("\n\tIs the server running ...").
    return " ".join(str(error.orig).split())


def _shown(url: URL) -> str:
    return url.render_as_string(hide_password=True)


def _serve(settings: Settings) -> None:
    if settings.workers > 1 and settings.store == "memory":
        sys.exit("users-api: the in-memory store lives in one process: serve it with one worker")
    if settings.migrate_on_start:
        _migrate(settings)
    else:
        _report_unmigrated(settings)
    with _metrics_shared_by(settings.workers if settings.metrics else 1):
        serve_app(
            "users.entrypoints.app:create_app",
            host=settings.host,
            port=settings.port,
            workers=settings.workers,
            logging=logging_config(json_lines=settings.log_json, level=settings.log_level),
            timeout_graceful_shutdown=settings.graceful_shutdown_seconds,
        )


@contextmanager
def _metrics_shared_by(workers: int) -> Iterator[None]:
    """With several workers, a directory where each writes its metrics for the others to read
    (unless the operator named one), removed after."""
    if workers == 1 or MULTIPROCESS_DIRECTORY in os.environ:
        yield
        return
    with tempfile.TemporaryDirectory(prefix="users-metrics-") as directory:
        os.environ[MULTIPROCESS_DIRECTORY] = directory  # the workers inherit it
        try:
            yield
        finally:
            del os.environ[MULTIPROCESS_DIRECTORY]


def serve_app(
    factory: str,
    *,
    host: str,
    port: int,
    workers: int = 1,
    logging: dict[str, Any] | None = None,
    timeout_graceful_shutdown: int | None = None,
) -> None:
    """Serve the app that `factory` ("module:function") builds, as production serves it."""
    uvicorn.run(
        factory,
        factory=True,
        host=host,
        port=port,
        workers=workers,
        # uvloop and httptools, which uvicorn[standard] installs, when they import.
        loop="auto",
        http="auto",
        log_config=logging or logging_config(json_lines=False),
        # One line per request comes from the service itself, with its request id.
        access_log=False,
        timeout_graceful_shutdown=timeout_graceful_shutdown,
    )
