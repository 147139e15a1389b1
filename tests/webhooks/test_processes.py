"""Separate dispatcher processes (``python -m app.webhooks.dispatcher``) on one outbox:
no double delivery between two of them, and nothing lost when one is SIGKILLed mid-send."""

from __future__ import annotations

import asyncio
import base64
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from app.models.webhooks import WebhookAttempt, WebhookDelivery
from app.security import crypto
from tests.webhooks.conftest import ROOT, Hook

Spawn = Callable[..., subprocess.Popen[bytes]]


def key_env() -> dict[str, str]:
    """This process's data keys as settings: the endpoint secrets are encrypted with them."""

    def spec(ring: crypto.Keyring) -> str:
        return ",".join(f"{kid}:{base64.b64encode(k).decode()}" for kid, k in ring.keys)

    assert crypto._INDEX_KEY is not None
    return {
        "DATA_KEYS": spec(crypto.keyring("fields")),
        "FACE_DATA_KEYS": spec(crypto.keyring("faces")),
        "DATA_INDEX_KEY": base64.b64encode(crypto._INDEX_KEY).decode(),
    }


@pytest.fixture
def spawn(hook: Hook, tmp_path: Path) -> Iterator[Spawn]:
    s = hook.api.app.state.ctx.settings
    if s.database_url.startswith("sqlite"):
        # Several processes are a PostgreSQL deployment. Also, the session's shared SQLite
        # file is read with plain open()/close() by tests/test_privacy.py, which drops this
        # process's POSIX locks on it and makes a second process see a corrupt WAL index.
        pytest.skip("dispatcher processes run against PostgreSQL")
    procs: list[subprocess.Popen[bytes]] = []

    def start(**env: str) -> subprocess.Popen[bytes]:
        values = {
            **os.environ,
            "APP_ENV": "test",
            "SECRET_KEY": s.secret_key,
            "DATA_DIR": str(tmp_path),
            "DATABASE_URL": s.database_url,
            "DATABASE_SCHEMA": s.database_schema,
            **key_env(),
            "WEBHOOK_POLL_SECONDS": "0.05",
            "WEBHOOK_TIMEOUT_SECONDS": "1",
            "WEBHOOK_RETRY_BASE_SECONDS": "0.05",
            "WEBHOOK_RETRY_MAX_SECONDS": "0.2",
            **env,
        }
        log = (tmp_path / f"dispatcher-{len(procs)}.log").open("wb")
        p = subprocess.Popen(
            [sys.executable, "-m", "app.webhooks.dispatcher"],
            cwd=ROOT, env=values, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        log.close()
        procs.append(p)
        return p

    yield start
    for p in procs:
        if p.poll() is None:
            p.kill()
        p.wait(10)


async def wait_for(cond: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.05)


async def test_two_processes_never_send_twice(hook: Hook, spawn: Spawn, tmp_path: Path) -> None:
    rx = hook.rx
    rx.script.extend(["500", "close", "500", "500"])
    procs = [spawn(WEBHOOK_BATCH="2"), spawn(WEBHOOK_BATCH="2")]
    orders = [await hook.order() for _ in range(8)]
    for oid in orders:
        await hook.qr(oid)
        await hook.qr(oid)
    expected = {d["event_id"] for d in await hook.deliveries()}
    assert len(expected) == 24
    await wait_for(lambda: rx.ids() == expected)
    await asyncio.sleep(0.3)  # a double send would land now
    assert all(n == 1 for n in rx.counts.values()), rx.counts
    for ids in rx.per_order().values():
        assert ids == sorted(ids)
    # SIGTERM: each process finishes its pass and exits cleanly.
    for p in procs:
        p.send_signal(signal.SIGTERM)
    codes = [p.wait(15) for p in procs]
    logs = "".join(f.read_text() for f in tmp_path.glob("dispatcher-*.log"))
    assert codes == [0, 0], logs[-2000:]
    assert "Traceback" not in logs, logs[-3000:]
    async with hook.api.app.state.ctx.sessionmaker() as db:
        workers = set(
            (
                await db.execute(
                    select(WebhookAttempt.worker)
                    .join(WebhookDelivery, WebhookDelivery.id == WebhookAttempt.delivery_id)
                    .where(WebhookDelivery.provider_id == hook.provider_id)
                )
            ).scalars()
        )
    pids = {str(p.pid) for p in procs}
    assert {w.split(":")[1] for w in workers} <= pids


async def test_sigkill_mid_delivery_loses_nothing(hook: Hook, spawn: Spawn) -> None:
    rx = hook.rx
    rx.script.append("hold")  # the first request hangs until the sender is dead
    # The timeout is long enough that the sender is surely killed before it gives up.
    lease = {"WEBHOOK_TIMEOUT_SECONDS": "3", "WEBHOOK_LEASE_SECONDS": "3.5"}
    first = spawn(**lease)
    oid = await hook.order()
    await wait_for(rx.holding.is_set)
    first.send_signal(signal.SIGKILL)
    assert first.wait(10) == -signal.SIGKILL
    await hook.qr(oid)  # a later event of the same order, queued behind the held one
    rx.release.set()
    async with hook.api.app.state.ctx.sessionmaker() as db:
        held = (
            (
                await db.execute(
                    select(WebhookDelivery)
                    .where(WebhookDelivery.provider_id == hook.provider_id)
                    .order_by(WebhookDelivery.id)
                )
            )
            .scalars()
            .first()
        )
        assert held is not None
        assert held.status == "pending"
        assert held.locked_by is not None  # still claimed by the dead process
        assert held.locked_by.split(":")[1] == str(first.pid)
    spawn(**lease)  # the restarted service
    expected = {d["event_id"] for d in await hook.deliveries()}
    assert len(expected) == 2
    await wait_for(lambda: rx.ids() == expected)
    assert all(n == 1 for n in rx.counts.values())
    assert rx.per_order()[oid] == sorted(int(i) for i in expected)
    deadline = time.monotonic() + 10
    while {i["status"] for i in await hook.deliveries()} != {"delivered"}:
        assert time.monotonic() < deadline, await hook.deliveries()
        await asyncio.sleep(0.05)
