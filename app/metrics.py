"""Prometheus metrics: request latency per route, inference time per model, queue depth,
captures per step and outcome, failed checks per code, webhook backlog.

Each process keeps its own registry; scrape every process (or every pod) and sum.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from starlette.requests import Request
from starlette.responses import Response

REGISTRY = CollectorRegistry()

REQUEST_SECONDS = Histogram(
    "heyan_http_request_seconds",
    "HTTP request latency by route template",
    ["method", "route", "status"],
    registry=REGISTRY,
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
INFERENCE_SECONDS = Histogram(
    "heyan_inference_seconds",
    "Time of one analyser call (documents: OCR and checks; face: the whole liveness check)",
    ["analyzer"],
    registry=REGISTRY,
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 16),
)
QUEUE_DEPTH = Gauge(
    "heyan_inference_queue_depth",
    "Captures waiting for or in the inference pool",
    registry=REGISTRY,
)
CAPTURES = Counter(
    "heyan_captures_total", "Captures by step and outcome", ["step", "outcome"], registry=REGISTRY
)
CHECK_FAILURES = Counter(
    "heyan_check_failures_total", "Failed checks by code", ["code"], registry=REGISTRY
)
WEBHOOK_BACKLOG = Gauge(
    "heyan_webhook_backlog", "Webhook deliveries not yet delivered or dead", registry=REGISTRY
)


def route_template(request: Request) -> str:
    route = request.scope.get("route")
    return getattr(route, "path", "unmatched")


async def metrics_middleware(
    request: Request, call_next: Callable[[Request], Awaitable[Response]]
) -> Response:
    start = time.perf_counter()
    status = 500
    try:
        response = await call_next(request)
        status = response.status_code
        return response
    finally:
        REQUEST_SECONDS.labels(request.method, route_template(request), str(status)).observe(
            time.perf_counter() - start
        )


def exposition() -> bytes:
    return generate_latest(REGISTRY)
