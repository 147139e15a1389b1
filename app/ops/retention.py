"""Retention: delete what is no longer needed, keep the audit trail.

- Raw face videos are never kept: the face step stores only the chosen frame (当面核验拍照)
  and the scores; the video's hash and size stay on its material row.
- Face fingerprints (the replay memory, app.liveness.fingerprint) outlive the purge of
  their order: they are deleted FACE_FINGERPRINT_DAYS after the capture.
- Every material file, the OCR results and the people's identity data of an order are
  deleted RETENTION_DAYS after the order completes, or ABANDON_DAYS after its last change
  when it never completes. Each deletion is an event that keeps the file hashes.
- The events are kept and stay verifiable (the audit chain, app.models.audit): the purge
  blanks only their personal fields (a tombstone) and keeps those fields' hash.

Runs from ``python -m app purge`` and from a periodic task (several processes may run it:
each order is claimed with a conditional update, so only one purges it).
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.models.orders import Event, FaceFingerprint, Material, Order, utcnow
from app.orders import service, state
from app.storage import Storage


async def due_orders(
    db: AsyncSession, now: datetime, retention_days: int, abandon_days: int
) -> list[str]:
    horizon = now - timedelta(days=min(retention_days, abandon_days))
    rows = (
        await db.execute(
            select(Order.id).where(Order.purged_at.is_(None), Order.updated_at < horizon)
        )
    ).scalars()
    due = []
    bundles = await service.load_bundles(db, list(rows))
    for oid, bundle in bundles.items():
        complete = bundle.status() == state.Status.COMPLETE
        limit = retention_days if complete else abandon_days
        if bundle.order.updated_at < now - timedelta(days=limit):
            due.append(oid)
    return due


async def purge_order(db: AsyncSession, storage: Storage, order_id: str, reason: str) -> int:
    """Delete an order's files and identity data; return how many files were deleted."""
    now = utcnow()
    claimed = await db.execute(
        update(Order).where(Order.id == order_id, Order.purged_at.is_(None)).values(purged_at=now)
    )
    if not claimed.rowcount:  # type: ignore[attr-defined]
        await db.rollback()
        return 0
    bundle = await service.load_bundle(db, order_id)
    deleted = []
    for m in bundle.materials:
        if m.storage_key:
            await asyncio.to_thread(storage.delete, m.storage_key)
            deleted.append({"material_id": m.id, "step": m.step, "sha256": m.sha256})
        m.storage_key = None
        m.extracted = {}
    for p in bundle.principals.values():
        p.name = ""
        p.doc_number = ""
        p.mobile = ""
        p.doc_number_hmac = ""
        p.mobile_hmac = ""
    o = bundle.order
    if o.subject_nature == "individual":
        o.subject_name = ""
    o.subject_doc_number = ""
    # The events stay, chained: their personal fields (client address, masked phone) are
    # blanked and the row marked redacted; the hash of those fields is kept, so the audit
    # chain still verifies (app.models.audit) and the rest of each event stays checked.
    await db.execute(
        update(Event)
        .where(Event.order_id == order_id, Event.redacted_at.is_(None))
        .values(client_ip=None, phone_masked=None, redacted_at=now)
    )
    await service.record_event(db, o, "order.purged", data={"reason": reason, "files": deleted})
    await db.commit()
    return len(deleted)


async def sweep_orphans(
    db: AsyncSession, storage: Storage, *, older_than_seconds: float, now: datetime | None = None
) -> list[str]:
    """Delete stored files that no material row names, once older than ``older_than_seconds``.

    A capture writes its files before the row naming them commits, and deletes them when
    that commit fails; a process killed in between (or a folder write cut short, ``.tmp-*``)
    leaves a file no row names and no retention run would ever find. This finds them by
    listing the store order by order. The age keeps it off uploads still being checked: a
    check takes seconds, the default age is an hour. Returns the keys deleted.
    """
    cutoff = (now or utcnow()).timestamp() - older_than_seconds
    listed = await asyncio.to_thread(lambda: list(storage.list("orders/")))
    by_order: dict[str, list[tuple[str, float]]] = {}
    for key, mtime in listed:
        parts = key.split("/")
        if len(parts) >= 3 and mtime < cutoff:
            by_order.setdefault(parts[1], []).append((key, mtime))
    deleted: list[str] = []
    for order_id, files in by_order.items():
        named = set(
            (
                await db.execute(
                    select(Material.storage_key).where(
                        Material.order_id == order_id, Material.storage_key.is_not(None)
                    )
                )
            ).scalars()
        )
        for key, _ in files:
            if key not in named:
                await asyncio.to_thread(storage.delete, key)
                deleted.append(key)
    await db.rollback()  # read only: end the transaction
    return deleted


async def purge_fingerprints(db: AsyncSession, now: datetime, days: int) -> int:
    """Delete face fingerprints older than ``days`` (whatever became of their orders)."""
    result = await db.execute(
        delete(FaceFingerprint).where(FaceFingerprint.created_at < now - timedelta(days=days))
    )
    await db.commit()
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def purge_due(
    db: AsyncSession, storage: Storage, *, retention_days: int, abandon_days: int,
    fingerprint_days: int | None = None, orphan_age_seconds: float | None = None,
    now: datetime | None = None,
) -> dict[str, int]:  # fmt: skip
    now = now or utcnow()
    orders = files = 0
    for oid in await due_orders(db, now, retention_days, abandon_days):
        n = await purge_order(db, storage, oid, "retention")
        orders += 1
        files += n
    out = {"orders": orders, "files": files}
    if fingerprint_days is not None:
        out["fingerprints"] = await purge_fingerprints(db, now, fingerprint_days)
    if orphan_age_seconds is not None:
        swept = await sweep_orphans(db, storage, older_than_seconds=orphan_age_seconds, now=now)
        out["orphan_files"] = len(swept)
    return out
