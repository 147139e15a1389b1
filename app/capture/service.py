"""Taking one capture for a step: authorise, check, store, and commit the state change.

The checks run outside any transaction (they take hundreds of milliseconds); the state
change is then written with a conditional version update, so that two racing uploads of
the same step leave exactly one accepted material and one consistent event trail.

Transactions: the one path that commits itself rather than leaving it to the request's unit
of work (app.deps.get_db), for three reasons: the read transaction ends before the slow
checks (so no connection is held through them); a challenge is burnt at once, whatever the
capture's outcome; and the decision is committed before answering because the blobs already
stored are deleted when that commit fails (no orphan files, no 2xx for a lost write).
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import json
import math
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from app.analysis.pipeline import CaptureOutcome, DocumentExpectation
from app.capture import replay
from app.capture.upload import Form
from app.context import AppContext
from app.core.errors import AppError, Conflict, Forbidden, NotFound
from app.core.metrics import CAPTURES, CHECK_FAILURES
from app.documents.kinds import side_of
from app.documents.validators import mask_id_number, mask_name
from app.filing import extra as filing_extra
from app.filing import provinces
from app.inference.checks import Check, check
from app.liveness.challenge import ChallengeSpec
from app.mini.schemas import CaptureOut, CheckView, PrecheckOut
from app.mini.service import check_face_attempts
from app.models.orders import (
    CaptureSession,
    Challenge,
    CheckRow,
    FaceFingerprint,
    Material,
    new_id,
    utcnow,
)
from app.orders import abuse, service, state, transitions
from app.orders.materials import EXT
from app.orders.schemas import CheckOut, ProviderPrecheckOut
from app.orders.service import Bundle
from app.orders.vocabulary import BLOCKED_ZH, PRECHECK_KINDS, STEP_TITLES

# Extracted fields that identify a person: masked before they reach a phone.
_MASK: dict[str, Callable[[str], str]] = {
    "name": mask_name,
    "surname": mask_name,
    "given_names": mask_name,
    "legal_representative": mask_name,
    "id_number": mask_id_number,
    "document_number": mask_id_number,
    "birth_date": lambda v: v[:4] + "-**-**" if len(v) >= 4 else "*",
    "address": lambda v: v[:6] + "*" * max(0, len(v) - 6),
    "mrz": lambda v: "*" * len(v),
}


def mask_extracted(fields: dict[str, Any]) -> dict[str, Any]:
    return {k: (_MASK[k](str(v)) if k in _MASK and v else v) for k, v in fields.items()}


class StepUnknown(NotFound):
    code = "STEP_UNKNOWN"
    zh = "采集步骤不存在"
    en = "Unknown capture step"


def step_unknown(valid: list[str]) -> StepUnknown:
    """STEP_UNKNOWN naming the steps this session (or order) does have."""
    return StepUnknown(
        en=f"Unknown capture step; valid steps here: {', '.join(valid) or 'none'}",
        extra={"valid_steps": valid},
    )


class StepNotInScope(Forbidden):
    code = "STEP_NOT_IN_SCOPE"
    zh = "该二维码不能采集此项材料,请扫描对应的核验二维码"
    en = "This session's scope does not own this step"


class StepOutOfOrder(Conflict):
    code = "STEP_OUT_OF_ORDER"
    zh = "请按顺序完成核验步骤"
    en = "This step is not available yet"


class StepAlreadyDone(Conflict):
    code = "STEP_ALREADY_DONE"
    zh = "该步骤已完成,无需重复上传"
    en = "This step is already done"


class FileMissing(AppError):
    status = 422
    code = "FILE_MISSING"
    zh = "请选择要上传的照片"
    en = "No file in the upload"


class ChallengeRequired(AppError):
    status = 422
    code = "CHALLENGE_REQUIRED"
    zh = "请先获取动作指令后再录制人脸视频"
    en = "challenge_id is required for the face step"


class ChallengeExpired(AppError):
    status = 410
    code = "CHALLENGE_EXPIRED"
    zh = "动作指令已过期或已使用,请重新开始人脸核验"
    en = "The liveness challenge has expired or was already used"


class CaptureRejected(AppError):
    status = 422
    code = "CAPTURE_REJECTED"
    zh = "照片未通过检查,请按提示重新拍摄"
    en = "The capture did not pass its checks"
    keeps_writes = True  # the refused capture and its checks stay on record


def resolve_step(bundle: Bundle, session: CaptureSession, step_name: str) -> state.Step:
    steps = state.scope_steps(bundle.shape, session.scope)
    if step_name not in STEP_TITLES:
        raise step_unknown([s.name for s in steps])
    step = next((s for s in steps if s.name == step_name), None)
    if step is None:
        raise StepNotInScope()
    evidence = bundle.evidence
    if state.step_done(step, evidence):
        raise StepAlreadyDone()
    reason = state.blocker(bundle.shape, step, evidence)
    if reason is not None:
        raise StepOutOfOrder(zh=BLOCKED_ZH[reason], extra={"reason": reason})
    return step


def expectation(bundle: Bundle, step: state.Step) -> DocumentExpectation:
    o = bundle.order
    today = utcnow().date()
    is_unit = bundle.shape.is_unit
    if step.canonical == "subject_document":
        return DocumentExpectation(
            doc_type=o.subject_doc_type,
            side=None,
            today=today,
            subject_name=o.subject_name,
            subject_number=o.subject_doc_number,
            is_unit=is_unit,
        )
    if step.canonical == "verification_sheet":
        domains = tuple(d for w in bundle.websites for d in w.domains)
        return DocumentExpectation(
            doc_type="verification_sheet",
            side=None,
            today=today,
            subject_name=o.subject_name,
            domains=domains,
            is_unit=is_unit,
            # The province's rules: every domain on the sheet, a fingerprint, the pledge.
            **provinces.sheet_expectation(o.province, o.subject_nature),
        )
    assert step.person_id is not None
    p = bundle.principals[step.person_id]
    side = side_of(step.canonical)
    return DocumentExpectation(
        doc_type=p.doc_type,
        side=side,
        today=today,
        person_name=p.name,
        person_number=p.doc_number,
        is_unit=is_unit,
    )


async def _consume_challenge(
    db: AsyncSession, session: CaptureSession, cid: str | None
) -> Challenge:
    if not cid:
        raise ChallengeRequired()
    now = utcnow()
    row = await db.get(Challenge, cid)
    if row is None or row.session_id != session.id or row.expires_at <= now:
        raise ChallengeExpired()
    result = await db.execute(
        update(Challenge)
        .where(Challenge.id == cid, Challenge.used_at.is_(None))
        .values(used_at=now)
    )
    if not result.rowcount:  # type: ignore[attr-defined]
        raise ChallengeExpired()
    await db.commit()
    return row


def _frames(form: Form) -> list[tuple[float, bytes]] | None:
    parts = form.files.get("frames") or []
    if not parts:
        return None
    if len(parts) < 10:
        raise AppError(
            code="FRAMES_TOO_FEW",
            status=422,
            zh="人脸照片帧数不足,请重新录制",
            en="At least 10 frames are required",
        )
    raw = form.fields.get("timestamps", "")
    try:
        stamps = (
            [float(x) for x in json.loads(raw)]
            if raw.strip().startswith("[")
            else [float(x) for x in raw.split(",") if x.strip()]
        )
    except (ValueError, TypeError) as exc:
        raise AppError(
            code="TIMESTAMPS_INVALID", status=422, zh="帧时间戳格式有误", en="Bad timestamps"
        ) from exc
    if (
        len(stamps) != len(parts)
        or not all(math.isfinite(t) for t in stamps)  # "nan" and "inf" parse as floats
        or any(b < a for a, b in itertools.pairwise(stamps))
    ):
        raise AppError(
            code="TIMESTAMPS_INVALID",
            status=422,
            zh="帧时间戳格式有误",
            en="timestamps must list one increasing value (ms) per frame",
        )
    return [(t / 1000.0, bytes(p.data)) for t, p in zip(stamps, parts, strict=True)]


async def run_checks(
    ctx: AppContext, db: AsyncSession, bundle: Bundle, session: CaptureSession,
    step: state.Step, form: Form,
) -> CaptureOutcome:  # fmt: skip
    pipeline = ctx.pipeline
    if step.canonical == "face":
        video_part = form.file("video")
        frames = None if video_part else _frames(form)
        if video_part is None and frames is None:
            raise FileMissing(zh="请上传人脸视频", en="Upload `video` or `frames`")
        started = replay.captured_at(form) if frames is not None else None
        await check_face_attempts(db, session)
        ch = await _consume_challenge(db, session, form.fields.get("challenge_id"))
        actions = list(ch.actions)
        spec = ChallengeSpec.from_json(ch.spec, actions)
        digits = spec.digits
        person = bundle.principals[step.person_id or ""]
        portrait_step = state.portrait_step(
            state.PersonShape(person.id, person.doc_type, person.doc_number)
        )
        portrait_m = bundle.current(person.id, portrait_step, kind="portrait")
        portrait = (
            await asyncio.to_thread(ctx.storage.get, portrait_m.storage_key)
            if portrait_m and portrait_m.storage_key
            else None
        )
        outcome = await pipeline.face(
            video=bytes(video_part.data) if video_part else None,
            frames=frames,
            actions=actions,
            digits=digits,
            flash=spec.flash,
            portrait=portrait,
            mirrored=form.fields.get("mirrored", "").strip().lower() in ("1", "true", "yes"),
        )
        await _capture_time_and_replay(
            ctx, db, bundle, form, outcome, started, person.doc_number_hmac or None
        )
        if pipeline.face_analyzer is not None and portrait is None:
            # Without the ID portrait the live face cannot be matched: never accept that.
            outcome.checks.append(
                check("FACE_MISMATCH", False, None, None, detail={"reason": "no_portrait"})
            )
        return outcome
    part = form.file("file")
    if part is None:
        raise FileMissing()
    return await pipeline.document(bytes(part.data), expectation(bundle, step))


async def _capture_time_and_replay(
    ctx: AppContext, db: AsyncSession, bundle: Bundle, form: Form, outcome: CaptureOutcome,
    frames_started: datetime | None, person_hmac: str | None,
) -> None:  # fmt: skip
    """CAPTURE_BEFORE_CHALLENGE and REPLAY_DETECTED (app.capture.replay) for a face capture."""
    s = ctx.settings
    challenge = await db.get(Challenge, form.fields.get("challenge_id") or "")
    if challenge is not None:
        source = "captured_at" if frames_started is not None else "creation_time"
        timing = replay.capture_time_check(
            frames_started or outcome.started_at, challenge.created_at,
            s.capture_clock_skew_seconds, source,
        )  # fmt: skip
        if timing is not None:
            outcome.checks.append(timing)
    if outcome.fingerprint is not None and s.face_replay_check:
        found, outcome.replay_of = await replay.replay_check(
            db, ctx.pipeline, bundle.order.provider_id, person_hmac,
            outcome.fingerprint, days=s.face_fingerprint_days,
            max_compare=s.face_replay_max_compare, recent=s.face_replay_recent,
        )  # fmt: skip
        outcome.checks.append(found)


def _person_hmac(bundle: Bundle, step: state.Step) -> str | None:
    p = bundle.principals.get(step.person_id or "")
    return (p.doc_number_hmac or None) if p is not None else None


def _material(
    bundle: Bundle, session: CaptureSession, step: state.Step, *, kind: str, data: bytes,
    content_type: str, accepted: bool, parent_id: str | None = None,
    original_sha256: str | None = None, extracted: dict[str, Any] | None = None,
) -> Material:  # fmt: skip
    mid = new_id()
    return Material(
        id=mid,
        order_id=bundle.order.id,
        session_id=session.id,
        person_id=step.person_id,
        step=step.canonical,
        kind=kind,
        parent_id=parent_id,
        storage_key=(
            f"orders/{bundle.order.id}/"
            f"{'faces' if step.canonical == 'face' or kind == 'portrait' else 'docs'}/"
            f"{mid}.{EXT.get(content_type, 'bin')}"
        ),
        sha256=hashlib.sha256(data).hexdigest(),
        original_sha256=original_sha256,
        size=len(data),
        content_type=content_type,
        accepted=accepted,
        extracted=extracted or {},
        created_at=utcnow(),
    )


def _check_rows(material_id: str, checks: list[Check]) -> list[CheckRow]:
    return [
        CheckRow(
            material_id=material_id,
            code=c.code,
            passed=c.passed,
            score=None if c.score is None else float(c.score),
            threshold=None if c.threshold is None else float(c.threshold),
            detail=c.detail,
            model=None
            if c.model is None
            else {"name": c.model.name, "version": c.model.version, "sha256": c.model.sha256},
        )
        for c in checks
    ]


async def take_capture(
    db: AsyncSession, ctx: AppContext, session: CaptureSession, step_name: str, form: Form
) -> CaptureOut:
    """Check, store and record one capture: the answer (201), or CaptureRejected (422) with
    the same answer in the problem body."""
    bundle = await service.load_bundle(db, session.order_id)
    step = resolve_step(bundle, session, step_name)
    person = (
        bundle.principals[step.person_id] if step.canonical == "face" and step.person_id else None
    )
    if person is not None:  # failed face captures per ID number (ABUSE_CAPS)
        await abuse.face_gate(db, ctx, bundle.order, person, session)
    outcome = await run_checks(ctx, db, bundle, session, step, form)
    accepted = outcome.accepted
    if person is not None and not accepted:
        await abuse.face_failed(ctx, person)

    main = _material(
        bundle, session, step, kind="upload", data=outcome.stored,
        content_type=outcome.stored_type, accepted=accepted,
        original_sha256=outcome.original_sha256, extracted=outcome.extracted,
    )  # fmt: skip
    derived = [
        _material(
            bundle,
            session,
            step,
            kind=d.kind,
            data=d.data,
            content_type=d.content_type,
            accepted=accepted,
            parent_id=main.id,
        )
        for d in outcome.derived
    ]
    blobs = [(main, outcome.stored)] + [
        (m, d.data) for m, d in zip(derived, outcome.derived, strict=True)
    ]
    if step.canonical == "face":
        # The raw video or frames are not kept once the decision is made: only the chosen
        # frame (a derived material) and the scores remain; the hash and size stay on record.
        main.storage_key = None
        blobs = blobs[1:]
    written: list[str] = []
    try:
        for m, data in blobs:
            assert m.storage_key is not None
            # Off the event loop: on S3 a write is a network round trip.
            await asyncio.to_thread(ctx.storage.put, m.storage_key, data)
            written.append(m.storage_key)
        answer = await _commit(db, session, step, outcome, main, derived)
    except BaseException:
        await db.rollback()
        for key in written:
            await asyncio.to_thread(ctx.storage.delete, key)
        raise
    return answer


async def _write(
    db: AsyncSession, session: CaptureSession, step: state.Step, outcome: CaptureOutcome,
    main: Material, derived: list[Material], bundle: Bundle, after: state.Evidence,
    lost_race: bool,
) -> bool:  # fmt: skip
    """One attempt at writing the capture through the one writer of changes."""
    failed = [c.code for c in outcome.checks if not c.passed]

    async def stage() -> None:
        db.add(main)
        await db.flush()
        db.add_all(derived)
        db.add_all(_check_rows(main.id, outcome.checks))
        if outcome.fingerprint is not None:  # every face capture is remembered, even refused
            db.add(
                FaceFingerprint(
                    provider_id=bundle.order.provider_id, order_id=bundle.order.id,
                    person_hmac=_person_hmac(bundle, step), material_id=main.id,
                    data=outcome.fingerprint, created_at=utcnow(),
                )
            )  # fmt: skip

    def happened() -> list[transitions.Happened]:
        out: list[transitions.Happened] = []
        if outcome.replay_of is not None:
            out.append(("face.replay_detected", step.part,
                        {"step": step.name, "material_id": main.id,
                         "earlier_order_id": outcome.replay_of["order_id"],
                         "earlier_material_id": outcome.replay_of["material_id"],
                         "score": outcome.replay_of["score"]}))  # fmt: skip
        superseded = {"superseded": True} if lost_race else {}
        out.append(("capture.accepted" if main.accepted else "capture.refused", step.part,
                    {"step": step.name, "material_id": main.id, "failed": failed,
                     "sha256": main.sha256, **superseded}))  # fmt: skip
        return out

    return await transitions.apply_change(
        db, bundle, before=bundle.evidence, after=after, happened=happened, bump=main.accepted,
        stage=stage, session=session,
    )  # fmt: skip


async def _commit(
    db: AsyncSession, session: CaptureSession, step: state.Step, outcome: CaptureOutcome,
    main: Material, derived: list[Material],
) -> CaptureOut:  # fmt: skip
    order_id = session.order_id
    for _attempt in range(5):
        bundle = await service.load_bundle(db, order_id)
        before = bundle.evidence
        lost_race = main.accepted and state.step_done(step, before)
        if lost_race:
            # Another upload of this step won while we were checking: keep ours for audit.
            main.accepted = False
            for d in derived:
                d.accepted = False
        after = before | {(step.person_id, step.canonical)} if main.accepted else before

        failed = [c.code for c in outcome.checks if not c.passed]
        if not await _write(db, session, step, outcome, main, derived, bundle, after, lost_race):
            await db.rollback()
            await db.refresh(session)  # rollback expired it; reload without lazy IO
            continue
        await db.commit()
        CAPTURES.labels(step.name, "accepted" if main.accepted else "refused").inc()
        for code in failed:
            CHECK_FAILURES.labels(code).inc()
        if lost_race:
            raise StepAlreadyDone()
        steps = state.scope_steps(bundle.shape, session.scope)
        nxt = state.next_step(bundle.shape, steps, after)
        answer = CaptureOut(
            accepted=main.accepted,
            step=step.name,
            material_id=main.id,
            checks=[CheckView.of(c) for c in outcome.checks],
            extracted=mask_extracted(outcome.extracted),
            next_step=nxt.name if nxt else None,
            order_status=state.derive_status(bundle.shape, after).value,
        )
        if not main.accepted:
            # The refusal carries the same answer, through the same schema, in its body.
            first = next(c for c in outcome.checks if not c.passed)
            raise CaptureRejected(
                zh=first.message_zh, en=first.message_en, extra=answer.model_dump(mode="json")
            )
        return answer
    raise Conflict(zh="提交过于频繁,请稍后重试", en="Too much contention on this order; retry")


async def precheck_step(
    db: AsyncSession, ctx: AppContext, session: CaptureSession, step_name: str, form: Form
) -> PrecheckOut:
    """Run a document step's checks on a photo without storing it or changing state (the
    extra documents too: the letter, a domain certificate, the signed pledge photo)."""
    bundle = await service.load_bundle(db, session.order_id)
    steps = state.scope_steps(bundle.shape, session.scope)
    extra_kind = filing_extra.kind_of_step(step_name)
    if step_name not in STEP_TITLES and (
        extra_kind is None or step_name not in filing_extra.extra_step_names(bundle.shape)
    ):
        raise step_unknown([s.name for s in steps if s.canonical not in _NOT_PRECHECKED])
    step = next((s for s in steps if s.name == step_name), None)
    if step is None:
        raise StepNotInScope()
    if step.canonical == "face":
        raise AppError(
            code="PRECHECK_NOT_SUPPORTED",
            status=422,
            zh="人脸核验不支持预检",
            en="The face step cannot be pre-checked",
        )
    part = form.file("file")
    if part is None:
        raise FileMissing()
    expect = filing_extra.expectation(bundle, step) if extra_kind else expectation(bundle, step)
    outcome = await ctx.pipeline.document(bytes(part.data), expect)
    return PrecheckOut(
        accepted=outcome.accepted,
        step=step.name,
        checks=[CheckView.of(c) for c in outcome.checks],
        extracted=mask_extracted(outcome.extracted),
    )


async def precheck_provider(
    db: AsyncSession, ctx: AppContext, provider_id: str, kind: str, form: Form,
    order_id: str | None, step_name: str | None,
) -> ProviderPrecheckOut:  # fmt: skip
    """A provider's PC-upload pre-check; cross-checks with an order when one is named."""
    part = form.file("file")
    if part is None:
        raise FileMissing()
    if order_id and step_name:
        bundle = await service.load_bundle(db, order_id, provider_id)
        steps = (
            {s.name: s for s in state.scope_steps(bundle.shape, "order")} if _single(bundle) else {}
        )
        for w in bundle.shape.websites:
            steps.update({s.name: s for s in state.scope_steps(bundle.shape, f"website:{w.id}")})
        steps.update({s.name: s for s in state.scope_steps(bundle.shape, "subject")})
        step = steps.get(step_name)
        if step is None or step.canonical in _NOT_PRECHECKED:
            raise step_unknown([n for n, s in steps.items() if s.canonical not in _NOT_PRECHECKED])
        if filing_extra.kind_of_step(step.name):
            expect = filing_extra.expectation(bundle, step)
        else:
            expect = expectation(bundle, step)
    else:
        if kind not in PRECHECK_KINDS:
            raise AppError(code="KIND_INVALID", status=422, zh="证件类型有误",
                           en=f"kind must be one of {', '.join(PRECHECK_KINDS)}")  # fmt: skip
        side = side_of(kind)
        expect = DocumentExpectation(
            doc_type="resident_id" if side else kind, side=side, today=utcnow().date(),
            # Signed whatever the province (app/filing/provinces.py): the sheet, the pledge.
            signature=kind in ("verification_sheet", "pledge_photo"),
        )  # fmt: skip
    outcome = await ctx.pipeline.document(bytes(part.data), expect)
    return ProviderPrecheckOut(
        accepted=outcome.accepted,
        checks=[CheckOut.model_validate(c.as_dict()) for c in outcome.checks],
        extracted=outcome.extracted,
    )


# No photo to pre-check: the face (a video) and the pledge (a JSON confirmation).
_NOT_PRECHECKED = frozenset({"face", "pledge"})


def _single(bundle: Bundle) -> bool:
    try:
        state.scope_person(bundle.shape, "order")
    except state.ScopeNeedsSplit:
        return False
    return True
