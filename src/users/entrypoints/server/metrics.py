"""Prometheus metrics: requests by route and status, how long they took, and the pools' load.

With several worker processes, each writes its figures to files in `PROMETHEUS_MULTIPROC_DIR`
(the `serve` command makes one) and whichever worker is scraped adds them all up.
"""

import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from starlette.requests import Request
from starlette.responses import Response

MULTIPROCESS_DIRECTORY = "PROMETHEUS_MULTIPROC_DIR"
# Any other token a client sends as a method would be a new series each: memory it controls.
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_LABELS = ("method", "route", "status")


class Metrics:
    """One app's metrics, in a registry of its own (so that two apps in one process can live)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self._requests = Counter(
            "http_requests", "Requests answered.", _LABELS, registry=self.registry
        )
        self._durations = Histogram(
            "http_request_duration_seconds",
            "From the request's arrival to its response's last byte.",
            _LABELS,
            registry=self.registry,
        )
        self.connections_in_use = Gauge(
            "db_pool_connections_in_use",
            "Database connections checked out of the pools.",
            registry=self.registry,
            multiprocess_mode="livesum",
        )
        self.requests_waiting = Gauge(
            "db_pool_requests_waiting",
            "Requests waiting for a worker thread and its connection.",
            registry=self.registry,
            multiprocess_mode="livesum",
        )
        self._series: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        """Count one answered request (called on the event loop only)."""
        key = (method if method in _METHODS else "other", route, status)
        series = self._series.get(key)
        if series is None:  # looked up once per series, not per request
            labels = (key[0], route, str(status))
            series = self._series[key] = (
                self._requests.labels(*labels),
                self._durations.labels(*labels),
            )
        series[0].inc()
        series[1].observe(seconds)

    async def scrape(self, _: Request) -> Response:
        """The endpoint of `/metrics`: this process's figures, or every worker's added up."""
        registry = self.registry
        if MULTIPROCESS_DIRECTORY in os.environ:
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    def close(self) -> None:
        """This process stops: its gauges leave the sums."""
        if MULTIPROCESS_DIRECTORY in os.environ:
            multiprocess.mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]
