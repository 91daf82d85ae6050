"""The access log: one whole line per request, in either form, written soon and never lost."""

import json
import logging
import os
import re
import select
import threading
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from tests.support import app_on
from users.entrypoints.server import access_log
from users.entrypoints.server.access_log import AccessLog

TEXT_LINE = re.compile(
    r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} INFO users\.access (\S+) (\S+) (\S+) (\d{3}) "
    r"(\d+(?:\.\d+)?)ms"
)


def access_lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if "users.access" in line]


@pytest.fixture
def pipe() -> Iterator[tuple[int, int]]:
    read_end, write_end = os.pipe()
    yield read_end, write_end
    os.close(read_end)
    os.close(write_end)


def read_lines(read_end: int, count: int, timeout: float = 5) -> list[bytes]:
    """`count` lines from the pipe, or fewer if no more come within `timeout` seconds."""
    data = b""
    while data.count(b"\n") < count and select.select([read_end], [], [], timeout)[0]:
        data += os.read(read_end, 4096)  # as a log shipper reads, a page at a time
    return data.splitlines()


class Reader(threading.Thread):
    """Reads `count` lines from the pipe meanwhile, as the log's reader would."""

    def __init__(self, read_end: int, count: int) -> None:
        super().__init__()
        self.lines: list[bytes] = []
        self._read_end, self._count = read_end, count
        self.start()

    def run(self) -> None:
        self.lines = read_lines(self._read_end, self._count)

    def request_ids(self) -> list[str]:
        self.join()
        return [json.loads(line)["request_id"] for line in self.lines]


def test_each_request_is_logged_once_with_its_fields_as_a_json_line(
    capfd: pytest.CaptureFixture[str],
) -> None:
    with TestClient(app_on(log_json=True)) as client:
        response = client.get("/users/424242?limit=3", headers={"X-Request-ID": "abc"})

    [line] = [json.loads(line) for line in access_lines(capfd.readouterr().err)]
    assert response.status_code == 404
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}", line.pop("time"))
    duration = line.pop("duration_ms")
    assert duration >= 0
    assert line == {
        "level": "INFO",
        "logger": "users.access",
        "message": f"GET /users/424242 404 {duration:.3f}ms",
        "method": "GET",
        "path": "/users/424242",
        "status": 404,
        "request_id": "abc",
    }


def test_the_text_line_holds_the_same_fields(capfd: pytest.CaptureFixture[str]) -> None:
    with TestClient(app_on()) as client:
        client.post("/users/", json={"name": "Ann", "email": "ann@example.com"})

    [line] = access_lines(capfd.readouterr().err)
    found = TEXT_LINE.fullmatch(line)
    assert found is not None
    assert len(found[1]) == 32
    assert found.groups()[1:4] == ("POST", "/users/", "200")


def test_a_level_above_info_silences_the_access_log(capfd: pytest.CaptureFixture[str]) -> None:
    with TestClient(app_on(log_level="WARNING")) as client:
        client.get("/users/1")

    assert access_lines(capfd.readouterr().err) == []


@pytest.mark.parametrize("path", ["/users/1\nforged line", "/a\x1b[31mred", "/\u2028x", "/\udc80"])
def test_a_path_never_breaks_or_forges_a_line(path: str, pipe: tuple[int, int]) -> None:
    log = AccessLog(json_lines=False, output=pipe[1])
    log.open()

    log.write("id-1", "GET", path, 404, 0.001)
    log.close()

    [line] = read_lines(pipe[0], 1)
    assert line.decode().isprintable()
    assert line.endswith(b" 404 1.000ms")


def test_a_line_is_written_within_a_second_without_waiting_for_more(
    pipe: tuple[int, int],
) -> None:
    log = AccessLog(json_lines=True, output=pipe[1])
    log.open()

    log.write("id-1", "GET", "/users/1", 200, 0.002)
    lines = read_lines(pipe[0], 1, timeout=1)
    log.close()

    assert [json.loads(line)["request_id"] for line in lines] == ["id-1"]


def test_closing_writes_every_line_still_waiting(pipe: tuple[int, int]) -> None:
    log = AccessLog(json_lines=True, output=pipe[1])
    reader = Reader(pipe[0], 2_000)
    log.open()
    for number in range(2_000):
        log.write(f"id-{number}", "GET", "/users/1", 200, 0.002)

    log.close()

    assert reader.request_ids() == [f"id-{n}" for n in range(2_000)]


def test_lines_from_many_writers_on_one_pipe_are_never_interleaved(
    pipe: tuple[int, int],
) -> None:
    # Two workers' logs share one stderr; here both have far more than a pipe holds to write
    # when their reader starts.
    logs = [AccessLog(json_lines=True, output=pipe[1]) for _ in range(2)]
    lines_each = 2_000
    path = "/users/" + "x" * 300
    for number in range(lines_each):
        for writer, log in enumerate(logs):
            log.write(f"{writer}-{number}", "GET", path, 200, 0.001)
    for log in logs:
        log.open()

    reader = Reader(pipe[0], 2 * lines_each)
    for log in logs:
        log.close()

    assert sorted(reader.request_ids()) == sorted(
        f"{w}-{n}" for w in range(2) for n in range(lines_each)
    )


def test_lines_beyond_what_can_wait_are_dropped_and_counted(
    pipe: tuple[int, int], monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(access_log, "MAX_WAITING_LINES", 3)
    log = AccessLog(json_lines=True, output=pipe[1])
    for number in range(5):  # no writer yet: as while the log's reader is stuck
        log.write(f"id-{number}", "GET", "/users/1", 200, 0.002)

    with caplog.at_level(logging.WARNING, logger="users.access"):
        log.open()
        log.close()

    assert [json.loads(line)["request_id"] for line in read_lines(pipe[0], 3)] == [
        "id-0",
        "id-1",
        "id-2",
    ]
    assert [record.getMessage() for record in caplog.records] == [
        "2 access lines dropped: the log was not read fast enough"
    ]


def test_lines_that_cannot_be_written_are_counted_as_dropped(
    pipe: tuple[int, int], caplog: pytest.LogCaptureFixture
) -> None:
    stand_in = os.open(os.devnull, os.O_RDONLY)
    os.dup2(stand_in, pipe[0])  # the pipe's only reader is gone: writing to it fails
    os.close(stand_in)
    log = AccessLog(json_lines=False, output=pipe[1])
    for number in range(3):
        log.write(f"id-{number}", "GET", "/users/1", 200, 0.002)

    with caplog.at_level(logging.WARNING, logger="users.access"):
        log.open()
        log.close()

    [warning] = [record.getMessage() for record in caplog.records]
    assert warning.startswith("3 access lines dropped: ")
