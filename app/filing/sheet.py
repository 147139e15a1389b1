"""The electronic verification sheet (电子版用户真实性核验单) as a PDF, and its code.

Pure: takes the loaded order (Bundle), the storage, the event trail and the signing key, and
returns bytes. The PDF is deterministic (reportlab's invariant mode, no clock inside): the
same evidence always gives the same file, the same sha256 and the same verification code.

Font: WenQuanYi Micro Hei from the PyPI package ``paperang-p2-fonts-cjk`` (the package is MIT;
the font's own licence, in its name table, is Apache-2.0), embedded as a subset.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import json
import os
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from functools import cache
from typing import Any
from xml.sax.saxutils import escape

from app.filing import package
from app.models.orders import CheckRow, Event, Order
from app.orders import materials, method, state, vocabulary
from app.orders.service import Bundle
from app.storage import Storage

FONT = "HeyanCJK"
BEIJING = timezone(timedelta(hours=8))
INTAKE_ONLY = "_intake_only"

NATURE_ZH = {
    "enterprise": "企业",
    "public_institution": "事业单位",
    "social_org": "社会团体",
    "government": "政府机关",
    "military": "军队",
    "foundation": "基金会",
    "law_firm": "律师执业机构",
    "school": "民办非企业单位(学校)",
    "medical": "医疗机构",
    "other_unit": "其他单位",
    "individual": "个人",
}
DOC_ZH = {
    "resident_id": "居民身份证",
    "passport": "护照",
    "hk_macau_permit": "港澳居民来往内地通行证",
    "taiwan_permit": "台湾居民来往大陆通行证",
    "hk_macau_residence": "港澳居民居住证",
    "taiwan_residence": "台湾居民居住证",
    "foreign_permanent_residence": "外国人永久居留身份证",
    "business_licence": "营业执照(统一社会信用代码)",
    "institution_certificate": "事业单位法人证书",
    "social_org_certificate": "社会团体法人登记证书",
    "other": "其他",
}
SERVICE_ZH = {"website": "网站", "app": "APP", "mini_program": "小程序", "quick_app": "快应用"}


def service_ident(attrs: dict[str, Any] | None) -> str:
    """An APP's or mini-program's identifiers as the sheet prints them."""
    a = attrs or {}
    parts = []
    if a.get("platforms"):
        parts.append("平台:" + "/".join(a["platforms"]))
    for key, label in (("package_name", "包名"), ("bundle_id", "Bundle ID"),
                       ("platform", "平台"), ("platform_id", "ID"),
                       ("signing_cert_sha256", "签名证书")):  # fmt: skip
        if a.get(key):
            parts.append(f"{label}:{a[key]}")
    return ";".join(parts)


BUSINESS_ZH = {
    "new_filing": "新增备案",
    "new_website": "新增网站",
    "new_access": "新增接入",
    "change_subject": "变更主体",
    "change_website": "变更网站",
    "change_access": "变更接入",
    "cancel_subject": "注销主体",
    "cancel_website": "注销网站",
    "cancel_access": "取消接入",
    "algorithm_filing": "算法备案",
}
PLATFORM_ZH = {"wechat": "微信小程序", "alipay": "支付宝小程序", "dev": "开发模式"}


def font_path() -> str:
    """The CJK font: the registry package first, then the distribution's fonts."""
    candidates: list[str] = []
    try:
        import paperang_p2_fonts_cjk  # optional: the registry font package

        base = os.path.dirname(paperang_p2_fonts_cjk.__file__)
        candidates.append(os.path.join(base, "fonts", "wqy-microhei.ttc"))
    except ImportError:
        pass
    candidates += [
        "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
        "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    ]
    for c in candidates:
        if os.path.exists(c):
            return c
    raise RuntimeError("no CJK font: pip install paperang-p2-fonts-cjk")


@cache
def _register_font() -> str:
    # lazy: reportlab is loaded only when a PDF is made
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    pdfmetrics.registerFont(TTFont(FONT, font_path(), subfontIndex=0))
    return FONT


def bj(t: datetime | None) -> str:
    return t.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M:%S") + " (北京时间)" if t else "-"


@dataclass
class SheetImage:
    caption: str
    data: bytes


@dataclass
class Sheet:
    pdf: bytes
    code: str
    content_hash: str
    status: str
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.pdf).hexdigest()

    @property
    def recorded_status(self) -> str:
        """What the sheet attests, as recorded with its code: the order's status, with
        ``_intake_only`` appended when a capture was only intake-checked (such a sheet never
        verifies as complete)."""
        if self.data.get("method", {}).get("checks") == "intake_only":
            return self.status + INTAKE_ONLY
        return self.status


