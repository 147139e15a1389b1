"""The 承诺书 step (备案真实性承诺书确认): the pledge text a person reads in the session, and
its acceptance recorded as evidence of the order's sheet part.

The text depends on the order only through its subject's nature (unit or individual), its
business type (named in the text) and, for individuals, the province's handwritten pledge
(app/filing/provinces.py: 广东 individuals copy a set wording onto the paper sheet). It holds
no name or number, so a phone may show it as is. Its SHA-256 is what the person echoes back
(POST /m/v1/pledge) to show they accepted exactly the text they were shown, as the face
consent is; the accepted text itself is stored as the material (UTF-8), so the package and
the sheet carry exactly what was accepted.

The wording is ours, drafted from the published filing rules (工信部《互联网信息服务管理办法》,
《非经营性互联网信息服务备案管理办法》, 工信部信管〔2023〕105号): a deployment confirms it with
its lawyers and bumps ``PLEDGE_VERSION`` when it changes it.
"""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from app.context import AppContext
from app.core.errors import AppError, Conflict, Forbidden
from app.filing import provinces
from app.filing.schemas import PledgeAccepted, PledgeOut
from app.filing.sheet import BUSINESS_ZH
from app.models.orders import CaptureSession, Material, new_id, utcnow
from app.orders import state, transitions
from app.orders.service import Bundle, load_bundle
from app.orders.views import pledge_record

PLEDGE_VERSION = "2026-12"
TITLE = "备案真实性承诺书"
CONTENT_TYPE = "text/plain; charset=utf-8"


_UNIT = (
    "本单位郑重承诺:",
    "一、本单位本次办理{business}业务所提交的主办单位信息、负责人信息及网站、APP、小程序、快应用"
    "等互联网信息服务信息真实、准确、完整,所提交的证件均为原件拍摄,真实有效;",
    "二、网站负责人及各项服务负责人均已知悉并同意本次备案,由本人完成核验,未由他人代为核验;",
    "三、本单位已知晓并遵守《中华人民共和国网络安全法》《互联网信息服务管理办法》"
    "《非经营性互联网信息服务备案管理办法》等法律法规,不利用所办服务从事违法违规活动;",
    "四、备案信息发生变化时,本单位将及时办理变更手续;",
    "五、如有虚假,本单位愿意承担由此产生的一切法律责任,并同意注销相关备案。",
)
_INDIVIDUAL = (
    "本人郑重承诺:",
    "一、本人本次办理{business}业务所提交的个人信息及网站、APP、小程序、快应用等互联网信息服务"
    "信息真实、准确、完整,所提交的证件为本人证件原件拍摄,真实有效;",
    "二、本次核验由本人亲自完成,未受他人委托或代他人核验;",
    "三、本人已知晓并遵守《中华人民共和国网络安全法》《互联网信息服务管理办法》"
    "《非经营性互联网信息服务备案管理办法》等法律法规,不利用所办服务从事违法违规活动;",
    "四、备案信息发生变化时,本人将及时办理变更手续;",
    "五、如有虚假,本人愿意承担由此产生的一切法律责任,并同意注销相关备案。",
)
_HANDWRITTEN = "按{province}通信管理局要求,请在纸质核验单上手写以下承诺并签名:{wording}"


@dataclass(frozen=True, slots=True)
class PledgeTerms:
    version: str
    kind: str  # unit | individual
    text: str
    handwritten: str | None  # the province's wording to copy out on the paper sheet
    province: str | None

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.text.encode()).hexdigest()


def terms_for(business_type: str, nature: str, province: str | None) -> PledgeTerms:
    """The pledge text an order's person reads (pure: the order's type, nature, province)."""
    individual = nature == "individual"
    rules = provinces.rules_for(province, nature)
    lines = [TITLE, *(_INDIVIDUAL if individual else _UNIT)]
    business = BUSINESS_ZH.get(business_type, business_type)
    text = "\n".join(line.format(business=business) for line in lines)
    if rules.pledge:
        text += "\n" + _HANDWRITTEN.format(province=rules.province, wording=rules.pledge)
    variant = "individual" if individual else "unit"
    suffix = f"-{rules.province}" if rules.pledge else ""
    return PledgeTerms(
        version=f"{PLEDGE_VERSION}/{variant}{suffix}",
        kind=variant,
        text=text,
        handwritten=rules.pledge,
        province=rules.province,
    )


def terms_of(bundle: Bundle) -> PledgeTerms:
    o = bundle.order
    return terms_for(o.business_type, o.subject_nature, o.province)


class PledgeNotInScope(Forbidden):
    code = "STEP_NOT_IN_SCOPE"
    zh = "该二维码不能确认承诺书,请使用主体或整单核验二维码"
    en = "The pledge is confirmed in a subject or order session"


