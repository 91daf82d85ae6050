"""A TCP proxy to PostgreSQL that can be cut and restored, and counts the queries sent."""

import socket
import threading
from collections.abc import Callable
from contextlib import suppress

from sqlalchemy import URL


class CuttableProxy:
    """Forwards 127.0.0.1:<port> to a PostgreSQL server until `cut()`, again after `restore()`;
    `queries` counts the round trips clients made: the Query messages they sent (psycopg2 sends
    every statement, and every `BEGIN` or `COMMIT`, as one)."""

    def __init__(self, server: URL) -> None:
        self.queries = 0
        self._target = _address_of(server)
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._listener = self._listen(0)
        self.port: int = self._listener.getsockname()[1]

    def url_for(self, database: URL) -> URL:
        """`database`, reached through this proxy."""
        return database.set(host="127.0.0.1", port=self.port, query={"sslmode": "disable"})

    def cut(self) -> None:
        """Refuse new connections and break every open one."""
        with self._lock:
            for open_socket in [self._listener, *self._sockets]:
                with suppress(OSError):
                    open_socket.shutdown(socket.SHUT_RDWR)
                open_socket.close()
            self._sockets.clear()

    def restore(self) -> None:
        self._listener = self._listen(self.port)

    def _listen(self, port: int) -> socket.socket:
        listener = socket.create_server(("127.0.0.1", port), reuse_port=False)
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()
        return listener

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            upstream = socket.socket(self._target[0])
            upstream.connect(self._target[1])
            with self._lock:
                self._sockets += [client, upstream]
            threading.Thread(
                target=self._forward_queries, args=(client, upstream), daemon=True
            ).start()
            threading.Thread(target=_pump, args=(upstream, client), daemon=True).start()

    def _forward_queries(self, client: socket.socket, upstream: socket.socket) -> None:
        def count(message_type: bytes) -> None:
            if message_type == b"Q":
                with self._lock:
                    self.queries += 1

        _pump(client, upstream, _Messages(count))


class _Messages:
    """Reads the frontend's side of the protocol as it passes: a startup message (a length and
    its body), then messages of a type byte, a length and a body; calls `seen` with each type."""

    def __init__(self, seen: Callable[[bytes], None]) -> None:
        self._seen = seen
        self._buffer = b""
        self._started = False

    def __call__(self, data: bytes) -> None:
        self._buffer += data
        while True:
            header = 4 if not self._started else 5
            if len(self._buffer) < header:
                return
            length = int.from_bytes(self._buffer[header - 4 : header]) + header - 4
            if len(self._buffer) < length:
                return
            if self._started:
                self._seen(self._buffer[:1])
            self._buffer, self._started = self._buffer[length:], True


def _pump(
    source: socket.socket, sink: socket.socket, watch: Callable[[bytes], None] = lambda _: None
) -> None:
    with suppress(OSError):
        while data := source.recv(65536):
            watch(data)
            sink.sendall(data)
    with suppress(OSError):
        sink.shutdown(socket.SHUT_WR)


def _address_of(server: URL) -> tuple[socket.AddressFamily, str | tuple[str, int]]:
    port = server.port or 5432
    if server.host:
        return socket.AF_INET, (server.host, port)
    # A server reached over a Unix socket names its directory in the "host" query parameter.
    directory = server.query["host"]
    assert isinstance(directory, str)
    return socket.AF_UNIX, f"{directory}/.s.PGSQL.{port}"
