"""The hash chain of an order's events (the tamper-evident audit trail).

Each event row carries

- ``personal_hash``: SHA-256 of its personal fields (client address, masked phone), so the
  retention purge can blank them (a tombstone, ``redacted_at``) and the chain still checks;
- ``prev_hash``: the ``hash`` of the order's previous event (``GENESIS`` for the first);
- ``hash``: SHA-256 over ``prev_hash`` and the event's canonical content: id, order,
  provider, type, part, session, platform, data, time and ``personal_hash``.

The order row keeps the newest ``hash`` (``orders.audit_head``): it is part of the order's
ETag and of the verification sheet's code, so a chain rewritten in the database no longer
matches what the provider was handed. Pure: hashlib and json only (the 0008 migration
backfills with these functions).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

GENESIS = "0" * 64

# The fields each part of the content is made of (names of the events table's columns).
PUBLIC_FIELDS = ("id", "order_id", "provider_id", "type", "part", "session_id", "platform",
                 "data", "created_at")  # fmt: skip
PERSONAL_FIELDS = ("client_ip", "phone_masked")


def _iso(value: datetime) -> str:
    if value.tzinfo is None:  # SQLite hands back naive UTC
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def _dumps(obj: Any) -> bytes:
    return json.dumps(obj, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()


def personal_hash(row: Mapping[str, Any]) -> str:
    return hashlib.sha256(b"heyan-event-personal:" + _dumps(
        {k: row.get(k) for k in PERSONAL_FIELDS}
    )).hexdigest()  # fmt: skip


def canonical(row: Mapping[str, Any], personal: str) -> bytes:
    content: dict[str, Any] = {k: row.get(k) for k in PUBLIC_FIELDS}
    content["id"] = int(content["id"])
    content["data"] = content["data"] or {}
    content["created_at"] = _iso(content["created_at"])
    content["personal_hash"] = personal
    return _dumps(content)


def link(previous: str, row: Mapping[str, Any], personal: str) -> str:
    h = hashlib.sha256(b"heyan-event-v1:" + previous.encode() + b":")
    h.update(canonical(row, personal))
    return h.hexdigest()


def chain(previous: str, row: Mapping[str, Any]) -> tuple[str, str]:
    """(personal_hash, hash) of a new event appended after ``previous``."""
    personal = personal_hash(row)
    return personal, link(previous, row, personal)


@dataclass(frozen=True)
class Break:
    """The first broken link: the event it is found at (None: the order row's head)."""

    event_id: int | None
    position: int  # 0-based index in id order (the number of events when at the head)
    reason: str  # content_altered | personal_altered | link_broken | unhashed | head_mismatch
    # | tombstone_without_purge

    def as_dict(self) -> dict[str, Any]:
        return {"event_id": self.event_id, "position": self.position, "reason": self.reason}


REASONS_ZH = {
    "content_altered": "事件内容被修改",
    "personal_altered": "事件中的个人信息字段被修改",
    "link_broken": "事件链断开(前一事件被删除、插入或调换顺序)",
    "unhashed": "事件缺少哈希(在链外写入)",
    "head_mismatch": "订单记录的链头与最后一个事件不符(末尾事件被删除或追加)",
    "tombstone_without_purge": "未清除的订单中出现了被抹去内容的事件",
}


def verify(rows: Iterable[Mapping[str, Any]], head: str | None, *, purged: bool) -> Break | None:
    """Check an order's events (in id order) against their hashes and the order's head.

    A row's ``prev_hash`` names the predecessor it was chained to: a mismatch with the row
    before it is a deleted, inserted or moved row (link_broken); a row whose own hash no
    longer covers its content was edited (content_altered).
    """
    previous = GENESIS
    n = 0
    for n, row in enumerate(rows, start=1):
        i, eid = n - 1, int(row["id"])
        stored, personal, prev = row.get("hash"), row.get("personal_hash"), row.get("prev_hash")
        if not stored or not personal or not prev:
            return Break(eid, i, "unhashed")
        if row.get("redacted_at") is not None:
            if not purged:
                return Break(eid, i, "tombstone_without_purge")
        elif personal_hash(row) != personal:
            return Break(eid, i, "personal_altered")
        if link(prev, row, personal) != stored:
            return Break(eid, i, "content_altered")
        if prev != previous:
            return Break(eid, i, "link_broken")
        previous = stored
    if (head or GENESIS) != previous:
        return Break(None, n, "head_mismatch")
    return None
