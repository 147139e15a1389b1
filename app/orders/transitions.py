"""The one writer of the flow's central rule: evidence changed → bump the order's version
(the conditional write that serialises racing writers) → write the rows → record what
happened and every part/status change as events → each event's webhook rows in the outbox.

Callers (a capture, a re-verify request) say what changed; nothing else bumps versions or
derives status events. Everything here joins the caller's transaction: the caller commits
once (or rolls back when :func:`apply_change` reports a lost race, then retries).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.core.errors import Conflict
from app.models.orders import CaptureSession, utcnow
from app.orders import state
from app.orders.service import (
    Bundle,
    PartInvalid,
    bump_version,
    record_event,
    status_events,
)

# (type, part, data) of one event the caller wants recorded.
Happened = tuple[str, str | None, dict[str, Any]]


async def apply_change(
    db: AsyncSession,
    bundle: Bundle,
    *,
    before: state.Evidence,
    after: state.Evidence,
    happened: Callable[[], Sequence[Happened]],
    bump: bool = True,
    stage: Callable[[], Awaitable[None]] | None = None,
    session: CaptureSession | None = None,
) -> bool:
    """Write one change of an order; False when another writer won the version race.

    ``bump`` is False for writes that change no evidence (a refused capture): they are
    recorded but need not serialise. ``stage`` adds the caller's rows once the version is
    won; ``happened`` is asked afterwards, so its events can name those rows' ids.
    """
    if bump and not await bump_version(db, bundle.order.id, bundle.order.version):
        return False
    if stage is not None:
        await stage()
    for type_, part, data in happened():
        await record_event(db, bundle.order, type_, part=part, session=session, data=data)
    for type_, part, data in status_events(bundle.shape, before, after):
        await record_event(db, bundle.order, type_, part=part, session=session, data=data)
    return True


async def reverify(db: AsyncSession, bundle: Bundle, part: str) -> None:
    """Clear a part's current evidence so it is captured again (the provider asked)."""
    try:
        if part != "subject":
            state.parse_scope(bundle.shape, part)
            if not part.startswith("website:"):
                raise state.ScopeError(part)
    except state.ScopeError:
        raise PartInvalid() from None
    keys = state.reverify_clears(bundle.shape, part)
    before = bundle.evidence
    now = utcnow()
    cleared: list[str] = []
    for m in bundle.materials:
        if m.current and (m.person_id, m.step) in keys:
            m.cleared_at = now
            cleared.append(m.id)
    if not await apply_change(
        db, bundle, before=before, after=bundle.evidence,
        happened=lambda: [("part.reverify_requested", part, {"cleared": cleared})],
    ):  # fmt: skip
        # Rolled back by the request's unit of work (app.deps.get_db), like every error.
        raise Conflict(zh="订单状态刚刚发生变化,请重试", en="The order changed; retry")
