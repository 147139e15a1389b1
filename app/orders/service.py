"""Orders: creation, loading the order's shape and evidence, events, QR tokens, re-verify."""

from __future__ import annotations

import hashlib
import json
import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, bindparam, case, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from app.core.db import OneRow
from app.core.errors import AppError, Conflict, NotFound
from app.documents.validators import (
    clean_text,
    has_non_ascii_digits,
    id_number_problem,
    is_valid_uscc,
    normalize_domain,
    normalize_id_number,
    normalize_mobile,
    normalize_uscc,
    person_number_problem,
    uscc_problem,
)
from app.models import audit
from app.models.orders import (
    CaptureSession,
    CheckRow,
    Event,
    Material,
    Order,
    Principal,
    QrToken,
    Website,
    new_id,
    utcnow,
)
from app.orders import method, state, vocabulary
from app.orders.schemas import OrderIn, PrincipalIn, ServiceIn
from app.security import crypto
from app.security.tokens import TokenCodec
from app.webhooks.service import enqueue_for_event


class ValidationFailed(AppError):
    status = 422
    code = "VALIDATION_ERROR"
    zh = "提交的信息有误,请检查后重新提交"
    en = "The request body is not valid"


class ExternalIdConflict(Conflict):
    code = "EXTERNAL_ID_CONFLICT"
    zh = "该外部订单号已用于另一份不同的订单"
    en = "external_id is already used by an order with a different body"


class PartInvalid(AppError):
    status = 422
    code = "PART_INVALID"
    zh = "核验部分不存在"
    en = "Unknown part: use 'subject' or 'website:<id>'"


class ScopeInvalid(AppError):
    status = 422
    code = "SCOPE_INVALID"
    zh = "二维码范围无效"
    en = "Unknown scope: use 'order', 'subject' or 'website:<id>'"


class ScopeNeedsSplit(Conflict):
    code = "SCOPE_NEEDS_SPLIT"
    zh = "各网站负责人不是同一人,请分别为主体和每个网站生成核验二维码"
    en = "The websites have different principals: issue subject and website QR codes"


# --------------------------------------------------------------------------------------
# Creating orders


@dataclass
class FieldError:
    code: str
    field: str
    zh: str
    en: str


def _digits_not_ascii(field: str) -> FieldError:
    """A number written with another script's digits (NFKC keeps them): never stored."""
    return FieldError(
        "DIGITS_NOT_ASCII",
        field,
        "请使用半角阿拉伯数字 0-9 填写",
        "Digits must be ASCII 0-9 (other scripts' digits are not accepted)",
    )


def _check_person(p: PrincipalIn, where: str, errors: list[FieldError]) -> dict[str, str]:
    number = normalize_id_number(p.document.number)
    if has_non_ascii_digits(number):
        errors.append(_digits_not_ascii(f"{where}.document.number"))
    elif p.document.type == "resident_id":
        problem = id_number_problem(number)
        if problem:
            errors.append(
                FieldError(
                    "ID_NUMBER_INVALID",
                    f"{where}.document.number",
                    "身份证号码有误,请核对后重新填写",
                    f"ID number is not valid: {problem}",
                )
            )
    elif problem := person_number_problem(p.document.type, number):
        # The other personal documents' number formats and check characters (residence
        # permits, the permanent residence card, the travel permits): app/documents/validators.
        errors.append(
            FieldError(
                "DOCUMENT_NUMBER_INVALID",
                f"{where}.document.number",
                "证件号码有误,请核对后重新填写",
                f"Document number is not valid for {p.document.type}: {problem}",
            )
        )
    elif p.document.type not in vocabulary.PERSON_DOCUMENTS:
        errors.append(
            FieldError(
                "DOCUMENT_TYPE_INVALID",
                f"{where}.document.type",
                "负责人证件类型有误,请选择个人证件",
                "A principal needs a personal document type",
            )
        )
    name = clean_text(p.name)
    if not name:
        errors.append(
            FieldError("NAME_INVALID", f"{where}.name", "姓名不能为空", "The name is empty")
        )
    mobile = normalize_mobile(p.mobile)
    if has_non_ascii_digits(p.mobile):
        errors.append(_digits_not_ascii(f"{where}.mobile"))
    elif mobile is None:
        errors.append(
            FieldError(
                "MOBILE_INVALID",
                f"{where}.mobile",
                "手机号码有误,请填写11位中国大陆手机号码",
                "mobile must be an 11-digit mainland number",
            )
        )
    return {
        "name": name,
        "doc_type": p.document.type.value,
        "doc_number": number,
        "mobile": mobile or "",
    }


