"""Per-model inference timings, reported by the domain libraries to whoever listens.

app/liveness and app/capture stay free of web and metrics imports: each model call reports
``(model name, seconds)`` here, and app.main registers the listener that feeds the Prometheus
histogram ``heyan_model_inference_seconds{model=...}``. With no listener a report costs one
empty loop.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

log = logging.getLogger(__name__)

Listener = Callable[[str, float], None]
_listeners: list[Listener] = []


def listen(fn: Listener) -> None:
    """Register ``fn(model, seconds)``; registering the same function twice is a no-op."""
    if fn not in _listeners:
        _listeners.append(fn)


def unlisten(fn: Listener) -> None:
    if fn in _listeners:
        _listeners.remove(fn)


def report(model: str, seconds: float) -> None:
    for fn in list(_listeners):
        try:
            fn(model, seconds)
        except Exception:  # a broken listener must never fail a capture
            log.exception("model timing listener failed")


@contextmanager
def timed(model: str) -> Iterator[None]:
    start = time.perf_counter()
    try:
        yield
    finally:
        report(model, time.perf_counter() - start)
