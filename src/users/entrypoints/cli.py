"""The `users-api` command: serve the API, or bring the database schema up to date."""

import argparse
import sys
from typing import Any

import uvicorn
from sqlalchemy.exc import OperationalError

from users.adapters.sql.engine import UnsupportedDatabaseUrl, database_url
from users.adapters.sql.schema import upgrade_to_head
from users.entrypoints.observability import logging_config
from users.settings import Settings


def main(argv: list[str] | None = None) -> None:
    """Run the command line; settings come from `USERS_*` variables, flags override them."""
    arguments = _parser().parse_args(argv)
    settings = Settings()
    try:
        if arguments.command == "migrate":
            _migrate(settings)
        else:
            _serve(settings, arguments)
    except UnsupportedDatabaseUrl as error:
        sys.exit(f"users-api: USERS_DATABASE_URL: {error}")


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
    commands.add_parser("migrate", help="bring the database schema up to date, then exit")
    return parser


def _migrate(settings: Settings) -> None:
    if settings.store == "memory":
        return
    url = database_url(settings.database_url.get_secret_value())
    try:
        upgrade_to_head(url)
    except OperationalError as error:
        where = url.render_as_string(hide_password=True)
        sys.exit(f"users-api: cannot migrate the database at {where}: {error.orig}".strip())


def _serve(settings: Settings, arguments: argparse.Namespace) -> None:
    workers = arguments.workers or settings.workers
    if workers > 1 and settings.store == "memory":
        sys.exit("users-api: the in-memory store lives in one process: serve it with one worker")
    if settings.migrate_on_start and not arguments.no_migrate:
        _migrate(settings)
    serve_app(
        "users.entrypoints.app:create_app",
        host=arguments.host or settings.host,
        port=arguments.port or settings.port,
        workers=workers,
        logging=logging_config(json_lines=settings.log_json, level=settings.log_level),
    )


def serve_app(
    factory: str, *, host: str, port: int, workers: int = 1, logging: dict[str, Any] | None = None
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
    )