def _scope_zh(b: Bundle, scope: str) -> str:
    if scope == "order":
        return "整单"
    if scope == "subject":
        return "主体"
    site = next((w for w in b.websites if f"website:{w.id}" == scope), None)
    return f"网站:{site.name}" if site else scope


def sheet_data(b: Bundle, events: list[Event], checks: dict[str, list[CheckRow]]) -> dict[str, Any]:
    """Everything the sheet says, as plain data (its hash is what the code attests).

    ``checks``: the check rows recorded on the current materials; the method (核验方式) is
    stated from them alone, never from the configuration.
    """
    o = b.order
    status = b.status()
    current = materials.current_materials(b)
    how = method.derive(b.materials, checks)
    uploads = [m for m in current if m.kind == "upload"]
    session_ids = {m.session_id for m in current if m.session_id}
    sessions = [
        {
            "at": bj(e.created_at),
            "platform": PLATFORM_ZH.get(e.platform or "", e.platform or "-"),
            "phone": e.phone_masked or "-",
            "scope": _scope_zh(b, str(e.data.get("scope", ""))),
        }
        for e in events
        if e.type == "session.opened" and e.session_id in session_ids
    ]
    people: list[dict[str, str]] = []
    seen: set[str] = set()
    roles = [(b.principals[o.subject_principal_id], "主体负责人")] + [
        (b.principals[w.principal_id], f"网站负责人({w.name})") for w in b.websites
    ]
    for p, role in roles:
        if p.id in seen:
            people[[x["id"] for x in people].index(p.id)]["role"] += "、" + role
            continue
        seen.add(p.id)
        people.append(
            {
                "id": p.id,
                "role": role,
                "name": p.name,
                "doc_type": DOC_ZH.get(p.doc_type, p.doc_type),
                "doc_number": p.doc_number,
            }
        )
    return {
        "order_id": o.id,
        "external_id": o.external_id,
        "business_type": BUSINESS_ZH.get(o.business_type, o.business_type),
        "status": status.value,
        "status_zh": state.STATUS_ZH[status],
        "subject": subject_data(o),
        "principals": people,
        # Websites as always; APPs, mini-programs and quick apps also name their kind and
        # identifiers (a website's entry is unchanged, so its sheets keep their codes).
        "websites": [
            {
                "name": w.name,
                "domains": list(w.domains),
                "principal": b.principals[w.principal_id].name,
                **(
                    {}
                    if w.kind == "website"
                    else {"kind": SERVICE_ZH.get(w.kind, w.kind), "ident": service_ident(w.attrs)}
                ),
            }
            for w in b.websites
        ],
        # Completion time only once complete (an unfinished order has none).
        "verified_at": bj(max((m.created_at for m in uploads), default=None))
        if status is state.Status.COMPLETE
        else "-",
        "method": {
            "zh": how.zh,
            "checks": how.checks,
            "not_run": how.not_run,
            "warning": how.warning_zh,
        },
        "sessions": sessions,
        "materials": [
            {"label": materials.material_label(b, m), "sha256": m.sha256} for m in current
        ],
        "audit_head": evidence_head(events),
        # Only when a pledge was confirmed (a sheet without one keeps its content and code).
        **({"pledge": pledged} if (pledged := pledge_data(b, events)) else {}),
    }


