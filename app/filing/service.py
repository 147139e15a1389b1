"""Filing step: issuing and checking verification sheets; the SMS-check round and its sweep."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime, timedelta
from typing import Any

from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.core.errors import AppError, Conflict, NotFound
from app.documents.validators import mask_mobile, mask_name
from app.filing import sms
from app.filing.schemas import SheetCheckOut, SmsOut, SmsPersonOut
from app.filing.sheet import (
    INTAKE_ONLY,
    Sheet,
    build_sheet,
    content_hash,
    normalize_code,
    sheet_data,
)
from app.models.filing import FilingSheet, SmsPerson, SmsRound
from app.models.orders import CheckRow, Event, Order, utcnow
from app.orders import method, state
from app.orders.schemas import BusinessType
from app.orders.service import Bundle, checks_for, load_bundle, record_event
from app.storage import Storage

log = logging.getLogger("heyan.filing")


class FilingSettings(BaseSettings):
    """SMS_SWEEPER=false turns the deadline sweep off in this process."""

    model_config = SettingsConfigDict(extra="ignore")
    sms_sweeper: bool = True
    sms_sweep_seconds: float = 60.0


class OrderNotComplete(Conflict):
    code = "ORDER_NOT_COMPLETE"
    zh = "核验尚未完成,不能提交管局"
    en = "The order is not complete"


class NotSubmitted(Conflict):
    code = "ORDER_NOT_SUBMITTED"
    zh = "订单尚未提交管局"
    en = "The order has not been submitted to the authority"


class SmsPersonInvalid(AppError):
    status = 422
    code = "SMS_PERSON_INVALID"
    zh = "该人员无需进行短信核验"
    en = "This person is not required to do the SMS check"


class SmsDeadlinePassed(Conflict):
    code = "SMS_DEADLINE_PASSED"
    zh = "短信核验已超过24小时时限,备案将被退回"
    en = "The SMS-check deadline has passed"


class SheetNotFound(NotFound):
    code = "SHEET_NOT_FOUND"
    zh = "核验码不存在"
    en = "No verification sheet has this code"


# --------------------------------------------------------------------------------------
# Verification sheet


async def order_events(db: AsyncSession, order_id: str) -> list[Event]:
    rows = await db.execute(select(Event).where(Event.order_id == order_id).order_by(Event.id))
    return list(rows.scalars())


async def sheet_checks(db: AsyncSession, bundle: Bundle) -> dict[str, list[CheckRow]]:
    """The check rows of the sheet's materials: what the sheet may say was done."""
    return await checks_for(db, method.current_uploads(bundle.materials))


async def record_sheet(db: AsyncSession, order_id: str, sheet: Sheet) -> FilingSheet:
    """Remember an issued sheet's code (the same content gives the same code: kept once)."""
    row = await db.get(FilingSheet, sheet.code)
    if row is None:
        row = FilingSheet(
            code=sheet.code,
            order_id=order_id,
            content_hash=sheet.content_hash,
            pdf_sha256=sheet.sha256,
            status=sheet.recorded_status,
            issued_at=utcnow(),
        )
        db.add(row)
        try:
            await db.flush()  # committed by the request's unit of work
        except IntegrityError:
            # Two requests issued the same sheet at once: the other one's row stands.
            await db.rollback()
            found = await db.get(FilingSheet, sheet.code)
            assert found is not None
            return found
    elif row.pdf_sha256 != sheet.sha256:
        # Same content rendered differently (a library upgrade): the newest file is the one.
        row.pdf_sha256 = sheet.sha256
    return row


async def issue_sheet(
    db: AsyncSession, bundle: Bundle, storage: Storage, signing_key: str, run: Any = None
) -> tuple[Sheet, FilingSheet]:
    """Render the sheet (in ``run``, a thread pool, when given) and record its code."""
    events = await order_events(db, bundle.order.id)
    checks = await sheet_checks(db, bundle)
    if run is not None:
        sheet = await run(build_sheet, bundle, storage, events, checks, signing_key)
    else:
        # Off the event loop all the same: it renders a PDF and reads photos from storage.
        sheet = await asyncio.to_thread(build_sheet, bundle, storage, events, checks, signing_key)
    return sheet, await record_sheet(db, bundle.order.id, sheet)


async def sheet_file(
    db: AsyncSession, bundle: Bundle, storage: Storage, signing_key: str
) -> tuple[str, bytes]:
    """For package.zip: the sheet's file name and bytes, with its code recorded."""
    sheet, _ = await issue_sheet(db, bundle, storage, signing_key)
    return f"电子核验单-{bundle.order.external_id}.pdf", sheet.pdf


