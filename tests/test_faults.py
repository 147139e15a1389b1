"""Faults survived with nothing lost (issue 6 item 7; issue 7: shared state in the database).

- PostgreSQL restarted in the middle of a flow: a real API process on a PostgreSQL cluster of
  the test's own (the shared server on 5432 is never touched), stopped under an upload in
  flight and again while idle. Requests answer 503 DB_UNAVAILABLE at once, the same process
  serves again when the server is back, and the database holds exactly the accepted captures
  and their events, each webhook delivered.
- A full disk: the material folder is a real, small tmpfs filled to the last byte. The
  capture is refused with 507 STORAGE_FULL and the order is left as it was.
- Rate limits counted in the database: two app instances (two engines) share one limit, and
  a database outage falls back to per-process counting instead of failing requests.

No mocks: the faults are real servers stopping and real file systems filling up.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import json
import logging
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import literal_column, select
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

from app.access.providers import create_provider
from app.access.ratelimit import DatabaseRateLimiter, RateLimiter, build_limiters
from app.core.db import OneRow, Rows, is_db_unavailable, is_storage_full, make_engine
from app.main import create_app
from app.models.orders import RateLimitWindow
from app.security import crypto
from app.webhooks.signing import verify
from testkit.net import free_port
from testkit.pg import PrivatePostgres
from testkit.pg import bindir as pg_bindir
from tests.conftest import intake_pipeline, make_settings, order_body, require, synthetic_jpeg

ROOT = Path(__file__).resolve().parents[1]
HOOK_SECRET = "whsec_faults_0123456789abcdef"


def _same_keys(db_settings: dict[str, str]) -> dict[str, str]:
    """The data keys of this database's rows (those the session's ``api`` app uses too)."""
    d, f, i = make_settings(db_settings).encryption_keys()
    return {"data_keys": d, "face_data_keys": f, "data_index_key": i}


@contextlib.asynccontextmanager
async def _app_client(
    settings: Any, address: str = "203.0.113.50"
) -> AsyncIterator[tuple[httpx.AsyncClient, Any]]:
    """An app of its own (own engine, no background tasks) and a client bound to it.

    create_app installs its data keys process-wide: the keyrings in place before (maybe
    with a key another test added, tests/test_privacy.py's rotation) are put back after.
    """
    saved = dict(crypto._KEYRINGS), crypto._INDEX_KEY
    app = create_app(settings, pipeline=intake_pipeline(settings))
    try:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app, client=(address, 50000))
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                yield client, app
    finally:
        crypto._KEYRINGS.clear()
        crypto._KEYRINGS.update(saved[0])
        crypto._INDEX_KEY = saved[1]


# ----------------------------------------------------------------------------------------
# PostgreSQL restarted in the middle of a flow


@pytest.fixture
def pg_cluster() -> Iterator[PrivatePostgres]:
    """A throw-away cluster (testkit/pg.py): stopping it disturbs nobody else's tests."""
    require(pg_bindir() is not None, "PostgreSQL server binaries are not installed")
    cluster = PrivatePostgres(Path(tempfile.mkdtemp(prefix="heyan-pg-")))
    try:
        cluster.init()
        cluster.start()
        yield cluster
    finally:
        cluster.destroy()


class HookReceiver:
    """A provider's webhook endpoint: checks each signature, records each event id."""

    def __init__(self) -> None:
        self.ids: list[str] = []
        self.bad = 0
        self.lock = threading.Lock()
        rx = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                ok = verify(HOOK_SECRET, raw, self.headers.get("Heyan-Signature", ""))
                with rx.lock:
                    if ok:
                        rx.ids.append(json.loads(raw)["id"])
                    else:
                        rx.bad += 1
                self.send_response(200 if ok else 401)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _multipart(data: bytes) -> tuple[bytes, str]:
    boundary = "heyanfaults" + uuid.uuid4().hex[:8]
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.jpg"\r\n'
            "Content-Type: image/jpeg\r\n\r\n"
        ).encode()
        + data
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return body, f"multipart/form-data; boundary={boundary}"


