"""`make bench-instructions`: what a request costs the service, in instructions callgrind counts.

    python -m benchmarks.instructions [--requests 500]

Throughput on a shared two-core machine moves by a tenth from one run to the next: more than
the differences worth knowing (what metrics cost, say). The instructions the service's process
executes for a request move by about 1 %, whatever else the machine is doing. Each variant serves
50 requests, then `--requests` more, in process (ASGI calls, no socket), under callgrind, in two
runs; the difference between the two runs' totals, divided by `--requests`, is its cost per
request. PostgreSQL's work is not counted: it runs in its own processes.

Needs valgrind (installed from the OS packages when missing) and the PostgreSQL server that
USERS_BENCH_DATABASE_URL names, as every benchmark does.
"""

import asyncio
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from dependency_injector import providers
from starlette.types import ASGIApp, Message, Scope

from benchmarks.harness import argument_parser, require_tool, users_database
from users.container import Container
from users.entrypoints.http.app import create_app
from users.settings import Settings

WARM_UP = 50
USERS = 1_000
VARIANTS = {"service, no metrics": "false", "service": "true"}
_TOTAL = re.compile(r"^summary: (\d+)$", re.MULTILINE)


def main() -> None:
    parser = argument_parser(__doc__, seconds=None, repeats=None)
    parser.add_argument("--requests", type=int, default=500, help="requests counted per run")
    options = parser.parse_args()
    valgrind = require_tool("valgrind", "valgrind")
    with users_database("instructions", USERS) as (_, database):
        url = database.render_as_string(hide_password=False)
        counts = {
            (name, method): _per_request(valgrind, url, metrics, method, options.requests)
            for method in ("GET", "POST")
            for name, metrics in VARIANTS.items()
        }
    print(f"\ninstructions per request, the service's process only ({options.requests} requests)")
    for method in ("GET", "POST"):
        without, with_metrics = (counts[name, method] for name in VARIANTS)
        print(
            f"  {method:5} no metrics {without:>11,}  metrics {with_metrics:>11,}"
            f"  metrics cost {with_metrics / without - 1:+.1%}"
        )


def _per_request(valgrind: str, url: str, metrics: str, method: str, requests: int) -> int:
    """The difference between serving WARM_UP and WARM_UP + `requests`, per request."""
    print(f"counting: {method}, metrics={metrics}", file=sys.stderr, flush=True)
    outs = [_out_file(), _out_file()]
    serve = [sys.executable, "-m", "benchmarks.instructions", "--serve", url, metrics, method]
    runs = [
        subprocess.Popen(
            [valgrind, "--tool=callgrind", f"--callgrind-out-file={out}", *serve, str(count)],
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
            sys.exit(f"a counted run failed:\n{errors.decode()}")
        if (match := _TOTAL.search(out.read_text())) is None:
            sys.exit(f"callgrind wrote no total in {out}")
        return int(match.group(1))
    finally:
        out.unlink()


def _out_file() -> Path:
    return Path(tempfile.mkstemp(prefix="callgrind-", suffix=".out")[1])


def _serve(url: str, metrics: str, method: str, count: int) -> None:
    """The counted run: WARM_UP requests, then `count` more, each a registration or a read."""
    settings = Settings(database_url=url, metrics=metrics == "true")
    app = create_app(Container(settings=providers.Object(settings)))

    async def requests() -> None:
        async with app.router.lifespan_context(app):
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
        _serve(sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]))
    else:
        main()