def normalize_order(body: OrderIn) -> dict[str, Any]:
    """Validate beyond the schema and return the canonical form (also hashed for idempotency)."""
    errors: list[FieldError] = []
    s = body.subject
    nature = s.nature
    if nature not in state.NATURES:
        errors.append(
            FieldError("NATURE_INVALID", "subject.nature", "主办单位性质有误", "Unknown nature")
        )
    subject_number = s.document.number
    allowed = state.NATURE_DOCUMENTS.get(nature, vocabulary.UNIT_DOCUMENTS)
    if nature in state.NATURES and s.document.type not in allowed:
        errors.append(
            FieldError(
                "NATURE_DOCUMENT_MISMATCH",
                "subject.document.type",
                "主办单位证件类型与主办单位性质不符",
                f"A subject of nature {nature} cannot use {s.document.type.value}",
            )
        )
    if has_non_ascii_digits(subject_number):
        errors.append(_digits_not_ascii("subject.document.number"))
    elif s.document.type == "business_licence" or (
        s.document.type in ("institution_certificate", "social_org_certificate")
        and len(normalize_uscc(subject_number)) == 18
    ):
        subject_number = normalize_uscc(subject_number)
        if not is_valid_uscc(subject_number):
            errors.append(
                FieldError(
                    "USCC_INVALID",
                    "subject.document.number",
                    "统一社会信用代码有误,请核对后重新填写",
                    f"Unified social credit code: {uscc_problem(subject_number)} (GB 32100)",
                )
            )
    elif s.document.type == "resident_id":
        subject_number = normalize_id_number(subject_number)
        if problem := id_number_problem(subject_number):
            errors.append(
                FieldError(
                    "ID_NUMBER_INVALID",
                    "subject.document.number",
                    "身份证号码有误,请核对后重新填写",
                    f"Subject ID number is not valid: {problem}",
                )
            )
    principal = _check_person(s.principal, "subject.principal", errors)
    if nature == "individual" and (
        principal["doc_number"] != normalize_id_number(s.document.number)
        or principal["doc_type"] != s.document.type.value
    ):
        errors.append(
            FieldError(
                "PRINCIPAL_DOCUMENT_MISMATCH",
                "subject.principal.document",
                "个人主体的负责人证件须与主体证件一致",
                "For an individual, the principal's document is the subject document",
            )
        )
    websites: list[dict[str, Any]] = []
    for i, w in enumerate(body.websites):
        domains = []
        for j, d in enumerate(w.domains):
            norm = normalize_domain(d)
            if norm is None:
                errors.append(
                    FieldError(
                        "DOMAIN_INVALID",
                        f"websites[{i}].domains[{j}]",
                        "网站域名格式有误,请填写不带 http:// 的域名,如 example.cn",
                        "Domain is not a valid host name",
                    )
                )
            else:
                domains.append(norm)
        websites.append(
            {
                "name": clean_text(w.name),
                "domains": domains,
                "principal": _check_person(w.principal, f"websites[{i}].principal", errors),
            }
        )
    services = [_service(i, sv, errors) for i, sv in enumerate(body.services)]
    if not websites and not services:
        errors.append(
            FieldError(
                "SERVICES_MISSING",
                "websites",
                "请至少填写一个网站、APP、小程序或快应用",
                "An order files at least one website, APP, mini-program or quick app",
            )
        )
    # A person appears once per document number, always with the same name and mobile.
    people: dict[tuple[str, str], dict[str, str]] = {}
    pairs: list[tuple[str, dict[str, str]]] = (
        [("subject.principal", principal)]
        + [(f"websites[{i}].principal", w["principal"]) for i, w in enumerate(websites)]
        + [(f"services[{i}].principal", sv["principal"]) for i, sv in enumerate(services)]
    )
    for where, person in pairs:
        key = (person["doc_type"], person["doc_number"])
        seen = people.setdefault(key, person)
        if seen["name"] != person["name"] or seen["mobile"] != person["mobile"]:
            errors.append(
                FieldError(
                    "PRINCIPAL_INCONSISTENT",
                    where,
                    "同一证件号码的负责人姓名或手机号码不一致",
                    "The same document number appears with a different name or mobile",
                )
            )
    if errors:
        first = errors[0]
        raise ValidationFailed(
            code=first.code,
            zh=first.zh,
            en=first.en,
            extra={
                "errors": [
                    {"code": e.code, "field": e.field, "detail": e.zh, "detail_en": e.en}
                    for e in errors
                ]
            },
        )
    return {
        "external_id": body.external_id,
        "business_type": body.business_type.value,
        "subject": {
            "nature": nature,
            "name": clean_text(s.name),
            "document": {"type": s.document.type.value, "number": subject_number},
            "province": s.province,
            "principal": principal,
        },
        "websites": websites,
        # Only when given: an order of websites alone hashes as it always did (idempotency).
        **({"services": services} if services else {}),
        **({"requirements": reqs} if (reqs := _requirements(body)) else {}),
    }


