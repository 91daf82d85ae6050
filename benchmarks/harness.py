"""What every benchmark needs: servers under test, wrk, /proc readings, a loaded table."""

import argparse
import contextlib
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, closing, contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import URL, create_engine, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import NullPool
from tests.replication import replication

from users.adapters.sql.engine import UnsupportedDatabaseUrl, database_url
from users.adapters.sql.schema import migrate

LUA = Path(__file__).parent / "lua"
SERVER_VARIABLE = "USERS_BENCH_DATABASE_URL"
DEFAULT_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"
TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK")
PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")


@dataclass(frozen=True)
class Server:
    """A server under test: where to reach it and which process to read in /proc."""

    name: str
    base_url: str
    pid: int


@dataclass(frozen=True)
class Load:
    """One wrk run against one server."""

    requests: int
    per_second: float
    p50_ms: float
    p99_ms: float
    non_2xx: int
    socket_errors: int
    cpu_us_per_request: float


def require_tool(name: str, debian_package: str) -> str:
    """The path of `name`, installed from the OS packages if it is missing and we can."""
    if found := shutil.which(name):
        return found
    if shutil.which("apt-get") and os.geteuid() == 0:
        print(f"{name} is missing: apt-get install -y {debian_package}", flush=True)
        subprocess.run(["apt-get", "install", "-y", "-q", debian_package], check=False)
        if found := shutil.which(name):
            return found
    sys.exit(f"{name} is needed and could not be installed; install the {debian_package} package")


@contextmanager
def serving(
    name: str, command: list[str], environment: dict[str, str], port: int
) -> Iterator[Server]:
    """Start `command`, wait until its /health or /docs answers, stop it at the end."""
    log = Path(tempfile.mkstemp(prefix=f"bench-{name}-", suffix=".log")[1])
    with log.open("w") as output:
        process = subprocess.Popen(command, env={**os.environ, **environment}, stderr=output)
    base_url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(process, base_url, log)
        yield Server(name, base_url, process.pid)
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.unlink()


def _wait_until_up(process: subprocess.Popen[bytes], base_url: str, log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit(f"the server exited:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(f"{base_url}/docs", timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    sys.exit(f"the server did not answer within 60 s:\n{log.read_text()}")


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time the process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS_PER_SECOND


def rss_mib(pid: int) -> float:
    """The process's resident memory now."""
    return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE_BYTES / 2**20


def load(server: Server, scenario: str, *args: str, seconds: int, connections: int) -> Load:
    """Run wrk's closed loop of `connections` for `seconds` with `lua/<scenario>.lua`."""
    script = Path(tempfile.mkstemp(suffix=".lua")[1])
    script.write_text((LUA / f"{scenario}.lua").read_text() + (LUA / "report.lua").read_text())
    try:
        cpu_before = cpu_seconds(server.pid)
        command = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "-s", str(script)]
        output = subprocess.run(
            [*command, server.base_url, "--", *args], capture_output=True, text=True, check=True
        ).stdout
        cpu = cpu_seconds(server.pid) - cpu_before
    finally:
        script.unlink()
    match = re.search(r"^RESULT (\{.*\})$", output, re.MULTILINE)
    if match is None:
        sys.exit(f"wrk printed no result:\n{output}")
    result = json.loads(match.group(1))
    requests = result["requests"]
    return Load(
        requests=requests,
        per_second=requests / (result["duration_us"] / 1e6),
        p50_ms=result["p50_us"] / 1000,
        p99_ms=result["p99_us"] / 1000,
        non_2xx=result["non_2xx"],
        socket_errors=result["socket_errors"],
        cpu_us_per_request=cpu / max(requests, 1) * 1e6,
    )


def median_load(loads: list[Load]) -> Load:
    """Each figure's median over repeated runs; error counts are summed, not hidden."""
    return Load(
        requests=sum(run.requests for run in loads),
        per_second=statistics.median(run.per_second for run in loads),
        p50_ms=statistics.median(run.p50_ms for run in loads),
        p99_ms=statistics.median(run.p99_ms for run in loads),
        non_2xx=sum(run.non_2xx for run in loads),
        socket_errors=sum(run.socket_errors for run in loads),
        cpu_us_per_request=statistics.median(run.cpu_us_per_request for run in loads),
    )


def load_users(database: URL, count: int) -> None:
    """Add `count` users (the next ids; user-<id>@example.com), as the service would store them."""
    engine = create_engine(database, poolclass=NullPool)
    with engine.begin() as connection:
        start = connection.execute(text("SELECT coalesce(max(id), 0) FROM users")).scalar_one()
        connection.execute(
            text(
                "INSERT INTO users (name, email, email_key, created_at, updated_at) "
                "SELECT 'User ' || n, 'user-' || n || '@example.com', "
                "'user-' || n || '@example.com', now(), now() "
                "FROM generate_series(:first, :last) AS n"
            ),
            {"first": start + 1, "last": start + count},
        )
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("VACUUM ANALYZE users"))
    engine.dispose()


