"""A rolling restart of two instances behind HAProxy, as `deploy/` sets them up: no request
fails, and every registration that got a 200 is kept."""

from __future__ import annotations

import csv
import itertools
import os
import subprocess
import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx2
import pytest
from sqlalchemy import URL, Engine, create_engine, text
from sqlalchemy.pool import NullPool

from tests.contracts.http import register
from tests.integration.commands import Serving, serving
from tests.integration.deployment.conftest import DEPLOY, require, through, wait_for_port
from tests.support import free_port, random_email, wait_until

INSTANCES = ("a", "b")
WORKERS = 2
CLIENTS = 6


@dataclass
class Balancer:
    url: str
    stats: str

    def wait_until_in_rotation(self, server: str) -> None:
        wait_until(lambda: self.status(server) == "UP", 10, f"{server} in rotation")

    def status(self, server: str) -> str:
        with httpx2.Client(timeout=5) as client:
            table = client.get(f"{self.stats}/stats;csv").text.lstrip("# ")
        for row in csv.DictReader(table.splitlines()):
            if (row["pxname"], row["svname"]) == ("users", server):
                return row["status"]
        raise AssertionError(f"no server {server} in HAProxy's table")


@contextmanager
def haproxy(instances: dict[str, int], log: Path) -> Iterator[Balancer]:
    """HAProxy with `deploy/haproxy.cfg`, in front of the instances on these ports."""
    program = require("haproxy")
    port, stats = free_port(), free_port()
    addresses = {
        f"USERS_INSTANCE_{name.upper()}": f"127.0.0.1:{p}" for name, p in instances.items()
    }
    environment = {
        **os.environ,
        **addresses,
        "USERS_LISTEN": f"127.0.0.1:{port}",
        "USERS_STATS": f"127.0.0.1:{stats}",
    }
    with log.open("wb") as output:
        process = subprocess.Popen(
            [program, "-db", "-f", str(DEPLOY / "haproxy.cfg")],
            env=environment,
            stdout=output,
            stderr=output,
        )
    try:
        wait_for_port(port, process, log)
        yield Balancer(f"http://127.0.0.1:{port}", f"http://127.0.0.1:{stats}")
    finally:
        process.terminate()
        process.wait(timeout=10)


@dataclass
class Load:
    """Clients reading a user and registering new ones through the balancer, without pause."""

    url: str
    user_id: int
    registered: dict[int, str] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    answered: list[int] = field(default_factory=list)
    sent: itertools.count[int] = field(default_factory=itertools.count)
    _stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        with httpx2.Client(base_url=self.url, timeout=30) as client:
            while not self._stop.is_set():
                self._one(client, next(self.sent))

    def _one(self, client: httpx2.Client, number: int) -> None:
        email = random_email()
        try:
            if number % 2:
                response = client.get(f"/users/{self.user_id}")
            else:
                response = client.post("/users/", json={"name": "Load", "email": email})
        except httpx2.HTTPError as error:
            self.failures.append(f"{number}: {error!r}")
            return
        finally:
            self.answered.append(number)
        if response.status_code != 200:
            self.failures.append(f"{number}: {response.status_code} {response.text}")
        elif number % 2 == 0:
            self.registered[response.json()["id"]] = email

    @contextmanager
    def running(self) -> Iterator[Load]:
        clients = [threading.Thread(target=self.run) for _ in range(CLIENTS)]
        for client in clients:
            client.start()
        try:
            yield self
        finally:
            self._stop.set()
            for client in clients:
                client.join()

    def wait_for(self, requests: int) -> None:
        target = self.requests + requests
        wait_until(lambda: self.requests >= target, 30, f"{requests} more requests")

    @property
    def requests(self) -> int:
        return len(self.answered)


@dataclass
class Fleet:
    """Instances behind the balancer, each of them replaced in turn by `replace()`, under load."""

    url: URL
    balancer: Balancer
    ports: dict[str, int]
    instances: dict[str, Serving]
    load: Load
    stack: ExitStack

    def replace(self, name: str, *, whole_group: bool, **variables: str) -> None:
        """Stop instance `name` with SIGTERM (to its whole process group with `whole_group`),
        start it again with `variables` set, back in rotation and answering."""
        self.instances[name].stop(whole_group=whole_group)  # drain, finish, exit
        self.instances[name] = self.stack.enter_context(
            serving(self.url, self.ports[name], WORKERS, **variables)
        )
        self.balancer.wait_until_in_rotation(name)
        self.load.wait_for(200)

    def kept_registrations(self) -> dict[int, str]:
        """Every user the database holds now: id and address."""
        engine = create_engine(self.url, poolclass=NullPool)
        try:
            with engine.connect() as connection:
                rows = connection.execute(text("SELECT id, email FROM users"))
                return {row.id: row.email for row in rows}
        finally:
            engine.dispose()


@contextmanager
def under_load(url: URL, log: Path) -> Iterator[Fleet]:
    """Two instances of this build (`--workers 2`) on `url` behind HAProxy, with clients
    reading and registering through it without pause."""
    ports = {name: free_port() for name in INSTANCES}
    with ExitStack() as stack:
        balancer = stack.enter_context(haproxy(ports, log))
        instances = {
            name: stack.enter_context(serving(url, p, WORKERS)) for name, p in ports.items()
        }
        for name in INSTANCES:
            balancer.wait_until_in_rotation(name)
        with httpx2.Client(base_url=balancer.url) as client:
            user = register(client)
        assert isinstance(user["id"], int)
        load = Load(balancer.url, user["id"])
        with load.running():
            load.wait_for(200)
            yield Fleet(url, balancer, ports, instances, load, stack)


# SIGTERM to the main process only, or to every process of its group at once (systemd's
# default KillMode=control-group, supervisord's stopasgroup): then each worker gets it twice,
# from the sender and again from uvicorn's supervisor.
@pytest.mark.parametrize("whole_group", [False, True], ids=["main_process", "whole_group"])
def test_a_rolling_restart_fails_no_request_and_keeps_every_registration(
    bouncer: URL, database_url: URL, engine: Engine, tmp_path: Path, whole_group: bool
) -> None:
    with under_load(through(bouncer, database_url), tmp_path / "haproxy.log") as fleet:
        for name in INSTANCES:
            fleet.replace(name, whole_group=whole_group)
    kept = fleet.kept_registrations()

    stopped = "the whole group" if whole_group else "the main process"
    load = fleet.load
    failed = len(load.failures)
    print(f"rolling restart, SIGTERM to {stopped}: {load.requests} requests, {failed} failed")
    assert load.failures == []
    assert load.registered.items() <= kept.items()
    assert len(load.registered) > 200
