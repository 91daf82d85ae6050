"""`make bench-instructions`: what a request costs, in instructions callgrind counts, for the
service, for the service with each of its features switched off in turn, and for the SQLAlchemy
floor.

    python -m benchmarks.instructions [--requests 500] [--variants NAME,NAME]

Throughput on a shared two-core machine moves by a tenth from one run to the next: more than
the differences worth knowing (what metrics cost, say). The instructions a server's process
executes for a request move by about 1 %, whatever else the machine is doing. Each variant
serves 50 requests, then `--requests` more, in process (ASGI calls, no socket), under callgrind,
in two runs; the difference between the two runs' totals, divided by `--requests`, is its cost
per request. The service logs as `users-api serve` does (text lines, to stderr). PostgreSQL's
work is not counted: it runs in its own processes.

A feature's cost is the service's count less the count with that feature off. Switching one off
(`--variants` names them) is done here, on the app `create_app` built, never in the service.

Needs valgrind (installed from the OS packages when missing) and the PostgreSQL server that
USERS_BENCH_DATABASE_URL names, as every benchmark does.
"""

import asyncio
import logging.config
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg2.extensions
from dependency_injector import providers
from starlette.types import ASGIApp, Message, Scope

from benchmarks import floors
from benchmarks.harness import argument_parser, require_tool, users_database
from users.adapters.sql import engine
from users.container import Container
from users.entrypoints.http import users
from users.entrypoints.http.app import create_app
from users.entrypoints.server.admission import AdmissionMiddleware
from users.entrypoints.server.body_limit import BodyLimitMiddleware
from users.entrypoints.server.logs import logging_config
from users.entrypoints.server.request_context import RequestContextMiddleware
from users.settings import Settings

WARM_UP = 50
USERS = 1_000
SERVICE = "service"
FLOOR = "SQLAlchemy floor"
IDLE = psycopg2.extensions.TRANSACTION_STATUS_IDLE
_TOTAL = re.compile(r"^summary: (\d+)$", re.MULTILINE)


def _service(**settings: Any) -> ASGIApp:
    chosen = Settings(database_url=os.environ["USERS_DATABASE_URL"], **settings)
    logging.config.dictConfig(logging_config(json_lines=False, level=chosen.log_level))
    return create_app(Container(settings=providers.Object(chosen)))


def _without(middleware: type) -> ASGIApp:
    """The service without one of its middleware (the stack is built at the first request)."""
    app = _service()
    app.user_middleware = [kept for kept in app.user_middleware if kept.cls is not middleware]  # type: ignore[attr-defined]
    return app


def _without_statement_timeout() -> ASGIApp:
    """The service with cursors that send each statement without the timeout's prefix (a
    write's `BEGIN` still travels with its first statement)."""

    def cursor_class(
        _seconds: float, *, transactions: bool = False, **_shares: float
    ) -> type[psycopg2.extensions.cursor]:
        class WithoutTimeout(psycopg2.extensions.cursor):
            def execute(self, query: Any, vars: Any = None) -> None:
                if transactions and self.connection.get_transaction_status() == IDLE:
                    query = (b"BEGIN; " if isinstance(query, bytes) else "BEGIN; ") + query
                super().execute(query, vars)

        return WithoutTimeout

    engine.__dict__["cursor_within_deadline"] = cursor_class  # as the engines use it
    return _service()


def _without_entity_tags() -> ASGIApp:
    users.__dict__["etag"] = lambda _user: {}  # as the routes' module imported it
    return _service()


# What each variant serves, built in the counted process.
VARIANTS: dict[str, Callable[[], ASGIApp]] = {
    FLOOR: floors.sqlalchemy,
    SERVICE: _service,
    "no access log": lambda: _service(log_level="WARNING"),
    "no metrics": lambda: _service(metrics=False),
    "no admission": lambda: _without(AdmissionMiddleware),
    "no body limit": lambda: _without(BodyLimitMiddleware),
    # Request ids, and with them the access log and the request metrics.
    "no request context": lambda: _without(RequestContextMiddleware),
    "no statement timeout": _without_statement_timeout,
    "no entity tags": _without_entity_tags,
}