def service_command(port: int) -> list[str]:
    """`users-api serve` from this environment, on `port`, without migrating again."""
    users_api = str(Path(sys.executable).parent / "users-api")
    return [users_api, *_SERVE, "--port", str(port)]


_SERVE = ["serve", "--no-migrate", "--host", "127.0.0.1"]
# `users-api` as the package found first on PYTHONPATH has it.
_USERS_API = [sys.executable, "-c", "from users.entrypoints.cli import main; main()"]


def database_environment(database: URL) -> dict[str, str]:
    return {"USERS_DATABASE_URL": database.render_as_string(hide_password=False)}


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with closing(socket.socket()) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def bench_server() -> URL:
    """The PostgreSQL server SERVER_VARIABLE names (else DEFAULT_SERVER), once it has answered."""
    try:
        server = database_url(os.environ.get(SERVER_VARIABLE) or DEFAULT_SERVER)
        create_engine(server, poolclass=NullPool).connect().close()
    except (UnsupportedDatabaseUrl, OperationalError) as error:
        # One line, not a traceback: the fix is to start that server or to name another. The
        # reason names host and port; the URL itself is not echoed, its password with it.
        reason = str(getattr(error, "orig", None) or error).strip().partition("\n")[0]
        sys.exit(
            f"cannot reach the benchmarks' PostgreSQL, which {SERVER_VARIABLE} names "
            f"(default {DEFAULT_SERVER}): {reason}"
        )
    return server


@contextmanager
def throwaway_database(server: URL, label: str) -> Iterator[URL]:
    """A new, uniquely named database on `server`, dropped (connections and all) afterwards."""
    name = f"users_bench_{label}_{uuid.uuid4().hex[:10]}"
    admin = create_engine(server, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield server.set(database=name)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextmanager
def users_database(label: str, users: int) -> Iterator[tuple[URL, URL]]:
    """(server, database): a throwaway database on the benchmarks' server, migrated and holding
    `users` users."""
    server = bench_server()
    with throwaway_database(server, label) as database:
        migrate(database)
        load_users(database, users)
        yield server, database


@contextmanager
def replicated_database(label: str, users: int) -> Iterator[tuple[URL, URL]]:
    """(primary, replica): a throwaway database on a PostgreSQL primary of the run's own (not the
    benchmarks' server: replicas need a server set up for them), migrated and holding `users`
    users, and the same database on a streaming replica that applies commits as they come."""
    with ExitStack() as stack:
        try:
            servers = stack.enter_context(replication())
        except RuntimeError as missing:  # no initdb, pg_ctl, pg_basebackup: say how to get them
            sys.exit(f"the replica benchmark needs a PostgreSQL of its own: {missing}")
        database = stack.enter_context(throwaway_database(servers.primary.url, label))
        migrate(database)
        load_users(database, users)
        yield database, servers.prompt.url.set(database=database.database)


@contextmanager
def service_on(database: URL, name: str = "service", **settings: str) -> Iterator[Server]:
    """The service, served as production serves it, on `database`; `settings` are USERS_*."""
    port = free_port()
    environment = database_environment(database) | {
        f"USERS_{key.upper()}": value for key, value in settings.items()
    }
    with serving(name, service_command(port), environment, port) as server:
        yield server


@contextmanager
def service_at(revision: str, server: URL, users: int) -> Iterator[Server]:
    """The service as it was at git `revision`, run from this environment (its packages must
    do), on a database of its own on `server`, migrated by it and holding `users` users."""
    with (
        tempfile.TemporaryDirectory(prefix="bench-baseline-") as checkout,
        throwaway_database(server, "baseline") as database,
    ):
        source = subprocess.run(
            ["git", "archive", revision, "src"], capture_output=True, check=True
        ).stdout
        subprocess.run(["tar", "-x", "-C", checkout], input=source, check=True)
        environment = database_environment(database) | {"PYTHONPATH": f"{checkout}/src"}
        subprocess.run([*_USERS_API, "migrate"], env={**os.environ, **environment}, check=True)
        load_users(database, users)
        port = free_port()
        command = [*_USERS_API, *_SERVE, "--port", str(port)]
        with serving(f"service at {revision}", command, environment, port) as baseline:
            yield baseline


def floor(kind: str, database: URL, name: str) -> contextlib.AbstractContextManager[Server]:
    """A reference server from `benchmarks.floors`, served as the service is, on `database`."""
    port = free_port()
    command = [sys.executable, "-m", "benchmarks.floors", kind, "--port", str(port)]
    return serving(name, command, database_environment(database), port)


def argument_parser(
    description: str | None, *, seconds: int | None = 15, repeats: int | None = 3
) -> argparse.ArgumentParser:
    """A benchmark's options: how long a run lasts, and how many runs, for those that take them
    (None: a benchmark that would ignore the option does not offer it)."""
    parser = argparse.ArgumentParser(
        description=description, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    if seconds is not None:
        parser.add_argument("--seconds", type=int, default=seconds, help="length of each run")
    if repeats is not None:
        parser.add_argument("--repeats", type=int, default=repeats, help="runs of each measurement")
    return parser
