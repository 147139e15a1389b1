"""Operations endpoints: /healthz (the process is up), /readyz (database, storage and
migrations), /metrics (Prometheus, merged over the workers of one `serve`)."""

from __future__ import annotations

import asyncio
import logging

from fastapi import APIRouter, Request, Response
from fastapi.responses import PlainTextResponse
from sqlalchemy import func, select, text

from app.context import AppContext
from app.core.metrics import WEBHOOK_BACKLOG, exposition
from app.core.migrate import head_revision
from app.models.webhooks import WebhookDelivery
from app.ops.schemas import HealthOut, ReadyOut

log = logging.getLogger("heyan")
router = APIRouter()


@router.get("/healthz", tags=["ops"], response_model=HealthOut)
async def healthz() -> HealthOut:
    """Report that the process is up."""
    return HealthOut(status="ok")


@router.get("/metrics", tags=["ops"], response_class=PlainTextResponse)
async def metrics(request: Request) -> PlainTextResponse:
    """Expose Prometheus metrics: of this process, or merged over every worker when
    several share the port (PROMETHEUS_MULTIPROC_DIR, set by `serve --workers N`)."""
    ctx: AppContext = request.app.state.ctx
    try:
        async with ctx.sessionmaker() as db:
            backlog = await db.scalar(
                select(func.count())
                .select_from(WebhookDelivery)
                .where(WebhookDelivery.status.in_(["pending", "failed"]))
            )
        WEBHOOK_BACKLOG.set(backlog or 0)
    except Exception:
        log.warning("metrics: webhook backlog unavailable")
    return PlainTextResponse(exposition(), media_type="text/plain; version=0.0.4")


@router.get(
    "/readyz",
    tags=["ops"],
    response_model=ReadyOut,
    response_model_exclude_unset=True,  # each answer names only what it checked
    responses={
        503: {
            "description": "Database or storage unreachable, migrations pending (plain JSON)",
            "model": ReadyOut,
        }
    },
)
async def readyz(request: Request, response: Response) -> ReadyOut:
    """Report whether the database and the storage are reachable, migrations at head."""
    ctx: AppContext = request.app.state.ctx
    try:
        async with ctx.engine.connect() as conn:
            current = (
                await conn.execute(text("SELECT version_num FROM alembic_version"))
            ).scalar_one_or_none()
    except Exception:
        response.status_code = 503
        return ReadyOut(status="unavailable", database="unreachable")
    try:
        # One HEAD on the bucket (S3) or a writable-folder check, answered within 5 s.
        await asyncio.wait_for(asyncio.to_thread(ctx.storage.ping), timeout=5)
    except Exception as exc:
        log.warning("readyz: storage unreachable: %r", exc)
        response.status_code = 503
        return ReadyOut(status="unavailable", storage="unreachable")
    head = head_revision()
    ok = current == head
    response.status_code = 200 if ok else 503
    return ReadyOut(status="ok" if ok else "migrations_pending", revision=current, head=head)
