"""The tamper-evident audit trail: every order's events are hash-chained (app.models.audit).

Rows are edited, deleted, moved and forged directly in the database (SQLite and
PostgreSQL, like the rest of the suite) and each is found by GET /v1/orders/{id}/audit and
by `python -m app audit verify`; the retention purge's tombstones keep the chain verifiable;
a chain rewritten consistently still changes the order's ETag and the sheet's content hash;
concurrent writers on one order never fork the chain.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from sqlalchemy import select, text

from app.filing import service as filing
from app.filing.sheet import content_hash, sheet_data
from app.models import audit
from app.models.orders import Event
from app.ops.retention import purge_order
from app.orders import service as orders
from tests.conftest import Api
from tests.flows import new_order, qr

ROOT = Path(__file__).resolve().parents[1]


async def _order(api: Api, qrs: int = 3) -> tuple[str, list[int]]:
    """An order with order.created and ``qrs`` qr.issued events; their ids in order."""
    oid = (await new_order(api))["id"]
    for _ in range(qrs):
        await qr(api, oid)
    return oid, await _ids(api, oid)


async def _ids(api: Api, oid: str) -> list[int]:
    async with api.app.state.ctx.sessionmaker() as db:
        rows = await db.execute(select(Event.id).where(Event.order_id == oid).order_by(Event.id))
        return list(rows.scalars())


async def _sql(api: Api, sql: str, **params: Any) -> None:
    async with api.app.state.ctx.sessionmaker() as db:
        await db.execute(text(sql), params)
        await db.commit()


async def _report(api: Api, oid: str) -> dict[str, Any]:
    r = await api.client.get(f"/v1/orders/{oid}/audit", headers=api.auth)
    assert r.status_code == 200, r.text
    out: dict[str, Any] = r.json()
    return out


async def _broken(api: Api, oid: str) -> tuple[int | None, str]:
    rep = await _report(api, oid)
    assert rep["ok"] is False, rep
    assert rep["broken"]["message_zh"]
    return rep["broken"]["event_id"], rep["broken"]["reason"]


async def test_an_untouched_trail_verifies_and_the_head_is_the_newest_hash(api: Api) -> None:
    oid, ids = await _order(api)
    rep = await _report(api, oid)
    assert rep["ok"] is True and rep["broken"] is None
    assert rep["events"] == len(ids) == 4
    async with api.app.state.ctx.sessionmaker() as db:
        rows = list(
            (await db.execute(select(Event).where(Event.order_id == oid).order_by(Event.id)))
            .scalars()
        )  # fmt: skip
    assert rows[0].prev_hash == audit.GENESIS
    assert [r.prev_hash for r in rows[1:]] == [r.hash for r in rows[:-1]]
    assert rep["head"] == rows[-1].hash
    # Another provider sees nothing of it.
    _, key = await api.new_provider()
    r = await api.client.get(f"/v1/orders/{oid}/audit", headers={"Authorization": f"Bearer {key}"})
    assert r.status_code == 404 and r.json()["code"] == "ORDER_NOT_FOUND"


async def test_an_edited_row_is_found(api: Api) -> None:
    oid, ids = await _order(api)
    await _sql(api, "UPDATE events SET data = :d WHERE id = :i", d='{"scope":"subject"}', i=ids[2])
    assert await _broken(api, oid) == (ids[2], "content_altered")
    oid, ids = await _order(api)
    await _sql(api, "UPDATE events SET type = 'part.verified' WHERE id = :i", i=ids[1])
    assert await _broken(api, oid) == (ids[1], "content_altered")
    oid, ids = await _order(api)
    await _sql(api, "UPDATE events SET client_ip = '198.51.100.1' WHERE id = :i", i=ids[0])
    assert await _broken(api, oid) == (ids[0], "personal_altered")


async def test_a_deleted_row_is_found(api: Api) -> None:
    oid, ids = await _order(api)
    await _sql(api, "DELETE FROM events WHERE id = :i", i=ids[1])
    assert await _broken(api, oid) == (ids[2], "link_broken")
    oid, ids = await _order(api)
    await _sql(api, "DELETE FROM events WHERE id = :i", i=ids[-1])  # the newest one
    assert await _broken(api, oid) == (None, "head_mismatch")
    oid, ids = await _order(api)
    await _sql(api, "DELETE FROM events WHERE id = :i", i=ids[0])  # the first one
    assert await _broken(api, oid) == (ids[1], "link_broken")


async def test_reordered_rows_are_found(api: Api) -> None:
    # Swap two rows' places (their ids), hashes and all.
    oid, ids = await _order(api)
    a, b = ids[1], ids[2]
    await _sql(api, "UPDATE events SET id = :t WHERE id = :a", t=-a, a=a)
    await _sql(api, "UPDATE events SET id = :a WHERE id = :b", a=a, b=b)
    await _sql(api, "UPDATE events SET id = :b WHERE id = :t", b=b, t=-a)
    assert (await _broken(api, oid))[0] in (a, b)
    # Swap everything but the ids (the rows' contents trade places, hashes with them).
    oid, ids = await _order(api)
    async with api.app.state.ctx.sessionmaker() as db:
        r1, r2 = (await db.get(Event, ids[1])), (await db.get(Event, ids[2]))
        assert r1 is not None and r2 is not None
        for col in ("created_at", "prev_hash", "hash", "personal_hash", "data"):
            v1, v2 = getattr(r1, col), getattr(r2, col)
            setattr(r1, col, v2)
            setattr(r2, col, v1)
        await db.commit()
    assert (await _broken(api, oid))[0] in (ids[1], ids[2])


async def test_a_row_written_outside_the_chain_is_found(api: Api) -> None:
    oid, _ = await _order(api, qrs=1)
    await _sql(
        api,
        "INSERT INTO events (order_id, provider_id, type, data, created_at) "
        "VALUES (:o, :p, 'part.verified', '{}', CURRENT_TIMESTAMP)",
        o=oid, p=api.provider_id,
    )  # fmt: skip
    _, reason = await _broken(api, oid)
    assert reason == "unhashed"


async def test_a_rewritten_chain_changes_the_etag_and_the_sheet(api: Api) -> None:
    """Recomputing every hash after an edit passes verify, but not the anchors the
    provider holds: the ETag and the sheet's content hash (hence its code) change."""
    oid, _ = await _order(api, qrs=1)
    async with api.app.state.ctx.sessionmaker() as db:
        bundle = await orders.load_bundle(db, oid)
        await orders.record_event(db, bundle.order, "part.reset", part="subject")  # evidence
        await db.commit()
    r = await api.client.get(f"/v1/orders/{oid}", headers=api.auth)
    etag = r.headers["ETag"]
    async with api.app.state.ctx.sessionmaker() as db:
        bundle = await orders.load_bundle(db, oid)
        events = await filing.order_events(db, oid)
        before = content_hash(sheet_data(bundle, events, {}))
        assert sheet_data(bundle, events, {})["audit_head"] == events[-1].hash
    # The forger edits one row and recomputes the whole chain and the order's head.
    async with api.app.state.ctx.sessionmaker() as db:
        rows = list(
            (await db.execute(select(Event).where(Event.order_id == oid).order_by(Event.id)))
            .scalars()
        )  # fmt: skip
        rows[1].data = {"scope": "subject"}
        prev = audit.GENESIS
        for e in rows:
            fields = {c: getattr(e, c) for c in (*audit.PUBLIC_FIELDS, *audit.PERSONAL_FIELDS)}
            e.prev_hash = prev
            e.personal_hash, e.hash = audit.chain(prev, fields)
            prev = e.hash
        await db.commit()
    await _sql(api, "UPDATE orders SET audit_head = :h WHERE id = :o", h=prev, o=oid)
    assert (await _report(api, oid))["ok"] is True  # consistent: verify alone cannot tell
    r = await api.client.get(f"/v1/orders/{oid}", headers=api.auth)
    assert r.headers["ETag"] != etag
    r = await api.client.get(f"/v1/orders/{oid}", headers={**api.auth, "If-None-Match": etag})
    assert r.status_code == 200  # the provider's copy is stale: it sees the change
    async with api.app.state.ctx.sessionmaker() as db:
        bundle = await orders.load_bundle(db, oid)
        events = await filing.order_events(db, oid)
        assert content_hash(sheet_data(bundle, events, {})) != before


