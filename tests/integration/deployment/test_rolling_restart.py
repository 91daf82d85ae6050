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
from sqlalchemy import URL, Engine, text

from tests.contracts.http import register
from tests.integration.commands import serving
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


def test_a_rolling_restart_fails_no_request_and_keeps_every_registration(
    bouncer: URL, database_url: URL, engine: Engine, tmp_path: Path
) -> None:
    url = through(bouncer, database_url)
    ports = {name: free_port() for name in INSTANCES}
    with ExitStack() as stack:
        balancer = stack.enter_context(haproxy(ports, tmp_path / "haproxy.log"))
        instances = {
            name: stack.enter_context(serving(url, port, WORKERS)) for name, port in ports.items()
        }
        for name in INSTANCES:
            balancer.wait_until_in_rotation(name)
        with httpx2.Client(base_url=balancer.url) as client:
            user = register(client)
        assert isinstance(user["id"], int)
        load = Load(balancer.url, user["id"])
        with load.running():
            load.wait_for(200)
            for name in INSTANCES:
                instances[name].stop()  # SIGTERM: drain, finish, exit
                instances[name] = stack.enter_context(serving(url, ports[name], WORKERS))
                balancer.wait_until_in_rotation(name)
                load.wait_for(200)

    with engine.connect() as connection:
        rows = connection.execute(text("SELECT id, email FROM users"))
        kept: dict[int, str] = {row.id: row.email for row in rows}

    print(f"rolling restart: {load.requests} requests, {len(load.failures)} failed")
    assert load.failures == []
    assert load.registered.items() <= kept.items()
    assert len(load.registered) > 200