def _requirements(body: OrderIn) -> dict[str, bool]:
    """The requirements asked for (true ones only: none asked is no requirement at all)."""
    if body.requirements is None:
        return {}
    return {k: True for k, v in body.requirements.model_dump().items() if v}


PACKAGE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*)+$")
BUNDLE_ID = re.compile(r"^[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")
PLATFORM_ID = re.compile(r"^[A-Za-z0-9_.-]{4,128}$")
MINI_PLATFORMS = frozenset({"wechat", "alipay", "baidu", "bytedance", "qq", "kuaishou", "other"})


def _service(i: int, sv: ServiceIn, errors: list[FieldError]) -> dict[str, Any]:
    """One service of ``services``, its kind's own fields checked and normalised."""
    where = f"services[{i}]"

    def bad(code: str, field: str, zh: str, en: str) -> None:
        errors.append(FieldError(code, f"{where}.{field}", zh, en))

    domains: list[str] = []
    attrs: dict[str, Any] = {}
    kind = sv.kind.value
    if kind == "website":
        if not sv.domains:
            bad("SERVICE_FIELD_MISSING", "domains", "请填写网站域名", "A website needs domains")
        for j, d in enumerate(sv.domains):
            norm = normalize_domain(d)
            if norm is None:
                bad("DOMAIN_INVALID", f"domains[{j}]",
                    "网站域名格式有误,请填写不带 http:// 的域名,如 example.cn",
                    "Domain is not a valid host name")  # fmt: skip
            else:
                domains.append(norm)
    elif kind == "app":
        platforms = sorted(set(sv.platforms))
        if not platforms:
            bad("SERVICE_FIELD_MISSING", "platforms", "请填写 APP 的运行平台",
                "An APP names its platforms")  # fmt: skip
        if {"android", "harmonyos"} & set(platforms) and not sv.package_name:
            bad("SERVICE_FIELD_MISSING", "package_name", "请填写 APP 包名",
                "An Android or HarmonyOS APP needs its package name")  # fmt: skip
        if sv.package_name and not PACKAGE_NAME.match(sv.package_name.strip()):
            bad("APP_PACKAGE_INVALID", "package_name", "APP 包名格式有误,如 com.example.app",
                "Package name is not valid")  # fmt: skip
        if "ios" in platforms and not sv.bundle_id:
            bad("SERVICE_FIELD_MISSING", "bundle_id", "请填写 iOS APP 的 Bundle ID",
                "An iOS APP needs its bundle id")  # fmt: skip
        if sv.bundle_id and not BUNDLE_ID.match(sv.bundle_id.strip()):
            bad("APP_BUNDLE_ID_INVALID", "bundle_id", "Bundle ID 格式有误,如 com.example.app",
                "Bundle id is not valid")  # fmt: skip
        cert = re.sub(r"[\s:]", "", sv.signing_cert_sha256 or "").lower()
        if not cert:
            bad("SERVICE_FIELD_MISSING", "signing_cert_sha256", "请填写 APP 签名证书指纹",
                "An APP needs its signing certificate fingerprint")  # fmt: skip
        elif len(cert) not in (40, 64) or not all(c in "0123456789abcdef" for c in cert):
            bad("APP_CERT_FINGERPRINT_INVALID", "signing_cert_sha256",
                "签名证书指纹格式有误,请填写 SHA-256(或 SHA-1)十六进制指纹",
                "Signing certificate fingerprint must be SHA-256 or SHA-1 hex")  # fmt: skip
        attrs = {
            "platforms": platforms,
            "package_name": (sv.package_name or "").strip() or None,
            "bundle_id": (sv.bundle_id or "").strip() or None,
            "signing_cert_sha256": cert or None,
        }
    else:  # mini_program, quick_app
        platform = (sv.platform or ("quick_app" if kind == "quick_app" else "")).strip().lower()
        if kind == "mini_program" and platform not in MINI_PLATFORMS:
            bad("SERVICE_FIELD_MISSING", "platform",
                "请填写小程序所在平台(wechat、alipay、baidu、bytedance、qq、kuaishou 或 other)",
                "A mini-program names its platform")  # fmt: skip
        pid = (sv.platform_id or "").strip()
        if not PLATFORM_ID.match(pid):
            bad("PLATFORM_ID_INVALID", "platform_id", "请填写平台分配的小程序或快应用 ID",
                "The platform id of the mini-program or quick app is not valid")  # fmt: skip
        attrs = {"platform": platform, "platform_id": pid}
    return {
        "kind": kind,
        "name": clean_text(sv.name),
        "domains": domains,
        "attrs": attrs,
        "principal": _check_person(sv.principal, f"{where}.principal", errors),
    }


