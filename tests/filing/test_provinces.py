"""The province table drives the printable sheet template: one expectation per province,
written out here independently of app/filing/provinces.py, and the template through the
API for each distinct rule (fingerprint, handwritten pledge, seal, domain placement)."""

from __future__ import annotations

import io
from typing import Any

import pytest
from pypdf import PdfReader

from app.filing.provinces import PROVINCES, DomainPlacement, province_of, rules_for
from tests.conftest import ID_A, Api, order_body, person

S, F, A = DomainPlacement.SHEET, DomainPlacement.DOMAIN_FIELD, DomainPlacement.ATTACHMENT
# province: (individual fingerprint, individual handwritten pledge, domain placement)
EXPECTED: dict[str, tuple[bool, bool, DomainPlacement]] = {
    "北京": (False, False, A), "天津": (False, False, A), "河北": (False, False, A),
    "山西": (False, False, A), "内蒙古": (False, False, S), "辽宁": (False, False, A),
    "吉林": (False, False, A), "黑龙江": (False, False, S), "上海": (False, False, A),
    "江苏": (False, False, A), "浙江": (False, False, A), "安徽": (False, False, A),
    "福建": (False, False, A), "江西": (True, False, F), "山东": (False, False, A),
    "河南": (False, False, A), "湖北": (False, False, A), "湖南": (False, False, F),
    "广东": (False, True, A), "广西": (False, False, A), "海南": (False, False, S),
    "重庆": (False, False, S), "四川": (False, False, S), "贵州": (False, False, A),
    "云南": (False, False, A), "西藏": (False, False, A), "陕西": (False, False, A),
    "甘肃": (False, False, F), "青海": (False, False, A), "宁夏": (False, False, A),
    "新疆": (True, False, S),
}  # fmt: skip


def test_every_province_is_in_the_table_once() -> None:
    assert sorted(short for short, _full, _code in PROVINCES) == sorted(EXPECTED)
    assert len({code for _s, _f, code in PROVINCES}) == len(PROVINCES)


@pytest.mark.parametrize("province", sorted(EXPECTED))
def test_rules_per_province(province: str) -> None:
    fingerprint, pledge, placement = EXPECTED[province]
    full = next(f[0] for s, f, _c in PROVINCES if s == province)
    for written in (province, full):
        person_rules = rules_for(written, "individual")
        assert person_rules.province == province
        assert (person_rules.seal, person_rules.signature) == (False, True)
        assert person_rules.fingerprint is fingerprint
        assert (person_rules.pledge is not None) is pledge
        assert person_rules.domains is placement
        unit = rules_for(written, "enterprise")
        # A unit seals everywhere; fingerprints and the handwritten pledge are individuals'.
        assert (unit.seal, unit.fingerprint, unit.pledge) == (True, False, None)
        assert unit.domains is placement


def test_unknown_province_gets_the_common_rules() -> None:
    assert province_of("火星") is None and province_of(None) is None
    rules = rules_for("火星", "individual")
    assert rules.province is None and rules.domains is A and not rules.fingerprint


def _text(pdf: bytes) -> str:
    return "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


async def _template(api: Api, nature: str, province: str) -> tuple[str, Any]:
    body = order_body(
        websites=[
            {"name": "示例官网", "domains": ["example.cn", "www.example.cn"],
             "principal": person()},
            {"name": "示例商城", "domains": ["shop.example.cn"], "principal": person()},
        ]
    )  # fmt: skip
    body["subject"]["province"] = province
    if nature == "individual":
        body["subject"].update(
            nature="individual", name="张三", document={"type": "resident_id", "number": ID_A}
        )
    r = await api.client.post("/v1/orders", json=body, headers=api.auth)
    assert r.status_code == 201, r.text
    t = await api.client.get(
        f"/v1/orders/{r.json()['id']}/verification-sheet-template.pdf", headers=api.auth
    )
    assert t.status_code == 200, t.text
    assert t.headers["content-type"] == "application/pdf"
    return _text(t.content), t


async def test_template_for_a_jiangxi_individual_asks_a_fingerprint(api: Api) -> None:
    text, _ = await _template(api, "individual", "江西省")
    assert "指纹" in text and "公章" not in text
    assert "全部域名须填写在域名栏内" in text
    for domain in ("example.cn", "www.example.cn", "shop.example.cn"):
        assert domain in text


async def test_template_for_a_guangdong_individual_has_the_pledge(api: Api) -> None:
    text, _ = await _template(api, "individual", "广东")
    assert "手写承诺" in text and "指纹" not in text
    assert "www.example.cn" not in text  # elsewhere: the first domain, the list attached
    assert "另附" in text


async def test_template_for_a_unit_asks_the_seal(api: Api) -> None:
    text, resp = await _template(api, "enterprise", "四川省")
    assert "公章" in text and "手写承诺" not in text and "指纹" not in text
    assert "全部域名须列在本核验单上" in text and "shop.example.cn" in text
    assert resp.headers["heyan-sheet-province"]  # the province the rules came from
