"""The `users-api` command: serve the API, or bring the database schema up to date."""

import argparse
import logging
import logging.config
import sys

from dependency_injector import providers
from pydantic import ValidationError

from users.container import Container, Store
from users.entrypoints.server.logs import logging_config
from users.entrypoints.server.serve import serve
from users.settings import Settings

log = logging.getLogger("users.startup")


def main(argv: list[str] | None = None) -> None:
    """Run the command line; settings come from `USERS_*` variables, flags override them."""
    arguments = _parser().parse_args(argv)
    settings = _settings(_flags(arguments))
    logging.config.dictConfig(
        logging_config(json_lines=settings.log_json, level=settings.log_level)
    )
    container = Container(settings=providers.Object(settings))
    store = container.store()
    try:
        if arguments.command == "migrate":
            _migrate(store, contract=arguments.contract)
        else:
            _serve(settings, store)
    finally:
        container.shutdown_resources()


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
    migrate = commands.add_parser(
        "migrate",
        help="apply the schema's pending expand steps (adopting the replaced app's users "
        "table), then exit",
    )
    migrate.add_argument(
        "--contract",
        action="store_true",
        help="apply the contract steps too, which builds before this one cannot serve on: "
        "refused while they are seen serving (docs/schema-changes.md)",
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


def _migrate(store: Store, *, contract: bool = False) -> None:
    migrated, report = store.migrate(contract=contract)
    if not migrated:
        sys.exit(f"users-api: {report}")
    log.info("%s", report)


def _serve(settings: Settings, store: Store) -> None:
    if settings.workers > 1 and store.one_process_only:
        sys.exit("users-api: the in-memory store lives in one process: serve it with one worker")
    if settings.migrate_on_start:
        _migrate(store)
    else:
        current, found = store.check_schema()
        log.log(logging.INFO if current else logging.WARNING, "%s", found)
    serve(
        "users.entrypoints.http.app:create_app",
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        logging=logging_config(json_lines=settings.log_json, level=settings.log_level),
        timeout_graceful_shutdown=settings.graceful_shutdown_seconds,
        metrics=settings.metrics,
    )
