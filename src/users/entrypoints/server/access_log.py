"""The one line per request, written without `logging`: serialized where the request ends, and
written to the log in batches by a thread of its own.

A seam for speed. Through `logging` (a record, a filter, a formatter, a locked write to stderr)
the line cost 60 to 75 µs of CPU a request on the event loop, where each µs also holds up the
route threads waiting for the GIL (`make profile`). Here the event loop builds the line's bytes
(orjson for JSON lines) and appends them to a list; the writer thread takes the list every
`FLUSH_SECONDS` and writes it in whole lines. Lines carry the fields, and take the two forms,
of every other log line (`logs.py`).
"""

import functools
import logging
import os
import select
import threading
import time

import orjson

LOGGER = "users.access"
log = logging.getLogger(LOGGER)
# Long enough to batch a busy second's lines into a few writes, short enough to tail.
FLUSH_SECONDS = 0.1
# A write to a pipe of at most this many bytes is never interleaved with another process's
# (POSIX): the workers of `serve --workers N` share one stderr.
_ATOMIC_BYTES = select.PIPE_BUF
# While the log's reader is stuck, lines wait in memory, up to this many; later ones are
# counted and dropped rather than let the process grow without bound or stall requests.
MAX_WAITING_LINES = 100_000
CLOSE_TIMEOUT_SECONDS = 5.0
# "000" to "999": a look-up is a tenth of what formatting `:03d` costs, twice a line.
_THREE_DIGITS = tuple(f"{number:03d}" for number in range(1000))


class AccessLog:
    """Access lines for the file descriptor `output`, as text or JSON lines, written in batches
    from `open()` to `close()`."""

    def __init__(self, *, json_lines: bool, output: int = 2) -> None:
        self._output = output
        self._json_lines = json_lines
        self._waiting: list[bytes] = []
        self._dropped = 0
        self._closing = threading.Event()
        self._writer: threading.Thread | None = None

    def open(self) -> None:
        """Start writing (again, for an app served once more, as tests do)."""
        if self._writer is not None and self._writer.is_alive():
            return
        self._closing.clear()
        self._writer = threading.Thread(target=self._write_batches, name="access-log", daemon=True)
        self._writer.start()

    def write(self, request_id: str, method: str, path: str, status: int, seconds: float) -> None:
        """Log one request: `path` as the server decoded it, `seconds` it took."""
        if len(self._waiting) >= MAX_WAITING_LINES:
            self._dropped += 1
            return
        if not path.isprintable():  # a line never breaks in two, whatever the path holds
            path = _escaped(path, self._json_lines)
        # Whole microseconds: rounding a float to 3 places costs more than the rest of the line.
        microseconds = int(seconds * 1_000_000)
        milliseconds = f"{microseconds // 1000}.{_THREE_DIGITS[microseconds % 1000]}"
        message = f"{method} {path} {status} {milliseconds}ms"
        moment = _timestamp(time.time())
        if self._json_lines:
            line = orjson.dumps(
                {
                    "time": moment,
                    "level": "INFO",
                    "logger": LOGGER,
                    "message": message,
                    "method": method,
                    "path": path,
                    "status": status,
                    "duration_ms": microseconds / 1000,
                    "request_id": request_id,
                },
                option=orjson.OPT_APPEND_NEWLINE,
            )
        else:
            line = f"{moment} INFO {LOGGER} {request_id} {message}\n".encode()
        self._waiting.append(line)

    def close(self) -> None:
        """Write every line still waiting, and stop the writer; give up after
        CLOSE_TIMEOUT_SECONDS if nothing reads the log, rather than never stop."""
        self._closing.set()
        if self._writer is not None:
            self._writer.join(CLOSE_TIMEOUT_SECONDS)

    def _write_batches(self) -> None:
        while not self._closing.wait(FLUSH_SECONDS):
            self._write_waiting()
        self._write_waiting()

    def _write_waiting(self) -> None:
        # A swap, not a lock: the event loop appends to whichever list it finds.
        lines, self._waiting = self._waiting, []
        if self._dropped:
            dropped, self._dropped = self._dropped, 0
            log.warning("%d access lines dropped: the log was not read fast enough", dropped)
        chunks = _whole_lines(lines, _ATOMIC_BYTES)
        for number, chunk in enumerate(chunks):
            try:
                _write_all(self._output, chunk)
            except OSError as error:  # a closed log, or one that takes no more (non-blocking)
                unwritten = sum(rest.count(b"\n") for rest in chunks[number:])
                log.warning("%d access lines dropped: %s", unwritten, error)
                return


def _escaped(path: str, json_lines: bool) -> str:
    """`path` with what would break a text line escaped (`\\n`, `\\x1b`), or, in JSON, where
    orjson escapes those itself, only what UTF-8 cannot hold (a lone surrogate)."""
    if json_lines:
        return path.encode("utf-8", "backslashreplace").decode("utf-8")
    return path.encode("unicode_escape").decode("ascii")


def _whole_lines(lines: list[bytes], limit: int) -> list[bytes]:
    """The lines joined into as few chunks as fit in `limit` bytes each, never splitting one
    (a longer line is a chunk of its own)."""
    chunks: list[bytes] = []
    chunk: list[bytes] = []
    size = 0
    for line in lines:
        if chunk and size + len(line) > limit:
            chunks.append(b"".join(chunk))
            chunk, size = [], 0
        chunk.append(line)
        size += len(line)
    if chunk:
        chunks.append(b"".join(chunk))
    return chunks


def _write_all(output: int, data: bytes) -> None:
    while data:
        data = data[os.write(output, data) :]


def _timestamp(moment: float) -> str:
    """As `logging` writes `asctime`: local time, milliseconds after a comma."""
    return f"{_second(int(moment))},{_THREE_DIGITS[int(moment % 1 * 1000)]}"


@functools.lru_cache(maxsize=2)
def _second(second: int) -> str:
    # Formatted once a second, not once a line.
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(second))
