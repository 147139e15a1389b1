"""Replays and capture time through the public API, on SQLite and PostgreSQL.

The replay tests run the real document and face models (as tests/test_full_pipeline.py
does): the genuine capture is labelled-synthetic from real footage (testkit/genuine.py), the
re-encoded copy is built by testkit/replays.py. The capture-time tests need no model: the
intake pipeline reads the video's creation_time and the frames' captured_at.
"""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import numpy as np
import pytest
from sqlalchemy import select, text

from app.access.providers import create_provider
from app.analysis.pipeline import CapturePipeline
from app.liveness import decode_video
from app.liveness import fingerprint as fp
from app.main import create_app
from app.models.orders import FaceFingerprint
from app.security import crypto
from testkit import genuine, replays
from tests.conftest import Api, intake_pipeline, make_settings, synthetic_jpeg, synthetic_mp4
from tests.flows import bearer, challenge, new_order, open_session, qr, upload
from tests.real_flows import (
    documents_with_genuine_portrait,
    order_body,
    people,
    real_session,
)


@pytest.fixture(scope="module")
async def replay_api(
    db_settings: dict[str, str], document_analyzer: Any, face_analyzer: Any
) -> AsyncIterator[Api]:
    """The app with the real models, a provider of its own, on each database."""
    settings = make_settings(db_settings, min_image_side=480, webhook_dispatcher=False)
    base = intake_pipeline(settings)
    pipeline = CapturePipeline(base.limits, document=document_analyzer, face=face_analyzer)
    app = create_app(settings, pipeline=pipeline)
    async with app.router.lifespan_context(app):
        async with app.state.ctx.sessionmaker() as db:
            provider_id, key = await create_provider(db, "replay")
        transport = httpx.ASGITransport(app=app, client=("203.0.113.11", 50000))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield Api(client, app, key, provider_id)


async def _face(api: Api, s: dict[str, Any], video: bytes | None = None) -> tuple[Any, Any]:
    """A challenge, then ``video`` (default: the genuine capture for its actions)."""
    ch = await challenge(api, s)
    assert ch.status_code == 201, ch.text
    if video is None:
        video = genuine.challenge_video(api.app.state.ctx.pipeline.face_analyzer,
                                      tuple(ch.json()["actions"]))  # fmt: skip
    r = await api.client.post(
        "/m/v1/captures/face",
        files={"video": ("face.mp4", video, "video/mp4")},
        data={"challenge_id": ch.json()["challenge_id"]},
        headers=bearer(s),
    )
    return ch, r


def _checks(r: httpx.Response) -> dict[str, dict[str, Any]]:
    return {c["code"]: c for c in r.json()["checks"]}


async def _events(api: Api, oid: str, type_: str) -> list[dict[str, Any]]:
    r = await api.client.get(f"/v1/orders/{oid}/events", headers=api.auth)
    assert r.status_code == 200, r.text
    return [e for e in r.json()["items"] if e["type"] == type_]


async def test_the_same_capture_uploaded_again_is_refused_as_a_replay(
    replay_api: Api, face_analyzer: Any
) -> None:
    api = replay_api
    p, c, rng = people(31)
    first_oid, s1 = await real_session(api, order_body(p, c))
    await documents_with_genuine_portrait(api, s1, p, c, rng, face_analyzer)
    ch, r = await _face(api, s1)
    assert r.status_code == 201, r.text  # the first upload is unaffected
    first = genuine.challenge_video(face_analyzer, tuple(ch.json()["actions"]))
    replay_check = _checks(r)["REPLAY_DETECTED"]
    assert replay_check["passed"] is True and replay_check["score"] is None  # hidden

    # Another order of the same provider: the same person's documents, the same video.
    q, d, rng2 = people(32)
    second_oid, s2 = await real_session(api, order_body(q, d))
    await documents_with_genuine_portrait(api, s2, q, d, rng2, face_analyzer)
    _, r = await _face(api, s2, first)
    assert r.status_code == 422, r.text
    problem = r.json()
    assert problem["code"] == "CAPTURE_REJECTED"
    assert _checks(r)["REPLAY_DETECTED"]["passed"] is False
    assert _checks(r)["REPLAY_DETECTED"]["score"] is None  # the phone never sees how near

    # Re-encoded at another quality: still the same recording.
    _, r = await _face(api, s2, replays.reencode(first, crf=32))
    assert r.status_code == 422, r.text
    assert _checks(r)["REPLAY_DETECTED"]["passed"] is False

    # The provider is told, with the earlier capture's order (its own), and nothing personal.
    events = await _events(api, second_oid, "face.replay_detected")
    assert len(events) == 2
    data = events[0]["data"]
    assert data["earlier_order_id"] == first_oid
    assert data["score"] >= fp.THRESHOLD
    assert set(data) == {"step", "material_id", "earlier_order_id", "earlier_material_id", "score"}
    assert p.name not in json.dumps(events) and p.id_number not in json.dumps(events)
    # The provider's own view of the check carries the score and the threshold.
    order = (await api.client.get(f"/v1/orders/{second_oid}", headers=api.auth)).json()
    assert order["status"] == "subject_verified"
    first_order = (await api.client.get(f"/v1/orders/{first_oid}", headers=api.auth)).json()
    assert first_order["status"] == "website_verified"
    assert await _events(api, first_oid, "face.replay_detected") == []

    # Every capture, refused ones included, is remembered, sealed at rest.
    async with api.app.state.ctx.sessionmaker() as db:
        rows = (
            await db.execute(
                select(FaceFingerprint.order_id).where(
                    FaceFingerprint.order_id.in_([first_oid, second_oid])
                )
            )
        ).scalars()
        assert sorted(rows) == sorted([first_oid, second_oid, second_oid])
        raw = (
            await db.execute(
                text("SELECT data FROM face_fingerprints WHERE order_id = :o"), {"o": first_oid}
            )
        ).scalar_one()
    # A token sealed under the face keyring, not the fingerprint's bytes.
    assert crypto.Keyring.kid_of(raw) == crypto.keyring("faces").current_kid
    opened = crypto.keyring("faces").open(raw, "face_fingerprints.data")
    assert fp.Fingerprint.from_bytes(base64.b64decode(opened)).seconds > 1


