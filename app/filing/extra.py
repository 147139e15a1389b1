"""The extra documents of a filing (#16): the 法人授权书 of a unit's service principal who is
not the legal representative, each website's 域名证书, whose holder must be the subject, and
the signed 承诺书 photographed (the sheet part's ``pledge_photo``).

Each is an upload step of its part (app/orders/state.py ``extra_steps``, ``sheet_steps``),
checked by the document library (app/documents/analyzer.py kinds ``authorisation_letter``,
``domain_certificate`` and ``pledge_photo``: the photo checks, OCR, and the cross-checks
with the order; the pledge photo's signature by the province's rules) and
written through the one writer of changes (app/orders/transitions.py), like any capture.
The upload itself is read by app/capture/extra.py (the streaming multipart reader lives in
the capture layer, above this one).
"""

from __future__ import annotations

import asyncio
import hashlib
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.analysis.pipeline import CaptureOutcome, DocumentExpectation
from app.context import AppContext
from app.core.errors import AppError, Conflict, Forbidden, NotFound
from app.documents.validators import mask_name
from app.filing import pledge, provinces
from app.inference.checks import Check
from app.mini.schemas import CaptureOut, CheckView
from app.models.orders import CaptureSession, CheckRow, Material, new_id, utcnow
from app.orders import state, transitions
from app.orders.materials import EXT
from app.orders.service import Bundle, load_bundle


class ExtraStepUnknown(NotFound):
    code = "STEP_UNKNOWN"
    zh = "采集步骤不存在"
    en = "This order does not ask for this document"


class ExtraNotInScope(Forbidden):
    code = "STEP_NOT_IN_SCOPE"
    zh = "该二维码不能采集此项材料,请扫描对应的核验二维码"
    en = "This session's scope does not own this step"


class ExtraAlreadyDone(Conflict):
    code = "STEP_ALREADY_DONE"
    zh = "该步骤已完成,无需重复上传"
    en = "This step is already done"


class ExtraRejected(AppError):
    status = 422
    code = "CAPTURE_REJECTED"
    zh = "照片未通过检查,请按提示重新拍摄"
    en = "The capture did not pass its checks"


class FileMissing(AppError):
    status = 422
    code = "FILE_MISSING"
    zh = "请选择要上传的照片"
    en = "No file in the upload"


class ExtraRace(Conflict):
    zh = "提交过于频繁,请稍后重试"
    en = "Too much contention on this order; retry"


def kind_of_step(name: str) -> str | None:
    """The document kind of an extra step's API name (None: not an extra step)."""
    if name == "authorisation_letter":
        return "authorisation_letter"
    if name == "pledge_photo":
        return "pledge_photo"
    if name.startswith("domain_certificate:"):
        return "domain_certificate"
    return None


def extra_step_names(shape: state.OrderShape) -> set[str]:
    """Every extra-document upload step the order asks for (any scope)."""
    every = {s.name for w in shape.websites for s in state.extra_steps(shape, w)}
    every |= {s.name for s in state.sheet_steps(shape) if kind_of_step(s.name)}
    return every


def resolve(bundle: Bundle, session: CaptureSession, name: str) -> state.Step:
    every = extra_step_names(bundle.shape)
    if name not in every:
        raise ExtraStepUnknown(extra={"valid_steps": sorted(every)})
    step = next((s for s in state.scope_steps(bundle.shape, session.scope) if s.name == name), None)
    if step is None:
        raise ExtraNotInScope()
    if state.step_done(step, bundle.evidence):
        raise ExtraAlreadyDone()
    return step


