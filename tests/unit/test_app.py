"""The app as a whole: one per container, and its documentation served by itself."""

import re

from fastapi.testclient import TestClient

from tests.contracts.http import register
from tests.support import app_on


def test_two_apps_in_one_process_each_serve_their_own_store() -> None:
    first, second = app_on(), app_on()

    with TestClient(first) as one, TestClient(second) as two:
        user = register(one)
        on_second = two.get(f"/users/{user['id']}")
    with TestClient(first) as one_again:
        on_first = one_again.get(f"/users/{user['id']}")

    assert on_second.status_code == 404
    assert on_first.json() == user


def test_the_documentation_pages_load_every_asset_from_the_service(client: TestClient) -> None:
    for page in ("/docs", "/redoc"):
        html = client.get(page).text
        assets = re.findall(r'(?:src|href)="([^"]+)"', html)

        assert assets, page
        assert all(asset.startswith("/") for asset in assets), assets
        assert all(client.get(asset).status_code == 200 for asset in assets), assets
        assert client.head(page).status_code == 200
