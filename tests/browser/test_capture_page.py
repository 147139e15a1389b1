"""The capture page end to end in a real browser: Debian's headless Chromium driven by
playwright-core (npm, the project's package.json; no browser download), a fake camera fed
from a Y4M file, a 360×640 phone viewport, no outside request.

Happy path (CAPTURE_CHECKS=intake): scan URL → notices → SMS code from the dev gateway (read
from the server's log) → subject licence and ID front through the file fallback, the ID back
through the camera (the live pre-check must pass first) → face consent and the liveness
challenge recorded with MediaRecorder from the fake camera → sheet → the order is 核验完成.
Intake, because the full face check cannot pass from a fixed looping file: the challenge asks
a random sequence of actions the file cannot follow (the full face check of a genuine
capture is tests/test_full_pipeline.py's). Refusal path (CAPTURE_CHECKS=full, the real
document models): a blurred licence photo is refused and the page shows the BLURRY check's
Chinese instruction. Screenshots go under the test's tmp dir (`shots/`).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.inference.messages import MESSAGES
from tests.browser.media import documents, face_feed
from tests.conftest import order_body, person, require
from tests.live_server import ROOT, LiveServer, live_server

FLOW = Path(__file__).with_name("flow.mjs")


def chromium() -> str | None:
    for name in ("chromium", "chromium-headless-shell", "chromium-browser"):
        if found := shutil.which(name):
            return found
    return None


def _tooling() -> str:
    browser = chromium()
    require(browser is not None, "no Debian Chromium (make test's `browser` target installs it)")
    require(shutil.which("node") is not None, "no node (make test's `browser` target needs it)")
    require(
        (ROOT / "node_modules" / "playwright-core" / "package.json").is_file(),
        "playwright-core not installed (make test's `browser` target runs npm ci)",
    )
    assert browser is not None
    return browser


def _order(srv: LiveServer, mobile: str) -> tuple[str, str]:
    h = {"Authorization": f"Bearer {srv.key}"}
    body = order_body(principal=person(mobile=mobile))
    order = httpx.post(f"{srv.base}/v1/orders", json=body, headers=h, timeout=10).json()
    token = httpx.post(
        f"{srv.base}/v1/orders/{order['id']}/qr", json={"scope": "order"}, headers=h, timeout=10
    ).json()["token"]
    return order["id"], token


def _drive(cfg: dict[str, Any]) -> dict[str, Any]:
    r = subprocess.run(
        ["node", str(FLOW), json.dumps(cfg)],
        cwd=ROOT, capture_output=True, text=True, timeout=400, check=False,
    )  # fmt: skip
    lines = [x for x in r.stdout.splitlines() if x.startswith("{")]
    assert lines, (r.returncode, r.stdout[-2000:], r.stderr[-2000:])
    result: dict[str, Any] = json.loads(lines[-1])
    assert result.get("ok"), result.get("error")
    return result


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    folder = tmp_path_factory.mktemp("browser-inputs")
    return {"y4m": str(face_feed(folder / "face.y4m")),
            "files": {k: str(v) for k, v in documents(folder).items()}}  # fmt: skip


def test_phone_browser_completes_an_order(tmp_path: Path, inputs: dict[str, Any]) -> None:
    browser = _tooling()
    log = tmp_path / "server.log"
    with log.open("wb") as out, live_server(tmp_path / "data", stdout=out) as srv:
        order_id, token = _order(srv, "13700137001")
        result = _drive({
            "mode": "happy", "base": srv.base, "token": token, "chromium": browser,
            "log": str(log), "shots": str(tmp_path / "shots"),
            "camera_steps": ["subject_principal_id_back"], **inputs,
        })  # fmt: skip
        h = {"Authorization": f"Bearer {srv.key}"}
        order = httpx.get(f"{srv.base}/v1/orders/{order_id}", headers=h, timeout=10).json()
        events = httpx.get(f"{srv.base}/v1/orders/{order_id}/events", headers=h, timeout=10)

    assert result["outside"] == []
    assert not result.get("pageErrors"), result["pageErrors"]
    assert result["seen"]["steps"] == [
        "subject_document", "subject_principal_id_front", "subject_principal_id_back",
        "face", "verification_sheet",
    ]  # fmt: skip
    assert result["resumed"] is True
    assert result["seen"]["live"] == ["画面合格,可以拍摄"]
    assert result["prompts"] and all(p.strip() for p in result["prompts"])
    assert (result["statusCode"], result["status"]) == ("complete", "核验完成")
    assert result["statusEn"] == "Verification complete"
    assert order["status"] == "complete"
    types = [e["type"] for e in events.json()["items"]]
    for t in ("phone_code.sent", "phone_code.verified", "session.opened",
              "notice.acknowledged", "consent.face_accepted"):  # fmt: skip
        assert t in types, (t, types)
    sessions = [e for e in events.json()["items"] if e["type"] == "session.opened"]
    assert sessions[-1]["platform"] == "sms"
    shots = [Path(s) for s in result["shots"]]
    assert len(shots) >= 12 and all(s.stat().st_size > 5000 for s in shots)


def test_blurred_document_shows_the_chinese_instruction(
    tmp_path: Path, inputs: dict[str, Any]
) -> None:
    browser = _tooling()
    from tests.liveness.conftest import face_model_dir

    models = face_model_dir()
    require(models.is_dir(), "models not prepared (make test prepares them)")
    log = tmp_path / "server.log"
    env = {"CAPTURE_CHECKS": "full", "MODEL_DIR": str(models.parent), "MIN_IMAGE_SIDE": "480"}
    with log.open("wb") as out, live_server(tmp_path / "data", env, stdout=out) as srv:
        _, token = _order(srv, "13700137002")
        result = _drive({
            "mode": "refusal", "base": srv.base, "token": token, "chromium": browser,
            "log": str(log), "shots": str(tmp_path / "shots"), **inputs,
        })  # fmt: skip
    assert result["outside"] == []
    codes = {c["code"]: c["text"] for c in result["checks"]}
    assert codes.get("BLURRY") == MESSAGES["BLURRY"][0], codes
    assert result["lang"] == "en"
    codes_en = {c["code"]: c["text"] for c in result["checksEn"]}
    assert codes_en.get("BLURRY") == MESSAGES["BLURRY"][1], codes_en