def body_hash(canonical: dict[str, Any]) -> str:
    """Keyed: a bare SHA-256 of a body full of ID numbers could be brute-forced."""
    return crypto.blind_index(json.dumps(canonical, sort_keys=True, ensure_ascii=False), "body")


async def create_order(db: AsyncSession, provider_id: str, body: OrderIn) -> tuple[str, bool]:
    """Create the order, or return the existing one for the same external_id and body."""
    canonical = normalize_order(body)
    digest = body_hash(canonical)
    existing = await _by_external_id(db, provider_id, body.external_id)
    if existing is not None:
        if existing.body_hash != digest:
            raise ExternalIdConflict()
        return existing.id, False

    order_id = new_id()
    people: dict[tuple[str, str], Principal] = {}

    def person(p: dict[str, str]) -> Principal:
        key = (p["doc_type"], p["doc_number"])
        if key not in people:
            people[key] = Principal(
                id=new_id(),
                order_id=order_id,
                doc_number_hmac=crypto.blind_index(f"{p['doc_type']}:{p['doc_number']}", "doc"),
                mobile_hmac=crypto.blind_index(p["mobile"], "mobile"),
                **p,
            )
        return people[key]

    sp = person(canonical["subject"]["principal"])
    subject = canonical["subject"]
    order = Order(
        id=order_id,
        provider_id=provider_id,
        external_id=body.external_id,
        body_hash=digest,
        business_type=canonical["business_type"],
        subject_nature=subject["nature"],
        subject_name=subject["name"],
        subject_doc_type=subject["document"]["type"],
        subject_doc_number=subject["document"]["number"],
        province=subject["province"],
        subject_principal_id=sp.id,
        requirements=canonical.get("requirements") or None,
    )
    sites = [
        Website(
            id=new_id(),
            order_id=order_id,
            seq=i,
            name=w["name"],
            domains=w["domains"],
            principal_id=person(w["principal"]).id,
        )
        for i, w in enumerate(canonical["websites"])
    ] + [
        Website(
            id=new_id(),
            order_id=order_id,
            seq=len(canonical["websites"]) + i,
            name=sv["name"],
            domains=sv["domains"],
            principal_id=person(sv["principal"]).id,
            kind=sv["kind"],
            attrs=sv["attrs"] or None,
        )
        for i, sv in enumerate(canonical.get("services", []))
    ]
    try:
        # The order row first: a create racing on the same external_id fails on it (on
        # PostgreSQL the INSERT waits for the other transaction, then raises).
        db.add(order)
        await db.flush()
        db.add_all(people.values())
        await db.flush()
        db.add_all(sites)
        await db.flush()
        await record_event(db, order, "order.created", data={"status": "pending"})
    except IntegrityError:
        # Two creates raced on the same external_id: the other one won.
        await db.rollback()
        existing = await _by_external_id(db, provider_id, body.external_id)
        if existing is None:
            raise
        if existing.body_hash != digest:
            raise ExternalIdConflict() from None
        return existing.id, False
    return order_id, True


