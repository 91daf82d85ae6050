"""The service's commands, run as an operator runs them: a process of their own."""

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import URL

USERS_API = str(Path(sys.executable).parent / "users-api")
_STARTED_WORKER = re.compile(r"Started server process \[(\d+)\]")


def users_api(
    *args: str, database_url: URL | str, **variables: str
) -> subprocess.CompletedProcess[str]:
    """Run `users-api` on `database_url`, with `variables` (USERS_*) set, and wait for it."""
    return subprocess.run(
        [USERS_API, *args],
        env=_environment(database_url, variables),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


class Serving:
    """A running `users-api serve`: its address, its process and its workers' ids."""

    def __init__(self, process: subprocess.Popen[str], port: int, workers: int) -> None:
        self.process = process
        self.url = f"http://127.0.0.1:{port}"
        self.worker_pids: list[int] = []
        # Enough to explain a failure of a server that ran for minutes: how it started, and
        # what it said last.
        self._first_lines: list[str] = []
        self._last_lines: deque[str] = deque(maxlen=1500)
        self._started = threading.Semaphore(0)
        self._workers = workers
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:  # drained to the end, so the server never blocks
            if len(self._first_lines) < 200:
                self._first_lines.append(line)
            else:
                self._last_lines.append(line)
            if found := _STARTED_WORKER.search(line):
                self.worker_pids.append(int(found[1]))
            if "Application startup complete" in line:
                self._started.release()

    def wait_until_started(self, timeout: float = 30, workers: int | None = None) -> None:
        """Until `workers` more (by default all of them) have started serving."""
        deadline = time.monotonic() + timeout
        for _ in range(self._workers if workers is None else workers):
            if not self._started.acquire(timeout=max(0, deadline - time.monotonic())):
                pytest.fail("the server did not start:\n" + self.log)

    @property
    def log(self) -> str:
        return (
            "".join(self._first_lines)
            + "[…]\n" * bool(self._last_lines)
            + "".join(self._last_lines)
        )

    def send_signal(self, signal_number: int, *, whole_group: bool = False) -> None:
        """Send `signal_number` to the process, or with `whole_group` to every process of its
        group at once (the process and its workers), as systemd's KillMode=control-group does."""
        if whole_group:
            os.killpg(self.process.pid, signal_number)
        else:
            self.process.send_signal(signal_number)

    def stop(
        self, signal_number: int = signal.SIGTERM, timeout: float = 30, *, whole_group: bool = False
    ) -> int:
        """Send `signal_number` (to the whole group with `whole_group`) and wait for the process
        to end; its exit status."""
        if self.process.poll() is None:
            self.send_signal(signal_number, whole_group=whole_group)
        return self.process.wait(timeout=timeout)

    def close(self) -> None:
        """After the process and its workers ended: read what they wrote to the end."""
        self._reader.join(timeout=10)
        assert self.process.stderr is not None
        self.process.stderr.close()


@contextmanager
def serving(
    database_url: URL | str,
    port: int,
    workers: int = 1,
    flags: Sequence[str] = (),
    **variables: str,
) -> Iterator[Serving]:
    """`users-api serve` on `port`, with `flags`, started and ready; stopped (SIGTERM, then
    SIGKILL) after."""
    process = subprocess.Popen(
        [USERS_API, "serve", "--port", str(port), "--workers", str(workers), *flags],
        env=_environment(database_url, variables),
        stderr=subprocess.PIPE,
        text=True,
        # A process group of its own (it and its workers), never the test run's: a signal to
        # the whole group reaches no one else.
        start_new_session=True,
    )
    server = Serving(process, port, workers)
    try:
        server.wait_until_started()
        yield server
    finally:
        try:
            server.stop(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        server.close()


def _environment(database_url: URL | str, variables: dict[str, str]) -> dict[str, str]:
    url = (
        database_url
        if isinstance(database_url, str)
        else database_url.render_as_string(hide_password=False)
    )
    return {**os.environ, "USERS_DATABASE_URL": url, **variables}