ROLE_ZH = {"subject_principal": "主体负责人", "website_principal": "网站负责人"}


def pledge_data(b: Bundle, events: list[Event]) -> dict[str, str] | None:
    """The 承诺书 as recorded: who confirmed it in which session, when, which text."""
    m = b.current(None, "pledge")
    if m is None:
        return None
    x = m.extracted or {}
    person = b.principals.get(str(x.get("person_id", "")))
    event = next(
        (e for e in events if e.type == "pledge.accepted" and e.data.get("material_id") == m.id),
        None,
    )
    return {
        "version": str(x.get("version", "")),
        "text_sha256": m.sha256,
        "by": person.name if person else "-",
        "role": ROLE_ZH.get(str(x.get("role", "")), str(x.get("role", ""))),
        "at": bj(m.created_at),
        "phone": (event.phone_masked if event else None) or "-",
        "platform": PLATFORM_ZH.get(event.platform or "", event.platform or "-") if event else "-",
    }


# The events that change what the sheet attests: the sheet's code covers the audit chain's
# head as of the newest of them (later events, an SMS reminder say, leave the code alone).
EVIDENCE_EVENTS = frozenset(
    {"capture.accepted", "part.verified", "part.reset", "part.reverify_requested",
     "order.status_changed", "pledge.accepted"}
)  # fmt: skip


def evidence_head(events: list[Event]) -> str | None:
    """The chain hash (app.models.audit) of the newest evidence event: it covers every
    event before it, so a trail edited in the database no longer gives this sheet's code."""
    return next((e.hash for e in reversed(events) if e.type in EVIDENCE_EVENTS), None)


def content_hash(data: dict[str, Any]) -> str:
    raw = json.dumps(data, sort_keys=True, ensure_ascii=False).encode()
    return hashlib.sha256(raw).hexdigest()


def sheet_code(signing_key: str, order_id: str, digest: str) -> str:
    """12 characters (60 bits) of HMAC-SHA256 over the order and the sheet's content."""
    mac = hmac.new(signing_key.encode(), f"sheet|{order_id}|{digest}".encode(), hashlib.sha256)
    return base64.b32encode(mac.digest()).decode()[:12]


def normalize_code(code: str) -> str:
    return code.replace("-", "").replace(" ", "").upper()


def display_code(code: str) -> str:
    return "-".join(code[i : i + 4] for i in range(0, len(code), 4))


def sheet_images(b: Bundle, storage: Storage) -> list[SheetImage]:
    """The face photo of each website principal and each two-sided ID composite."""
    out: list[SheetImage] = []
    seen: set[str] = set()
    for w in b.shape.websites:
        p = w.principal
        if p.id in seen:
            continue
        seen.add(p.id)
        best = b.current(p.id, "face", kind="best_frame")
        if best is not None and best.storage_key:
            name = b.principals[p.id].name
            out.append(SheetImage(f"当面核验拍照:{name}", storage.get(best.storage_key)))
    people = [("subject_principal", b.shape.subject_principal)] + [
        (f"website:{w.id}", w.principal) for w in b.shape.websites
    ]
    seen.clear()
    for key, p in people:
        if p.id in seen or p.doc_type not in vocabulary.TWO_SIDED_DOCUMENTS:
            continue
        seen.add(p.id)
        if b.current(p.id, "id_front") and b.current(p.id, "id_back"):
            name = b.principals[p.id].name
            out.append(SheetImage(f"证件合成图:{name}", package.id_composite(b, storage, key)))
    return out


def build_sheet(
    b: Bundle,
    storage: Storage,
    events: list[Event],
    checks: dict[str, list[CheckRow]],
    signing_key: str,
) -> Sheet:
    data = sheet_data(b, events, checks)
    digest = content_hash(data)
    code = sheet_code(signing_key, b.order.id, digest)
    pdf = _render(data, sheet_images(b, storage), code)
    return Sheet(pdf=pdf, code=code, content_hash=digest, status=data["status"], data=data)


