"""A real webhook receiver on 127.0.0.1, and helpers to drive dispatchers deterministically."""

from __future__ import annotations

import asyncio
import json
import re
import threading
import time
from collections import Counter, deque
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from app.webhooks.dispatcher import Dispatcher
from tests.conftest import Api

ROOT = Path(__file__).resolve().parents[2]
SECRET = "whsec_test_0123456789abcdef"


def readme_verifier() -> Callable[..., bool]:
    """The signature check exactly as README's Webhooks section shows it to providers."""
    text = (ROOT / "README.md").read_text()
    section = text[text.index("## Webhooks") :]
    code = re.search(r"```python\n(.*?)```", section, re.S)
    assert code, "README's Webhooks section has no Python snippet"
    scope: dict[str, Any] = {}
    exec(code.group(1), scope)
    fn: Callable[..., bool] = scope["verify_heyan_signature"]
    return fn


@dataclass
class Received:
    event_id: str
    type: str
    order_id: str | None
    payload: dict[str, Any]
    raw: bytes
    headers: dict[str, str]


@dataclass
class Receiver:
    """Scriptable: each request takes the next behaviour from ``script`` (else ``default``).

    ok: 200 and record; 500: answer 500; timeout: answer after ``slow`` s (the sender has
    given up); close: drop the connection without an answer; hold: block until
    ``release`` is set, then drop the connection. Only ``ok`` records the event: a receiver
    that stores an event only when it answers 2xx.
    """

    secret: str = SECRET
    script: deque[str] = field(default_factory=deque)
    default: str = "ok"
    slow: float = 1.0
    accepted: list[Received] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)
    requests: list[tuple[str, str]] = field(default_factory=list)
    bad_signatures: int = 0
    holding: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    url: str = ""
    # Event ids whose requests always behave as "timeout", whatever the script says.
    hang_ids: set[str] = field(default_factory=set)
    # "heyan": README's check of Heyan-Signature; "standard": the standardwebhooks reference
    # library (PyPI) over webhook-id / webhook-timestamp / webhook-signature.
    scheme: str = "heyan"

    def signed(self, raw: bytes, headers: dict[str, str], verify: Callable[..., bool]) -> bool:
        if self.scheme == "standard":
            from standardwebhooks.webhooks import Webhook, WebhookVerificationError

            try:
                Webhook(self.secret).verify(raw, headers)
            except WebhookVerificationError:
                return False
            return True
        return verify(self.secret, raw, headers.get("Heyan-Signature", ""))

    def next_behaviour(self) -> str:
        with self.lock:
            return self.script.popleft() if self.script else self.default

    def ids(self) -> set[str]:
        with self.lock:
            return set(self.counts)

    def per_order(self) -> dict[str, list[int]]:
        out: dict[str, list[int]] = {}
        with self.lock:
            for r in self.accepted:
                if r.order_id:
                    out.setdefault(r.order_id, []).append(int(r.event_id))
        return out


def _handler(rx: Receiver, verify: Callable[..., bool]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            pass

        def _answer(self, code: int) -> None:
            self.send_response(code)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            event_id = self.headers.get("Heyan-Event-Id", "")
            behaviour = "timeout" if event_id in rx.hang_ids else rx.next_behaviour()
            with rx.lock:
                rx.requests.append((event_id, behaviour))
            try:
                if behaviour == "500":
                    self._answer(500)
                elif behaviour == "timeout":
                    time.sleep(rx.slow)
                    self._answer(200)
                elif behaviour in ("close", "hold"):
                    if behaviour == "hold":
                        rx.holding.set()
                        rx.release.wait(30)
                    self.close_connection = True
                else:
                    if not rx.signed(raw, dict(self.headers), verify):
                        with rx.lock:
                            rx.bad_signatures += 1
                        self._answer(401)
                        return
                    payload = json.loads(raw)
                    with rx.lock:
                        rx.counts[event_id] += 1
                        rx.accepted.append(
                            Received(event_id, payload["type"], payload["order_id"], payload,
                                     raw, dict(self.headers))
                        )  # fmt: skip
                    self._answer(200)
            except OSError:
                pass  # the sender went away

    return Handler


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    rx = Receiver()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(rx, readme_verifier()))
    server.daemon_threads = True
    rx.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield rx
    rx.release.set()
    server.shutdown()
    server.server_close()


@dataclass
class Hook:
    """A fresh provider with a webhook pointing at the receiver."""

    api: Api
    provider_id: str
    key: str
    rx: Receiver

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}

    async def order(self, **kw: Any) -> str:
        from tests.conftest import order_body

        r = await self.api.client.post("/v1/orders", json=order_body(**kw), headers=self.auth)
        assert r.status_code == 201, r.text
        return str(r.json()["id"])

    async def qr(self, order_id: str, scope: str = "order") -> None:
        r = await self.api.client.post(
            f"/v1/orders/{order_id}/qr", json={"scope": scope}, headers=self.auth
        )
        assert r.status_code == 201, r.text

    async def deliveries(self, status: str | None = None) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        cursor = None
        while True:
            params: dict[str, Any] = {"limit": 200}
            if status:
                params["status"] = status
            if cursor:
                params["cursor"] = cursor
            r = await self.api.client.get(
                "/v1/webhook/deliveries", params=params, headers=self.auth
            )
            assert r.status_code == 200, r.text
            items += r.json()["items"]
            cursor = r.json()["next_cursor"]
            if not cursor:
                return items


async def stop_background(api: Api) -> None:
    """The shared app's own dispatcher would race the tests' deterministic ones: stop it."""
    d = getattr(api.app.state, "webhook_dispatcher", None)
    if d is not None and d.running:
        await d.stop()


@pytest.fixture
async def hook(api: Api, receiver: Receiver) -> AsyncIterator[Hook]:
    await stop_background(api)
    provider_id, key = await api.new_provider()
    h = Hook(api, provider_id, key, receiver)
    r = await api.client.put(
        "/v1/webhook", json={"url": receiver.url, "secret": SECRET, "events": ["*"]},
        headers=h.auth,
    )  # fmt: skip
    assert r.status_code == 200, r.text
    yield h
    # Leave nothing due for the next test's dispatchers.
    await api.client.delete("/v1/webhook", headers=h.auth)


@pytest.fixture
async def dispatchers(api: Api) -> AsyncIterator[Callable[..., Dispatcher]]:
    made: list[Dispatcher] = []

    def make(sessionmaker: Any = None, **kw: Any) -> Dispatcher:
        opts: dict[str, Any] = {
            "poll_seconds": 0.02, "timeout_seconds": 0.4, "base_delay": 0.05,
            "max_delay": 0.2, "lease_seconds": 5.0, **kw,
        }  # fmt: skip
        d = Dispatcher(sessionmaker or api.app.state.ctx.sessionmaker, **opts)
        made.append(d)
        return d

    yield make
    for d in made:
        await d.stop()


async def drain(*ds: Dispatcher, until: Callable[[], bool], timeout: float = 15.0) -> None:
    """Run the dispatchers' passes side by side until ``until()`` holds."""
    deadline = time.monotonic() + timeout

    async def one(d: Dispatcher) -> None:
        while not until() and time.monotonic() < deadline:
            if await d.run_once() == 0:
                await asyncio.sleep(0.02)

    await asyncio.gather(*(one(d) for d in ds))
    assert until(), "the dispatchers did not get there in time"
