"""SIGTERM drains in-flight requests: a capture being uploaded when the signal arrives still
completes and is stored; the process then exits cleanly. A real server process on 127.0.0.1."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

from tests.conftest import order_body, synthetic_jpeg

ROOT = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_sigterm_drains_an_upload_in_flight(tmp_path: Path) -> None:
    port = _free_port()
    env = {
        **os.environ,
        "APP_ENV": "dev",
        "DATA_DIR": str(tmp_path),
        "CAPTURE_CHECKS": "intake",
        "MIN_IMAGE_SIDE": "200",
        "WEBHOOK_DISPATCHER": "false",
        "SMS_SWEEPER": "false",
        "RETENTION_INTERVAL_SECONDS": "0",
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
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
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

        boundary = "heyanboundary"
        body = (
            (
                f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.jpg"\r\n'
                "Content-Type: image/jpeg\r\n\r\n"
            ).encode()
            + synthetic_jpeg()
            + f"\r\n--{boundary}--\r\n".encode()
        )
        started = threading.Event()

        def slow_body():  # type: ignore[no-untyped-def]
            for i in range(0, len(body), 4096):
                if i == 4096:
                    started.set()
                    time.sleep(1.5)  # the signal arrives while the upload is in flight
                yield body[i : i + 4096]

        result: dict[str, object] = {}

        def send() -> None:
            r = httpx.post(
                f"{base}/m/v1/captures/subject_document",
                content=slow_body(),
                headers={"Authorization": f"Bearer {session}",
                         "Content-Type": f"multipart/form-data; boundary={boundary}"},
                timeout=30,
            )  # fmt: skip
            result["status"] = r.status_code

        t = threading.Thread(target=send)
        t.start()
        assert started.wait(20)
        server.send_signal(signal.SIGTERM)
        t.join(40)
        assert result.get("status") == 201
        # uvicorn drains, then re-raises SIGTERM so the exit status says why it stopped.
        assert server.wait(40) in (0, -signal.SIGTERM)
        assert server.stdout is not None
        log = server.stdout.read().decode("utf-8", "replace")
        assert "Finished server process" in log
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
    files = list((tmp_path / "materials").rglob("*.jpg"))
    assert len(files) == 1
