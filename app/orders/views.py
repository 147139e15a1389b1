"""The provider's views of an order, built as their response models (app/orders/schemas.py):
the order, its materials, its events, a check. Endpoints return these; FastAPI validates
an instance of the declared model once (no revalidation) and serialises it."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.inference.checks import message_for
from app.models.orders import CheckRow, Event, Material, Principal
from app.orders import materials, method, state
from app.orders.schemas import (
    CheckOut,
    DocumentOut,
    EventOut,
    MaterialListItem,
    MaterialOut,
    MethodOut,
    OrderOut,
    PartOut,
    PledgeRecord,
    PrincipalOut,
    ServiceOut,
    StepOut,
    SubjectOut,
    WebsiteOut,
)
from app.orders.service import Bundle, checks_for


def check_out(r: CheckRow) -> CheckOut:
    """A stored check as the provider sees it (message only when it failed)."""
    zh, en = message_for(r.code)
    return CheckOut(
        code=r.code,
        passed=r.passed,
        score=r.score,
        threshold=r.threshold,
        message_zh="" if r.passed else zh,
        message_en="" if r.passed else en,
        detail=r.detail or None,
        model=r.model,
    )


def pledge_record(m: Material) -> PledgeRecord:
    """What the pledge material records (app/filing/pledge.py writes it)."""
    x = m.extracted or {}
    return PledgeRecord(
        version=x.get("version", ""),
        kind=x.get("kind", ""),
        text_sha256=m.sha256,
        accepted_by=x.get("person_id", ""),
        role=x.get("role", ""),
        session_id=m.session_id,
        accepted_at=m.created_at,
        client_accepted_at=x.get("client_accepted_at"),
    )


def _principal_out(p: Principal) -> PrincipalOut:
    return PrincipalOut(
        id=p.id,
        name=p.name,
        document=DocumentOut(type=p.doc_type, number=p.doc_number),
        mobile=p.mobile,
    )


def method_out(how: method.Method) -> MethodOut:
    return MethodOut.model_validate(how.as_dict())


def _material_out(m: Material) -> MaterialOut:
    return MaterialOut(
        id=m.id,
        step=m.step,
        kind=m.kind,
        person_id=m.person_id,
        accepted=m.accepted,
        cleared=m.cleared_at is not None,
        sha256=m.sha256,
        size=m.size,
        content_type=m.content_type,
        captured_at=m.created_at,
    )


async def order_view(db: AsyncSession, b: Bundle) -> OrderOut:
    """The provider's full view of an order (unmasked: the provider owns this data)."""
    evidence = b.evidence
    shape = b.shape
    current_ids = [m.id for m in b.materials if m.current]
    checks = await checks_for(db, current_ids)
    how = method.derive(b.materials, checks)

    def step_out(s: state.Step) -> StepOut:
        m = b.current(s.person_id, s.canonical)
        return StepOut(
            step=s.name,
            person_id=s.person_id,
            done=state.step_done(s, evidence),
            material_id=m.id if m else None,
            checks=[check_out(r) for r in checks.get(m.id, [])] if m else [],
            pledge=pledge_record(m) if s.canonical == "pledge" and m is not None else None,
        )

    parts_now = state.parts(shape, evidence)
    parts_out = [
        PartOut(
            part="subject",
            done=parts_now.subject,
            steps=[step_out(s) for s in state.subject_steps(shape)],
        )
    ]
    for w in shape.websites:
        parts_out.append(
            PartOut(
                part=f"website:{w.id}",
                done=parts_now.websites[w.id],
                steps=[step_out(s) for s in state.website_steps(shape, w)],
            )
        )
    sheet_steps = state.sheet_steps(shape)
    if state.PLEDGE_STEP not in sheet_steps and b.current(*state.PLEDGE_KEY) is not None:
        sheet_steps.insert(0, state.PLEDGE_STEP)  # confirmed though not asked: shown as done
    parts_out.append(
        PartOut(part="sheet", done=parts_now.sheet, steps=[step_out(s) for s in sheet_steps])
    )
    status = state.derive_status(shape, evidence)
    o = b.order
    return OrderOut(
        id=o.id,
        external_id=o.external_id,
        business_type=o.business_type,
        status=status.value,
        status_zh=state.STATUS_ZH[status],
        subject=SubjectOut(
            nature=o.subject_nature,
            name=o.subject_name,
            document=DocumentOut(type=o.subject_doc_type, number=o.subject_doc_number),
            province=o.province,
            principal=_principal_out(b.principals[o.subject_principal_id]),
        ),
        websites=[
            WebsiteOut(
                id=w.id,
                name=w.name,
                domains=w.domains,
                principal=_principal_out(b.principals[w.principal_id]),
            )
            for w in b.websites
            if w.kind == "website"
        ],
        services=[
            ServiceOut(
                id=w.id,
                kind=w.kind,
                name=w.name,
                domains=w.domains,
                attrs=w.attrs or {},
                principal=_principal_out(b.principals[w.principal_id]),
            )
            for w in b.websites
        ],
        requirements=dict(o.requirements or {}),
        parts=parts_out,
        # What the recorded checks show was done (intake-only evidence says so).
        verification_method=method_out(how),
        materials=[_material_out(m) for m in b.materials if m.storage_key is not None],
        created_at=o.created_at,
        updated_at=o.updated_at,
        cursor=o.last_event_id,
    )


async def material_list(db: AsyncSession, b: Bundle) -> list[MaterialListItem]:
    """The stored materials with their checks and extracted fields."""
    stored = [m for m in b.materials if m.storage_key is not None]
    checks = await checks_for(db, [m.id for m in stored])
    return [
        MaterialListItem(
            **_material_out(m).model_dump(),
            label=materials.material_label(b, m),
            original_sha256=m.original_sha256,
            extracted=m.extracted,
            checks=[check_out(r) for r in checks.get(m.id, [])],
        )
        for m in stored
    ]


def event_out(e: Event) -> EventOut:
    return EventOut(
        id=e.id,
        type=e.type,
        part=e.part,
        session_id=e.session_id,
        platform=e.platform,
        phone_masked=e.phone_masked,
        client_ip=e.client_ip,
        data=e.data,
        created_at=e.created_at,
    )


def check_dict(r: CheckRow) -> dict[str, Any]:
    """A stored check as the materials package's manifest records it (the same fields)."""
    return check_out(r).model_dump()
