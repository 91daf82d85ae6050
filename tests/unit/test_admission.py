"""Admission: a request that gets no worker slot by its deadline is turned away at it."""

import threading
import time
from concurrent.futures import ThreadPoolExecutor

from fastapi.testclient import TestClient

from tests.support import app_on
from users.domain.errors import UserNotFound


class StuckService:
    """Holds the one worker slot until the test lets go."""

    def __init__(self) -> None:
        self.holding = threading.Event()
        self.let_go = threading.Event()

    def get(self, *, user_id: int) -> None:
        self.holding.set()
        self.let_go.wait(timeout=10)
        raise UserNotFound(user_id)


def test_a_request_that_gets_no_worker_slot_by_its_deadline_is_a_503_at_the_deadline() -> None:
    timeout = 0.2
    service = StuckService()
    app = app_on(users=service, concurrency=1, request_timeout_seconds=timeout)
    with TestClient(app) as client, ThreadPoolExecutor(1) as thread:
        holder = thread.submit(client.get, "/users/1")
        assert service.holding.wait(timeout=10)

        started = time.monotonic()
        turned_away = client.get("/users/2")
        waited = time.monotonic() - started
        service.let_go.set()

    assert (turned_away.status_code, turned_away.json()) == (
        503,
        {"detail": "Database unavailable"},
    )
    assert turned_away.headers["Retry-After"] == "1"
    assert timeout <= waited < timeout + 5  # at its deadline, not when the slot came free
    assert holder.result().status_code == 404