async def _by_external_id(db: AsyncSession, provider_id: str, external_id: str) -> Order | None:
    result = await db.execute(
        select(Order).where(Order.provider_id == provider_id, Order.external_id == external_id)
    )
    return result.scalar_one_or_none()


# --------------------------------------------------------------------------------------
# Loading an order's shape and evidence


@dataclass
class Bundle:
    order: Order
    principals: dict[str, Principal]
    websites: list[Website]
    materials: list[Material]
    shape: state.OrderShape

    @property
    def evidence(self) -> state.Evidence:
        return frozenset(
            (m.person_id, m.step) for m in self.materials if m.kind == "upload" and m.current
        )

    def status(self) -> state.Status:
        return state.derive_status(self.shape, self.evidence)

    def current(self, person_id: str | None, step: str, kind: str = "upload") -> Material | None:
        """The accepted, not cleared material for a step (newest first)."""
        for m in sorted(self.materials, key=lambda m: m.created_at, reverse=True):
            if m.person_id == person_id and m.step == step and m.kind == kind and m.current:
                return m
        return None


def _shape(
    order: Order, principals: dict[str, Principal], sites: list[Website]
) -> state.OrderShape:
    def ps(p: Principal) -> state.PersonShape:
        return state.PersonShape(p.id, p.doc_type, p.doc_number)

    return state.OrderShape(
        subject_nature=order.subject_nature,
        subject_principal=ps(principals[order.subject_principal_id]),
        websites=tuple(
            state.WebsiteShape(w.id, ps(principals[w.principal_id]), w.kind, tuple(w.domains))
            for w in sites
        ),
        **requirement_flags(order.requirements),
    )


def requirement_flags(requirements: dict[str, Any] | str | None) -> dict[str, bool]:
    """The order shape's flags from the order's stored requirements (the JSON column as the
    ORM gives it, or as text where a hot read takes it from the driver as is)."""
    r = (json.loads(requirements) if isinstance(requirements, str) else requirements) or {}
    return {
        "pledge_required": bool(r.get("pledge")),
        "authorisation_letters": bool(r.get("authorisation_letter")),
        "domain_certificates": bool(r.get("domain_certificate")),
        "pledge_photo_required": bool(r.get("pledge_photo")),
        "domain_certificate_per_domain": bool(r.get("domain_certificate_per_domain")),
    }


def _domains(raw: list[str] | str | None) -> list[str]:
    """A website's domains from the JSON column (parsed, or as text from the driver)."""
    return list((json.loads(raw) if isinstance(raw, str) else raw) or [])


async def load_bundle(db: AsyncSession, order_id: str, provider_id: str | None = None) -> Bundle:
    bundles = await load_bundles(db, [order_id], provider_id)
    if order_id not in bundles:
        raise NotFound(code="ORDER_NOT_FOUND", zh="订单不存在", en="Order not found")
    return bundles[order_id]


def _status_reads(among: Select[tuple[str]]) -> tuple[Any, Any, Any]:
    """The three reads :func:`statuses` makes for the orders ``among`` selects: built once."""
    got = _STATUS_READS.get(id(among))
    if got is None or got[0] is not among:
        reads = (
            select(Principal.id, Principal.doc_type, Principal.doc_number_hmac).where(
                Principal.order_id.in_(among)
            ),
            select(
                Website.id, Website.order_id, Website.principal_id, Website.kind, Website.domains
            )
            .where(Website.order_id.in_(among))
            .order_by(Website.seq),
            select(Material.order_id, Material.person_id, Material.step).where(
                Material.order_id.in_(among),
                Material.kind == "upload",
                Material.accepted.is_(True),
                Material.cleared_at.is_(None),
            ),
        )
        got = _STATUS_READS[id(among)] = (among, reads)
    return got[1]


_STATUS_READS: dict[int, tuple[Select[tuple[str]], tuple[Any, Any, Any]]] = {}


