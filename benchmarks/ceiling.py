"""The database ceiling: the SQL the service sends per request, captured on the wire, in pgbench."""

import re
import subprocess
import sys
import tempfile
import urllib.request
from dataclasses import dataclass, field

from sqlalchemy import URL
from tests.integration.proxy import CuttableProxy
from tests.support import free_port

from benchmarks.harness import database_environment, service_command, serving

_SSL_OR_GSS_REQUEST = {80877103, 80877104}


@dataclass
class QueryTap:
    """Reads a client's PostgreSQL protocol stream and keeps the text of each simple query."""

    queries: list[str] = field(default_factory=list)
    _buffer: bytes = b""
    _started: bool = False

    def __call__(self, data: bytes) -> None:
        self._buffer += data
        while message := self._next_message():
            kind, payload = message
            if kind == b"Q":
                self.queries.append(payload.rstrip(b"\0").decode())
            elif kind == b"X":  # Terminate: a next connection begins with its startup packet
                self._started = False

    def _next_message(self) -> tuple[bytes, bytes] | None:
        if not self._started:  # the startup packet has a length but no type byte
            if len(self._buffer) < 8 or len(self._buffer) < int.from_bytes(self._buffer[:4]):
                return None
            length, code = int.from_bytes(self._buffer[:4]), int.from_bytes(self._buffer[4:8])
            self._buffer = self._buffer[length:]
            self._started = code not in _SSL_OR_GSS_REQUEST
            return b"", b""
        if len(self._buffer) < 5 or len(self._buffer) < 1 + int.from_bytes(self._buffer[1:5]):
            return None
        length = int.from_bytes(self._buffer[1:5])
        kind, payload = self._buffer[:1], self._buffer[5 : 1 + length]
        self._buffer = self._buffer[1 + length :]
        return kind, payload


@dataclass(frozen=True)
class CapturedSql:
    """The statements of one GET /users/{id} and one POST /users/, as the server received them."""

    get: list[str]
    post: list[str]
    get_id: int
    post_email: str


def capture_sql(server: URL, database: URL) -> CapturedSql:
    """Serve the service through a tapping proxy on one connection and record two requests."""
    tap = QueryTap()
    proxy = CuttableProxy(server, tap=tap)
    port = free_port()
    environment = database_environment(proxy.url_for(database)) | {
        "USERS_POOL_SIZE": "1",
        "USERS_POOL_MAX_OVERFLOW": "0",
    }
    with serving("capture", service_command(port), environment, port) as service:
        _call(service.base_url, "GET", "/users/1")  # the connection's start-up queries
        tap.queries.clear()
        _call(service.base_url, "GET", "/users/4242")
        get = list(tap.queries)
        tap.queries.clear()
        email = "ceiling-capture@example.com"
        _call(service.base_url, "POST", "/users/", f'{{"name": "Bench User", "email": "{email}"}}')
        post = list(tap.queries)
    proxy.cut()
    return CapturedSql(get=get, post=post, get_id=4242, post_email=email)


def _call(base_url: str, method: str, path: str, body: str | None = None) -> None:
    request = urllib.request.Request(
        base_url + path,
        method=method,
        data=None if body is None else body.encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10):
        pass


def pgbench_scripts(captured: CapturedSql, users: int) -> dict[str, str]:
    """pgbench scripts replaying the captured statements, with a fresh id or address each time."""
    get = "\n".join(
        re.sub(rf"\b{captured.get_id}\b", ":id", statement) + ";" for statement in captured.get
    )
    post = "\n".join(
        statement.replace(captured.post_email, "ceiling-:n@example.com") + ";"
        for statement in captured.post
    )
    return {
        "GET": f"\\set id random(1, {users})\n{get}\n",
        "POST": f"\\set n random(1, 9000000000000000000)\n{post}\n",
    }


@dataclass(frozen=True)
class Ceiling:
    per_second: float
    latency_ms: float


def pgbench(
    pgbench_path: str, database: URL, script: str, *, seconds: int, clients: int
) -> Ceiling:
    """Run `script` from `clients` connections for `seconds`, as the service would send it."""
    with tempfile.NamedTemporaryFile("w", suffix=".sql") as file:
        file.write(script)
        file.flush()
        uri = database.set(drivername="postgresql").render_as_string(hide_password=False)
        command = [pgbench_path, "-n", "-M", "simple", f"-c{clients}", "-j2", f"-T{seconds}"]
        result = subprocess.run(
            [*command, "-f", file.name, uri], capture_output=True, text=True, check=False
        )
    tps = re.search(r"tps = ([\d.]+)", result.stdout)
    latency = re.search(r"latency average = ([\d.]+) ms", result.stdout)
    if result.returncode != 0 or tps is None or latency is None:
        sys.exit(f"pgbench failed:\n{result.stdout}\n{result.stderr}")
    return Ceiling(per_second=float(tps.group(1)), latency_ms=float(latency.group(1)))
