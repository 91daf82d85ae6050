"""What a request costs in round trips to PostgreSQL: a read one, a write's transaction two,
its `BEGIN` riding with the first statement; and a write stays one transaction all the same."""

from fastapi.testclient import TestClient
from sqlalchemy import URL, Engine, text

from tests.contracts.http import register
from tests.integration.proxy import CuttableProxy
from tests.support import app_on, random_email, wait_until
from users.adapters.sql.engine import EngineOptions, create_engines
from users.adapters.sql.schema import build_schema


def serving_processes(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(text("SELECT count(*) FROM serving_builds")).scalar_one())


def test_a_read_is_one_round_trip_and_a_registration_two(
    server_url: URL, database_url: URL, engine: Engine
) -> None:
    proxy = CuttableProxy(server_url)
    with TestClient(app_on(proxy.url_for(database_url))) as client:
        user = register(client)  # each pool opens its connection first
        client.get(f"/users/{user['id']}")
        # The process has said it serves (its next word is 5 s away): no query but the test's.
        wait_until(lambda: serving_processes(engine) > 0, 5, "the process's presence")

        sent = proxy.queries
        client.get(f"/users/{user['id']}")
        read, sent = proxy.queries - sent, proxy.queries
        register(client)
        registration, sent = proxy.queries - sent, proxy.queries
        refused = client.post("/users/", json={"name": "Again", "email": user["email"]})
        refusal = proxy.queries - sent

    assert refused.status_code == 400
    # BEGIN goes with the INSERT, then COMMIT (or, when the address is taken, ROLLBACK).
    assert (read, registration, refusal) == (1, 2, 2)


def test_statements_sent_as_one_batch_are_still_one_transaction(database_url: URL) -> None:
    # psycopg2 runs `executemany` in C, past the cursor that sends BEGIN with a statement.
    writes = create_engines(database_url, EngineOptions(), build_schema()).writes
    connection = writes.raw_connection()
    cursor = connection.cursor()
    cursor.executemany(
        "INSERT INTO users (name, email, email_key, created_at, updated_at) "
        "VALUES (%s, %s, %s, now(), now())",
        [("Batch", address, address) for address in (random_email(), random_email())],
    )
    cursor.close()
    connection.rollback()
    connection.close()

    with writes.connect() as check:
        kept = check.execute(text("SELECT count(*) FROM users WHERE name = 'Batch'")).scalar()
    writes.dispose()
    assert kept == 0
