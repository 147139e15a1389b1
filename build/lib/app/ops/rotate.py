"""Key rotation: re-encrypt every encrypted column and material file under the newest keys.

The columns: names, ID numbers and mobiles (orders, principals), OCR results (materials),
the webhook signing secrets (webhook_endpoints) and, under the face keyring, the face
fingerprints (face_fingerprints).

Run with ``python -m app keys rotate`` after appending a new key to DATA_KEYS or
FACE_DATA_KEYS. It works in batches and can be interrupted and run again: values and files
already under the newest key are skipped.
"""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import Text, select, type_coerce, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.models.orders import FaceFingerprint, Material, Order, Principal
from app.models.webhooks import WebhookEndpoint
from app.security import crypto
from app.storage import EncryptedStorage

ENCRYPTED: list[tuple[Any, list[str]]] = [
    (Order, ["subject_name", "subject_doc_number"]),
    (Principal, ["name", "doc_number", "mobile"]),
    (Material, ["extracted"]),
    (WebhookEndpoint, ["secret"]),
    (FaceFingerprint, ["data"]),
]
# The keyring of each table's columns when it is not "fields".
PURPOSE: dict[Any, str] = {FaceFingerprint: "faces"}


async def rotate(db: AsyncSession, storage: EncryptedStorage, batch: int = 200) -> dict[str, int]:
    counts = {"rows": 0, "files": 0}
    for model, columns in ENCRYPTED:
        current = crypto.keyring(PURPOSE.get(model, "fields")).current_kid
        table = model.__table__
        last = ""
        while True:
            # The ciphertext as stored (type_coerce skips the decrypting TypeDecorator).
            raw = (
                (
                    await db.execute(
                        select(
                            table.c.id, *[type_coerce(table.c[c], Text).label(c) for c in columns]
                        )
                        .where(table.c.id > last)
                        .order_by(table.c.id)
                        .limit(batch)
                    )
                )
                .mappings()
                .all()
            )
            if not raw:
                break
            last = raw[-1]["id"]
            stale = [
                r["id"]
                for r in raw
                if any(r[c] is not None and crypto.Keyring.kid_of(r[c]) != current for c in columns)
            ]
            if stale:
                for obj in (await db.execute(select(model).where(model.id.in_(stale)))).scalars():
                    await db.execute(
                        update(model)
                        .where(model.id == obj.id)
                        .values({c: getattr(obj, c) for c in columns})
                    )
                    counts["rows"] += 1
                await db.commit()
    last = ""
    while True:
        ms = (
            await db.execute(
                select(Material.id, Material.storage_key)
                .where(Material.id > last, Material.storage_key.is_not(None))
                .order_by(Material.id)
                .limit(batch)
            )
        ).all()
        if not ms:
            break
        last = ms[-1][0]
        for _, key in ms:
            if key is None or not await asyncio.to_thread(storage.exists, key):
                continue
            # Both file formats (whole-file and chunked stream), on any storage backend.
            if await asyncio.to_thread(storage.reencrypt, key):
                counts["files"] += 1
    return counts
