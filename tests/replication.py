"""A PostgreSQL primary of the tests' own, with real streaming replicas of it (`pg_basebackup
-R`): one that applies each commit half a second late, so that a stale read is seen for what it
is, and one that applies them as they come."""

import os
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import URL

from tests.postgres import HOW_TO_PROVIDE, postgres_binaries, unprivileged_prefix
from tests.support import free_port
from users.adapters.sql.engine import database_url

REPLAY_DELAY = "500ms"


@dataclass
class Cluster:
    """One PostgreSQL server of the tests' own, on a data directory of its own."""

    binaries: Path
    data: Path
    port: int

    @property
    def url(self) -> URL:
        return database_url(f"postgresql://postgres@127.0.0.1:{self.port}/postgres")

    def start(self) -> None:
        options = f"-p {self.port} -k {self.data.parent} -c listen_addresses=127.0.0.1"
        self._pg_ctl("-o", options, "-l", f"{self.data}.log", "-w", "start")

    def stop(self) -> None:
        """Stop it at once, as a crash would."""
        self._pg_ctl("-m", "immediate", "-w", "stop")

    def start_if_stopped(self) -> None:
        if self._pg_ctl("status", check=False).returncode != 0:
            self.start()

    def stop_if_running(self) -> None:
        self._pg_ctl("-m", "immediate", "-w", "stop", check=False)

    @contextmanager
    def hung(self) -> Iterator[None]:
        """While in it, every process of the server is stopped (SIGSTOP): connections stay
        open, and nothing answers on them."""
        postmaster = (self.data / "postmaster.pid").read_text().split()[0]
        children = subprocess.run(
            ["pgrep", "-P", postmaster], check=False, capture_output=True, text=True
        )
        processes = [int(postmaster), *map(int, children.stdout.split())]
        for process in processes:
            os.kill(process, signal.SIGSTOP)
        try:
            yield
        finally:
            for process in processes:
                os.kill(process, signal.SIGCONT)

    def promote(self) -> None:
        self._pg_ctl("-w", "promote")

    @contextmanager
    def new_replica(self, name: str) -> Iterator["Cluster"]:
        """A replica of this server for one test, removed afterwards."""
        replica = self.replica(name)
        try:
            yield replica
        finally:
            replica.stop_if_running()
            shutil.rmtree(replica.data, ignore_errors=True)

    def replica(self, name: str, *settings: str) -> "Cluster":
        """A new streaming replica of this server, started."""
        replica = Cluster(self.binaries, self.data.parent / name, free_port())
        self._run("pg_basebackup", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres",
                  "-D", str(replica.data), "-R", "-X", "stream", "--checkpoint=fast")  # fmt: skip
        with (replica.data / "postgresql.auto.conf").open("a") as config:
            config.writelines(f"{setting}\n" for setting in settings)
        replica.start()
        return replica

    def _pg_ctl(self, *arguments: str, check: bool = True) -> subprocess.CompletedProcess[bytes]:
        return self._run("pg_ctl", "-D", str(self.data), *arguments, check=check)

    def _run(
        self, program: str, *arguments: str, check: bool = True
    ) -> subprocess.CompletedProcess[bytes]:
        command = [*unprivileged_prefix(self.data.parent), str(self.binaries / program)]
        return subprocess.run([*command, *arguments], check=check, capture_output=True)


@dataclass(frozen=True)
class Replication:
    primary: Cluster
    delayed: Cluster
    """Applies each commit `REPLAY_DELAY` after the primary made it."""
    prompt: Cluster
    """Applies commits as they come."""


@contextmanager
def replication() -> Iterator[Replication]:
    """A primary and its two replicas, stopped and removed afterwards."""
    binaries = postgres_binaries() or _pgserver_binaries()
    if binaries is None:
        raise RuntimeError(f"Streaming replicas need initdb and pg_ctl. {HOW_TO_PROVIDE}")
    directory = Path(tempfile.mkdtemp(prefix="users-replication-"))
    primary = Cluster(binaries, directory / "primary", free_port())
    with ExitStack() as stack:
        stack.callback(subprocess.run, ["rm", "-rf", str(directory)], check=False)
        primary._run("initdb", "-D", str(primary.data), "-U", "postgres", "--auth=trust")
        primary.start()
        stack.callback(primary.stop_if_running)
        delayed = primary.replica("delayed", f"recovery_min_apply_delay = '{REPLAY_DELAY}'")
        stack.callback(delayed.stop_if_running)
        prompt = primary.replica("prompt")
        stack.callback(prompt.stop_if_running)
        yield Replication(primary, delayed, prompt)


@pytest.fixture(scope="session")
def replicated() -> Iterator[Replication]:
    """This run's (this xdist worker's) primary and replicas."""
    try:
        with replication() as servers:
            yield servers
    except RuntimeError as missing:
        pytest.fail(str(missing), pytrace=False)


def _pgserver_binaries() -> Path | None:
    """The PostgreSQL the pgserver wheel bundles, pg_basebackup included."""
    try:
        import pgserver  # noqa: PLC0415
    except ImportError:
        return None
    return Path(pgserver.__file__).parent / "pginstall" / "bin"
