"""The rejected-photo rules (app/documents/rejected.py) on labelled-synthetic photos
(testkit/documents/rejected.py): each signal on its own attack and on a clean capture, the
analyser's hook, and a screenshot refused through the API with nothing accepted lost."""

from __future__ import annotations

import random

import cv2
import numpy as np
import pytest

from app.documents import quality as Q
from app.documents import rejected as RJ
from app.documents.analyzer import DocumentAnalyzer
from app.inference.checks import Check
from app.inference.messages import MESSAGES
from testkit.documents import rejected as K
from testkit.documents import render as R
from testkit.documents import scene as S
from testkit.documents.cases import make_case
from tests.conftest import Api
from tests.real_flows import order_body, people, put_image, real_session


def _checks(img: np.ndarray) -> dict[str, Check]:
    loc = Q.locate(img)
    quad = None if loc is None else loc.quad
    return {c.code: c for c in RJ.rejected_checks(img, quad, locate=Q.locate)}


@pytest.fixture(scope="module")
def clean() -> np.ndarray:
    return make_case("id_front", "clean", 3).image


def test_clean_capture_passes_every_rule_and_names_its_signals(clean: np.ndarray) -> None:
    checks = _checks(clean)
    assert set(checks) == set(RJ.CODES)
    for c in checks.values():
        assert c.passed, c.as_dict()
        assert c.detail["signals"], c.code
        assert c.detail["evidence"] == []


def test_screenshot_status_bar_and_exact_pixels() -> None:
    shot = K.make_case("screenshot", 0).image
    assert RJ.status_bar(shot) >= RJ.RejectThresholds().min_status_bar
    assert RJ.exact_flat(shot) >= RJ.RejectThresholds().min_exact_flat
    c = _checks(shot)["SCREENSHOT_SUSPECTED"]
    assert not c.passed
    assert "status_bar" in c.detail["evidence"]
    assert c.message_zh == MESSAGES["SCREENSHOT_SUSPECTED"][0]


def test_camera_photo_has_no_status_bar_nor_exact_blocks(clean: np.ndarray) -> None:
    assert RJ.status_bar(clean) == 0.0
    assert RJ.exact_flat(clean) < RJ.RejectThresholds().min_exact_flat


def test_screenshot_cropped_of_its_status_bar_still_refused_by_shape_and_pixels() -> None:
    shot = K.make_case("screenshot", 0).image
    cropped = shot[int(shot.shape[0] * 0.05) :]
    c = _checks(cropped)["SCREENSHOT_SUSPECTED"]
    assert RJ.status_bar(cropped) < RJ.RejectThresholds().min_status_bar
    assert not c.passed
    assert set(c.detail["evidence"]) == {"exact_flat", "screen_shape"}


def test_stitched_front_and_back_are_refused_a_single_card_is_not(clean: np.ndarray) -> None:
    rng = random.Random(7)
    p, _, _ = people(7)
    img = K.stitched([R.render_id_front(p, rng), R.render_id_back(p, rng)], rng)
    c = _checks(img)["STITCHED_IMAGE"]
    assert not c.passed, c.as_dict()
    docs = c.detail["signals"]["documents"]
    assert len(docs) == 2
    assert min(docs) >= RJ.RejectThresholds().min_side_document
    # the card's own straight edge is a seam candidate too; no second document there
    assert _checks(clean)["STITCHED_IMAGE"].passed


def test_tiled_watermark_repeats_on_the_table(clean: np.ndarray) -> None:
    img = K.make_case("watermark", 4).image
    c = _checks(img)["WATERMARK_PRESENT"]
    assert not c.passed
    assert "repeat_background" in c.detail["evidence"]
    loc = Q.locate(clean)
    assert loc is not None
    around = ~RJ._doc_mask(clean.shape[:2], loc.quad, 1.12)
    assert (
        RJ.repeated_pattern(cv2.cvtColor(clean, cv2.COLOR_BGR2GRAY).astype(np.float32), around)
        < RJ.RejectThresholds().max_repeat_background
    )