class PledgeTextChanged(Conflict):
    code = "PLEDGE_TEXT_CHANGED"
    zh = "承诺书内容已更新,请重新阅读后确认"
    en = "version or text_sha256 is not the pledge shown now: read it again"


class PledgeRace(Conflict):
    code = "CONFLICT"
    zh = "提交过于频繁,请稍后重试"
    en = "Too much contention on this order; retry"


def _in_scope(bundle: Bundle, session: CaptureSession) -> bool:
    """The sessions that own the sheet part (subject and order scopes) confirm the pledge."""
    return any(s.part == "sheet" for s in state.scope_steps(bundle.shape, session.scope))


def view(bundle: Bundle, session: CaptureSession) -> PledgeOut:
    """GET /m/v1/pledge: the text to show, its version and hash, and whether it is done."""
    t = terms_of(bundle)
    m = bundle.current(*state.PLEDGE_KEY)
    return PledgeOut(
        version=t.version,
        kind=t.kind,
        title=TITLE,
        text=t.text,
        text_sha256=t.sha256,
        handwritten_pledge=t.handwritten,
        province=t.province,
        required=bundle.shape.pledge_required,
        in_scope=_in_scope(bundle, session),
        accepted=m is not None,
        accepted_at=m.created_at if m is not None else None,
    )


def _answer(bundle: Bundle, m: Material, created: bool) -> PledgeAccepted:
    r = pledge_record(m)
    return PledgeAccepted(
        accepted=True,
        created=created,
        material_id=m.id,
        version=r.version,
        text_sha256=r.text_sha256,
        accepted_at=r.accepted_at,
        order_status=bundle.status().value,
    )


async def accept(
    db: AsyncSession,
    ctx: AppContext,
    session: CaptureSession,
    *,
    version: str,
    text_sha256: str,
    client_accepted_at: str | None,
) -> tuple[int, PledgeAccepted]:
    """POST /m/v1/pledge: record the acceptance once (201), or answer the one recorded (200).

    The echoed version and hash must be the text served now (409 PLEDGE_TEXT_CHANGED with
    the current text otherwise): what is recorded is what the person was shown.
    """
    bundle = await load_bundle(db, session.order_id)
    if not _in_scope(bundle, session):
        raise PledgeNotInScope()
    terms = terms_of(bundle)
    if version != terms.version or text_sha256 != terms.sha256:
        raise PledgeTextChanged(extra={"pledge": view(bundle, session).model_dump(mode="json")})
    done = bundle.current(*state.PLEDGE_KEY)
    if done is not None:
        return 200, _answer(bundle, done, created=False)
    _person, role = state.scope_person(bundle.shape, session.scope)
    data = terms.text.encode()
    mid = new_id()
    m = Material(
        id=mid,
        order_id=bundle.order.id,
        session_id=session.id,
        person_id=None,
        step="pledge",
        kind="upload",
        storage_key=f"orders/{bundle.order.id}/docs/{mid}.txt",
        sha256=terms.sha256,
        size=len(data),
        content_type=CONTENT_TYPE,
        accepted=True,
        extracted={
            "version": terms.version,
            "kind": terms.kind,
            "person_id": session.person_id,
            "role": role,
            "client_accepted_at": client_accepted_at,
        },
        created_at=utcnow(),
    )
    assert m.storage_key is not None
    await asyncio.to_thread(ctx.storage.put, m.storage_key, data)
    try:
        for _attempt in range(5):
            before = bundle.evidence

            async def stage() -> None:
                db.add(m)
                await db.flush()

            def happened() -> list[transitions.Happened]:
                return [("pledge.accepted", "sheet", {
                    "step": "pledge", "material_id": m.id, "version": terms.version,
                    "text_sha256": terms.sha256, "role": role,
                    "client_accepted_at": client_accepted_at,
                })]  # fmt: skip

            if await transitions.apply_change(
                db, bundle, before=before, after=before | {state.PLEDGE_KEY},
                happened=happened, stage=stage, session=session,
            ):  # fmt: skip
                bundle = await load_bundle(db, session.order_id)
                return 201, _answer(bundle, m, created=True)
            await db.rollback()
            await db.refresh(session)
            bundle = await load_bundle(db, session.order_id)
            done = bundle.current(*state.PLEDGE_KEY)
            if done is not None:  # a racing confirmation of the same text won
                await asyncio.to_thread(ctx.storage.delete, m.storage_key)
                return 200, _answer(bundle, done, created=False)
    except BaseException:
        await db.rollback()
        await asyncio.to_thread(ctx.storage.delete, m.storage_key)
        raise
    await asyncio.to_thread(ctx.storage.delete, m.storage_key)
    raise PledgeRace()


ERRORS: tuple[type[AppError], ...] = (PledgeNotInScope, PledgeTextChanged)