async def test_the_purge_tombstones_and_the_chain_still_verifies(api: Api) -> None:
    oid, ids = await _order(api)
    await _sql(api, "UPDATE events SET client_ip = '203.0.113.9' WHERE id = :i", i=ids[1])
    assert (await _broken(api, oid))[1] == "personal_altered"
    oid, ids = await _order(api)
    async with api.app.state.ctx.sessionmaker() as db:
        assert await purge_order(db, api.app.state.ctx.storage, oid, "test") == 0
    async with api.app.state.ctx.sessionmaker() as db:
        rows = list(
            (await db.execute(select(Event).where(Event.order_id == oid).order_by(Event.id)))
            .scalars()
        )  # fmt: skip
    assert [r.type for r in rows][-1] == "order.purged"
    assert all(r.redacted_at is not None and r.client_ip is None for r in rows[:-1])
    assert all(r.personal_hash and r.hash for r in rows)
    rep = await _report(api, oid)
    assert rep["ok"] is True, rep
    # The tombstoned rows' other content is still covered.
    await _sql(api, "UPDATE events SET type = 'part.verified' WHERE id = :i", i=ids[2])
    assert await _broken(api, oid) == (ids[2], "content_altered")
    # A tombstone on an order that was never purged is itself a break.
    oid, ids = await _order(api)
    await _sql(
        api, "UPDATE events SET client_ip = NULL, redacted_at = CURRENT_TIMESTAMP WHERE id = :i",
        i=ids[1],
    )  # fmt: skip
    assert await _broken(api, oid) == (ids[1], "tombstone_without_purge")