def render_sheet(
    b: Bundle,
    storage: Storage,
    events: list[Event],
    checks: dict[str, list[CheckRow]],
    signing_key: str,
) -> bytes:
    """The PDF alone (for package.zip); record its code with filing.service.issue_sheet."""
    return build_sheet(b, storage, events, checks, signing_key).pdf


def subject_data(o: Order) -> dict[str, str]:
    """The order's subject as the sheet and its template print it (Chinese labels)."""
    return {
        "name": o.subject_name,
        "nature": NATURE_ZH.get(o.subject_nature, o.subject_nature),
        "doc_type": DOC_ZH.get(o.subject_doc_type, o.subject_doc_type),
        "doc_number": o.subject_doc_number,
        "province": o.province or "-",
    }


def subject_rows(s: dict[str, Any]) -> list[list[str]]:
    """The subject's rows of the sheet and of its blank template: name, nature, document."""
    return [
        ["名称", s["name"]],
        ["性质", s["nature"]],
        ["证件类型", s["doc_type"]],
        ["证件号码", s["doc_number"]],
        ["所在省份", s["province"]],
    ]


def _render(data: dict[str, Any], images: list[SheetImage], code: str) -> bytes:
    # lazy: reportlab is loaded only when a PDF is made
    from reportlab.lib import colors
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.lib.utils import ImageReader
    from reportlab.platypus import (
        Image,
        KeepTogether,
        Paragraph,
        Spacer,
        Table,
        TableStyle,
    )

    font = _register_font()
    body = ParagraphStyle("body", fontName=font, fontSize=9.5, leading=14, wordWrap="CJK")
    small = ParagraphStyle("small", parent=body, fontSize=7.5, leading=10)
    h1 = ParagraphStyle("h1", parent=body, fontSize=16, leading=22, alignment=1)
    # A heading stays on the page of what follows it (never alone at a page's foot).
    h2 = ParagraphStyle(
        "h2", parent=body, fontSize=11, leading=16, spaceBefore=8, spaceAfter=3, keepWithNext=1
    )
    warn = ParagraphStyle("warn", parent=body, textColor=colors.red, alignment=1, fontSize=12)
    red = ParagraphStyle("red", parent=body, textColor=colors.red)

    def p(text: Any, style: ParagraphStyle = body) -> Paragraph:
        return Paragraph(escape(str(text)), style)

    def table(rows: list[list[Any]], widths: list[float], header: bool = False) -> Table:
        # A header row is repeated on each page the table spans, and a page never ends with
        # the header alone (reportlab splits a table only after its repeated rows).
        t = Table(
            [[c if isinstance(c, Paragraph) else p(c) for c in r] for r in rows],
            widths,
            repeatRows=1 if header else 0,
        )
        shade = (0, 0), (-1, 0) if header else (0, -1)
        t.setStyle(
            TableStyle(
                [
                    ("GRID", (0, 0), (-1, -1), 0.5, colors.grey),
                    ("VALIGN", (0, 0), (-1, -1), "TOP"),
                    ("BACKGROUND", shade[0], shade[1], colors.whitesmoke),
                ]
            )
        )
        return t

    complete = data["status"] == state.Status.COMPLETE.value
    story: list[Any] = [p("电子版用户真实性核验单", h1), Spacer(1, 4)]
    if not complete:
        story.append(p(f"未完成 — 当前状态:{data['status_zh']},本核验单不可用于提交备案", warn))
    if data["method"]["warning"]:
        story.append(p(data["method"]["warning"] + ",本核验单不可用于提交备案", warn))
    s = data["subject"]
    story += [
        p("一、备案信息", h2),
        table(
            [
                ["订单号", data["external_id"]],
                ["备案类型", data["business_type"]],
                ["核验状态", data["status_zh"]],
            ],
            [35 * mm, 135 * mm],
        ),
        p("二、主办单位", h2),
        table(subject_rows(s), [35 * mm, 135 * mm]),
        p("三、负责人", h2),
        table(
            [["角色", "姓名", "证件类型", "证件号码"]]
            + [[x["role"], x["name"], x["doc_type"], x["doc_number"]] for x in data["principals"]],
            [55 * mm, 25 * mm, 40 * mm, 50 * mm],
            header=True,
        ),
        p("四、网站及互联网信息服务", h2),
        table(
            [["类型", "名称", "域名或标识", "负责人"]]
            + [
                [
                    w.get("kind", "网站"),
                    w["name"],
                    w.get("ident") or "、".join(w["domains"]),
                    w["principal"],
                ]
                for w in data["websites"]
            ],
            [22 * mm, 40 * mm, 80 * mm, 28 * mm],
            header=True,
        ),
        p("五、核验方式与时间", h2),
        table(
            [
                ["核验方式", data["method"]["zh"]],
                *(
                    [["未进行的核验", p("、".join(data["method"]["not_run"]), red)]]
                    if data["method"]["not_run"]
                    else []
                ),
                # An unfinished order has no completion time: the row is left out.
                *([["核验完成时间", data["verified_at"]]] if complete else []),
                # The 承诺书 only as recorded: who confirmed which text, when, on which phone.
                *([["承诺书确认", _pledge_line(data["pledge"])]] if data.get("pledge") else []),
            ],
            [35 * mm, 135 * mm],
        ),
    ]
    if data["sessions"]:
        story.append(Spacer(1, 3))
        story.append(
            table(
                [["扫码时间", "平台", "绑定手机", "范围"]]
                + [[x["at"], x["platform"], x["phone"], x["scope"]] for x in data["sessions"]],
                [60 * mm, 35 * mm, 35 * mm, 40 * mm],
                header=True,
            )
        )
    if images:
        story.append(p("六、人像与证件", h2))
        for img in images:
            reader = ImageReader(io.BytesIO(img.data))
            w, h = reader.getSize()
            width = 120 * mm
            height = width * h / w
            if height > 90 * mm:
                height = 90 * mm
                width = height * w / h
            story.append(KeepTogether([p(img.caption), Image(io.BytesIO(img.data), width, height)]))
    story += [
        p("七、材料摘要(SHA-256)", h2),
        table(
            [["材料", "SHA-256"]]
            + [[x["label"], p(x["sha256"], small)] for x in data["materials"]],
            [70 * mm, 100 * mm],
            header=True,
        ),
        Spacer(1, 8),
        p(f"核验码:{display_code(code)}"),
        p("可通过 GET /v1/verify-sheet/{核验码} 查验本核验单的真实性。", small),
        *([p(f"审计链头(SHA-256):{data['audit_head']}", small)] if data.get("audit_head") else []),
    ]
    return build_pdf(story, "电子版用户真实性核验单")


def _pledge_line(x: dict[str, str]) -> str:
    return (
        f"已在移动端阅读并确认《备案真实性承诺书》(版本 {x['version']});确认人:{x['by']}"
        f"({x['role']});确认时间:{x['at']};{x['platform']},绑定手机 {x['phone']};"
        f"文本 SHA-256:{x['text_sha256']}"
    )


def build_pdf(story: list[Any], title: str) -> bytes:
    """An A4 PDF of ``story`` in reportlab's invariant mode (same input, same bytes)."""
    # lazy: reportlab is loaded only when a PDF is made
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.units import mm
    from reportlab.platypus import SimpleDocTemplate

    buf = io.BytesIO()
    doc = SimpleDocTemplate(
        buf,
        pagesize=A4,
        invariant=1,
        title=title,
        author="Heyan",
        leftMargin=20 * mm,
        rightMargin=20 * mm,
        topMargin=18 * mm,
        bottomMargin=18 * mm,
    )
    doc.build(story)
    return buf.getvalue()