async def _db_rows(url: str, order_id: str) -> tuple[list[Any], list[Any]]:
    import asyncpg

    conn = await asyncpg.connect(url.replace("postgresql+asyncpg", "postgresql"))
    try:
        materials = await conn.fetch(
            "SELECT id, step, kind, accepted, storage_key FROM materials WHERE order_id = $1",
            order_id,
        )
        events = await conn.fetch(
            "SELECT id, type, data FROM events WHERE order_id = $1 ORDER BY id", order_id
        )
    finally:
        await conn.close()
    return list(materials), list(events)


def test_postgres_restart_mid_flow(pg_cluster: PrivatePostgres, tmp_path: Path) -> None:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "DATA_"))},
        "APP_ENV": "dev",
        "DATA_DIR": str(tmp_path),
        "DATABASE_URL": pg_cluster.url,
        "DATABASE_CONNECT_TIMEOUT_SECONDS": "2",
        "RATE_LIMIT_BACKEND": "database",
        "CAPTURE_CHECKS": "intake",
        "MIN_IMAGE_SIDE": "200",
        "SMS_SWEEPER": "false",
        "RETENTION_INTERVAL_SECONDS": "0",
        "WEBHOOK_POLL_SECONDS": "0.2",
        "WEBHOOK_RETRY_BASE_SECONDS": "0.2",
        "WEBHOOK_RETRY_MAX_SECONDS": "1",
    }
    env.pop("STORAGE_URL", None)

    def cli(*args: str) -> str:
        return subprocess.run(
            [sys.executable, "-m", "app", *args], cwd=ROOT, env=env, check=True, timeout=120,
            capture_output=True, text=True,
        ).stdout  # fmt: skip

    cli("migrate")
    key = json.loads(cli("provider", "create", "faults"))["api_key"]
    port = free_port()
    log_path = tmp_path / "server.log"
    with log_path.open("wb") as log_file:
        server = subprocess.Popen(
            [sys.executable, "-m", "app", "serve", "--port", str(port), "--no-migrate"],
            cwd=ROOT, env=env, stdout=log_file, stderr=subprocess.STDOUT,
        )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    h = {"Authorization": f"Bearer {key}"}
    hooks = HookReceiver()
    client = httpx.Client(base_url=base, timeout=30)
    try:
        for _ in range(300):
            try:
                if client.get("/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        r = client.put("/v1/webhook", json={"url": hooks.url, "secret": HOOK_SECRET,
                                            "events": ["*"]}, headers=h)  # fmt: skip
        assert r.status_code == 200, r.text
        order = client.post("/v1/orders", json=order_body(), headers=h).json()
        oid = order["id"]
        token = client.post(f"/v1/orders/{oid}/qr", json={"scope": "order"}, headers=h)
        session = client.post(
            "/m/v1/sessions",
            json={"qr_token": token.json()["token"], "platform": "dev", "mobile": "13800138000"},
        ).json()["session_token"]
        phone = {"Authorization": f"Bearer {session}"}

        def capture(step: str, seed: int) -> httpx.Response:
            files = {"file": ("a.jpg", synthetic_jpeg(seed=seed), "image/jpeg")}
            return client.post(f"/m/v1/captures/{step}", files=files, headers=phone)

        assert capture("subject_document", 1).status_code == 201

        def assert_unavailable(r: httpx.Response, started: float) -> None:
            assert r.status_code == 503, r.text
            assert r.headers["content-type"].startswith("application/problem+json")
            body = r.json()
            assert (
                body["code"] == "DB_UNAVAILABLE" and body["detail"] == "服务暂时不可用,请稍后重试"
            )
            assert r.headers["retry-after"] == "5"
            # Answered at once, not after a pool or socket timeout (connect timeout is 2 s).
            assert time.monotonic() - started < 4

        # 1. The server stops (fast: sessions terminated) under an upload in flight: the
        #    request has its capture session loaded and is still sending the photo.
        body, ctype = _multipart(synthetic_jpeg(seed=2))
        half = threading.Event()
        resume = threading.Event()

        def slow_body() -> Iterator[bytes]:
            yield body[:4096]
            half.set()
            resume.wait(30)
            yield body[4096:]

        inflight: dict[str, Any] = {}

        def send() -> None:
            inflight["r"] = client.post(
                "/m/v1/captures/subject_principal_id_front", content=slow_body(),
                headers={**phone, "Content-Type": ctype},
            )  # fmt: skip
            inflight["done"] = time.monotonic()

        t = threading.Thread(target=send)
        t.start()
        assert half.wait(20)
        time.sleep(0.5)  # the server has authenticated the session and waits for the body
        pg_cluster.stop("fast")
        resumed = time.monotonic()
        resume.set()
        t.join(30)
        assert_unavailable(inflight["r"], resumed)

        # 2. While the server is down, every database-backed request answers 503 at once;
        #    the process itself stays up.
        for path in (f"/v1/orders/{oid}", "/v1/orders"):
            started = time.monotonic()
            assert_unavailable(client.get(path, headers=h), started)
        started = time.monotonic()
        assert_unavailable(capture("subject_principal_id_front", 2), started)
        assert client.get("/healthz").status_code == 200
        assert client.get("/readyz").status_code == 503

        # 3. Back up: the same process serves again, first request, no restart.
        pg_cluster.start()
        r = client.get(f"/v1/orders/{oid}", headers=h)
        assert r.status_code == 200, r.text
        assert capture("subject_principal_id_front", 2).status_code == 201

        # 4. A crash this time (immediate: no shutdown checkpoint, recovery at start) while
        #    idle; the accepted captures survive it.
        pg_cluster.stop("immediate")
        started = time.monotonic()
        assert_unavailable(capture("subject_principal_id_back", 3), started)
        pg_cluster.start()
        r = capture("subject_principal_id_back", 3)
        assert r.status_code == 201, r.text
        assert r.json()["order_status"] == "subject_verified"
        assert server.poll() is None  # the same process all along

        # Exactly the accepted captures, once each, with their events; nothing of the
        # refused attempts (no row, no event, no file).
        materials, events = asyncio.run(_db_rows(pg_cluster.url, oid))
        assert sorted(m["step"] for m in materials) == sorted(
            ["subject_document", "id_front", "id_back"]
        )
        assert all(m["accepted"] and m["kind"] == "upload" for m in materials)
        captured = [e for e in events if e["type"].startswith("capture.")]
        assert [e["type"] for e in captured] == ["capture.accepted"] * 3
        assert {json.loads(e["data"])["material_id"] for e in captured} == {
            m["id"] for m in materials
        }
        assert [e["type"] for e in events].count("part.verified") == 1
        files = sorted(p for p in (tmp_path / "materials").rglob("*") if p.is_file())
        assert [p.name for p in files if p.name.startswith(".tmp-")] == []
        assert {str(p.relative_to(tmp_path / "materials")) for p in files} == {
            m["storage_key"] for m in materials
        }
        # The dispatcher outlived both outages: every event of the order reaches the
        # provider, signed with the secret decrypted from the database.
        wanted = {str(e["id"]) for e in events}
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not wanted <= set(hooks.ids):
            time.sleep(0.2)
        assert wanted <= set(hooks.ids)
        assert hooks.bad == 0
    finally:
        client.close()
        hooks.close()
        if server.poll() is None:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
    log = log_path.read_text("utf-8", "replace")
    assert "unhandled error" not in log  # no 500 anywhere in the run
    assert "Exception in ASGI application" not in log
    assert "database unavailable" in log
    assert "13800138000" not in log