async def test_concurrent_writers_do_not_fork_the_chain(api: Api) -> None:
    """Writers in separate transactions append to one order at once: one chain, no fork
    (the order's row lock is taken before the head is read)."""
    oid, _ = await _order(api, qrs=0)

    async def writer(n: int) -> None:
        for i in range(n):
            async with api.app.state.ctx.sessionmaker() as db:
                bundle = await orders.load_bundle(db, oid)
                await orders.record_event(db, bundle.order, "qr.issued", data={"i": i})
                await asyncio.sleep(0)  # let the others interleave inside the transaction
                await db.commit()

    await asyncio.gather(*(writer(6) for _ in range(4)))
    async with api.app.state.ctx.sessionmaker() as db:
        rows = list(
            (await db.execute(select(Event).where(Event.order_id == oid).order_by(Event.id)))
            .scalars()
        )  # fmt: skip
    assert len(rows) == 1 + 24
    prevs = [r.prev_hash for r in rows]
    assert len(set(prevs)) == len(prevs), "two events chained after the same one: a fork"
    assert (await _report(api, oid))["ok"] is True


def _cli(api: Api, *args: str) -> subprocess.CompletedProcess[str]:
    s = api.app.state.ctx.settings
    env = {
        **os.environ, "APP_ENV": "test", "SECRET_KEY": s.secret_key,
        "DATABASE_URL": s.database_url, "DATABASE_SCHEMA": s.database_schema,
        "DATA_DIR": str(s.data_dir),
    }  # fmt: skip
    return subprocess.run(
        [sys.executable, "-m", "app", "audit", "verify", *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


async def test_the_cli_reports_the_first_broken_link(api: Api) -> None:
    good, _ = await _order(api, qrs=1)
    bad, ids = await _order(api)
    await _sql(api, "DELETE FROM events WHERE id = :i", i=ids[2])
    out = await asyncio.to_thread(_cli, api, good)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["ok"] is True
    out = await asyncio.to_thread(_cli, api, bad)
    assert out.returncode == 1, out.stderr
    rep = json.loads(out.stdout)
    assert rep["broken"]["event_id"] == ids[3] and rep["broken"]["reason"] == "link_broken"
    out = await asyncio.to_thread(_cli, api)  # every order: the broken ones, then totals
    assert out.returncode == 1, out.stderr
    lines = [json.loads(x) for x in out.stdout.splitlines()]
    assert bad in {x.get("order_id") for x in lines}
    assert good not in {x.get("order_id") for x in lines}
    assert lines[-1]["broken"] >= 1 and lines[-1]["orders"] >= 2


def test_0008_chains_existing_events_and_downgrades(tmp_path: Path) -> None:
    """Events written before 0008 are chained by the migration, order by order."""
    from alembic import command
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from sqlalchemy import create_engine

    from app.core.migrate import alembic_config
    from app.models.base import Base
    from tests.conftest import _in_thread

    db = tmp_path / "m.db"
    cfg = alembic_config(f"sqlite+aiosqlite:///{db}")
    _in_thread(command.upgrade, cfg, "0006")
    engine = create_engine(f"sqlite:///{db}")
    try:
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO providers (id, name, created_at) "
                              "VALUES ('p1', 'p', '2026-01-01')"))  # fmt: skip
            for oid in ("o1", "o2"):
                conn.execute(
                    text("INSERT INTO orders (id, provider_id, external_id, body_hash, "
                         "business_type, subject_nature, subject_name, subject_doc_type, "
                         "subject_doc_number, subject_principal_id, created_at, updated_at, "
                         "version, last_event_id) VALUES (:o, 'p1', :o, 'h', 'new_filing', "
                         "'enterprise', 'x', 'business_licence', 'x', 'pp', '2026-01-01', "
                         "'2026-01-01', 0, 0)"), {"o": oid},
                )  # fmt: skip
            for i, (oid, type_) in enumerate(
                [("o1", "order.created"), ("o2", "order.created"), ("o1", "qr.issued"),
                 ("o1", "session.opened"), ("o2", "qr.issued")], start=1,
            ):  # fmt: skip
                conn.execute(
                    text("INSERT INTO events (id, order_id, provider_id, type, data, "
                         "client_ip, created_at) VALUES (:i, :o, 'p1', :t, :d, '203.0.113.7', "
                         ":c)"),
                    {"i": i, "o": oid, "t": type_, "d": json.dumps({"n": i, "名": "核验"}),
                     "c": f"2026-11-0{i} 10:00:00.123456"},
                )  # fmt: skip
        _in_thread(command.upgrade, cfg, "head")
        with engine.connect() as conn:
            diffs = compare_metadata(MigrationContext.configure(conn), Base.metadata)
            assert [d for d in diffs if any(t in repr(d) for t in ("events", "orders",
                    "webhook_endpoints"))] == []  # fmt: skip
            for oid, n in (("o1", 3), ("o2", 2)):
                rows = list(conn.execute(
                    text("SELECT * FROM events WHERE order_id = :o ORDER BY id"), {"o": oid}
                ).mappings())  # fmt: skip
                head = conn.execute(
                    text("SELECT audit_head FROM orders WHERE id = :o"), {"o": oid}
                ).scalar_one()
                # Raw values (strings for times and JSON) as the migration saw them.
                parsed = [{**r, "data": json.loads(r["data"]),
                           "created_at": __import__("datetime").datetime.fromisoformat(
                               r["created_at"])} for r in rows]  # fmt: skip
                assert len(parsed) == n
                assert audit.verify(parsed, head, purged=False) is None
                assert head == parsed[-1]["hash"]
        _in_thread(command.downgrade, cfg, "0006")
        with engine.connect() as conn:
            cols = {r[1] for r in conn.execute(text("PRAGMA table_info(events)"))}
            assert "hash" not in cols
    finally:
        engine.dispose()
