"""A real server process on 127.0.0.1 (``python -m app serve``) on an embedded SQLite database,
with one provider, one order and one open mini-program session: for tests that need real
sockets (slow uploads, SIGTERM)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from testkit.net import free_port
from tests.conftest import order_body

ROOT = Path(__file__).resolve().parents[1]


def worker_pids(pid: int) -> list[int]:
    """The uvicorn worker processes (multiprocessing spawn children) of a `serve` process."""
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            cmdline = (stat.parent / "cmdline").read_bytes()
        except (OSError, ValueError):
            continue
        if ppid == pid and b"multiprocessing.spawn" in cmdline:
            out.append(int(stat.parent.name))
    return out


@dataclass
class LiveServer:
    process: subprocess.Popen[bytes]
    base: str
    port: int
    key: str
    order: str
    session: str


@contextmanager
def live_server(
    data_dir: Path, env_extra: dict[str, str] | None = None, stdout: Any = subprocess.DEVNULL
) -> Iterator[LiveServer]:
    """Migrate, create a provider, start the server, open a session; stop it on exit."""
    port = free_port()
    env = {
        **os.environ,
        "APP_ENV": "dev",
        "DATA_DIR": str(data_dir),
        "CAPTURE_CHECKS": "intake",
        "MIN_IMAGE_SIDE": "200",
        "WEBHOOK_DISPATCHER": "false",
        "SMS_SWEEPER": "false",
        "RETENTION_INTERVAL_SECONDS": "0",
        **(env_extra or {}),
    }
    env.pop("DATABASE_URL", None)
    subprocess.run(
        [sys.executable, "-m", "app", "migrate"], cwd=ROOT, env=env, check=True, timeout=120
    )
    created = subprocess.run(
        [sys.executable, "-m", "app", "provider", "create", "t"],
        cwd=ROOT, env=env, check=True, timeout=60, capture_output=True, text=True,
    )  # fmt: skip
    key = json.loads(created.stdout)["api_key"]
    server = subprocess.Popen(
        [sys.executable, "-m", "app", "serve", "--port", str(port), "--no-migrate"],
        cwd=ROOT, env=env, stdout=stdout, stderr=subprocess.STDOUT,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        h = {"Authorization": f"Bearer {key}"}
        order = httpx.post(f"{base}/v1/orders", json=order_body(), headers=h, timeout=10).json()
        token = httpx.post(
            f"{base}/v1/orders/{order['id']}/qr", json={"scope": "order"}, headers=h, timeout=10
        ).json()["token"]
        session = httpx.post(
            f"{base}/m/v1/sessions",
            json={"qr_token": token, "platform": "dev", "mobile": "13800138000"},
            timeout=10,
        ).json()["session_token"]
        yield LiveServer(server, base, port, key, order["id"], session)
    finally:
        if server.poll() is None:
            server.terminate()
            try:
                server.wait(20)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()


def start_workers(
    env: dict[str, str], port: int, log: Path, workers: int = 2
) -> subprocess.Popen[bytes]:
    """`python -m app serve --workers N` in its own process group; return once every worker
    has started (their output goes to ``log``)."""
    with log.open("wb") as out:
        server = subprocess.Popen(
            [sys.executable, "-m", "app", "serve", "--port", str(port), "--workers", str(workers)],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    deadline = time.monotonic() + 120
    while log.read_text(errors="replace").count("Application startup complete") < workers:
        if server.poll() is not None or time.monotonic() > deadline:
            stop_workers(server)
            raise AssertionError(
                "workers did not start:\n" + log.read_text(errors="replace")[-3000:]
            )
        time.sleep(0.2)
    return server


def stop_workers(server: subprocess.Popen[bytes]) -> None:
    """SIGINT (graceful), then SIGKILL to whatever is left of the process group."""
    if server.poll() is None:
        server.send_signal(signal.SIGINT)
        with contextlib.suppress(subprocess.TimeoutExpired):
            server.wait(timeout=40)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(server.pid, signal.SIGKILL)
    server.wait()