async def test_pool_recovers_from_a_restart_while_idle(pg_cluster: PrivatePostgres) -> None:
    """Every pooled connection died while nobody used them: the next checkouts replace them.

    (In a running app the first request during an outage usually invalidates the pool; a
    quick restart between two requests does not, and relies on this.)
    """
    from sqlalchemy import text

    engine = make_engine(pg_cluster.url, connect_timeout=2)
    try:
        async with engine.connect() as c1, engine.connect() as c2:  # two pooled connections
            assert await c1.scalar(text("SELECT 1")) == await c2.scalar(text("SELECT 1")) == 1
        assert engine.pool.checkedin() == 2  # type: ignore[attr-defined]
        pg_cluster.stop("fast")
        pg_cluster.start()

        async def one() -> Any:
            async with engine.connect() as conn:
                return await conn.scalar(text("SELECT pg_backend_pid()"))

        pids = await asyncio.gather(one(), one())
        assert len(set(pids)) == 2

        # The hot reads (app.core.db.OneRow/Rows: raw asyncpg on a pooled connection) go
        # through the same checkout check: after another restart they get new connections.
        hot = OneRow(select(literal_column("pg_backend_pid()").label("pid")))
        page = Rows(select(literal_column("pg_backend_pid()").label("pid")))
        first = (await hot.first(engine, {}))["pid"]
        pg_cluster.stop("fast")
        pg_cluster.start()
        assert (await hot.first(engine, {}))["pid"] != first
        assert [r.pid for r in await page.all(engine, {})] != [first]

        # Down: a hot read is a 503 (OperationalError), and the pool serves when it is back.
        pg_cluster.stop("fast")
        with pytest.raises(OperationalError) as info:
            await hot.first(engine, {})
        assert is_db_unavailable(info.value)
        pg_cluster.start()
        assert (await hot.first(engine, {}))["pid"] > 0
    finally:
        await engine.dispose()