def main() -> None:
    parser = argument_parser(__doc__, seconds=None, repeats=None)
    parser.add_argument("--requests", type=int, default=500, help="requests counted per run")
    parser.add_argument(
        "--variants",
        type=lambda names: names.split(","),
        default=list(VARIANTS),
        help=f"which to count, comma-separated (default all: {', '.join(VARIANTS)})",
    )
    options = parser.parse_args()
    valgrind = require_tool("valgrind", "valgrind")
    variants = [SERVICE, *(name for name in options.variants if name != SERVICE)]
    with users_database("instructions", USERS) as (_, database):
        url = database.render_as_string(hide_password=False)
        counts = {
            (name, method): _per_request(valgrind, url, name, method, options.requests)
            for method in ("GET", "POST")
            for name in variants
        }
    _report(counts, variants, options.requests)


def _report(counts: dict[tuple[str, str], int], variants: list[str], requests: int) -> None:
    print(f"\ninstructions per request, the server's process only ({requests} requests)")
    print(f"  {'':56}{'GET':>11}{'POST':>11}")
    for name in variants:
        figures = ""
        for method in ("GET", "POST"):
            count, service = counts[name, method], counts[SERVICE, method]
            if name in (SERVICE, FLOOR):
                figures += f"{count:>11,}"
            else:
                figures += f"{service - count:>+11,}"
        label = name if name in (SERVICE, FLOOR) else f"cost of the feature, by {name}"
        print(f"  {label:56}{figures}")
    if FLOOR in variants:
        ratios = "".join(
            f"{counts[SERVICE, method] / counts[FLOOR, method]:>10.2f}×"
            for method in ("GET", "POST")
        )
        print(f"  {'service over the SQLAlchemy floor':56}{ratios}")


def _per_request(valgrind: str, url: str, variant: str, method: str, requests: int) -> int:
    """The difference between serving WARM_UP and WARM_UP + `requests`, per request."""
    print(f"counting: {method}, {variant}", file=sys.stderr, flush=True)
    outs = [_out_file(), _out_file()]
    serve = [sys.executable, "-m", "benchmarks.instructions", "--serve", variant, method]
    runs = [
        subprocess.Popen(
            [valgrind, "--tool=callgrind", f"--callgrind-out-file={out}", *serve, str(count)],
            env={**os.environ, "USERS_DATABASE_URL": url},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        for count, out in zip((0, requests), outs, strict=True)
    ]  # the two at once, one a core
    totals = [_total(run, out) for run, out in zip(runs, outs, strict=True)]
    return (totals[1] - totals[0]) // requests


def _total(run: subprocess.Popen[bytes], out: Path) -> int:
    _, errors = run.communicate()
    try:
        if run.returncode != 0:
            sys.exit(f"a counted run failed:\n{errors.decode()[-4000:]}")
        if (match := _TOTAL.search(out.read_text())) is None:
            sys.exit(f"callgrind wrote no total in {out}")
        return int(match.group(1))
    finally:
        out.unlink()


def _out_file() -> Path:
    return Path(tempfile.mkstemp(prefix="callgrind-", suffix=".out")[1])


def _serve(variant: str, method: str, count: int) -> None:
    """The counted run: WARM_UP requests, then `count` more, each a registration or a read."""
    app = VARIANTS[variant]()

    async def requests() -> None:
        async with app.router.lifespan_context(app):  # type: ignore[attr-defined]
            for number in range(WARM_UP + count):
                await _request(app, method, number)

    asyncio.run(requests())


async def _request(app: ASGIApp, method: str, number: int) -> None:
    if method == "GET":
        path, body = f"/users/{number % USERS + 1}", b""
    else:
        path = "/users/"
        body = b'{"name": "Ann", "email": "count-%d-%d@example.com"}' % (os.getpid(), number)
    headers = [(b"host", b"bench")]
    if body:
        headers += [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
    scope: Scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
    }
    statuses: list[int] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: Message) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    await app(scope, receive, send)
    if statuses != [200]:
        sys.exit(f"{method} {path} answered {statuses}")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--serve"]:
        _serve(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    else:
        main()
