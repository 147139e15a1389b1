"""The sheet's layout: no heading or table header alone at the foot of a page.

Renders the sheet with more and more people, so that each heading and each table header in
turn falls near the end of page 1, and checks every page break.
"""

from __future__ import annotations

import io
from typing import Any

from pypdf import PdfReader

from app.filing.sheet import _render

HEADINGS = ("一、备案信息", "二、主办单位", "三、负责人", "四、网站", "五、核验方式与时间",
            "七、材料摘要(SHA-256)")  # fmt: skip
HEADERS = (("材料", "SHA-256"), ("角色", "姓名", "证件类型", "证件号码"),
           ("扫码时间", "平台", "绑定手机", "范围"))  # fmt: skip


def _data(people: int) -> dict[str, Any]:
    return {
        "order_id": "o1", "external_id": "ext-1", "business_type": "新增备案",
        "status": "complete", "status_zh": "核验完成",
        "subject": {"name": "深圳市示例科技有限公司", "nature": "企业", "doc_type": "营业执照",
                    "doc_number": "91440300MA5F000007", "province": "广东省"},
        "principals": [{"id": f"p{i}", "role": f"网站负责人(网站{i})", "name": "张三",
                        "doc_type": "居民身份证", "doc_number": "441201199003074015"}
                       for i in range(people)],
        "websites": [{"name": "示例官网", "domains": ["example.cn"], "principal": "张三"}],
        "verified_at": "2026-12-01 10:00:00 (北京时间)",
        "method": {"zh": "移动端电子化核验(证件拍照、证件识别、人脸视频采集、活体检测、人脸比对)",
                   "checks": "full", "not_run": [], "warning": None},
        "sessions": [{"at": "2026-12-01 10:00:00 (北京时间)", "platform": "开发模式",
                      "phone": "138****8000", "scope": "整单"}] * 3,
        "materials": [{"label": f"主体负责人证件-张三-人像面-{i}", "sha256": f"{i:064x}"}
                      for i in range(8)],
    }  # fmt: skip


def _page_ends(pdf: bytes) -> list[list[str]]:
    pages = PdfReader(io.BytesIO(pdf)).pages
    return [[x for x in pg.extract_text().splitlines() if x.strip()] for pg in pages[:-1]]


def test_no_heading_or_table_header_stranded_at_a_page_foot() -> None:
    breaks = 0
    for people in range(40):
        for lines in _page_ends(_render(_data(people), [], "ABCDEFGHJKLM")):
            breaks += 1
            tail = lines[-6:]
            assert lines[-1] not in HEADINGS, (people, tail)
            for header in HEADERS:
                n = len(header)
                assert tuple(lines[-n:]) != header, (people, tail)
    assert breaks > 20  # the loop did move page breaks through the tables
