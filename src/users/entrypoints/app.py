"""Builds the FastAPI application; nothing is built at import time."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from anyio import to_thread
from fastapi import FastAPI

from users.container import Container
from users.entrypoints import routes
from users.entrypoints.errors import install_error_handlers
from users.entrypoints.limits import BodyLimitMiddleware
from users.entrypoints.observability import RequestContextMiddleware
from users.entrypoints.security import token_guard


def create_app(container: Container | None = None) -> FastAPI:
    """The users API over `container` (by default, one built from the environment)."""
    container = container or Container()

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        # Sync routes run in AnyIO's thread pool; as many threads as pooled connections means
        # no request ever waits for a connection while holding a thread.
        to_thread.current_default_thread_limiter().total_tokens = container.settings().concurrency
        if container.store() == "sql":
            container.engines.init()  # before the first request, not racing in threads
        yield
        container.shutdown_resources()

    app = FastAPI(
        title="Users API",
        version="1.0.0",
        description="Register, read, list, update and delete users. "
        "Email addresses are unique, whatever their letter case.",
        lifespan=lifespan,
    )
    routes.add_user_routes(app, token_guard(container.settings().api_token), container.user_service)
    routes.add_health_routes(app, container.store_probe)
    install_error_handlers(app)
    app.add_middleware(BodyLimitMiddleware)
    app.add_middleware(RequestContextMiddleware)
    return app
