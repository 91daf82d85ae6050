"""Builds the FastAPI application; nothing is built at import time."""

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from anyio import to_thread
from fastapi import FastAPI
from fastapi_offline import FastAPIOffline

from users.container import Container
from users.entrypoints import routes
from users.entrypoints.admission import AdmissionMiddleware
from users.entrypoints.errors import install_error_handlers
from users.entrypoints.lifecycle import Lifecycle
from users.entrypoints.limits import BodyLimitMiddleware
from users.entrypoints.metrics import Metrics
from users.entrypoints.observability import RequestContextMiddleware
from users.entrypoints.security import token_guard
from users.settings import Settings

# Answered on the event loop, never waiting for a worker: a busy process is still alive.
UNBOUNDED_PATHS = ("/health/live", "/metrics")


def create_app(container: Container | None = None) -> FastAPI:
    """The users API over `container` (by default, one built from the environment)."""
    container = container or Container()
    settings = container.settings()
    lifecycle = Lifecycle(settings.shutdown_drain_seconds)
    metrics = Metrics() if settings.metrics else None
    # Swagger UI and ReDoc, their scripts served by the service itself: /docs needs no CDN.
    app = FastAPIOffline(
        title="Users API",
        version="1.0.0",
        description="Register, read, list, update and delete users. "
        "Email addresses are unique, whatever their letter case.",
        lifespan=_lifespan(container, lifecycle, metrics),
    )
    routes.add_user_routes(app, token_guard(settings.api_token), container.user_service)
    routes.add_health_routes(app, container.store_probe, lifecycle)
    if metrics is not None:
        routes.add_metrics_route(app, metrics)
    routes.answer_head_on_every_get(app)
    routes.try_the_api_first(app)
    install_error_handlers(app)
    _add_middleware(app, settings, lifecycle, metrics)
    return app


def _lifespan(
    container: Container, lifecycle: Lifecycle, metrics: Metrics | None
) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        # Sync routes run in AnyIO's thread pool; as many threads as pooled connections means
        # no request ever waits for a connection while holding a thread.
        to_thread.current_default_thread_limiter().total_tokens = container.settings().concurrency
        if container.store() == "sql":
            container.engines.init()  # before the first request, not racing in threads
            if metrics is not None:
                container.engines().count_checkouts(metrics.connections_in_use.inc)
        lifecycle.take_over_sigterm()
        yield
        container.shutdown_resources()
        if metrics is not None:
            metrics.close()

    return lifespan


def _add_middleware(
    app: FastAPI, settings: Settings, lifecycle: Lifecycle, metrics: Metrics | None
) -> None:
    """Innermost first: admission, then the body limit, then the request id and access log
    around all of it."""
    app.add_middleware(
        AdmissionMiddleware,
        slots=settings.concurrency,
        timeout_seconds=settings.request_timeout_seconds,
        unbounded_paths=UNBOUNDED_PATHS,
        waiting=metrics.requests_waiting.inc if metrics is not None else lambda _: None,
    )
    app.add_middleware(BodyLimitMiddleware)
    app.add_middleware(
        RequestContextMiddleware,
        lifecycle=lifecycle,
        observe=metrics.observe if metrics is not None else None,
    )