async def test_another_providers_earlier_capture_is_not_compared(
    replay_api: Api, face_analyzer: Any
) -> None:
    """The replay memory is per provider: one provider's captures never refuse another's."""
    api = replay_api
    other_id, other_key = await api.new_provider()
    other = Api(api.client, api.app, other_key, other_id)
    p, c, rng = people(33)
    _, s = await real_session(other, order_body(p, c))
    await documents_with_genuine_portrait(other, s, p, c, rng, face_analyzer)
    _, r = await _face(other, s)
    assert r.status_code == 201, r.text
    assert _checks(r)["REPLAY_DETECTED"]["passed"] is True


# -- capture time vs. challenge (intake pipeline, no model) -------------------------------


def _mp4(creation_time: datetime | None) -> bytes:
    if creation_time is None:
        return synthetic_mp4()
    images = [np.full((120, 160, 3), (i * 20) % 255, np.uint8) for i in range(12)]
    stamp = creation_time.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000000Z")
    return replays.encode(images, 10, creation_time=stamp)


async def _face_ready(api: Api) -> tuple[str, dict[str, Any]]:
    oid = (await new_order(api))["id"]
    s = await open_session(api, await qr(api, oid))
    for step in ("subject_document", "subject_principal_id_front", "subject_principal_id_back"):
        assert (await upload(api, s, step)).status_code == 201
    return oid, s


async def _post_video(api: Api, s: dict[str, Any], video: bytes) -> httpx.Response:
    ch = await challenge(api, s)
    assert ch.status_code == 201, ch.text
    return await api.client.post(
        "/m/v1/captures/face",
        files={"video": ("face.mp4", video, "video/mp4")},
        data={"challenge_id": ch.json()["challenge_id"]},
        headers=bearer(s),
    )


async def test_a_video_recorded_before_its_challenge_is_refused(api: Api) -> None:
    _, s = await _face_ready(api)
    r = await _post_video(api, s, _mp4(datetime.now(UTC) - timedelta(minutes=10)))
    assert r.status_code == 422, r.text
    timing = _checks(r)["CAPTURE_BEFORE_CHALLENGE"]
    assert timing["passed"] is False and timing["score"] > 500
    assert "动作指令" in r.json()["detail"]
    # Recorded after the challenge (the phone's clock a few seconds behind): accepted.
    r = await _post_video(api, s, _mp4(datetime.now(UTC) - timedelta(seconds=5)))
    assert r.status_code == 201, r.text
    assert _checks(r)["CAPTURE_BEFORE_CHALLENGE"]["passed"] is True


async def test_a_video_without_creation_time_gets_no_time_decision(api: Api) -> None:
    _, s = await _face_ready(api)
    r = await _post_video(api, s, _mp4(None))
    assert r.status_code == 201, r.text
    assert "CAPTURE_BEFORE_CHALLENGE" not in _checks(r)


