"""A rolling upgrade with a schema change, behind HAProxy and PgBouncer as `deploy/` sets them
up: this build's instances are replaced one by one by a later build (`later_build`: its expand
step renames `users.name` to `full_name`), then the contract step runs; no request fails."""

import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx2
import pytest
from sqlalchemy import URL

from tests.integration.commands import users_api
from tests.integration.deployment.conftest import through
from tests.integration.deployment.test_rolling_restart import INSTANCES, under_load
from tests.integration.test_expand_contract import columns_of
from tests.postgres import throwaway_database


@contextmanager
def watching_readiness(url: str, not_ready: list[str]) -> Iterator[None]:
    """Ask `url`'s readiness without pause until the block ends; every answer but a 200 is
    written down."""
    done = threading.Event()

    def watch() -> None:
        with httpx2.Client(base_url=url, timeout=5) as client:
            while not done.is_set():
                answer = client.get("/health")
                if answer.status_code != 200:
                    not_ready.append(f"{url}: {answer.status_code} {answer.text}")

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        yield
    finally:
        done.set()
        watcher.join()


@pytest.mark.parametrize("whole_group", [False, True], ids=["main_process", "whole_group"])
def test_expand_a_rolling_upgrade_then_contract_fails_no_request_and_keeps_every_write(
    bouncer: URL, server_url: URL, tmp_path: Path, whole_group: bool, later: dict[str, str]
) -> None:
    not_ready: list[str] = []
    with throwaway_database(server_url, "upgrade") as database:
        with under_load(through(bouncer, database), tmp_path / "haproxy.log") as fleet:
            watchers = {name: fleet.stack.enter_context(ExitStack()) for name in INSTANCES}
            for name, watcher in watchers.items():
                watcher.enter_context(watching_readiness(fleet.instances[name].url, not_ready))
            user_path = f"/users/{fleet.load.user_id}"
            for number, name in enumerate(INSTANCES):
                watchers[name].close()  # its drain's 503s are the point of the drain
                fleet.replace(name, whole_group=whole_group, **later)
                if number == 0:  # this build still serves beside the later one
                    older, newer = fleet.instances[INSTANCES[1]].url, fleet.instances[name].url
                    written = httpx2.patch(older + user_path, json={"name": "Ann"})
                    seen = httpx2.get(newer + user_path)
            contracted = users_api("migrate", "--contract", database_url=fleet.url, **later)
            fleet.load.wait_for(200)
        kept = fleet.kept_registrations()
        columns = columns_of(database)

    stopped = "the whole group" if whole_group else "the main process"
    load = fleet.load
    print(f"rolling upgrade, SIGTERM to {stopped}: {load.requests} requests, ", end="")
    print(f"{len(load.failures)} failed, {len(not_ready)} not ready")
    assert load.failures == []
    assert not_ready == []
    assert load.registered.items() <= kept.items()
    assert len(load.registered) > 200
    assert (written.status_code, seen.status_code) == (200, 200)
    assert seen.json() == written.json()
    assert seen.headers["etag"] == written.headers["etag"]
    assert contracted.returncode == 0, contracted.stderr
    assert "full_name" in columns
    assert "name" not in columns
