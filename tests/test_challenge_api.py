"""The liveness challenge as a mini-program sees it: steps, prompts, digits, flashes."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from app.access.providers import create_provider
from app.analysis.pipeline import CapturePipeline
from app.core.migrate import upgrade
from app.main import create_app
from app.models.orders import Challenge
from tests.conftest import Api, _in_thread, intake_pipeline, make_settings
from tests.flows import bearer, challenge, new_order, open_session, qr, upload


async def _session(api: Api) -> dict[str, Any]:
    order = await new_order(api)
    return await open_session(api, await qr(api, order["id"]))


@pytest.fixture
def settings(api: Api) -> Iterator[Any]:
    s = api.app.state.ctx.settings
    saved = (s.liveness_digits, s.liveness_flash, s.liveness_challenge_length)
    yield s
    s.liveness_digits, s.liveness_flash, s.liveness_challenge_length = saved


async def test_a_challenge_lists_one_prompt_per_step_with_timing(api: Api) -> None:
    s = await _session(api)
    body = (await challenge(api, s)).json()
    steps = body["steps"]
    assert len(steps) == 5 and body["actions"] == [st["action"] for st in steps]
    assert all(a != b for a, b in itertools.pairwise(body["actions"]))
    assert all(st["prompt_zh"] and st["duration_s"] > 0 for st in steps)
    assert [st["start_s"] for st in steps] == sorted(st["start_s"] for st in steps)
    assert body["total_seconds"] <= 15 and len(body["nonce"]) >= 16 and body["flash"] == []
    again = (await challenge(api, s)).json()
    assert again["nonce"] != body["nonce"]


async def test_digits_and_flash_when_the_deployment_asks(api: Api, settings: Any) -> None:
    settings.liveness_digits, settings.liveness_flash, settings.liveness_challenge_length = (
        5,
        True,
        3,
    )
    s = await _session(api)
    body = (await challenge(api, s)).json()
    assert body["actions"].count("read_digits") == 1 and len(body["actions"]) == 4
    step = next(st for st in body["steps"] if st["action"] == "read_digits")
    assert step["digits"].isdigit() and len(step["digits"]) == 5
    assert " ".join(step["digits"]) in step["prompt_zh"]
    assert 3 <= len(body["flash"]) <= 8
    assert all(set(f) >= {"colour", "rgb", "start_s", "duration_s"} for f in body["flash"])


# -- read-aloud digits with a real sound track, through the HTTP API ----------------------
# The real face models and Whisper behind the API (documents: intake checks only). The
# captures are LABELLED-SYNTHETIC: the carphone man's genuine motions (testkit.genuine) with
# an espeak-ng voice reading the asked digits muxed in as the video's sound (tests/data/speech).
# No rendered mouth reads along, so these are the attacks a read-digits step exists for: a
# replay with the right digits dubbed in, and a silent replay.

SPEECH = Path(__file__).parent / "data" / "speech"
VOICE, VOICE_DIGITS = "digits_5721.mp4", "5721"


@pytest.fixture(scope="module")
async def digits_api(
    tmp_path_factory: pytest.TempPathFactory, face_analyzer: Any, digit_reader: Any
) -> AsyncIterator[Api]:
    from app.liveness import FaceAnalyzer

    data_dir = tmp_path_factory.mktemp("digits")
    url = f"sqlite+aiosqlite:///{data_dir / 'digits.db'}"
    _in_thread(upgrade, url)
    settings = make_settings(
        {"database_url": url, "database_schema": "", "data_dir": str(data_dir)},
        webhook_dispatcher=False,
        liveness_digits=4,
        liveness_challenge_length=3,
    )
    fa = FaceAnalyzer(face_analyzer.model_dir, face_analyzer.config, digit_reader=digit_reader)
    fa._models = face_analyzer._models  # the run's loaded face models, Whisper loaded once too
    pipeline = CapturePipeline(intake_pipeline(settings).limits, face=fa)
    app = create_app(settings, pipeline=pipeline)
    async with app.router.lifespan_context(app):
        async with app.state.ctx.sessionmaker() as db:
            provider_id, key = await create_provider(db, "digits")
        transport = httpx.ASGITransport(app=app, client=("203.0.113.11", 50000))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield Api(client, app, key, provider_id)


async def _face_session(api: Api) -> tuple[dict[str, Any], dict[str, Any]]:
    """A session at the face step, and its challenge with digits (those the voice reads)."""
    s = await _session(api)
    for step in ("subject_document", "subject_principal_id_front", "subject_principal_id_back"):
        assert (await upload(api, s, step)).status_code == 201
    ch = await challenge(api, s)
    assert ch.status_code == 201, ch.text
    body = ch.json()
    assert body["actions"].count("read_digits") == 1
    # The server drew random digits; the recorded voice reads 5721, so the stored challenge
    # is set to ask for those (the only change made behind the API).
    async with api.app.state.ctx.sessionmaker() as db:
        row = await db.get(Challenge, body["challenge_id"])
        assert row is not None
        spec = dict(row.spec or {})
        spec["steps"] = [
            st | {"digits": VOICE_DIGITS} if st["action"] == "read_digits" else st
            for st in spec["steps"]
        ]
        row.spec = spec
        # Rendering the capture takes a minute or more on a busy 2-core machine: more than a
        # person gets (CHALLENGE_TTL_SECONDS); the test's challenge lives longer.
        row.expires_at = row.created_at + timedelta(minutes=30)
        await db.commit()
    return s, body


def _replay_video(face_analyzer: Any, body: dict[str, Any], voice: bool) -> bytes:
    """The man's genuine motions for the challenge; the voice placed at the digits step."""
    from app.liveness import decode_video
    from app.liveness.audio import decode_audio
    from testkit import genuine
    from testkit.speech_clips import mux

    video = genuine.challenge_video(face_analyzer, tuple(body["actions"]))
    if not voice:
        return video
    images = [f.image for f in decode_video(video, max_frames=600, max_side=10_000)]
    track = decode_audio((SPEECH / VOICE).read_bytes(), max_seconds=15)
    assert track is not None
    step = next(st for st in body["steps"] if st["action"] == "read_digits")
    # Silence before the step, then the voice (its own lead-in included), then silence.
    lead = np.zeros(int(step["start_s"] * track.rate), np.float32)
    samples = np.concatenate([lead, track.samples])
    total = len(images) / 30.0
    samples = np.concatenate(
        [samples, np.zeros(max(0, int(total * track.rate) - len(samples)), np.float32)]
    )[: int(total * track.rate)]
    return mux(samples, fps=30, frames=images)


