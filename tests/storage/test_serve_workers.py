"""`python -m app serve --workers 2`: two processes on one port against PostgreSQL and S3
(a real SeaweedFS), sharing every piece of state: tokens signed by one are accepted by the
other, and a capture stored by one is downloaded through either. A real server."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import httpx

from tests.conftest import (
    PG_URL,
    _in_thread,
    _pg_exec,
    order_body,
    require_postgres,
    synthetic_jpeg,
)
from tests.live_server import free_port, start_workers, stop_workers, worker_pids
from tests.storage.seaweed import ACCESS_KEY, SECRET_KEY, SeaweedFS

ROOT = Path(__file__).resolve().parents[2]


def test_two_workers_share_one_port_postgresql_and_s3(tmp_path: Path, seaweedfs: SeaweedFS) -> None:
    require_postgres()
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
        "MIN_IMAGE_SIDE": "200",
        "WEBHOOK_DISPATCHER": "false",
        "SMS_SWEEPER": "false",
        "RETENTION_INTERVAL_SECONDS": "0",
        "STORAGE_URL": f"s3://{seaweedfs.bucket}/workers-{schema}",
        "S3_ENDPOINT_URL": seaweedfs.endpoint,
        "S3_REGION": "us-east-1",
        "S3_ACCESS_KEY_ID": ACCESS_KEY,
        "S3_SECRET_ACCESS_KEY": SECRET_KEY,
    }
    for name in ("SECRET_KEY", "DATA_KEYS", "FACE_DATA_KEYS", "DATA_INDEX_KEY"):
        env.pop(name, None)
    log = tmp_path / "serve.log"
    server = start_workers(env, port, log)
    try:
        assert len(worker_pids(server.pid)) == 2
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
            mini = {"Authorization": f"Bearer {r.json()['session_token']}"}
            r = httpx.get(f"{base}/m/v1/session", headers=mini)
            assert r.status_code == 200, r.text
            if i % 3 == 0:
                # Stored in S3 by one worker; downloaded through a new connection.
                photo = synthetic_jpeg(seed=i)
                r = httpx.post(
                    f"{base}/m/v1/captures/subject_document",
                    files={"file": ("a.jpg", photo, "image/jpeg")},
                    headers=mini,
                )
                assert r.status_code == 201, r.text
                mid = r.json()["material_id"]
                r = httpx.get(f"{base}/v1/orders/{oid}/materials/{mid}", headers=auth)
                assert r.status_code == 200, r.text
                assert len(r.content) > 1000 and r.content[:2] == b"\xff\xd8"
        ready = httpx.get(f"{base}/readyz").json()
        assert ready["status"] == "ok", ready
        # The four accepted photos are objects in the bucket, none in the local folder.
        from tests.storage.conftest import s3_storage

        store = s3_storage(seaweedfs, f"workers-{schema}")
        listed = store.client.list_objects_v2(Bucket=store.bucket, Prefix=store.prefix)  # type: ignore[attr-defined]
        assert listed.get("KeyCount", 0) == 4, listed
        assert not list((tmp_path / "materials").rglob("*.jpg"))
    finally:
        stop_workers(server)
        _in_thread(asyncio.run, _pg_exec(f'DROP SCHEMA "{schema}" CASCADE'))
    assert server.returncode == 0, log.read_text(errors="replace")[-3000:]