async def statuses(
    conn: AsyncConnection, orders: Sequence[Any], among: Select[tuple[str]], params: dict[str, Any]
) -> dict[str, state.Status]:
    """Each order's status from the few columns it depends on (three Core reads for any
    number of orders): no ORM object built, nothing decrypted. ``orders`` are rows with
    ``id``, ``subject_nature``, ``subject_principal_id`` and ``requirements``, selected by the query
    ``among`` (a module constant) with ``params``.

    The reads filter by that same query: constant statements, which SQLAlchemy compiles
    once and the database keeps prepared, instead of an IN list of 50 bound ids rendered
    anew for every page. (``among`` may select a few more orders than ``orders``: the page
    query's one extra row that tells ``has_more``; their rows are left unused.)

    Two principals are the same person when their ids are, or their document type and
    number are: the number's keyed hash (``doc_number_hmac``, over type and number) stands in
    for the number, equal exactly when the numbers are.
    """
    if not orders:
        return {}
    principals, websites, materials = _status_reads(among)
    people = {
        r.id: state.PersonShape(r.id, r.doc_type, r.doc_number_hmac)
        for r in await conn.execute(principals, params)
    }
    sites: defaultdict[str, list[state.WebsiteShape]] = defaultdict(list)
    for w in await conn.execute(websites, params):
        sites[w.order_id].append(
            state.WebsiteShape(w.id, people[w.principal_id], w.kind, tuple(_domains(w.domains)))
        )
    evidence: defaultdict[str, set[tuple[str | None, str]]] = defaultdict(set)
    for m in await conn.execute(materials, params):
        evidence[m.order_id].add((m.person_id, m.step))
    return {
        o.id: state.derive_status(
            state.OrderShape(
                subject_nature=o.subject_nature,
                subject_principal=people[o.subject_principal_id],
                websites=tuple(sites[o.id]),
                **requirement_flags(o.requirements),
            ),
            frozenset(evidence[o.id]),
        )
        for o in orders
    }


# The representation's format: bump when order_view's output changes shape, so that a
# client's ETag from an older release never matches a response of a newer one.
VIEW_FORMAT = 3


def order_etag(order: Order) -> str:
    """Strong ETag of an order's provider view, from its row alone.

    Every write that changes the view either records an event (``last_event_id``,
    ``updated_at``) or bumps ``version``: captures, reverify, QR, SMS and purge all do. So a
    poll can answer 304 from one indexed row, without loading people, materials and checks.
    """
    return etag_of(order.id, order.version, order.last_event_id, order.updated_at, order.audit_head)


def etag_of(
    order_id: str, version: int, last_event_id: int, updated_at: datetime,
    audit_head: str | None = None,
) -> str:  # fmt: skip
    """The audit chain's head is part of it: a trail rewritten in the database changes the
    ETag a provider holds (app.models.audit)."""
    raw = f"{VIEW_FORMAT}:{order_id}:{version}:{last_event_id}:{updated_at}:{audit_head}"
    return '"' + hashlib.sha256(raw.encode()).hexdigest()[:40] + '"'


_ETAG_ROW = OneRow(
    select(Order.id, Order.version, Order.last_event_id, Order.updated_at, Order.audit_head).where(
        Order.id == bindparam("order_id"), Order.provider_id == bindparam("provider_id")
    )
)


async def current_etag(engine: AsyncEngine, order_id: str, provider_id: str) -> str:
    """The ETag :func:`order_etag` would give the order now; 404 if not theirs.

    One read by primary key (app.core.db.OneRow: no ORM session, no object built): this answers
    every 304 of a polling provider.
    """
    row = await _ETAG_ROW.first(engine, {"order_id": order_id, "provider_id": provider_id})
    if row is None:
        raise NotFound(code="ORDER_NOT_FOUND", zh="订单不存在", en="Order not found")
    return etag_of(
        row["id"], row["version"], row["last_event_id"], row["updated_at"], row["audit_head"]
    )