def expectation(bundle: Bundle, step: state.Step) -> DocumentExpectation:
    """What the order says the document shows: the unit and the authorised person (letter),
    the website's domains and the subject as holder (domain certificate), the pledge text the
    order's person reads, signed (and sealed, for a unit) as the province asks (pledge)."""
    o = bundle.order
    kind = kind_of_step(step.name)
    assert kind is not None
    today = utcnow().date()
    if kind == "pledge_photo":
        rules = provinces.rules_for(o.province, o.subject_nature)
        body = pledge.terms_of(bundle).text.partition("\n")[2]  # the title is its own check
        return DocumentExpectation(
            doc_type=kind, side=None, today=today, subject_name=o.subject_name,
            is_unit=bundle.shape.is_unit, signature=rules.signature, pledge_wording=body,
        )  # fmt: skip
    if kind == "authorisation_letter":
        assert step.person_id is not None
        return DocumentExpectation(
            doc_type=kind, side=None, today=today, subject_name=o.subject_name,
            person_name=bundle.principals[step.person_id].name, is_unit=True,
        )  # fmt: skip
    site = next(w for w in bundle.websites if step.part == f"website:{w.id}")
    domains = tuple(site.domains)
    if (one := step_domain(step.name)) is not None:
        # A per-domain step: that registered domain (or a name under it the website uses).
        domains = (one, *(d for d in site.domains if state.registered_domain(d) == one))
    return DocumentExpectation(
        doc_type=kind, side=None, today=today, subject_name=o.subject_name,
        domains=domains, is_unit=bundle.shape.is_unit,
    )  # fmt: skip


def step_domain(name: str) -> str | None:
    """The registered domain of a per-domain certificate step (None: a website's one)."""
    parts = name.split(":", 2)
    return parts[2] if len(parts) == 3 and parts[0] == "domain_certificate" else None


def covered_steps(bundle: Bundle, step: state.Step, extracted: dict[str, Any]) -> list[state.Step]:
    """The website's other per-domain certificate steps a certificate also covers: the ones
    whose domain it lists too (one certificate for several domains), not done yet."""
    if step_domain(step.name) is None:
        return []
    listed = {state.registered_domain(d) for d in str(extracted.get("domains", "")).split(",") if d}
    website = next(w for w in bundle.shape.websites if step.part == f"website:{w.id}")
    return [
        s for s in state.extra_steps(bundle.shape, website)
        if s.name != step.name and step_domain(s.name) in listed
        and not state.step_done(s, bundle.evidence)
    ]  # fmt: skip


def _phone_fields(bundle: Bundle, fields: dict[str, Any]) -> dict[str, Any]:
    """An individual's name as a domain's holder is masked like any name on a phone."""
    out = dict(fields)
    if out.get("holder") and not bundle.shape.is_unit:
        out["holder"] = mask_name(str(out["holder"]))
    return out


async def take(
    db: AsyncSession, ctx: AppContext, session: CaptureSession, name: str, data: bytes
) -> CaptureOut:
    """Check, store and record one extra document (201), or refuse it (422, kept for audit)."""
    bundle = await load_bundle(db, session.order_id)
    step = resolve(bundle, session, name)
    outcome = await ctx.pipeline.document(data, expectation(bundle, step))
    main = Material(
        id=new_id(), order_id=bundle.order.id, session_id=session.id, person_id=step.person_id,
        step=step.canonical, kind="upload", sha256=hashlib.sha256(outcome.stored).hexdigest(),
        original_sha256=outcome.original_sha256, size=len(outcome.stored),
        content_type=outcome.stored_type, accepted=outcome.accepted,
        extracted=outcome.extracted, created_at=utcnow(),
    )  # fmt: skip
    main.storage_key = (
        f"orders/{bundle.order.id}/docs/{main.id}.{EXT.get(outcome.stored_type, 'bin')}"
    )
    await asyncio.to_thread(ctx.storage.put, main.storage_key, outcome.stored)
    covers = covered_steps(bundle, step, outcome.extracted) if main.accepted else []
    try:
        body = await _commit(db, session, step, outcome, main, covers)
    except BaseException:
        await db.rollback()
        await asyncio.to_thread(ctx.storage.delete, main.storage_key)
        raise
    if not main.accepted:
        first = next(c for c in outcome.checks if not c.passed)
        raise ExtraRejected(
            zh=first.message_zh, en=first.message_en, extra=body.model_dump(mode="json")
        )
    return body


