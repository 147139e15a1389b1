"""Every personal document type through the public API with the real OCR (SQLite): an order
whose subject principal holds a 港澳 / 台湾 travel permit, a residence permit or a permanent
residence card completes the subject part from LABELLED-SYNTHETIC photos of that document
(testkit/documents/render.py), and the provider sees the fields read; another person's card
is refused with the mismatch codes. The resident ID's own tests: tests/test_full_pipeline.py."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from datetime import date
from typing import Any

import httpx
import pytest

from app.access.providers import create_provider
from app.analysis.pipeline import CapturePipeline
from app.core.migrate import upgrade
from app.main import create_app
from testkit.documents import render as R
from testkit.documents import scene as S
from testkit.documents.identities import Holder, make_company, make_holder
from tests.conftest import Api, _in_thread, intake_pipeline, make_settings
from tests.real_flows import put_image, real_session

TODAY = date.today()


@pytest.fixture(scope="module")
async def permit_api(
    tmp_path_factory: pytest.TempPathFactory, document_analyzer: Any
) -> AsyncIterator[Api]:
    data_dir = tmp_path_factory.mktemp("permits")
    url = f"sqlite+aiosqlite:///{data_dir / 'permits.db'}"
    _in_thread(upgrade, url)
    settings = make_settings(
        {"database_url": url, "database_schema": "", "data_dir": str(data_dir)},
        min_image_side=480,
        webhook_dispatcher=False,
    )
    pipeline = CapturePipeline(intake_pipeline(settings).limits, document=document_analyzer)
    app = create_app(settings, pipeline=pipeline)
    async with app.router.lifespan_context(app):
        async with app.state.ctx.sessionmaker() as db:
            provider_id, key = await create_provider(db, "permits")
        transport = httpx.ASGITransport(app=app, client=("203.0.113.9", 50000))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield Api(client, app, key, provider_id)


def _order(h: Holder, company: Any, tag: str) -> dict[str, Any]:
    principal = {
        "name": h.order_name,
        "document": {"type": h.doc_type, "number": h.number},
        "mobile": "13800138000",
    }
    return {
        "external_id": f"permit-{tag}-{h.number}",
        "business_type": "new_filing",
        "subject": {
            "nature": "enterprise",
            "name": company.name,
            "document": {"type": "business_licence", "number": company.uscc},
            "principal": principal,
        },
        "websites": [{"name": "官网", "domains": ["example.cn"], "principal": principal}],
    }


def _photos(h: Holder, rng: random.Random) -> list[tuple[str, Any]]:
    """(step, photo) of the principal's document: one page, or both sides."""

    def shot(card: Any) -> Any:
        return S.photograph(card, rng, tilt=0.02, fill=0.62).image

    if h.doc_type in ("hk_macau_permit", "taiwan_permit"):
        return [("subject_principal_document", shot(R.render_permit(h, rng)))]
    if h.doc_type == "foreign_permanent_residence":
        front, back = R.render_foreign_front(h, rng), R.render_foreign_back(h, rng)
    else:
        front, back = R.render_residence_front(h, rng), R.render_residence_back(h, rng)
    return [("subject_principal_id_front", shot(front)), ("subject_principal_id_back", shot(back))]


@pytest.mark.parametrize(
    ("doc_type", "seed"),
    [
        ("hk_macau_permit", 21),
        ("taiwan_permit", 22),
        ("hk_macau_residence", 23),
        ("taiwan_residence", 24),
        ("foreign_permanent_residence", 25),
    ],
)
async def test_permit_holder_completes_the_subject_part(
    permit_api: Api, doc_type: str, seed: int
) -> None:
    api = permit_api
    rng = random.Random(seed)
    h, company = make_holder(rng, TODAY, doc_type), make_company(rng, TODAY)
    oid, s = await real_session(api, _order(h, company, "ok"))
    licence = S.photograph(R.render_licence(company, rng), rng, tilt=0.02, fill=0.7).image
    r = await put_image(api, s, "subject_document", licence)
    assert r.status_code == 201, r.text
    for step, photo in _photos(h, rng):
        r = await put_image(api, s, step, photo)
        assert r.status_code == 201, (step, r.text)
        assert h.number not in r.text  # masked for the phone
    assert r.json()["order_status"] == "subject_verified"
    items = (await api.client.get(f"/v1/orders/{oid}/materials", headers=api.auth)).json()
    uploads = [i for i in items if i["kind"] == "upload" and i["step"] != "subject_document"]
    read = {k: v for i in uploads for k, v in i["extracted"].items()}
    number_key = (
        "id_number"
        if doc_type in ("hk_macau_residence", "taiwan_residence")
        else ("document_number")
    )
    assert read[number_key] == h.number
    assert read["name"] == (h.latin_name if doc_type.startswith("foreign") else h.person.name)
    checks = {c["code"]: c for i in uploads for c in i["checks"]}
    assert checks["ID_NUMBER_MISMATCH"]["passed"] is True
    assert checks["NAME_MISMATCH"]["passed"] is True
    assert checks["ID_NUMBER_INVALID"]["model"]["sha256"]
    assert any(i["kind"] == "portrait" for i in items)  # for the face match


async def test_another_holders_permit_is_refused(permit_api: Api) -> None:
    api = permit_api
    rng = random.Random(31)
    h, company = make_holder(rng, TODAY, "hk_macau_permit"), make_company(rng, TODAY)
    other = make_holder(rng, TODAY, "hk_macau_permit")
    _, s = await real_session(api, _order(h, company, "other"))
    [(step, photo)] = _photos(other, rng)
    r = await put_image(api, s, step, photo)
    assert r.status_code == 422
    problem = r.json()
    assert problem["code"] == "CAPTURE_REJECTED"
    failed = {c["code"] for c in problem["checks"] if not c["passed"]}
    assert {"ID_NUMBER_MISMATCH", "NAME_MISMATCH"} <= failed
    assert problem["detail"]
