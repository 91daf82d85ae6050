"""Reads from a streaming replica as `docs/deployment.md` runs them: the primary and the replica
each behind a PgBouncer of its own in transaction pooling, the settings from the environment."""

from fastapi.testclient import TestClient

from tests.integration.deployment.conftest import pgbouncer_in_front_of, through
from tests.metrics import scrape
from tests.postgres import throwaway_database
from tests.replication import Replication
from tests.support import app_on, random_email, wait_until
from users.adapters.sql.schema import migrate

TOKEN = "Consistency-Token"


def replica_in_use(client: TestClient) -> bool:
    return [v for (name, _), v in scrape(client).items() if name == "db_replica_usable"] == [1]


def test_through_pgbouncer_reads_go_to_the_replica_and_a_token_reads_the_write(
    replicated: Replication,
) -> None:
    with (
        throwaway_database(replicated.primary.url, "bounced") as database,
        pgbouncer_in_front_of(replicated.primary.url) as primary,
        pgbouncer_in_front_of(replicated.delayed.url) as replica,
    ):
        migrate(database)
        app = app_on(
            through(primary, database),
            database_replica_urls=through(replica, database).render_as_string(False),
            replica_max_lag_seconds=5,
        )
        with TestClient(app) as client:
            wait_until(lambda: replica_in_use(client), 30, "the replica in use")
            created = client.post("/users/", json={"name": "Ann", "email": random_email()})
            user = f"/users/{created.json()['id']}"
            stale = client.get(user)
            renamed = client.patch(user, json={"name": "Bea"}, headers={"If-Match": "*"})
            fresh = client.get(user, headers={TOKEN: renamed.headers[TOKEN]})
            reads = {
                labels: value
                for (name, labels), value in scrape(client).items()
                if name == "db_reads_total"
            }

    assert (stale.status_code, fresh.status_code) == (404, 200)
    assert fresh.json() == renamed.json()
    assert sorted(reads.values()) == [1, 1]  # one read on each: the replica, then the primary