def _rows(material_id: str, checks: list[Check]) -> list[CheckRow]:
    return [
        CheckRow(
            material_id=material_id, code=c.code, passed=c.passed,
            score=None if c.score is None else float(c.score),
            threshold=None if c.threshold is None else float(c.threshold), detail=c.detail,
            model=None if c.model is None
            else {"name": c.model.name, "version": c.model.version, "sha256": c.model.sha256},
        )
        for c in checks
    ]  # fmt: skip


def _cover(main: Material, step: state.Step) -> Material:
    """The same accepted certificate recorded for another of its domains' steps (the same
    file and checks: the package names it once per domain, as filing systems ask)."""
    return Material(
        id=new_id(), order_id=main.order_id, session_id=main.session_id, person_id=None,
        step=step.canonical, kind="upload", storage_key=main.storage_key, sha256=main.sha256,
        original_sha256=main.original_sha256, size=main.size, content_type=main.content_type,
        accepted=True, extracted={**(main.extracted or {}), "covered_by": main.id},
        created_at=main.created_at,
    )  # fmt: skip


async def _commit(
    db: AsyncSession, session: CaptureSession, step: state.Step, outcome: CaptureOutcome,
    main: Material, covers: list[state.Step] | None = None,
) -> CaptureOut:  # fmt: skip
    failed = [c.code for c in outcome.checks if not c.passed]
    for _attempt in range(5):
        bundle = await load_bundle(db, session.order_id)
        before = bundle.evidence
        lost = main.accepted and state.step_done(step, before)
        if lost:
            main.accepted = False  # another upload of this step won: ours kept for audit
        also = [s for s in covers or [] if main.accepted and not state.step_done(s, before)]
        after = (
            before | {(step.person_id, step.canonical)} | {(s.person_id, s.canonical) for s in also}
            if main.accepted
            else before
        )
        copies = [_cover(main, s) for s in also]

        async def stage(copies: list[Material] = copies) -> None:
            db.add(main)
            await db.flush()
            db.add_all(_rows(main.id, outcome.checks))
            for c in copies:
                db.add(c)
                await db.flush()
                db.add_all(_rows(c.id, outcome.checks))

        def happened(
            lost: bool = lost, also: list[state.Step] = also, copies: list[Material] = copies
        ) -> list[transitions.Happened]:
            extra = {"superseded": True} if lost else {}
            covered = {"covers": [s.name for s in also]} if also else {}
            out: list[transitions.Happened] = [
                ("capture.accepted" if main.accepted else "capture.refused", step.part,
                 {"step": step.name, "material_id": main.id, "failed": failed,
                  "sha256": main.sha256, **extra, **covered})
            ]  # fmt: skip
            out += [("capture.accepted", s.part,
                     {"step": s.name, "material_id": c.id, "failed": [], "sha256": c.sha256,
                      "covered_by": main.id})
                    for s, c in zip(also, copies, strict=True)]  # fmt: skip
            return out

        if not await transitions.apply_change(
            db, bundle, before=before, after=after, happened=happened, bump=main.accepted,
            stage=stage, session=session,
        ):  # fmt: skip
            await db.rollback()
            await db.refresh(session)
            continue
        await db.commit()
        if lost:
            raise ExtraAlreadyDone()
        steps = state.scope_steps(bundle.shape, session.scope)
        nxt = state.next_step(bundle.shape, steps, after)
        return CaptureOut(
            accepted=main.accepted,
            step=step.name,
            material_id=main.id,
            checks=[CheckView.of(c) for c in outcome.checks],
            extracted=_phone_fields(bundle, outcome.extracted),
            next_step=nxt.name if nxt else None,
            order_status=state.derive_status(bundle.shape, after).value,
        )
    raise ExtraRace()
