"""A fault soak (issue #19, first part): whole flows and polling against two API processes on
one PostgreSQL while faults are injected, then the invariants are checked.

    .venv/bin/python bench/chaos.py --flows 12 --kills 3 --outages 2

Faults injected, each several times: SIGKILL of an API process (its dispatcher with it) while
captures and deliveries are in flight, then a restart; the webhook receiver down (connections
refused) and then answering 500 for a while. Clients fail over to the other process like a
load balancer would (a request that died with its process is sent again).

Checked afterwards:
- every capture answered 2xx is stored: its material row exists and the stored file's
  SHA-256 is the material's; every order is complete, as its evidence derives;
- every event of every order was delivered (lost = 0), once per webhook-id after the
  receiver's de-duplication (duplicated = 0; raw re-sends after a kill are counted apart),
  first receipt in event order per order; every delivery verified with the Standard Webhooks
  reference library (the endpoint uses signature_scheme "standard");
- every order's audit chain verifies (`python -m app audit verify`);
- the service recovered without a restart of the survivors (time to recover reported).

Not injected here (left for the full soak): a PostgreSQL restart, SeaweedFS stopped, a full
disk, network delay. Everything runs on 127.0.0.1; loops are bounded in count and time.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import itertools
import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
PG_URL = os.environ.get("CHAOS_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


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

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        out = self.log.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "app", "serve", "--port", str(self.port), "--no-migrate"],
            cwd=ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip

    def wait_ready(self, timeout: float = 60) -> float:
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
        self.client = httpx.AsyncClient(timeout=30, trust_env=False)
        self.requests = 0
        self.failovers = 0

    async def request(self, method: str, path: str, **kw: Any) -> httpx.Response:
        for attempt in range(40):
            api = self.apis[(self.requests + attempt) % len(self.apis)]
            self.requests += 1
            try:
                return await self.client.request(method, api.base + path, **kw)
            except httpx.TransportError:
                self.failovers += 1
                await asyncio.sleep(0.1 * min(attempt + 1, 5))
        raise RuntimeError(f"{method} {path}: no process answered")


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
                return
            if r.status_code == 409 and r.json().get("code") == "STEP_ALREADY_DONE":
                return  # the first try was stored before its process died
            if r.status_code >= 500 or r.status_code == 429:
                await asyncio.sleep(0.3)
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
            break
        if r.status_code == 409 and r.json().get("code") == "STEP_ALREADY_DONE":
            break
        if r.status_code == 410 or r.status_code >= 500:  # challenge used by a dead try
            continue
        raise RuntimeError(f"face: {r.status_code} {r.text}")
    await capture("verification_sheet", files={"file": ("s.jpg", _jpeg(n * 10 + 9), "image/jpeg")})
    await pool.request("GET", "/v1/orders?changed_since=0&limit=50", headers=auth)
    return oid


# --------------------------------------------------------------------------------------
# The run


async def soak(
    *, flows: int = 12, kills: int = 3, outages: int = 2, outage_seconds: float = 4.0,
    concurrency: int = 4, workdir: Path | None = None, seed: int = 0, keep: bool = False,
) -> dict[str, Any]:  # fmt: skip
    import asyncpg
    from standardwebhooks.webhooks import Webhook  # noqa: F401 (the receiver needs it)

    from app.security.crypto import new_key_spec
    from app.webhooks.signing import new_standard_secret

    rnd = random.Random(seed)
    started = time.monotonic()
    work = workdir or Path(f"/tmp/chaos-{uuid.uuid4().hex[:8]}")
    work.mkdir(parents=True, exist_ok=True)
    schema = f"chaos_{uuid.uuid4().hex[:10]}"
    conn = await asyncpg.connect(PG_URL.replace("+asyncpg", ""))
    await conn.execute(f'CREATE SCHEMA "{schema}"')
    await conn.close()
    import base64

    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "DATA_"))},
        "APP_ENV": "dev", "DATA_DIR": str(work), "DATABASE_URL": PG_URL,
        "DATABASE_SCHEMA": schema, "CAPTURE_CHECKS": "intake", "MIN_IMAGE_SIDE": "200",
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
    created = subprocess.run(
        [sys.executable, "-m", "app", "provider", "create", "chaos"], cwd=ROOT, env=env,
        check=True, timeout=60, capture_output=True, text=True,
    )  # fmt: skip
    auth = {"Authorization": f"Bearer {json.loads(created.stdout)['api_key']}"}
    secret = new_standard_secret()
    rx = Receiver(secret)
    rx.start()
    apis = [Api(env, work / f"api{i}.log") for i in range(2)]
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
    stats: dict[str, Any] = {"captures_2xx": [], "recover_seconds": [], "faults": defaultdict(int)}
    done = asyncio.Event()

    async def load() -> list[str]:
        sem = asyncio.Semaphore(concurrency)

        async def one(n: int) -> str:
            async with sem:
                return await flow(pool, auth, n, stats)

        try:
            return list(await asyncio.gather(*(one(n) for n in range(flows))))
        finally:
            done.set()

    async def faults() -> None:
        plan = ["kill"] * kills + ["outage"] * outages
        rnd.shuffle(plan)
        for fault in plan:
            await asyncio.sleep(rnd.uniform(0.5, 2.0))
            if fault == "kill":
                victim = apis[rnd.randrange(len(apis))]
                victim.kill()
                stats["faults"]["sigkill_api"] += 1
                await asyncio.sleep(rnd.uniform(0.2, 1.0))
                victim.start()
                stats["recover_seconds"].append(
                    round(await asyncio.to_thread(victim.wait_ready), 2)
                )
            else:
                rx.stop()  # connections refused
                stats["faults"]["receiver_down"] += 1
                await asyncio.sleep(outage_seconds)
                rx.mode = "500"
                rx.start()
                stats["faults"]["receiver_500"] += 1
                await asyncio.sleep(outage_seconds)
                rx.mode = "ok"

    load_task = asyncio.create_task(load())
    await faults()
    order_ids = await load_task
    load_seconds = time.monotonic() - started

    # Drain: every delivery delivered (bounded wait).
    conn = await asyncpg.connect(PG_URL.replace("+asyncpg", ""))
    await conn.execute(f'SET search_path TO "{schema}"')
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
    leftovers = list((work / "materials").rglob(".tmp-*"))

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
    for a in apis:
        a.stop()
    rx.stop()
    await pool.client.aclose()
    if not keep:
        conn = await asyncpg.connect(PG_URL.replace("+asyncpg", ""))
        await conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
        await conn.close()
    return {
        "flows": flows,
        "requests": pool.requests,
        "failovers": pool.failovers,
        "captures_2xx": len(stats["captures_2xx"]),
        "captures_missing": missing_captures,
        "partial_files": len(leftovers),
        "orders_complete": sum(1 for s in statuses.values() if s == "complete"),
        "faults": dict(stats["faults"]),
        "recover_seconds": stats["recover_seconds"],
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
        "seconds": round(time.monotonic() - started, 1),
        "load_seconds": round(load_seconds, 1),
        "schema": schema,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--flows", type=int, default=12)
    p.add_argument("--kills", type=int, default=3)
    p.add_argument("--outages", type=int, default=2)
    p.add_argument("--outage-seconds", type=float, default=4.0)
    p.add_argument("--concurrency", type=int, default=4)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--keep", action="store_true", help="keep the database schema")
    a = p.parse_args()
    report = asyncio.run(
        soak(flows=a.flows, kills=a.kills, outages=a.outages, outage_seconds=a.outage_seconds,
             concurrency=a.concurrency, seed=a.seed, keep=a.keep)
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
    )


if __name__ == "__main__":
    main()