async def load_bundles(
    db: AsyncSession, order_ids: list[str], provider_id: str | None = None
) -> dict[str, Bundle]:
    """Orders with their people, websites and materials: four queries for any number."""
    if not order_ids:
        return {}
    # populate_existing: a retry in the same DB session must see rows as they are now.
    fresh = {"populate_existing": True}
    query = select(Order).where(Order.id.in_(order_ids)).execution_options(**fresh)
    if provider_id is not None:
        query = query.where(Order.provider_id == provider_id)
    orders = {o.id: o for o in (await db.execute(query)).scalars()}
    ids = list(orders)
    if not ids:
        return {}
    principals: dict[str, dict[str, Principal]] = {oid: {} for oid in ids}
    for p in (await db.execute(select(Principal).where(Principal.order_id.in_(ids)))).scalars():
        principals[p.order_id][p.id] = p
    sites: dict[str, list[Website]] = {oid: [] for oid in ids}
    for w in (
        await db.execute(select(Website).where(Website.order_id.in_(ids)).order_by(Website.seq))
    ).scalars():
        sites[w.order_id].append(w)
    materials: dict[str, list[Material]] = {oid: [] for oid in ids}
    for m in (
        await db.execute(
            select(Material)
            .where(Material.order_id.in_(ids))
            .order_by(Material.created_at)
            .execution_options(**fresh)
        )
    ).scalars():
        materials[m.order_id].append(m)
    return {
        oid: Bundle(
            o, principals[oid], sites[oid], materials[oid], _shape(o, principals[oid], sites[oid])
        )
        for oid, o in orders.items()
    }


# --------------------------------------------------------------------------------------
# Events


async def _serialise_provider_events(db: AsyncSession, order_id: str, provider_id: str) -> None:
    """Make one provider's event ids commit in id order (PostgreSQL).

    `changed_since` polling hands out the newest event id as a cursor. If transaction A took
    event id 10 and B took 11 but B committed first, a poll between the two commits would
    return 11 and A's change would never be seen. A transaction-scoped advisory lock per
    provider, taken before the id is drawn and held until commit, rules that out. SQLite
    already has a single writer, so ids there always commit in order.

    Lock order is always the order's row first, then the provider lock (every writing
    transaction touches one order), so a transaction that bumped the order's version and one
    that only records an event cannot deadlock.
    """
    if db.get_bind().dialect.name != "postgresql":
        return
    # FOR NO KEY UPDATE: the lock the UPDATE below takes anyway; it does not conflict with
    # the KEY SHARE lock that inserting a material (foreign key) holds on the order.
    await db.execute(select(Order.id).where(Order.id == order_id).with_for_update(key_share=True))
    digest = hashlib.sha256(b"heyan-events:" + provider_id.encode()).digest()
    key = int.from_bytes(digest[:8], "big", signed=True)
    await db.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": key})


async def record_event(
    db: AsyncSession,
    order: Order,
    type_: str,
    *,
    part: str | None = None,
    session: CaptureSession | None = None,
    client_ip: str | None = None,
    platform: str | None = None,
    phone_masked: str | None = None,
    data: dict[str, Any] | None = None,
) -> Event:
    await _serialise_provider_events(db, order.id, order.provider_id)
    previous = await _audit_head(db, order.id)
    event = Event(
        order_id=order.id,
        provider_id=order.provider_id,
        type=type_,
        part=part,
        session_id=session.id if session else None,
        platform=platform or (session.platform if session else None),
        phone_masked=phone_masked or (session.phone_masked if session else None),
        client_ip=client_ip or (session.client_ip if session else None),
        data=data or {},
        created_at=utcnow(),
    )
    db.add(event)
    await db.flush()
    # Chain it (the id is part of the content); the order row keeps the new head.
    event.prev_hash = previous
    event.personal_hash, event.hash = audit.chain(
        previous, {c: getattr(event, c) for c in (*audit.PUBLIC_FIELDS, *audit.PERSONAL_FIELDS)}
    )
    # The webhook outbox row commits (or rolls back) with the event itself.
    await enqueue_for_event(db, order, event)
    # Keep the polling cursor monotonic even when transactions commit out of order.
    await db.execute(
        update(Order)
        .where(Order.id == order.id)
        .values(
            last_event_id=case(
                (Order.last_event_id < event.id, event.id), else_=Order.last_event_id
            ),
            updated_at=event.created_at,
            audit_head=event.hash,
        )
    )
    return event


