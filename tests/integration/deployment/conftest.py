"""The deployment layer: the service as `deploy/` runs it, behind PgBouncer and HAProxy.

Like PostgreSQL for the integration layer, the tests start their own PgBouncer (and HAProxy),
configured from the files in `deploy/`, with only addresses, paths and authentication changed.
"""

import configparser
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

import pytest
from sqlalchemy import URL

from tests.postgres import SERVER_VARIABLE, unprivileged_prefix
from tests.support import free_port

DEPLOY = Path(__file__).parents[3] / "deploy"
MISSING = "{0} is not installed (Debian: apt-get install {0}); `.ci/run` installs it"


def require(program: str) -> str:
    path = shutil.which(program) or shutil.which(program, path="/usr/sbin:/sbin")
    if path is None:
        pytest.fail(MISSING.format(program), pytrace=False)
    return path


def wait_for_port(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"{process.args!r} exited:\n{log.read_text()}")
        with closing(socket.socket()) as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    pytest.fail(f"{process.args!r} is not listening on {port}:\n{log.read_text()}")


@pytest.fixture(scope="session")
def bouncer(server_url: URL) -> Iterator[URL]:
    """PgBouncer, in transaction pooling as `deploy/pgbouncer.ini` sets it, in front of the
    test server; the server's URL with its address put in (so any database name passes)."""
    with pgbouncer_in_front_of(server_url) as url:
        yield url


@contextmanager
def pgbouncer_in_front_of(server_url: URL) -> Iterator[URL]:
    """A PgBouncer of its own, configured as `bouncer`, in front of `server_url`."""
    program = require("pgbouncer")
    if not server_url.host:
        # pgserver's listens only on a socket that, run as root, only its own user may open.
        pytest.fail(
            "PgBouncer needs a PostgreSQL it can reach over TCP, which pgserver's is not: set "
            f"{SERVER_VARIABLE} to a server, or install initdb (apt-get install postgresql)",
            pytrace=False,
        )
    directory = Path(tempfile.mkdtemp(prefix="users-pgbouncer-"))
    run_as = unprivileged_prefix(directory)  # PgBouncer refuses to run as root
    port = free_port()
    config = configparser.ConfigParser()
    config.read(DEPLOY / "pgbouncer.ini")
    config["databases"] = {
        "*": f"host={server_url.host} port={server_url.port or 5432} user=postgres"
    }
    config["pgbouncer"].update(
        listen_addr="127.0.0.1",
        listen_port=str(port),
        unix_socket_dir=str(directory),
        # The test server trusts every local connection; so does this PgBouncer.
        auth_type="any",
    )
    del config["pgbouncer"]["auth_file"]
    with (directory / "pgbouncer.ini").open("w") as file:
        config.write(file)
    log = directory / "pgbouncer.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [*run_as, program, str(directory / "pgbouncer.ini")], stdout=output, stderr=output
        )
    try:
        wait_for_port(port, process, log)
        yield server_url.set(host="127.0.0.1", port=port, query={})
    finally:
        process.terminate()
        process.wait(timeout=10)
        shutil.rmtree(directory, ignore_errors=True)


def through(bouncer: URL, database: URL) -> URL:
    """`database`, reached through `bouncer`."""
    return bouncer.set(database=database.database)