# ----------------------------------------------------------------------------------------
# A full disk while storing a material


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """DATA_DIR/materials on a real 512 KiB tmpfs (needs CAP_SYS_ADMIN: root here)."""
    mnt = tmp_path / "data" / "materials"
    mnt.mkdir(parents=True)
    if shutil.which("mount") is None:
        require(False, "mount(8) is not available")
    r = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=512k,mode=0700", "heyan-faults", str(mnt)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    require(r.returncode == 0, f"cannot mount a tmpfs here: {r.stderr.strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", str(mnt)], check=False, capture_output=True)


def _fill(path: Path) -> None:
    """Write until the file system refuses: ENOSPC for real, to the last byte."""
    with path.open("wb", buffering=0) as fh:
        with contextlib.suppress(OSError):
            while True:
                fh.write(b"\0" * 4096)
        with contextlib.suppress(OSError):
            while True:
                fh.write(b"\0")
    probe = path.parent / "probe"
    with pytest.raises(OSError, match="No space left") as info:
        probe.write_bytes(b"x" * 8192)
    probe.unlink(missing_ok=True)
    assert info.value.errno == errno.ENOSPC


async def test_disk_full_refuses_capture_and_leaves_order_unchanged(
    db_settings: dict[str, str], small_disk: Path
) -> None:
    settings = make_settings(
        db_settings, data_dir=small_disk.parent, webhook_dispatcher=False,
        retention_interval_seconds=0, **_same_keys(db_settings),
    )  # fmt: skip
    async with _app_client(settings) as (client, app):
        async with app.state.ctx.sessionmaker() as db:
            _, key = await create_provider(db, "disk-full")
        h = {"Authorization": f"Bearer {key}"}
        oid = (await client.post("/v1/orders", json=order_body(), headers=h)).json()["id"]
        token = await client.post(f"/v1/orders/{oid}/qr", json={"scope": "order"}, headers=h)
        s = await client.post(
            "/m/v1/sessions",
            json={"qr_token": token.json()["token"], "platform": "dev", "mobile": "13800138000"},
        )
        phone = {"Authorization": f"Bearer {s.json()['session_token']}"}

        async def capture(step: str, seed: int) -> httpx.Response:
            files = {"file": ("a.jpg", synthetic_jpeg(seed=seed), "image/jpeg")}
            return await client.post(f"/m/v1/captures/{step}", files=files, headers=phone)

        async def snapshot() -> tuple[Any, ...]:
            order = (await client.get(f"/v1/orders/{oid}", headers=h)).json()
            events = (await client.get(f"/v1/orders/{oid}/events?limit=500", headers=h)).json()
            return order["status"], order["materials"], [e["type"] for e in events["items"]]

        assert (await capture("subject_document", 1)).status_code == 201
        _fill(small_disk / "filler")
        before = await snapshot()
        files_before = sorted(p for p in small_disk.rglob("*") if p.is_file())

        r = await capture("subject_principal_id_front", 2)
        assert r.status_code == 507, r.text
        assert r.headers["content-type"].startswith("application/problem+json")
        assert r.json()["code"] == "STORAGE_FULL"
        assert r.json()["detail"] == "服务器存储空间不足,本次上传未保存,请稍后重试"
        assert "retry-after" in r.headers
        # No material row, no state change, no event, no partial file.
        assert await snapshot() == before
        assert sorted(p for p in small_disk.rglob("*") if p.is_file()) == files_before

        # Space comes back: the same step is accepted, once.
        (small_disk / "filler").unlink()
        r = await capture("subject_principal_id_front", 2)
        assert r.status_code == 201, r.text
        status, materials, events = await snapshot()
        assert status == before[0] == "pending"
        assert len(materials) == len(before[1]) + 1
        assert events.count("capture.accepted") == before[2].count("capture.accepted") + 1


def test_storage_full_and_db_unavailable_classification() -> None:
    assert is_storage_full(OSError(errno.ENOSPC, "No space left on device"))
    assert is_storage_full(OSError(errno.EDQUOT, "Disk quota exceeded"))
    assert not is_storage_full(OSError(errno.EACCES, "Permission denied"))
    # An integrity error is a bug or a race to handle, never "the database is down".
    err = IntegrityError("INSERT", {}, Exception("duplicate key"))
    assert not is_db_unavailable(err)
    # A refused socket outside the database drivers is not a database outage either.
    assert not is_db_unavailable(ConnectionRefusedError(111, "refused"))


# ----------------------------------------------------------------------------------------
# Rate limits shared through the database


def _future_clock() -> list[float]:
    # Far ahead of the wall clock, so no other limiter's clean-up touches these windows.
    return [(time.time() // 60 + 1_000_000) * 60 + 1.0]


async def _windows(engine: Any, minute: int) -> list[tuple[str, int]]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(RateLimitWindow.key, RateLimitWindow.count).where(
                RateLimitWindow.minute == minute
            )
        )
        return [(k, c) for k, c in rows]


async def test_database_limiter_shared_by_two_engines(db_settings: dict[str, str]) -> None:
    url, schema = db_settings["database_url"], db_settings["database_schema"] or None
    e1, e2 = make_engine(url, schema=schema), make_engine(url, schema=schema)
    now = _future_clock()
    a = DatabaseRateLimiter(3, engine=lambda: e1, clock=lambda: now[0])
    b = DatabaseRateLimiter(3, engine=lambda: e2, clock=lambda: now[0])
    a._next_cleanup = b._next_cleanup = float("inf")
    key = f"a:198.51.100.{random.randint(1, 254)}-{uuid.uuid4().hex[:6]}"
    try:
        assert [await a.check(key), await b.check(key), await a.check(key)] == [None] * 3
        assert await b.check(key) == 60  # the 4th request, whichever process sees it
        assert await a.check(key) == 60
        assert await a.check("a:someone-else") is None
        # The counters live in the table, under a keyed hash (never the address itself).
        minute = int(now[0] // 60)
        assert sorted(c for _, c in await _windows(e1, minute)) == [1, 5]
        assert all("198.51.100" not in k for k, _ in await _windows(e1, minute))
        now[0] += 60  # a new window
        assert await b.check(key) is None
        assert [c for _, c in await _windows(e2, minute + 1)] == [1]
        # Finished windows are deleted (by whichever process cleans up first).
        assert await a.cleanup(minute + 4) >= 3
        assert await _windows(e1, minute) == [] and await _windows(e1, minute + 1) == []
    finally:
        await e1.dispose()
        await e2.dispose()


async def test_database_limiter_batches_far_below_the_limit_and_is_exact_at_it(
    db_settings: dict[str, str],
) -> None:
    """Far below the limit a process writes at most once a second (up to 5 % of the limit
    sent as one increment); from half the limit on every request is written, so two
    processes taking turns refuse exactly the request past the limit."""
    url, schema = db_settings["database_url"], db_settings["database_schema"] or None
    e1, e2 = make_engine(url, schema=schema), make_engine(url, schema=schema)
    now = _future_clock()
    a = DatabaseRateLimiter(1000, engine=lambda: e1, clock=lambda: now[0])
    b = DatabaseRateLimiter(1000, engine=lambda: e2, clock=lambda: now[0])
    a._next_cleanup = b._next_cleanup = float("inf")
    key = f"p:{uuid.uuid4().hex}"
    minute = int(now[0] // 60)
    try:
        for _ in range(30):
            assert await a.check(key) is None
        # One write (the first request); the other 29 wait for the next second.
        assert [c for _, c in await _windows(e1, minute)] == [1]
        now[0] += 1.1
        assert await a.check(key) is None
        assert [c for _, c in await _windows(e1, minute)] == [31]  # 30 + this one, one write
        for _ in range(60):  # within one second: at most 50 (5 %) unsent at a time
            assert await a.check(key) is None
        assert [c for _, c in await _windows(e1, minute)] == [82]  # the 51st sent all 51
        # Both processes up to the limit (b learns the shared count on its first write).
        verdicts = [await (a if i % 2 else b).check(key) for i in range(909)]
        assert verdicts == [None] * 909
        assert [c for _, c in await _windows(e1, minute)] == [1000]
        assert await b.check(key) is not None  # the 1001st, in either process
        assert await a.check(key) is not None
    finally:
        await e1.dispose()
        await e2.dispose()


async def test_two_app_instances_share_one_limit(db_settings: dict[str, str]) -> None:
    settings = make_settings(
        db_settings, rate_limit_backend="database", rate_limit_address_per_minute=4,
        webhook_dispatcher=False, retention_interval_seconds=0, **_same_keys(db_settings),
    )  # fmt: skip
    if time.time() % 60 > 50:  # keep all requests inside one window
        await asyncio.sleep(61 - time.time() % 60)
    address = f"198.51.100.{random.randint(1, 254)}"
    async with (
        _app_client(settings, address) as (one, app_one),
        _app_client(settings, address) as (two, app_two),
    ):
        assert app_one.state.ctx.engine is not app_two.state.ctx.engine
        codes = [(await c.get("/m/v1/session")).status_code for c in (one, two, one, two)]
        assert codes == [401] * 4  # counted, then refused for the missing session token
        for c in (one, two):
            r = await c.get("/m/v1/session")
            assert r.status_code == 429, r.text
            assert r.json()["code"] == "RATE_LIMITED"
            assert 1 <= int(r.headers["retry-after"]) <= 61


def test_backend_choice() -> None:
    def engine() -> Any:
        raise AssertionError("not used")

    pg = build_limiters("auto", "postgresql+asyncpg://h/db", 10, 5, engine)
    lite = build_limiters("auto", "sqlite+aiosqlite:///x.db", 10, 5, engine)
    assert all(isinstance(x, DatabaseRateLimiter) for x in pg)
    assert not any(isinstance(x, DatabaseRateLimiter) for x in lite)
    assert all(isinstance(x, RateLimiter) for x in lite)
    assert [x.per_minute for x in pg] == [10, 5]
    forced = build_limiters("database", "sqlite+aiosqlite:///x.db", 10, 5, engine)
    assert all(isinstance(x, DatabaseRateLimiter) for x in forced)


async def test_limiter_outage_falls_back_to_process_window(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Nothing listens on this port: connection refused, like a stopped server.
    dead = make_engine(f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/x",
                       connect_timeout=1)  # fmt: skip
    now = _future_clock()
    limiter = DatabaseRateLimiter(2, engine=lambda: dead, clock=lambda: now[0])
    try:
        # The refused connect is a DBAPIError (hence 503 DB_UNAVAILABLE in a request).
        with pytest.raises(DBAPIError) as info:
            async with dead.connect():
                pass
        assert is_db_unavailable(info.value)
        with caplog.at_level(logging.WARNING, logger="heyan.ratelimit"):
            started = time.monotonic()
            results = [await limiter.check("p:k") for _ in range(3)]
        assert results == [None, None, 60]  # still limited, per process
        assert time.monotonic() - started < 3  # one failed connect, then memory only
        warnings = [r for r in caplog.records if r.name == "heyan.ratelimit"]
        assert len(warnings) == 1 and "database unavailable" in warnings[0].getMessage()
        now[0] += DatabaseRateLimiter.FALLBACK_SECONDS + 1
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="heyan.ratelimit"):
            assert await limiter.check("p:k") == 54  # tries the database again, falls back
        assert any("database unavailable" in r.getMessage() for r in caplog.records)
    finally:
        await dead.dispose()
