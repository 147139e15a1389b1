"""Load test: whole mini-program flows and provider polling against a running Heyan.

    HEYAN_API_KEY=... .venv/bin/python -m locust -f bench/load/locustfile.py --host http://127.0.0.1:8000

Two user classes, mixed by weight (environment variables, read when locust starts):

- ``MiniProgramFlow`` (``LOAD_FLOW_WEIGHT``, default 1): one whole verification per task —
  the provider creates an order and its QR code, the mini-program scans it, opens a session
  with the dev phone proof, uploads the licence and both sides of the ID card, takes a
  liveness challenge (with face consent), uploads the face video, then the verification
  sheet, and the provider reads the order (with the default samples every check passes and
  the order ends ``complete``, 核验完成). Each flow is also reported as one ``FLOW`` entry
  (its latency is the whole flow's). Business refusals (a face the checks refuse, a
  sheet refused because the face step is not done) are answers, not failures: the flow goes
  on and the outcome is counted (``LOAD_OUTCOMES`` names a JSON file for the counts and for
  the time from the first flow's start to the last one's end; run locust with
  ``--stop-timeout`` longer than a flow, so flows in progress at the end are finished).
  ``LOAD_FLOW_PAUSE`` (seconds, default 1) is the think time between flows.
- ``ProviderPoller`` (``LOAD_POLL_WEIGHT``, default 1): polls a few orders of its own with
  If-None-Match (304 while nothing changed) and lists changes since its cursor;
  ``LOAD_POLL_WAIT`` (seconds, default 1; 0 = as fast as possible) between requests.

Inputs (``LOAD_SAMPLES``, default bench/load/.samples, prepared on first use by
bench/load/samples.py, which needs the face models: order.json, licence.jpg, id_front.jpg,
id_back.jpg, sheet.jpg and face_blink_shake_head.mp4 / face_shake_head_blink.mp4 — all
labelled synthetic; the ID card's portrait and the videos are the same real man, from
testkit/genuine.py). Each flow sends the video whose actions are in the order its
challenge asks. ``LOAD_FACE_VIDEO`` names one video sent for every challenge instead (e.g.
tests/data/face/carphone_pristine.mp4, a real face that is not the ID card's, so the full
checks refuse it and the sheet then gets 409 ``STEP_OUT_OF_ORDER``).

The dev phone proof needs the server in APP_ENV=dev or test. Per-process rate limits
(RATE_LIMIT_ADDRESS_PER_MINUTE, RATE_LIMIT_PROVIDER_PER_MINUTE) must be raised on the server
under test, or the load generator's one address gets 429 ``RATE_LIMITED``.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import gevent
from locust import FastHttpUser, constant, events, task
from locust.contrib.fasthttp import FastHttpSession

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = Path(os.environ.get("LOAD_SAMPLES", str(ROOT / "bench" / "load" / ".samples")))
FACE_VIDEO = os.environ.get("LOAD_FACE_VIDEO", "")
API_KEY = os.environ.get("HEYAN_API_KEY", "")
MOBILE = "13800138000"
BUSY_RETRIES = int(os.environ.get("LOAD_BUSY_RETRIES", "3"))
FLOW_PAUSE = float(os.environ.get("LOAD_FLOW_PAUSE", "1"))
POLL_WAIT = float(os.environ.get("LOAD_POLL_WAIT", "1"))
POLL_ORDERS = int(os.environ.get("LOAD_POLL_ORDERS", "3"))

OUTCOMES: Counter[str] = Counter()
# When the first flow started and the last one ended (time.time()), for flows per minute.
WINDOW: dict[str, float] = {}


from bench.load.samples import ACTION_ORDERS, ensure_samples, video_name  # noqa: E402

ensure_samples(SAMPLES)
ORDER = json.loads((SAMPLES / "order.json").read_text())
PHOTOS = {
    "subject_document": (SAMPLES / "licence.jpg").read_bytes(),
    "subject_principal_id_front": (SAMPLES / "id_front.jpg").read_bytes(),
    "subject_principal_id_back": (SAMPLES / "id_back.jpg").read_bytes(),
}
SHEET = (SAMPLES / "sheet.jpg").read_bytes()
# The face video for each order of a challenge's actions, or the one LOAD_FACE_VIDEO names.
VIDEOS = {a: (SAMPLES / video_name(a)).read_bytes() for a in ACTION_ORDERS}
FIXED_VIDEO = Path(FACE_VIDEO).read_bytes() if FACE_VIDEO else None


def face_video(actions: list[str]) -> bytes:
    if FIXED_VIDEO is not None:
        return FIXED_VIDEO
    video = VIDEOS.get(tuple(actions))
    if video is None:  # the server asks for other actions (LIVENESS_ACTIONS): count it
        OUTCOMES[f"face video: none for {','.join(actions)}"] += 1
        video = VIDEOS[ACTION_ORDERS[0]]
    return video


def multipart(
    files: dict[str, tuple[str, bytes, str]], fields: dict[str, str] | None = None
) -> tuple[bytes, str]:
    """Encode a multipart/form-data body (FastHttpUser has no files= argument)."""
    boundary = uuid.uuid4().hex
    out = bytearray()
    for name, value in (fields or {}).items():
        out += f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
        out += value.encode() + b"\r\n"
    for name, (filename, data, ctype) in files.items():
        out += (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; '
            f'filename="{filename}"\r\nContent-Type: {ctype}\r\n\r\n'
        ).encode()
        out += data + b"\r\n"
    out += f"--{boundary}--\r\n".encode()
    return bytes(out), f"multipart/form-data; boundary={boundary}"


def new_order_body(tag: str) -> dict[str, Any]:
    body = json.loads(json.dumps(ORDER))
    body["external_id"] = f"load-{tag}-{uuid.uuid4().hex[:16]}"
    return body


def problem_code(resp: Any) -> str:
    try:
        return str(resp.json().get("code", ""))
    except Exception:
        return ""


class FlowFailed(Exception):
    """A step answered something no client should get (5xx after retries, 429, 401...)."""


class MiniProgramFlow(FastHttpUser):
    weight = int(os.environ.get("LOAD_FLOW_WEIGHT", "1"))
    wait_time = constant(FLOW_PAUSE)
    # A capture still unanswered after 60 s is a failure the figures must show.
    network_timeout = 60.0
    connection_timeout = 10.0

    def call(
        self, method: str, path: str, name: str, ok: tuple[int, ...], **kwargs: Any
    ) -> tuple[int, Any]:
        """One request; 503 BUSY is retried after Retry-After, other unexpected codes fail."""
        for attempt in range(BUSY_RETRIES + 1):
            with self.client.request(
                method, path, name=name, catch_response=True, **kwargs
            ) as resp:
                code = resp.status_code
                if code == 503 and attempt < BUSY_RETRIES:
                    OUTCOMES[f"{name}: 503 {problem_code(resp)} (retried)"] += 1
                    resp.failure("503 BUSY")
                    retry = float(resp.headers.get("retry-after") or 1)
                elif code in ok:
                    resp.success()
                    body = resp.json() if resp.text and code != 304 else None
                    return code, body
                else:
                    detail = problem_code(resp)
                    resp.failure(f"{code} {detail}")
                    raise FlowFailed(f"{name}: {code} {detail}")
            time.sleep(retry)
        raise FlowFailed(f"{name}: still busy")

    def capture(self, step: str, files: dict[str, tuple[str, bytes, str]], **fields: str) -> str:
        body, ctype = multipart(files, fields)
        code, answer = self.call(
            "POST",
            f"/m/v1/captures/{step}",
            f"POST /m/v1/captures/{step}",
            (201, 409, 422),
            data=body,
            headers={**self.session_auth, "Content-Type": ctype},
        )
        if code == 201:
            outcome = "accepted"
        else:
            failed = sorted(c["code"] for c in (answer or {}).get("checks", []) if not c["passed"])
            outcome = f"{code} {(answer or {}).get('code', '')} {','.join(failed)}".strip()
        OUTCOMES[f"{step}: {outcome}"] += 1
        return outcome

    def new_phone(self) -> None:
        """Each flow is another person's phone: new connections, as in real traffic. (One
        keep-alive connection per user would pin all of a user's flows to whichever server
        process accepted it, and `--workers` could not share the load.)"""
        old = self.client
        self.client = FastHttpSession(
            base_url=self.host,
            request_event=self.environment.events.request,
            network_timeout=self.network_timeout,
            connection_timeout=self.connection_timeout,
            max_retries=self.max_retries,
            user=self,
        )
        with contextlib.suppress(Exception):
            old.client.close()

    @task
    def flow(self) -> None:
        self.new_phone()
        start = time.perf_counter()
        WINDOW.setdefault("first_start", time.time())
        error: Exception | None = None
        try:
            self._flow()
        except FlowFailed as exc:
            error = exc
            OUTCOMES["flow: failed"] += 1
        else:
            OUTCOMES["flow: completed"] += 1
        WINDOW["last_end"] = time.time()
        events.request.fire(
            request_type="FLOW",
            name="whole flow (order→scan→documents→face→sheet)",
            response_time=(time.perf_counter() - start) * 1000,
            response_length=0,
            exception=error,
            context={},
        )

    def _flow(self) -> None:
        auth = {"Authorization": f"Bearer {API_KEY}"}
        _, order = self.call(
            "POST",
            "/v1/orders",
            "POST /v1/orders",
            (201,),
            json=new_order_body("flow"),
            headers=auth,
        )
        oid = order["id"]
        _, qr = self.call(
            "POST",
            f"/v1/orders/{oid}/qr",
            "POST /v1/orders/[id]/qr",
            (201,),
            json={"scope": "order"},
            headers=auth,
        )
        self.call(
            "GET",
            f"/v1/orders/{oid}/qr.png?scope=order",
            "GET /v1/orders/[id]/qr.png",
            (200,),
            headers=auth,
        )
        _, session = self.call(
            "POST",
            "/m/v1/sessions",
            "POST /m/v1/sessions",
            (201,),
            json={
                "qr_token": qr["token"],
                "platform": "dev",
                "mobile": MOBILE,
                "device_id": f"load-{id(self)}",
            },
        )
        self.session_auth = {"Authorization": f"Bearer {session['session_token']}"}
        _, view = self.call(
            "GET", "/m/v1/session", "GET /m/v1/session", (200,), headers=self.session_auth
        )
        for step, photo in PHOTOS.items():
            self.capture(step, {"file": ("photo.jpg", photo, "image/jpeg")})
        terms = view["face_consent"]
        consent = {
            "consent": {
                "version": terms["version"],
                "text_sha256": terms["text_sha256"],
                "accepted_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            }
        }
        _, ch = self.call(
            "POST",
            "/m/v1/liveness/challenge",
            "POST /m/v1/liveness/challenge",
            (201,),
            json=consent,
            headers=self.session_auth,
        )
        video = face_video(ch["actions"])
        self.capture(
            "face", {"video": ("face.mp4", video, "video/mp4")}, challenge_id=ch["challenge_id"]
        )
        self.capture("verification_sheet", {"file": ("sheet.jpg", SHEET, "image/jpeg")})
        _, final = self.call(
            "GET", f"/v1/orders/{oid}", "GET /v1/orders/[id]", (200,), headers=auth
        )
        OUTCOMES[f"order status: {final['status']}"] += 1


class ProviderPoller(FastHttpUser):
    weight = int(os.environ.get("LOAD_POLL_WEIGHT", "1"))
    wait_time = constant(POLL_WAIT)

    def on_start(self) -> None:
        self.auth = {"Authorization": f"Bearer {API_KEY}"}
        self.etags: dict[str, str] = {}
        self.cursor = 0
        for _ in range(POLL_ORDERS):
            with self.client.post(
                "/v1/orders",
                json=new_order_body("poll"),
                headers=self.auth,
                name="POST /v1/orders (poller setup)",
                catch_response=True,
            ) as resp:
                if resp.status_code != 201:
                    resp.failure(f"{resp.status_code} {problem_code(resp)}")
                    continue
                oid = resp.json()["id"]
            r = self.client.get(f"/v1/orders/{oid}", headers=self.auth, name="GET /v1/orders/[id]")
            self.etags[oid] = r.headers.get("etag", "")
        self.ids = list(self.etags)

    @task(4)
    def poll_order(self) -> None:
        if not self.ids:
            return
        oid = random.choice(self.ids)
        with self.client.get(
            f"/v1/orders/{oid}",
            headers={**self.auth, "If-None-Match": self.etags[oid]},
            name="GET /v1/orders/[id] If-None-Match",
            catch_response=True,
        ) as resp:
            if resp.status_code == 200:  # changed: keep the new ETag
                self.etags[oid] = resp.headers.get("etag", "")
                resp.success()
            elif resp.status_code == 304:
                resp.success()
            else:
                resp.failure(f"{resp.status_code} {problem_code(resp)}")

    @task(1)
    def changed_since(self) -> None:
        with self.client.get(
            f"/v1/orders?changed_since={self.cursor}&limit=50",
            headers=self.auth,
            name="GET /v1/orders?changed_since",
            catch_response=True,
        ) as resp:
            if resp.status_code != 200:
                resp.failure(f"{resp.status_code} {problem_code(resp)}")
                return
            # A provider keeps its cursor: once caught up, pages are empty until a change.
            self.cursor = resp.json()["next_cursor"]
            resp.success()


@events.test_stop.add_listener
def _write_outcomes(**_: Any) -> None:
    # Every user has stopped: give locust's --csv writer (it rewrites the files once a second
    # and is closed right after) one more turn, or the flows that ended in the last second of
    # --stop-timeout are missing from the CSV while counted in the outcomes.
    gevent.sleep(1.5)
    path = os.environ.get("LOAD_OUTCOMES")
    if path:
        out = {"outcomes": dict(sorted(OUTCOMES.items())), "window": WINDOW}
        Path(path).write_text(json.dumps(out, indent=2) + "\n")
