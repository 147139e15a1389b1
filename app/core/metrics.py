"""Prometheus metrics: request latency per route, inference time per model, queue depth,
captures per step and outcome, failed checks per code, webhook backlog.

One process: the metrics live in this process's registry. Several processes on one port
(`serve --workers N`): `serve` exports PROMETHEUS_MULTIPROC_DIR before the workers start, every
worker writes its values to files there, and `/metrics` in any worker merges the files of all
of them (prometheus_client multiprocess mode), so every scrape sees the same totals.
"""

from __future__ import annotations

import contextlib
import glob
import os
import re
from collections.abc import Mapping
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
    values,
)

# prometheus_client picks its value storage once, when it is first imported: files in this
# directory when the variable was set by then, memory otherwise. Follow the same choice.
MULTIPROC_DIR: str | None = (
    os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if values.ValueClass is not values.MutexValue
    else None
)

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
MODEL_SECONDS = Histogram(
    "heyan_model_inference_seconds",
    "Time of one model call: one onnxruntime run of a face model, or one OCR pass",
    ["model"],
    registry=REGISTRY,
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)


_REQUEST_CHILDREN: dict[tuple[str, str, int], Any] = {}


def observe_request(method: str, route: str, status: int, seconds: float) -> None:
    """One request in REQUEST_SECONDS; the labelled child looked up once per (method, route
    template, status), not through ``labels()`` (its lock and label checks) per request."""
    key = (method, route, status)
    child = _REQUEST_CHILDREN.get(key)
    if child is None:
        if len(_REQUEST_CHILDREN) > 10_000:  # bounded: templates, not raw paths, anyway
            _REQUEST_CHILDREN.clear()
        child = _REQUEST_CHILDREN[key] = REQUEST_SECONDS.labels(method, route, str(status))
    child.observe(seconds)


def observe_model(model: str, seconds: float) -> None:
    """The app.inference.modeltime listener (registered by app.main)."""
    MODEL_SECONDS.labels(model).observe(seconds)


QUEUE_DEPTH = Gauge(
    "heyan_inference_queue_depth",
    "Captures waiting for or in the inference pool",
    registry=REGISTRY,
    # A live value of each process: the sum over the running ones.
    multiprocess_mode="livesum",
)
CAPTURES = Counter(
    "heyan_captures_total", "Captures by step and outcome", ["step", "outcome"], registry=REGISTRY
)
CHECK_FAILURES = Counter(
    "heyan_check_failures_total", "Failed checks by code", ["code"], registry=REGISTRY
)
WEBHOOK_BACKLOG = Gauge(
    "heyan_webhook_backlog",
    "Webhook deliveries not yet delivered or dead",
    registry=REGISTRY,
    # A database count, set by whichever process answers the scrape: the latest one.
    multiprocess_mode="mostrecent",
)


def route_template(scope: Mapping[str, Any]) -> str:
    """The matched route's path template (``/v1/orders/{order_id}``), never the raw path."""
    return getattr(scope.get("route"), "path", "unmatched")


_LIVE_FILE = re.compile(r"gauge_live\w+_(\d+)\.db")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        pass
    return True


def forget_dead_processes(path: str) -> None:
    """Drop the live gauges (queue depth) of workers that are gone, however they ended:
    uvicorn re-raises SIGTERM after a worker's shutdown, so no atexit hook runs, and a killed
    worker runs nothing. uvicorn starts a replacement with a new pid. The counters and
    histograms of a gone worker stay in the totals."""
    for name in {os.path.basename(f) for f in glob.glob(os.path.join(path, "gauge_live*.db"))}:
        m = _LIVE_FILE.fullmatch(name)
        if m and not _pid_alive(int(m.group(1))):
            with contextlib.suppress(FileNotFoundError):
                multiprocess.mark_process_dead(int(m.group(1)), path)  # type: ignore[no-untyped-call]


def exposition() -> bytes:
    if MULTIPROC_DIR is None:
        return generate_latest(REGISTRY)
    forget_dead_processes(MULTIPROC_DIR)
    # A fresh registry holding only the collector that merges every process's files.
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=MULTIPROC_DIR)  # type: ignore[no-untyped-call]
    return generate_latest(registry)
