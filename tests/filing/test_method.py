"""The verification method (核验方式) is stated from the checks recorded, never assumed.

Intake-only evidence (CAPTURE_CHECKS=intake: no document recognition, liveness or face
match) says so on the sheet, in the manifest and in the order view, and its sheet never
verifies as complete; evidence checked by the (here fake) models states the full method.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from pypdf import PdfReader

from app.access.providers import create_provider
from app.core.migrate import upgrade
from app.main import create_app
from app.orders import method
from tests.conftest import Api, _in_thread, intake_pipeline, make_settings
from tests.fake_models import fake_full_pipeline
from tests.filing.helpers import complete, create

FULL = "移动端电子化核验(证件拍照、证件识别、人脸视频采集、活体检测、人脸比对)"


def text_of(pdf: bytes) -> str:
    return "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages)


@pytest.fixture(scope="module")
async def full_api(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Api]:
    data_dir = tmp_path_factory.mktemp("method")
    url = f"sqlite+aiosqlite:///{data_dir / 'm.db'}"
    _in_thread(upgrade, url)
    settings = make_settings(
        {"database_url": url, "database_schema": "", "data_dir": str(data_dir)},
        webhook_dispatcher=False,
    )
    app = create_app(settings, pipeline=fake_full_pipeline(intake_pipeline(settings).limits))
    async with app.router.lifespan_context(app):
        async with app.state.ctx.sessionmaker() as db:
            provider_id, key = await create_provider(db, "method")
        transport = httpx.ASGITransport(app=app, client=("203.0.113.11", 50000))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield Api(client, app, key, provider_id)


async def _evidence(api: Api) -> tuple[dict[str, Any], str, dict[str, Any], dict[str, Any]]:
    order = await create(api)
    await complete(api, order)
    oid = order["id"]
    r = await api.client.get(f"/v1/orders/{oid}/verification-sheet.pdf", headers=api.auth)
    assert r.status_code == 200, r.text
    text = text_of(r.content)
    check = (await api.client.get(f"/v1/verify-sheet/{r.headers['heyan-sheet-code']}")).json()
    view = (await api.client.get(f"/v1/orders/{oid}", headers=api.auth)).json()
    pkg = await api.client.get(f"/v1/orders/{oid}/package.zip", headers=api.auth)
    manifest = json.loads(zipfile.ZipFile(io.BytesIO(pkg.content)).read("manifest.json"))
    return check, text, view, manifest


async def test_intake_only_evidence_never_states_liveness_or_match(api: Api) -> None:
    check, text, view, manifest = await _evidence(api)
    flat = text.replace("\n", "")
    assert "移动端电子化核验(证件拍照、人脸视频采集)" in flat
    assert FULL not in flat
    assert "仅经接收检查" in flat  # the red line
    assert "未进行的核验" in flat
    assert "证件识别、活体检测、人脸比对" in flat
    # The order reached 核验完成, but its sheet does not verify as complete.
    assert check["sheet_status"] == "complete"
    assert check["sheet_checks"] == "intake_only"
    assert check["sheet_complete"] is False
    assert check["current"] is True
    for how in (view["verification_method"], manifest["verification_method"]):
        assert how["checks"] == "intake_only"
        assert how["not_run"] == ["证件识别", "活体检测", "人脸比对"]
        assert how["liveness"] == how["face_matched"] == 0
        assert how["faces"] == 1


async def test_model_checked_evidence_states_the_full_method(full_api: Api) -> None:
    check, text, view, manifest = await _evidence(full_api)
    flat = text.replace("\n", "")
    assert FULL in flat
    assert "仅经接收检查" not in flat
    assert "未进行的核验" not in flat
    assert check["sheet_checks"] == "full"
    assert check["sheet_complete"] is True
    for how in (view["verification_method"], manifest["verification_method"]):
        assert how["checks"] == "full"
        assert how["not_run"] == []
        assert how["faces"] == how["liveness"] == how["face_matched"] == 1


class _C:
    def __init__(self, code: str, passed: bool = True, score: float | None = 1.0,
                 model: dict[str, Any] | None = None) -> None:  # fmt: skip
        self.code, self.passed, self.score, self.model = code, passed, score, model


class _M:
    def __init__(self, id: str, step: str, kind: str = "upload") -> None:
        self.id, self.step, self.kind = id, step, kind
        self.current = True


def test_derive_counts_only_what_ran() -> None:
    m = {"name": "ocr"}
    mats = [_M("d1", "subject_document"), _M("d2", "id_front"), _M("f1", "face"),
            _M("p1", "id_front", "portrait")]  # fmt: skip
    checks = {
        "d1": [_C("IMAGE_TOO_SMALL"), _C("WRONG_DOCUMENT_TYPE", model=m)],
        "d2": [_C("IMAGE_TOO_SMALL")],  # intake only
        # A match without a score (no portrait) is not a face match.
        "f1": [_C("BLINK_NOT_DETECTED"), _C("FACE_MISMATCH", score=None)],
    }
    how = method.derive(mats, checks)  # type: ignore[arg-type]
    assert (how.documents, how.documents_recognised, how.faces) == (2, 1, 1)
    assert (how.liveness, how.face_matched) == (1, 0)
    assert how.done == ["证件拍照", "人脸视频采集", "活体检测"]
    assert how.not_run == ["证件识别", "人脸比对"]
    assert how.checks == "intake_only"
    assert method.derive([], {}).checks == "none"
    assert method.derive([], {}).zh == "尚未采集"