async def _audit_head(db: AsyncSession, order_id: str) -> str:
    """The order's chain head, read under the order's row lock so two writers cannot both
    append after the same event (a fork). PostgreSQL: _serialise_provider_events holds the
    row lock already (FOR NO KEY UPDATE), and read committed reads the newest head. SQLite:
    a no-op write takes the database's write lock first, so the read is the newest too."""
    if db.get_bind().dialect.name != "postgresql":
        await db.execute(
            update(Order)
            .where(Order.id == order_id)
            .values(audit_head=Order.audit_head)
            .execution_options(synchronize_session=False)
        )
    head = (await db.execute(select(Order.audit_head).where(Order.id == order_id))).scalar()
    return head or audit.GENESIS


def status_events(
    shape: state.OrderShape, before: state.Evidence, after: state.Evidence
) -> list[tuple[str, str | None, dict[str, Any]]]:
    """Events for the parts and status that changed between two evidence sets."""
    p0 = state.parts(shape, before)
    p1 = state.parts(shape, after)
    out: list[tuple[str, str | None, dict[str, Any]]] = []

    def flip(part: str, was: bool, now: bool) -> None:
        if was != now:
            out.append(("part.verified" if now else "part.reset", part, {}))

    flip("subject", p0.subject, p1.subject)
    for wid, done in p1.websites.items():
        flip(f"website:{wid}", p0.websites[wid], done)
    flip("sheet", p0.sheet, p1.sheet)
    s0 = state.derive_status(shape, before)
    s1 = state.derive_status(shape, after)
    if s0 != s1:
        out.append(("order.status_changed", None, {"from": s0.value, "to": s1.value}))
    return out


async def bump_version(db: AsyncSession, order_id: str, expected: int) -> bool:
    """The conditional write that serialises state changes: one racer wins, one retries."""
    result = await db.execute(
        update(Order)
        .where(Order.id == order_id, Order.version == expected)
        .values(version=expected + 1, updated_at=utcnow())
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


# --------------------------------------------------------------------------------------
# QR tokens


def check_scope(bundle: Bundle, scope: str) -> str:
    try:
        scope = state.parse_scope(bundle.shape, scope)
    except state.ScopeError:
        raise ScopeInvalid() from None
    if scope == "order":
        try:
            state.scope_person(bundle.shape, scope)
        except state.ScopeNeedsSplit:
            raise ScopeNeedsSplit() from None
    return scope


async def issue_qr(
    db: AsyncSession, codec: TokenCodec, bundle: Bundle, scope: str, ttl_seconds: int
) -> tuple[str, QrToken]:
    """Issue a QR token for a scope and revoke the scope's older tokens."""
    scope = check_scope(bundle, scope)
    now = utcnow()
    previous = (
        await db.execute(
            select(QrToken).where(QrToken.order_id == bundle.order.id, QrToken.scope == scope)
        )
    ).scalars()
    version = 0
    for old in previous:
        version = max(version, old.version)
        if old.revoked_at is None:
            old.revoked_at = now
    row = QrToken(
        id=new_id(),
        order_id=bundle.order.id,
        scope=scope,
        version=version + 1,
        created_at=now,
        expires_at=now + timedelta(seconds=ttl_seconds),
    )
    db.add(row)
    await db.flush()
    await record_event(db, bundle.order, "qr.issued", part=None, data={"scope": scope})
    return codec.short_qr_token(row.id), row


# --------------------------------------------------------------------------------------
# Re-verify (重核主体 / 重核网站)


# --------------------------------------------------------------------------------------
# Check rows and the method (the views are built in app/orders/views.py)


async def checks_for(db: AsyncSession, material_ids: list[str]) -> dict[str, list[CheckRow]]:
    if not material_ids:
        return {}
    rows = (
        await db.execute(
            select(CheckRow).where(CheckRow.material_id.in_(material_ids)).order_by(CheckRow.id)
        )
    ).scalars()
    out: dict[str, list[CheckRow]] = {}
    for r in rows:
        out.setdefault(r.material_id, []).append(r)
    return out


async def method_of(db: AsyncSession, b: Bundle) -> method.Method:
    """The verification method the checks recorded on the current materials show."""
    return method.derive(b.materials, await checks_for(db, method.current_uploads(b.materials)))