async def verify_sheet(db: AsyncSession, code: str) -> SheetCheckOut:
    """The public check of a printed code: no personal data beyond a masked subject name."""
    row = await db.get(FilingSheet, normalize_code(code)[:16])
    if row is None:
        raise SheetNotFound()
    bundle = await load_bundle(db, row.order_id)
    events = await order_events(db, row.order_id)
    checks = await sheet_checks(db, bundle)
    now_status = bundle.status()
    intake_only = row.status.endswith(INTAKE_ONLY)
    sheet_status = row.status.removesuffix(INTAKE_ONLY)
    return SheetCheckOut(
        code=row.code,
        external_id=bundle.order.external_id,
        subject_name=mask_name(bundle.order.subject_name),
        sheet_status=sheet_status,
        # Intake-only evidence (no recognition, liveness or face match): never complete.
        sheet_checks="intake_only" if intake_only else "full",
        sheet_complete=sheet_status == state.Status.COMPLETE.value and not intake_only,
        order_status=now_status.value,
        # False once the evidence changed after issue (a re-verify, a new capture).
        current=content_hash(sheet_data(bundle, events, checks)) == row.content_hash,
        issued_at=row.issued_at,
        pdf_sha256=row.pdf_sha256,
    )


# --------------------------------------------------------------------------------------
# SMS check (短信核验)


def required_for(bundle: Bundle) -> list[sms.Required]:
    o = bundle.order
    sp = bundle.principals[o.subject_principal_id]
    wps: list[sms.Person] = []
    for w in bundle.websites:
        p = bundle.principals[w.principal_id]
        if p.id not in [x.id for x in wps]:
            wps.append(sms.Person(p.id, p.mobile))
    return sms.required_people(o.business_type, sms.Person(sp.id, sp.mobile), wps)


async def submit(db: AsyncSession, bundle: Bundle, now: datetime | None = None) -> bool:
    """Mark the order submitted to the authority and open the SMS round; idempotent."""
    if await db.get(SmsRound, bundle.order.id) is not None:
        return False
    if bundle.status() != state.Status.COMPLETE:
        raise OrderNotComplete()
    now = now or utcnow()
    required = required_for(bundle)
    o = bundle.order
    db.add(
        SmsRound(
            order_id=o.id,
            provider_id=o.provider_id,
            business_type=o.business_type,
            submitted_at=now,
            approaching_at=now + timedelta(hours=sms.APPROACHING_HOURS),
            deadline_at=now + timedelta(hours=sms.DEADLINE_HOURS),
            completed_at=None if required else now,
        )
    )
    try:
        await db.flush()
        db.add_all(
            SmsPerson(order_id=o.id, person_id=r.person_id, roles=",".join(r.roles))
            for r in required
        )
        await record_event(
            db,
            o,
            "order.submitted",
            data={
                "business_type": o.business_type,
                "deadline_at": (now + timedelta(hours=sms.DEADLINE_HOURS)).isoformat(),
                "sms_required": [
                    {"person_id": r.person_id, "roles": list(r.roles)} for r in required
                ],
            },
        )
        await db.flush()  # committed by the request's unit of work
    except IntegrityError:
        await db.rollback()  # a concurrent submit won: same outcome
        return False
    return True


def _expired(rnd: SmsRound, now: datetime) -> bool:
    # The sweep's flag counts too: it is what the provider was told by webhook.
    return now >= rnd.deadline_at or rnd.expired_sent_at is not None


def _person_state(p: SmsPerson, rnd: SmsRound, now: datetime) -> str:
    if p.done_at is not None:
        return "done"
    return "expired" if _expired(rnd, now) else "pending"


async def sms_view(db: AsyncSession, bundle: Bundle, now: datetime | None = None) -> SmsOut:
    now = now or utcnow()
    o = bundle.order
    rule = sms.SMS_RULES[BusinessType(o.business_type)]
    rnd = await db.get(SmsRound, o.id, populate_existing=True)

    def person_out(pid: str, roles: list[str], st: str, done_at: datetime | None) -> SmsPersonOut:
        p = bundle.principals[pid]
        return SmsPersonOut(
            person_id=pid,
            roles=roles,
            name=mask_name(p.name),
            mobile=mask_mobile(p.mobile),
            state=st,
            done_at=done_at,
        )

    if rnd is None:
        people = [
            person_out(r.person_id, list(r.roles), "not_submitted", None)
            for r in required_for(bundle)
        ]
        return SmsOut(
            state="not_submitted" if people else "not_required",
            rule=rule.zh,
            submitted_at=None,
            deadline_at=None,
            people=people,
        )
    rows = list(
        (
            await db.execute(
                select(SmsPerson)
                .where(SmsPerson.order_id == o.id)
                .order_by(SmsPerson.roles.desc(), SmsPerson.person_id)
                .execution_options(populate_existing=True)
            )
        ).scalars()
    )
    people = [
        person_out(p.person_id, p.roles.split(","), _person_state(p, rnd, now), p.done_at)
        for p in rows
    ]
    if not rows:
        overall = "not_required"
    elif all(p.state == "done" for p in people):
        overall = "done"
    elif _expired(rnd, now):
        overall = "expired"
    else:
        overall = "pending"
    return SmsOut(
        state=overall,
        rule=rule.zh,
        submitted_at=rnd.submitted_at,
        deadline_at=rnd.deadline_at,
        people=people,
    )


