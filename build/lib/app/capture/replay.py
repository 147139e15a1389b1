"""Capture-time checks of the face step: replay memory and capture time vs. challenge.

- REPLAY_DETECTED: the capture's fingerprint (app.liveness.fingerprint, computed by the
  pipeline from the frames it decoded for the analysis) matches one of the provider's
  earlier face captures (any order, accepted or not) within FACE_FINGERPRINT_DAYS: those of
  the same person (the order's document number, by its blind index) and the newest of
  anyone. A capture of another person's order falls outside the first set: its face must
  also match that person's ID portrait (FACE_MISMATCH), which a replay of someone else fails.
- CAPTURE_BEFORE_CHALLENGE: the capture says it started before its challenge was issued
  (a video's creation_time, the frames' ``captured_at``), beyond the clock-skew allowance.
  A capture that says nothing gets no such check: the signal is weak (a file's tags can be
  rewritten), it can only refuse, never vouch.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.analysis.pipeline import CapturePipeline
from app.capture.upload import Form
from app.core.errors import AppError
from app.inference.checks import Check, check, register_messages
from app.liveness import fingerprint as fp
from app.models.orders import FaceFingerprint, utcnow

REPLAY_DETECTED = "REPLAY_DETECTED"
CAPTURE_BEFORE_CHALLENGE = "CAPTURE_BEFORE_CHALLENGE"

register_messages(
    {
        REPLAY_DETECTED: (
            "检测到重复提交的视频,请本人实时重新录制",
            "This video was submitted before; record a new one yourself, live",
        ),
        CAPTURE_BEFORE_CHALLENGE: (
            "视频录制时间早于动作指令下发时间,请获取指令后实时录制",
            "The capture started before its challenge was issued; record after the prompt",
        ),
    }
)


def captured_at(form: Form) -> datetime | None:
    """The optional ``captured_at`` form field (epoch ms of the first frame) as UTC."""
    raw = (form.fields.get("captured_at") or "").strip()
    if not raw:
        return None
    try:
        ms = float(raw)
        if not math.isfinite(ms) or ms <= 0:
            raise ValueError(raw)
        return datetime.fromtimestamp(ms / 1000.0, tz=UTC)
    except (ValueError, OverflowError, OSError) as exc:
        raise AppError(
            code="CAPTURED_AT_INVALID",
            status=422,
            zh="采集时间格式有误",
            en="captured_at must be the first frame's time in epoch milliseconds",
        ) from exc


def capture_time_check(
    started_at: datetime | None, challenge_issued: datetime, skew_seconds: float, source: str
) -> Check | None:
    """CAPTURE_BEFORE_CHALLENGE, or None when the capture does not say when it started."""
    if started_at is None:
        return None
    lead = (challenge_issued - started_at).total_seconds()  # > 0: started before the challenge
    return check(
        CAPTURE_BEFORE_CHALLENGE,
        lead <= skew_seconds,
        round(lead, 3),
        skew_seconds,
        detail={"source": source},
    )


async def replay_check(
    db: AsyncSession,
    pipeline: CapturePipeline,
    provider_id: str,
    person_hmac: str | None,
    fingerprint: bytes,
    *,
    days: int,
    max_compare: int,
    recent: int,
) -> tuple[Check, dict[str, Any] | None]:
    """Compare with the provider's earlier fingerprints: the same person's newest
    ``max_compare`` and anyone's newest ``recent``; the check and the matched capture."""
    since = utcnow() - timedelta(days=days)
    cols = (FaceFingerprint.id, FaceFingerprint.order_id, FaceFingerprint.material_id)
    base = (
        select(*cols, FaceFingerprint.data)
        .where(FaceFingerprint.provider_id == provider_id, FaceFingerprint.created_at > since)
        .order_by(FaceFingerprint.created_at.desc())
    )
    rows = list((await db.execute(base.limit(recent))).all()) if recent else []
    if person_hmac:
        rows += (
            await db.execute(
                base.where(FaceFingerprint.person_hmac == person_hmac).limit(max_compare)
            )
        ).all()
    seen: set[str] = set()
    earlier = []
    for r in rows:
        if r.id not in seen:
            seen.add(r.id)
            earlier.append((r.order_id, r.material_id, r.data))
    # End the read transaction before the comparisons: they take a while and the checks run
    # outside any transaction (app.capture.service); nothing is pending at this point.
    await db.commit()
    score, which = await pipeline.run(_best, fingerprint, earlier)
    passed = score < fp.THRESHOLD
    detail: dict[str, Any] = {"compared": len(earlier)}
    found = None
    if not passed and which is not None:
        found = {"order_id": which[0], "material_id": which[1], "score": round(score, 4)}
    return check(REPLAY_DETECTED, passed, round(score, 4), fp.THRESHOLD, detail=detail), found


def _best(
    data: bytes, earlier: list[tuple[str, str, bytes]]
) -> tuple[float, tuple[str, str] | None]:
    """The highest match score over ``earlier`` (in the inference pool: pure CPU work)."""
    mine = fp.Fingerprint.from_bytes(data)
    best, which = 0.0, None
    for order_id, material_id, blob in earlier:
        try:
            other = fp.Fingerprint.from_bytes(blob)
        except ValueError:  # another fingerprint version: not comparable
            continue
        score = fp.match(mine, other)
        if score > best:
            best, which = score, (order_id, material_id)
            if best >= 0.99:
                break
    return best, which
