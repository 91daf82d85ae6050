"""Request ids, access logs and unhandled errors."""

import json
import logging
import sys

import pytest
from fastapi.testclient import TestClient

from tests.support import app_on
from users.domain.errors import UserNotFound
from users.entrypoints.server.logs import JsonFormatter, RequestIdFilter


def test_every_response_carries_a_fresh_request_id(client: TestClient) -> None:
    first, second = client.get("/health"), client.get("/users/0")

    assert len(first.headers["x-request-id"]) == 32
    assert first.headers["x-request-id"] != second.headers["x-request-id"]


def test_a_sane_request_id_from_the_caller_is_kept(client: TestClient) -> None:
    response = client.get("/health", headers={"X-Request-ID": "trace-42.a:b"})

    assert response.headers["x-request-id"] == "trace-42.a:b"


@pytest.mark.parametrize("insane", [b"", b"x" * 129, "\u00e9".encode(), b"a b", b"<script>"])
def test_an_insane_request_id_is_replaced(client: TestClient, insane: bytes) -> None:
    response = client.get("/health", headers=[(b"X-Request-ID", insane)])

    assert response.headers["x-request-id"].encode() != insane
    assert len(response.headers["x-request-id"]) == 32


class CrashingService:
    def get(self, *, user_id: int) -> None:
        raise RuntimeError("boom: an internal detail")


def test_an_unhandled_error_is_a_bare_500_logged_once_with_its_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with TestClient(app_on(users=CrashingService()), raise_server_exceptions=False) as client:
        response = client.get("/users/1", headers={"X-Request-ID": "crash-1"})

    assert response.status_code == 500
    assert response.json() == {"detail": "Internal Server Error"}
    assert "internal detail" not in response.text
    [error] = [r for r in caplog.records if r.name == "users.error"]
    assert error.exc_info is not None
    assert error.request_id == "crash-1"  # type: ignore[attr-defined]


class ChattyService:
    def get(self, *, user_id: int) -> None:
        logging.getLogger("users.chatty").warning("looking for user %d", user_id)
        raise UserNotFound(user_id)


def test_a_line_written_while_a_request_runs_carries_its_request_id(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.handler.addFilter(RequestIdFilter())
    with TestClient(app_on(users=ChattyService())) as client:
        client.get("/users/7", headers={"X-Request-ID": "chatty-7"})
        second = client.get("/users/8").headers["x-request-id"]
    logging.getLogger("users.chatty").warning("outside any request")

    lines = [(r.getMessage(), r.request_id) for r in caplog.records if r.name == "users.chatty"]  # type: ignore[attr-defined]
    assert lines == [
        ("looking for user 7", "chatty-7"),
        ("looking for user 8", second),
        ("outside any request", "-"),
    ]


def test_json_log_lines_carry_the_request_fields_and_the_traceback() -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        failure = sys.exc_info()
    record = logging.LogRecord("users.error", logging.ERROR, __file__, 1, "failed", None, failure)
    record.request_id = "r-1"

    line = json.loads(JsonFormatter().format(record))

    assert (line["level"], line["logger"], line["message"]) == ("ERROR", "users.error", "failed")
    assert line["request_id"] == "r-1"
    assert "ValueError: boom" in line["traceback"]