async def _post_frames(api: Api, s: dict[str, Any], captured_at: str | None) -> httpx.Response:
    ch = await challenge(api, s)
    assert ch.status_code == 201, ch.text
    data = {
        "challenge_id": ch.json()["challenge_id"],
        "timestamps": json.dumps([i * 100 for i in range(10)]),
    }
    if captured_at is not None:
        data["captured_at"] = captured_at
    return await api.client.post(
        "/m/v1/captures/face",
        files=[
            ("frames", (f"f{i}.jpg", synthetic_jpeg(160, 120, seed=i), "image/jpeg"))
            for i in range(10)
        ],
        data=data,
        headers=bearer(s),
    )


async def test_frames_whose_captured_at_precedes_the_challenge_are_refused(api: Api) -> None:
    _, s = await _face_ready(api)
    r = await _post_frames(api, s, "not-a-time")
    assert r.status_code == 422 and r.json()["code"] == "CAPTURED_AT_INVALID"
    early = (datetime.now(UTC) - timedelta(minutes=5)).timestamp() * 1000
    r = await _post_frames(api, s, str(int(early)))
    assert r.status_code == 422, r.text
    assert _checks(r)["CAPTURE_BEFORE_CHALLENGE"]["passed"] is False
    r = await _post_frames(api, s, str(int(datetime.now(UTC).timestamp() * 1000)))
    assert r.status_code == 201, r.text
    assert _checks(r)["CAPTURE_BEFORE_CHALLENGE"]["passed"] is True


# -- storage: retention and key rotation ---------------------------------------------------


class _NoFiles:
    def exists(self, key: str) -> bool:
        del key
        return False


async def test_fingerprints_outlive_the_purge_and_expire_after_their_days(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sqlalchemy import Text, type_coerce

    from app.models.orders import Material, utcnow
    from app.ops import rotate as keys
    from app.ops.retention import purge_fingerprints, purge_order

    oid, _ = await _face_ready(api)
    ctx = api.app.state.ctx
    real = fp.fingerprint(
        decode_video(replays.encode(replays.carphone()), max_frames=150)
    ).to_bytes()
    async with ctx.sessionmaker() as db:
        mid = (
            await db.execute(select(Material.id).where(Material.order_id == oid).limit(1))
        ).scalar_one()
        db.add(
            FaceFingerprint(
                provider_id=api.provider_id, order_id=oid, material_id=mid, data=real,
                created_at=utcnow() - timedelta(days=40),
            )
        )  # fmt: skip
        await db.commit()
        assert await purge_order(db, ctx.storage, oid, "retention") > 0
        # The order's files and identity data are gone; its fingerprint is not.
        assert await purge_fingerprints(db, utcnow(), 90) == 0
        left = (
            await db.execute(select(FaceFingerprint.data).where(FaceFingerprint.order_id == oid))
        ).scalar_one()
        assert left == real
        # A new face key: rotation re-seals the fingerprint under it. Only this table and no
        # file: other tests' rows may be sealed under keys a later app start dropped.
        faces = crypto.keyring("faces").keys
        crypto._KEYRINGS["faces"] = crypto.Keyring(
            "faces", faces + crypto.parse_keys(crypto.new_key_spec("frot"))
        )
        monkeypatch.setattr(keys, "ENCRYPTED", [(FaceFingerprint, ["data"])])
        assert (await keys.rotate(db, _NoFiles()))["rows"] >= 1  # type: ignore[arg-type]
        sealed = (
            await db.execute(
                select(type_coerce(FaceFingerprint.data, Text)).where(
                    FaceFingerprint.order_id == oid
                )
            )
        ).scalar_one()
        assert crypto.Keyring.kid_of(sealed) == "frot"
        # Past FACE_FINGERPRINT_DAYS: deleted.
        assert await purge_fingerprints(db, utcnow() + timedelta(days=51), 90) >= 1
        gone = (
            await db.execute(select(FaceFingerprint.id).where(FaceFingerprint.order_id == oid))
        ).all()
        assert gone == []


def test_migration_0006_matches_the_model_and_downgrades(tmp_path: Any) -> None:
    from alembic import command
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from sqlalchemy import create_engine, inspect

    from app.core.migrate import alembic_config
    from app.models.base import Base
    from tests.conftest import _in_thread

    db = tmp_path / "m.db"
    cfg = alembic_config(f"sqlite+aiosqlite:///{db}")
    _in_thread(command.upgrade, cfg, "head")
    engine = create_engine(f"sqlite:///{db}")
    try:
        with engine.connect() as conn:
            diffs = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        assert [d for d in diffs if "face_fingerprints" in repr(d)] == []
        _in_thread(command.downgrade, cfg, "0005")
        assert "face_fingerprints" not in inspect(engine).get_table_names()
    finally:
        engine.dispose()
    _in_thread(command.upgrade, cfg, "head")
