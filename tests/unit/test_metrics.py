"""Prometheus metrics at /metrics: requests by route template and status, and their durations."""

from fastapi.testclient import TestClient

from tests.contracts.http import register
from tests.metrics import requests_counted, scrape
from tests.support import app_on


def test_requests_are_counted_by_method_route_template_and_status(client: TestClient) -> None:
    user = register(client)
    for _ in range(3):
        client.get(f"/users/{user['id']}")
    client.get("/users/999999")

    samples = scrape(client)

    assert requests_counted(samples, "POST", "/users/", 200) == 1
    assert requests_counted(samples, "GET", "/users/{user_id}", 200) == 3
    assert requests_counted(samples, "GET", "/users/{user_id}", 404) == 1
    count = (
        "http_request_duration_seconds_count",
        frozenset({"method": "GET", "route": "/users/{user_id}", "status": "200"}.items()),
    )
    assert samples[count] == 3


def test_what_no_route_serves_is_one_series_whatever_the_path_or_method(
    client: TestClient,
) -> None:
    for path in ("/nothing", "/nothing/else", "/users/1/x"):
        client.get(path)
    client.request("BREW", "/users/")
    client.request("SPLAT", "/users/")

    samples = scrape(client)

    assert requests_counted(samples, "GET", "unmatched", 404) == 3
    assert requests_counted(samples, "other", "/users/", 405) == 2


def test_the_pool_gauges_are_served(client: TestClient) -> None:
    samples = scrape(client)

    assert samples[("db_pool_connections_in_use", frozenset())] == 0
    assert samples[("db_pool_requests_waiting", frozenset())] == 0


def test_metrics_can_be_turned_off() -> None:
    with TestClient(app_on("memory://", metrics=False)) as client:
        assert client.get("/metrics").status_code == 404
