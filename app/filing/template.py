"""The printable verification sheet template (核验单模板), pre-filled with the order's data
and laid out by its province's rules (app/filing/provinces.py): the person prints it,
signs (and seals, presses a fingerprint, copies the pledge by hand where the province asks)
and photographs it for the verification_sheet step. Deterministic like the sheet itself.
"""

from __future__ import annotations

from typing import Any
from xml.sax.saxutils import escape

from app.filing.provinces import DomainPlacement, SheetRules, rules_for
from app.filing.sheet import (
    BUSINESS_ZH,
    SERVICE_ZH,
    _register_font,
    build_pdf,
    service_ident,
    subject_data,
    subject_rows,
)
from app.orders.service import Bundle

PLACEMENT_ZH = {
    DomainPlacement.SHEET: "本省要求:全部域名须列在本核验单上",
    DomainPlacement.DOMAIN_FIELD: "本省要求:全部域名须填写在域名栏内",
    DomainPlacement.ATTACHMENT: "域名较多时可另附加盖公章或签字的域名清单",
}


def template_rules(b: Bundle) -> SheetRules:
    return rules_for(b.order.province, b.order.subject_nature)


def template_data(b: Bundle) -> dict[str, Any]:
    """What the template prints: the order's data and the rules that shaped it."""
    o = b.order
    rules = template_rules(b)
    return {
        "external_id": o.external_id,
        "business_type": BUSINESS_ZH.get(o.business_type, o.business_type),
        "subject": subject_data(o),
        "principal": b.principals[o.subject_principal_id].name,
        "websites": [
            {
                "kind": SERVICE_ZH.get(w.kind, w.kind),
                "name": w.name,
                "domains": list(w.domains),
                "ident": "" if w.kind == "website" else service_ident(w.attrs),
                "principal": b.principals[w.principal_id].name,
            }
            for w in b.websites
        ],
        "rules": rules.as_dict(),
    }


def render_template(b: Bundle) -> bytes:
    """The template as a one- or two-page A4 PDF in Chinese, with the embedded font."""
    # lazy: reportlab is loaded only when a PDF is made
    from reportlab.lib import colors
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, Spacer, Table, TableStyle

    data = template_data(b)
    rules = template_rules(b)
    font = _register_font()
    body = ParagraphStyle("body", fontName=font, fontSize=10, leading=15, wordWrap="CJK")
    h1 = ParagraphStyle("h1", parent=body, fontSize=16, leading=22, alignment=1)
    h2 = ParagraphStyle("h2", parent=body, fontSize=11, leading=16, spaceBefore=8, keepWithNext=1)

    def p(text: Any, style: ParagraphStyle = body) -> Paragraph:
        return Paragraph(escape(str(text)), style)

    def table(rows: list[list[Any]], widths: list[float], height: float | None = None) -> Table:
        t = Table(
            [[c if isinstance(c, Paragraph) else p(c) for c in r] for r in rows],
            widths,
            rowHeights=None if height is None else [height] * len(rows),
        )
        t.setStyle(
            TableStyle(
                [
                    ("GRID", (0, 0), (-1, -1), 0.5, colors.black),
                    ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ]
            )
        )
        return t

    s = data["subject"]
    story: list[Any] = [
        p("网站备案信息真实性核验单", h1),
        p(f"订单号:{data['external_id']}    备案类型:{data['business_type']}"),
        p("一、主办单位(个人)信息", h2),
        table(
            [*subject_rows(s), ["主体负责人", data["principal"]]],
            [35 * mm, 135 * mm],
        ),
        p("二、网站与域名", h2),
    ]
    if rules.domains is DomainPlacement.ATTACHMENT:
        rows = [["类型", "名称", "首个域名或标识", "负责人"]] + [
            [w["kind"], w["name"], w["ident"] or (w["domains"][0] if w["domains"] else ""),
             w["principal"]]
            for w in data["websites"]
        ]  # fmt: skip
    else:
        rows = [["类型", "名称", "全部域名或标识", "负责人"]] + [
            [w["kind"], w["name"], w["ident"] or "、".join(w["domains"]), w["principal"]]
            for w in data["websites"]
        ]
    story += [
        table(rows, [20 * mm, 40 * mm, 82 * mm, 28 * mm]),
        p(PLACEMENT_ZH[rules.domains]),
        p("三、核验确认", h2),
        p("本人已知晓并确认以上信息真实、准确、有效,且为本人亲自核验,未委托他人代为核验。"),
        Spacer(1, 4),
    ]
    signing: list[list[Any]] = [["负责人签字:", ""]]
    if rules.fingerprint:
        signing.append(["负责人指纹(按于签字处右侧):", ""])
    if rules.seal:
        signing.append(["单位盖章(公章):", ""])
    signing.append(["日期:", "      年    月    日"])
    story.append(table(signing, [60 * mm, 110 * mm], height=18 * mm))
    if rules.pledge:
        story += [
            p("四、手写承诺(请在下框内抄写以下文字)", h2),
            p(rules.pledge),
            table([[""]], [170 * mm], height=30 * mm),
        ]
    return build_pdf(story, "网站备案信息真实性核验单")
