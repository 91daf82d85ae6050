"""A TCP proxy to PostgreSQL that can be cut and restored, and can tap what clients send."""

import socket
import threading
from collections.abc import Callable
from contextlib import suppress

from sqlalchemy import URL


class CuttableProxy:
    """Forwards 127.0.0.1:<port> to a PostgreSQL server until `cut()`, again after `restore()`."""

    def __init__(self, server: URL, tap: Callable[[bytes], None] | None = None) -> None:
        """`tap`, if given, sees every byte clients send, per connection in order."""
        self._target = _address_of(server)
        self._tap = tap
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._listener = self._listen(0)
        self.port: int = self._listener.getsockname()[1]

    def url_for(self, database: URL) -> URL:
        """`database`, reached through this proxy, unencrypted so that a tap can read it."""
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
            for source, sink, tap in ((client, upstream, self._tap), (upstream, client, None)):
                threading.Thread(target=_pump, args=(source, sink, tap), daemon=True).start()


def _pump(source: socket.socket, sink: socket.socket, tap: Callable[[bytes], None] | None) -> None:
    with suppress(OSError):
        while data := source.recv(65536):
            if tap is not None:
                tap(data)
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
