"""Stopping: SIGTERM drains before it stops, and workers never outlive their supervisor."""

import os
import signal
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing, contextmanager
from pathlib import Path

import httpx2
import pytest
from sqlalchemy import URL, Engine, text

from tests.contracts.http import register
from tests.integration.commands import Serving, serving
from tests.integration.test_faults import waiting_on_locks
from tests.support import free_port, wait_until
from users.entrypoints.server.drain import RELAY_SECONDS

IN_FLIGHT = 4
CLIENTS = 4


def get(url: str) -> httpx2.Response:
    with httpx2.Client(timeout=30) as client:
        return client.get(url)


def shutting_down(server: Serving) -> bool:
    return get(f"{server.url}/health").status_code == 503


def a_user(server: Serving) -> str:
    with httpx2.Client(base_url=server.url) as client:
        return f"{server.url}/users/{register(client)['id']}"


class Answers:
    """Clients sending GET `url` again and again, each on a kept-alive connection (a new one
    whenever the server closes it): the statuses, and the errors that came instead."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.statuses: list[int] = []
        self.failures: list[str] = []
        self._done = threading.Event()

    def run(self) -> None:
        with httpx2.Client(timeout=30) as client:
            while not self._done.is_set():
                try:
                    self.statuses.append(client.get(self.url).status_code)
                except httpx2.HTTPError as error:
                    self.failures.append(repr(error))

    def wait_for(self, requests: int) -> None:
        target = len(self.statuses) + requests
        wait_until(lambda: len(self.statuses) >= target, 10, f"{requests} more answers")

    def stop(self) -> None:
        self._done.set()


@contextmanager
def answering(url: str) -> Iterator[Answers]:
    """`CLIENTS` clients answering meanwhile; stopped after, non-200 statuses among failures."""
    answers = Answers(url)
    with ThreadPoolExecutor(CLIENTS) as clients:
        for _ in range(CLIENTS):
            clients.submit(answers.run)
        try:
            yield answers
        finally:
            answers.stop()
    answers.failures += [f"{status}" for status in answers.statuses if status != 200]


@pytest.mark.parametrize("workers", [1, 2])
def test_sigterm_drains_then_lets_requests_in_flight_finish(
    database_url: URL, engine: Engine, workers: int
) -> None:
    settings = {"USERS_SHUTDOWN_DRAIN_SECONDS": "1", "USERS_REQUEST_TIMEOUT_SECONDS": "30"}
    with (
        serving(database_url, free_port(), workers, **settings) as server,
        engine.connect() as blocker,
        ThreadPoolExecutor(IN_FLIGHT) as threads,
    ):
        with httpx2.Client(base_url=server.url) as client:
            user = register(client)
        blocker.execution_options(isolation_level="READ COMMITTED")
        transaction = blocker.begin()
        blocker.execute(text("LOCK TABLE users IN ACCESS EXCLUSIVE MODE"))
        in_flight = [
            threads.submit(get, f"{server.url}/users/{user['id']}") for _ in range(IN_FLIGHT)
        ]
        wait_until(lambda: waiting_on_locks(engine) >= IN_FLIGHT, 10, "requests in flight")

        server.process.send_signal(signal.SIGTERM)
        unready_after = wait_until(lambda: shutting_down(server), 2, "readiness turning 503")
        readiness = get(f"{server.url}/health")
        sent_after = get(f"{server.url}/health/live")
        wait_until(lambda: server.log.count("Shutting down") >= workers, 5, "the drain ending")
        transaction.rollback()
        exited = server.process.wait(timeout=15)

    assert unready_after < 1
    assert readiness.json() == {
        "status": "unavailable",
        "database": "not checked",
        "detail": "Shutting down",
    }
    assert readiness.headers["Connection"] == "close"
    assert sent_after.status_code == 200
    assert [answer.result().json() for answer in in_flight] == [user] * IN_FLIGHT
    assert exited in (0, -signal.SIGTERM)
    # The requests that finished last are in the access log too: its last lines were written.
    logged = [line for line in server.log.splitlines() if f"GET /users/{user['id']} 200 " in line]
    assert len(logged) == IN_FLIGHT


def test_a_second_sigterm_during_the_drain_stops_the_server_at_once(database_url: URL) -> None:
    with serving(database_url, free_port(), USERS_SHUTDOWN_DRAIN_SECONDS="60") as server:
        server.process.send_signal(signal.SIGTERM)
        wait_until(lambda: shutting_down(server), 2, "readiness turning 503")

        server.process.send_signal(signal.SIGTERM)
        took = wait_until(lambda: server.process.poll() is not None, 5, "the server stopping")

    assert took < 2
    assert server.process.returncode in (0, -signal.SIGTERM)


def test_sigterm_to_the_whole_group_drains_for_the_drain_time_and_fails_no_request(
    database_url: URL,
) -> None:
    drain = 3.0
    with (
        serving(database_url, free_port(), 2, USERS_SHUTDOWN_DRAIN_SECONDS=str(drain)) as server,
        answering(a_user(server)) as answers,
    ):
        started = time.monotonic()

        with ThreadPoolExecutor(1) as thread:
            stopped = thread.submit(server.stop, whole_group=True)
            time.sleep(drain - 0.5)  # requests sent until shortly before the drain ends
            answers.stop()
            exited = stopped.result()
        took = time.monotonic() - started

    assert answers.failures == []
    assert len(answers.statuses) > 100
    assert drain <= took < drain + 5
    assert exited in (0, -signal.SIGTERM)


def test_a_second_sigterm_to_the_whole_group_well_after_the_first_stops_it_at_once(
    database_url: URL,
) -> None:
    with serving(database_url, free_port(), 2, USERS_SHUTDOWN_DRAIN_SECONDS="60") as server:
        server.send_signal(signal.SIGTERM, whole_group=True)
        wait_until(lambda: shutting_down(server), 2, "readiness turning 503")
        time.sleep(RELAY_SECONDS + 0.5)
        still_draining = server.process.poll() is None and shutting_down(server)
        log = server.log

        server.send_signal(signal.SIGTERM, whole_group=True)
        took = wait_until(lambda: server.process.poll() is not None, 5, "the server stopping")

    assert still_draining
    # Each worker got SIGTERM twice, from the sender and from the supervisor: one drain each.
    assert log.count("SIGTERM: draining") == 2
    assert log.count("the supervisor passing the same stop on") == 2
    assert took < 2
    assert server.process.returncode in (0, -signal.SIGTERM)


def test_sigterm_to_one_worker_alone_drains_it_and_the_instance_keeps_serving(
    database_url: URL,
) -> None:
    drain = 1.0
    with (
        serving(database_url, free_port(), 2, USERS_SHUTDOWN_DRAIN_SECONDS=str(drain)) as server,
        answering(a_user(server)) as answers,
    ):
        worker = server.worker_pids[0]

        os.kill(worker, signal.SIGTERM)
        took = wait_until(lambda: not running(worker), 10, "the worker stopping")
        answers.wait_for(100)
        answers.stop()  # the clients would starve the new worker's start of CPU
        server.wait_until_started(timeout=60, workers=1)  # the supervisor's new one
        readiness = get(f"{server.url}/health").status_code
        supervising = server.process.poll() is None

    assert answers.failures == []
    assert drain <= took
    assert len(server.worker_pids) == 3
    assert supervising
    assert readiness == 200


def test_workers_stop_within_a_second_or_so_when_their_supervisor_is_killed(
    database_url: URL,
) -> None:
    port = free_port()
    with serving(database_url, port, workers=2) as server:
        server.process.send_signal(signal.SIGKILL)
        server.process.wait()
        try:
            took = wait_until(
                lambda: not any(map(running, server.worker_pids)) and port_is_free(port),
                5,
                "orphaned workers stopping",
            )
        finally:  # a failure here must not leave them serving
            for pid in filter(running, server.worker_pids):
                os.kill(pid, signal.SIGKILL)

    assert len(server.worker_pids) == 2
    assert took < 2


def running(pid: int) -> bool:
    """Alive and not a zombie waiting to be reaped."""
    status = Path(f"/proc/{pid}/status")
    try:
        return "\nState:\tZ" not in status.read_text()
    except FileNotFoundError:
        return False


def port_is_free(port: int) -> bool:
    with closing(socket.socket()) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True
