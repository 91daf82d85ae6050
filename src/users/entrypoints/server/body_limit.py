"""The request body limit, and the body read whole before the request takes a worker's slot."""

from starlette.types import ASGIApp, Message, Receive, Scope, Send

_BODY_HEADERS = (b"content-length", b"transfer-encoding")


class BodyLimitMiddleware:
    """Reads each request's body whole, up to `max_bytes`, before the request goes on.

    A body over the limit gets the `too_large` answer, before any of it is read when its length
    is declared. A client that sends its body slowly waits here, holding no worker slot while
    it sends (the admission middleware, inside this one, hands out the slots).
    """

    def __init__(self, app: ASGIApp, *, max_bytes: int, too_large: ASGIApp) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self._too_large = too_large

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # A request with neither header has no body (RFC 9112, section 6.3): nothing to read.
        if scope["type"] != "http" or not _declares_a_body(scope):
            await self.app(scope, receive, send)
            return
        if _declared_length(scope) > self.max_bytes:
            await self._too_large(scope, receive, send)
            return
        body = await self._read_body(receive)
        if body is None:  # the client left: no one to answer
            return
        if len(body) > self.max_bytes:
            await self._too_large(scope, receive, send)
            return
        await self.app(scope, _replaying(body, receive), send)

    async def _read_body(self, receive: Receive) -> bytes | None:
        """The body, or as much of it as goes one chunk past the limit; `None` if the client
        leaves first."""
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return None
            body += message.get("body", b"")
            if len(body) > self.max_bytes or not message.get("more_body", False):
                return bytes(body)


def _declares_a_body(scope: Scope) -> bool:
    return any(name in _BODY_HEADERS for name, _ in scope["headers"])


def _declared_length(scope: Scope) -> int:
    for name, value in scope["headers"]:
        if name == b"content-length":
            return int(value) if value.isdigit() else 0
    return 0


def _replaying(body: bytes, receive: Receive) -> Receive:
    """A `receive` that gives the body already read, then whatever the client sends next."""
    pending: list[Message] = [{"type": "http.request", "body": body, "more_body": False}]

    async def replay() -> Message:
        return pending.pop() if pending else await receive()

    return replay