async def _post_face(api: Api, s: dict[str, Any], body: dict[str, Any], video: bytes) -> Any:
    return await api.client.post(
        "/m/v1/captures/face",
        files={"video": ("face.mp4", video, "video/mp4")},
        data={"challenge_id": body["challenge_id"]},
        headers=bearer(s),
    )


async def test_dubbed_digits_over_a_replay_are_refused_through_the_api(
    digits_api: Api, face_analyzer: Any
) -> None:
    s, body = await _face_session(digits_api)
    r = await _post_face(digits_api, s, body, _replay_video(face_analyzer, body, voice=True))
    assert r.status_code == 422, r.text
    assert r.json()["code"] == "CAPTURE_REJECTED"
    checks = {c["code"]: c for c in r.json()["checks"]}
    assert checks["AUDIO_MISSING"]["passed"] is True  # the sound track was decoded and heard
    # The voice reads the asked digits, but the mouth on the video never moves with it.
    # Refused either way; which check says so depends on the drawn challenge: the voice is
    # placed at the read_digits step, and at some placements Whisper mishears it (DIGITS_WRONG,
    # then lip sync is not scored). When the digits are heard right, lip sync must refuse.
    if checks["DIGITS_WRONG"]["passed"]:
        assert checks["LIP_SYNC_MISMATCH"]["passed"] is False
        assert checks["LIP_SYNC_MISMATCH"]["message_zh"]
    # The motions themselves were right: only the read-aloud step refused it.
    assert checks["ACTION_ORDER_WRONG"]["passed"] is True
    assert checks["SPOOF_SUSPECTED"]["passed"] is True


async def test_a_silent_capture_of_a_read_digits_challenge_is_refused(
    digits_api: Api, face_analyzer: Any
) -> None:
    s, body = await _face_session(digits_api)
    r = await _post_face(digits_api, s, body, _replay_video(face_analyzer, body, voice=False))
    assert r.status_code == 422, r.text
    checks = {c["code"]: c for c in r.json()["checks"]}
    assert checks["AUDIO_MISSING"]["passed"] is False
    assert "DIGITS_WRONG" not in checks or checks["DIGITS_WRONG"]["passed"] is not True
