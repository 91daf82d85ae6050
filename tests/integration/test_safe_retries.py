"""A retry that arrives while the first request still waits on PostgreSQL."""

from concurrent.futures import ThreadPoolExecutor

from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from tests.integration.test_faults import waiting_on_locks
from tests.support import random_email, wait_until


def test_a_retry_while_the_first_request_waits_is_409_and_the_first_still_lands(
    client: TestClient, engine: Engine
) -> None:
    body = {"name": "Ann", "email": random_email()}
    key = {"Idempotency-Key": "while-waiting"}
    with engine.connect() as blocker, ThreadPoolExecutor(max_workers=1) as thread:
        blocker.execution_options(isolation_level="READ COMMITTED")
        with blocker.begin():
            blocker.execute(text("LOCK TABLE users IN ACCESS EXCLUSIVE MODE"))
            first = thread.submit(client.post, "/users/", json=body, headers=key)
            wait_until(lambda: waiting_on_locks(engine) == 1, 5, "the first insert waits")
            meanwhile = client.post("/users/", json=body, headers=key)
        landed = first.result()
    afterwards = client.post("/users/", json=body, headers=key)

    assert (meanwhile.status_code, meanwhile.json()) == (
        409,
        {"detail": "A request with this Idempotency-Key is in progress"},
    )
    assert meanwhile.headers["Retry-After"] == "1"
    assert landed.status_code == 200
    assert (afterwards.content, afterwards.headers["etag"]) == (
        landed.content,
        landed.headers["etag"],
    )