async def sms_done(
    db: AsyncSession, bundle: Bundle, person_id: str, done_at: datetime | None = None
) -> bool:
    """Record that a person finished the SMS check; idempotent (event sms.done once)."""
    o = bundle.order
    rnd = await db.get(SmsRound, o.id, populate_existing=True)
    if rnd is None:
        raise NotSubmitted()
    person = await db.get(SmsPerson, (o.id, person_id), populate_existing=True)
    if person is None:
        raise SmsPersonInvalid()
    if person.done_at is not None:
        return False
    now = utcnow()
    # A provider may report late a check that was done in time (done_at before the deadline).
    if done_at is None and _expired(rnd, now):
        raise SmsDeadlinePassed()
    done_at = min(done_at or now, now)
    if done_at > rnd.deadline_at:
        raise SmsDeadlinePassed()
    won = await db.execute(
        update(SmsPerson)
        .where(
            SmsPerson.order_id == o.id,
            SmsPerson.person_id == person_id,
            SmsPerson.done_at.is_(None),
        )
        .values(done_at=done_at)
    )
    if not won.rowcount:  # type: ignore[attr-defined]
        await db.rollback()
        return False
    await record_event(
        db, o, "sms.done", data={"person_id": person_id, "roles": person.roles.split(",")}
    )
    left = (
        await db.execute(
            select(SmsPerson.person_id).where(
                SmsPerson.order_id == o.id, SmsPerson.done_at.is_(None)
            )
        )
    ).first()
    if left is None:
        finished = await db.execute(
            update(SmsRound)
            .where(SmsRound.order_id == o.id, SmsRound.completed_at.is_(None))
            .values(completed_at=now)
        )
        if finished.rowcount:  # type: ignore[attr-defined]
            await record_event(db, o, "sms.completed", data={})
    return True


async def _flag_once(db: AsyncSession, order_id: str, column: Any, now: datetime) -> bool:
    result = await db.execute(
        update(SmsRound)
        .where(SmsRound.order_id == order_id, column.is_(None), SmsRound.completed_at.is_(None))
        .values({column.key: now})
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def sweep_sms_deadlines(
    db: AsyncSession, now: datetime | None = None
) -> list[tuple[str, str]]:
    """Emit sms.deadline_approaching (20 h) and sms.expired (24 h) once per order.

    Each flag is taken by a conditional UPDATE ... WHERE flag IS NULL in the same transaction
    as its event, so with several processes sweeping, exactly one of them emits it. A sweep
    that first sees an order after its deadline emits both, in order, the first marked late.
    Returns the (order_id, event type) pairs this call emitted.
    """
    now = now or utcnow()
    due = list(
        (
            await db.execute(
                select(SmsRound.order_id, SmsRound.deadline_at)
                .where(
                    SmsRound.completed_at.is_(None),
                    (
                        (SmsRound.approaching_sent_at.is_(None) & (SmsRound.approaching_at <= now))
                        | (SmsRound.expired_sent_at.is_(None) & (SmsRound.deadline_at <= now))
                    ),
                )
                .order_by(SmsRound.deadline_at)
                .limit(500)
            )
        ).all()
    )
    emitted: list[tuple[str, str]] = []
    for order_id, deadline_at in due:
        order = await db.get(Order, order_id)
        if order is None:
            continue
        data = {"deadline_at": deadline_at.isoformat()}
        if await _flag_once(db, order_id, SmsRound.approaching_sent_at, now):
            late = {"late": True} if now >= deadline_at else {}
            await record_event(db, order, "sms.deadline_approaching", data={**data, **late})
            emitted.append((order_id, "sms.deadline_approaching"))
        if now >= deadline_at and await _flag_once(db, order_id, SmsRound.expired_sent_at, now):
            await record_event(db, order, "sms.expired", data=data)
            emitted.append((order_id, "sms.expired"))
        await db.commit()
    return emitted


class SmsSweeper:
    """One periodic sweep task per process; several processes are safe (see the sweep)."""

    def __init__(self, maker: async_sessionmaker[AsyncSession], interval: float) -> None:
        self.maker = maker
        self.interval = interval
        self.task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.task = asyncio.create_task(self._loop(), name="sms-sweeper")

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                async with self.maker() as db:
                    await sweep_sms_deadlines(db)
            except Exception:
                log.exception("SMS deadline sweep failed")

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task


def start_sms_sweeper(maker: async_sessionmaker[AsyncSession]) -> SmsSweeper | None:
    cfg = FilingSettings()
    if not cfg.sms_sweeper:
        return None
    sweeper = SmsSweeper(maker, cfg.sms_sweep_seconds)
    sweeper.start()
    return sweeper
