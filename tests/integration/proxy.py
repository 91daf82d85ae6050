"""A TCP proxy to PostgreSQL that can be cut and restored."""

import socket
import threading
from contextlib import suppress

from sqlalchemy import URL


class CuttableProxy:
    """Forwards 127.0.0.1:<port> to a PostgreSQL server until `cut()`, again after `restore()`."""

    def __init__(self, server: URL) -> None:
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
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=_pump, args=(source, sink), daemon=True).start()


def _pump(source: socket.socket, sink: socket.socket) -> None:
    with suppress(OSError):
        while data := source.recv(65536):
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
