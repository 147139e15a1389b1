"""`python -m app serve --workers 2`: `/metrics` answers the totals of both workers, whichever
worker takes the scrape (prometheus_client multiprocess mode). A real server on embedded
SQLite; only `/healthz` and `/metrics` are called, neither writes to the database."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.live_server import free_port, start_workers, stop_workers, worker_pids

ROOT = Path(__file__).resolve().parents[1]


def _healthz_count(exposition: str) -> float:
    total = 0.0
    for family in text_string_to_metric_families(exposition):
        for sample in family.samples:
            if (
                sample.name == "heyan_http_request_seconds_count"
                and sample.labels.get("route") == "/healthz"
            ):
                total += sample.value
    return total


def _gauge(exposition: str, name: str) -> list[float]:
    return [
        s.value
        for family in text_string_to_metric_families(exposition)
        for s in family.samples
        if s.name == name
    ]


async def _healthz_batch(base: str, n: int) -> None:
    # No keep-alive: a new connection per request, so either worker may accept each one, and
    # concurrent, so a busy worker leaves the next connection to the other.
    async with httpx.AsyncClient(limits=httpx.Limits(max_keepalive_connections=0)) as client:
        answers = await asyncio.gather(*(client.get(f"{base}/healthz") for _ in range(n)))
    assert [r.status_code for r in answers] == [200] * n


def _pids(metrics_dir: Path, kind: str) -> set[int]:
    return {int(f.stem.rsplit("_", 1)[1]) for f in metrics_dir.glob(f"{kind}_*.db")}


@pytest.mark.parametrize("operator_dir", [False, True], ids=["own-dir", "operator-dir"])
def test_metrics_are_merged_overworker_pids(tmp_path: Path, operator_dir: bool) -> None:
    port = free_port()
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    env = {
        **os.environ,
        "APP_ENV": "dev",
        "DATA_DIR": str(tmp_path / "data"),
        "CAPTURE_CHECKS": "intake",
        "WEBHOOK_DISPATCHER": "false",
        "SMS_SWEEPER": "false",
        "RETENTION_INTERVAL_SECONDS": "0",
        # `serve` makes its own metrics directory with tempfile: put it where we can find it.
        "TMPDIR": str(tmp),
    }
    for name in (
        "DATABASE_URL",
        "DATABASE_SCHEMA",
        "SECRET_KEY",
        "DATA_KEYS",
        "FACE_DATA_KEYS",
        "DATA_INDEX_KEY",
        "STORAGE_URL",
        "PROMETHEUS_MULTIPROC_DIR",
        "prometheus_multiproc_dir",
    ):
        env.pop(name, None)
    stale = None
    if operator_dir:
        metrics_dir = tmp_path / "prom"
        metrics_dir.mkdir()
        # Left by an earlier run: `serve` must start from an empty directory.
        stale = metrics_dir / "counter_999999.db"
        stale.write_bytes(b"stale")
        env["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)
    log = tmp_path / "serve.log"
    server = start_workers(env, port, log)
    base = f"http://127.0.0.1:{port}"
    try:
        workers = set(worker_pids(server.pid))
        assert len(workers) == 2
        if not operator_dir:
            made = list(tmp.glob("heyan-metrics-*"))
            assert len(made) == 1, made
            metrics_dir = made[0]
        assert stale is None or not stale.exists()

        # /healthz over new connections until both workers have served some (a worker
        # writes its histogram file on its first request).
        sent = 0
        while _pids(metrics_dir, "histogram") != workers:
            assert sent < 2000, f"one worker took every request: {_pids(metrics_dir, 'histogram')}"
            asyncio.run(_healthz_batch(base, 20))
            sent += 20

        for _ in range(10):
            text = httpx.get(f"{base}/metrics", headers={"Connection": "close"}).text
            assert _healthz_count(text) == sent
            assert _gauge(text, "heyan_inference_queue_depth") == [0.0]
            assert _gauge(text, "heyan_webhook_backlog") == [0.0]

        # Every worker has its live gauge file (the queue depth, summed over live workers).
        assert _pids(metrics_dir, "gauge_livesum") == workers
        # A killed worker leaves its counts but not its live gauge; uvicorn replaces it.
        killed = min(workers)
        os.kill(killed, signal.SIGKILL)
        deadline = time.monotonic() + 120
        while (now := set(worker_pids(server.pid))) == workers or len(now) != 2:
            assert time.monotonic() < deadline, "the killed worker was not replaced"
            time.sleep(0.2)
        text = httpx.get(f"{base}/metrics", headers={"Connection": "close"}).text
        assert _healthz_count(text) == sent
        assert _gauge(text, "heyan_inference_queue_depth") == [0.0]
        assert killed not in _pids(metrics_dir, "gauge_livesum")
        assert killed in _pids(metrics_dir, "histogram")
    finally:
        stop_workers(server)
    assert server.returncode == 0, log.read_text(errors="replace")[-3000:]
    # `serve` removes the directory it made, and leaves the operator's (emptied at next start).
    assert metrics_dir.exists() == operator_dir
