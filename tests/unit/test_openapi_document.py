"""The live OpenAPI document is the one published beside the contract, `docs/openapi.json`.

A change to the API shows up here first. If it is meant, publish the new document:
    .venv/bin/python -m tests.unit.test_openapi_document
"""

import json
from pathlib import Path

from fastapi.testclient import TestClient

from tests.support import app_on

PUBLISHED = Path(__file__).parents[2] / "docs" / "openapi.json"


def test_the_live_document_is_the_published_one(client: TestClient) -> None:
    live = client.get("/openapi.json").json()

    assert live == json.loads(PUBLISHED.read_text(encoding="utf-8"))


if __name__ == "__main__":
    document = app_on().openapi()
    PUBLISHED.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n", "utf-8")