def test_app_corner_mark_is_a_cluster_on_the_table() -> None:
    img = K.make_case("watermark", 0).image
    c = _checks(img)["WATERMARK_PRESENT"]
    assert not c.passed
    assert "mark_cluster" in c.detail["evidence"]


def test_beauty_filter_removes_the_sensor_noise() -> None:
    c = _checks(K.make_case("beauty_filter", 1).image)["FILTER_APPLIED"]
    assert not c.passed
    assert c.detail["signals"]["noise_floor"] < RJ.RejectThresholds().min_noise_floor


def test_portrait_mode_blurs_around_a_sharp_card() -> None:
    c = _checks(K.make_case("portrait_blur", 0).image)["FILTER_APPLIED"]
    assert not c.passed
    assert "background_noise_ratio" in c.detail["evidence"]
    assert c.detail["signals"]["document_noise"] > 3 * c.detail["signals"]["background_noise"]


def test_a_coarse_jpeg_is_not_blamed_on_a_filter() -> None:
    """Quality 45 flattens the table's noise as a filter would; its quantisation step says
    why, so the rule leaves it to the photo checks."""
    img = make_case("id_front", "jpeg", 0).image
    gray = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY).astype(np.float32)
    assert RJ.jpeg_step(gray) > RJ.RejectThresholds().max_jpeg_step
    fine = S.jpeg(S.Shot(make_case("id_front", "clean", 0).image, np.zeros((4, 2))), 95).image
    assert RJ.jpeg_step(cv2.cvtColor(fine, cv2.COLOR_BGR2GRAY).astype(np.float32)) <= 4
    assert _checks(img)["FILTER_APPLIED"].passed


def test_analyser_tells_the_screenshot_first(analyzer: DocumentAnalyzer) -> None:
    case = K.make_case("screenshot", 1)
    v = analyzer.analyze(case.image, case.kind, case.expect, read=False)
    assert v.failed()[0] == "SCREENSHOT_SUSPECTED", v.failed()


# --- through the API -------------------------------------------------------------------

# doc_api: tests/capture/conftest.py


async def test_screenshot_upload_is_refused_and_nothing_accepted_is_lost(doc_api: Api) -> None:
    api = doc_api
    p, c, rng = people(21)
    oid, s = await real_session(api, order_body(p, c))
    licence = S.photograph(R.render_licence(c, rng), rng, tilt=0.02, fill=0.7).image
    r = await put_image(api, s, "subject_document", licence)
    assert r.status_code == 201, r.json()
    shot = K.screenshot(R.render_id_front(p, rng), rng)
    r = await put_image(api, s, "subject_principal_id_front", shot)
    assert r.status_code == 422, r.text
    problem = r.json()
    assert problem["code"] == "CAPTURE_REJECTED"
    failed = [ch for ch in problem["checks"] if not ch["passed"]]
    assert failed[0]["code"] == "SCREENSHOT_SUSPECTED", [ch["code"] for ch in failed]
    assert problem["detail"] == MESSAGES["SCREENSHOT_SUSPECTED"][0]
    assert "detail" not in failed[0]  # the signals stay with the provider
    # The provider sees the refused upload (kept for audit) with its named signals, and the
    # accepted licence is still the one accepted material; a camera photo of the card is
    # then accepted as usual.
    items = (await api.client.get(f"/v1/orders/{oid}/materials", headers=api.auth)).json()
    uploads = [i for i in items if i["kind"] == "upload"]
    assert [i["accepted"] for i in uploads if i["accepted"]] == [True]
    assert any(i["extracted"].get("uscc") == c.uscc for i in uploads if i["accepted"])
    refused = [i for i in uploads if not i["accepted"]]
    assert len(refused) == 1
    check = next(ch for ch in refused[0]["checks"] if ch["code"] == "SCREENSHOT_SUSPECTED")
    assert check["detail"]["evidence"]
    assert set(check["detail"]["signals"]) == {"exact_flat", "status_bar", "screen_shape"}
    front = S.photograph(R.render_id_front(p, rng), rng, tilt=0.02, fill=0.62).image
    r = await put_image(api, s, "subject_principal_id_front", front)
    assert r.status_code == 201, r.json()
