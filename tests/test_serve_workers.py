"""`python -m app serve --workers 2`: two processes on one port against PostgreSQL, sharing
every piece of state (tokens signed by one are accepted by the other). A real server."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest

from tests.conftest import PG_URL, _in_thread, _pg_exec, _pg_reachable, order_body
from tests.live_server import free_port

ROOT = Path(__file__).resolve().parents[1]


def _workers(pid: int) -> list[int]:
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


def test_two_workers_share_one_port_and_postgresql(tmp_path: Path) -> None:
    if not _pg_reachable():
        if os.environ.get("CI") == "true":
            pytest.fail("PostgreSQL on 127.0.0.1:5432 is required when CI=true")
        pytest.skip("PostgreSQL is not reachable on 127.0.0.1:5432")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    _in_thread(asyncio.run, _pg_exec(f'CREATE SCHEMA "{schema}"'))
    port = free_port()
    env = {
        **os.environ,
        # dev: no SECRET_KEY, so `serve` must create the one signing key before forking.
        "APP_ENV": "dev",
        "DATA_DIR": str(tmp_path),
        "DATABASE_URL": PG_URL,
        "DATABASE_SCHEMA": schema,
        "CAPTURE_CHECKS": "intake",
        "WEBHOOK_DISPATCHER": "false",
        "SMS_SWEEPER": "false",
        "RETENTION_INTERVAL_SECONDS": "0",
    }
    for name in ("SECRET_KEY", "DATA_KEYS", "FACE_DATA_KEYS", "DATA_INDEX_KEY", "STORAGE_URL"):
        env.pop(name, None)
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        server = subprocess.Popen(
            [sys.executable, "-m", "app", "serve", "--port", str(port), "--workers", "2"],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while log.read_text(errors="replace").count("Application startup complete") < 2:
            assert server.poll() is None, log.read_text(errors="replace")[-3000:]
            assert time.monotonic() < deadline, "workers did not start"
            time.sleep(0.2)
        assert len(_workers(server.pid)) == 2
        created = subprocess.run(
            [sys.executable, "-m", "app", "provider", "create", "t"],
            cwd=ROOT, env=env, check=True, timeout=60, capture_output=True, text=True,
        )  # fmt: skip
        auth = {"Authorization": f"Bearer {json.loads(created.stdout)['api_key']}"}
        base = f"http://127.0.0.1:{port}"
        for i in range(12):
            # A new connection each time, so the kernel may hand each call to either worker.
            r = httpx.post(f"{base}/v1/orders", json=order_body(f"w-{i}"), headers=auth)
            assert r.status_code == 201, r.text
            oid = r.json()["id"]
            r = httpx.post(f"{base}/v1/orders/{oid}/qr", json={"scope": "order"}, headers=auth)
            assert r.status_code == 201, r.text
            r = httpx.post(
                f"{base}/m/v1/sessions",
                json={"qr_token": r.json()["token"], "platform": "dev", "mobile": "13800138000"},
            )
            assert r.status_code == 201, r.text
            r = httpx.get(
                f"{base}/m/v1/session",
                headers={"Authorization": f"Bearer {r.json()['session_token']}"},
            )
            assert r.status_code == 200, r.text
        assert httpx.get(f"{base}/readyz").json()["status"] == "ok"
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=40)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
        _in_thread(asyncio.run, _pg_exec(f'DROP SCHEMA "{schema}" CASCADE'))
    assert server.returncode == 0, log.read_text(errors="replace")[-3000:]
