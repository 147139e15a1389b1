"""Output profiles: every file the package and the composite endpoint produce meets its
profile's limits (format, dpi, longest side, bytes), checked through the real API on an
order completed with the intake-only flow; the manifest states what was done; the fitting
reduces quality only as much as needed. Photos are labelled-synthetic (noise and blocks)."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from datetime import datetime
from typing import Any

import httpx
import numpy as np
import pytest
from PIL import Image

from app.access.providers import create_provider
from app.filing.composite import Q_MAX, Q_MIN, _encode, fit, jfif_dpi, set_jfif_dpi
from app.filing.package import capture_time
from app.filing.profiles import PROFILES, FileLimit, ProfileMisconfigured, provider_default
from app.main import create_app
from app.models.orders import Material
from tests.conftest import Api, intake_pipeline, make_settings, synthetic_jpeg
from tests.filing.helpers import SUBJECT_MOBILE, create, face
from tests.flows import bearer, open_session, qr

KB = 1000  # the profiles' limits are decimal (app/filing/profiles.py)


def noisy_jpeg(w: int = 1600, h: int = 1000, seed: int = 0, quality: int = 90) -> bytes:
    """A labelled-synthetic camera-like photo: colour blocks plus sensor-like noise (the
    worst case for JPEG size)."""
    rng = np.random.default_rng(seed)
    blocks = (rng.random((h // 40, w // 40, 3)) * 255).astype(np.uint8)
    base = np.asarray(Image.fromarray(blocks).resize((w, h), Image.Resampling.NEAREST))
    arr = np.clip(base + rng.normal(0, 18, base.shape), 0, 255).astype(np.uint8)
    out = io.BytesIO()
    Image.fromarray(arr).save(out, "JPEG", quality=quality)
    return out.getvalue()


async def _upload(api: Api, session: dict[str, Any], step: str, data: bytes) -> None:
    r = await api.client.post(
        f"/m/v1/captures/{step}",
        files={"file": ("photo.jpg", data, "image/jpeg")},
        headers=bearer(session),
    )
    assert r.status_code == 201, r.text


async def completed_order(api: Api) -> dict[str, Any]:
    """One person (subject and website principal) completes the order; the subject document
    and the ID front are large noisy photos, so every limited profile has to work on them."""
    order = await create(api, split=False)
    oid, wid = order["id"], order["websites"][0]["id"]
    subject = await open_session(api, await qr(api, oid, "subject"))
    await _upload(api, subject, "subject_document", noisy_jpeg(seed=1))
    await _upload(api, subject, "subject_principal_id_front", noisy_jpeg(1400, 880, seed=2))
    await _upload(api, subject, "subject_principal_id_back", synthetic_jpeg(seed=3))
    site = await open_session(api, await qr(api, oid, f"website:{wid}"), SUBJECT_MOBILE)
    r = await face(api, site)
    assert r.status_code == 201, r.text
    r = await api.client.post(
        "/m/v1/captures/verification_sheet",
        files={"file": ("photo.jpg", noisy_jpeg(1200, 1700, seed=5), "image/jpeg")},
        headers=bearer(subject),
    )
    assert r.json()["order_status"] == "complete", r.text
    # The intake-only pipeline keeps no best frame (当面核验拍照): add the one the face
    # models would keep, as tests/filing/test_sheet.py does.
    photo = noisy_jpeg(640, 480, seed=6, quality=95)
    ctx = api.app.state.ctx
    key = f"{oid}/faces/best-frame-test.jpg"
    ctx.storage.put(key, photo)
    async with ctx.sessionmaker() as db:
        db.add(
            Material(
                order_id=oid, person_id=order["subject"]["principal"]["id"], step="face",
                kind="best_frame", storage_key=key, sha256=hashlib.sha256(photo).hexdigest(),
                size=len(photo), content_type="image/jpeg", accepted=True,
            )
        )  # fmt: skip
        await db.commit()
    return order


async def _package(api: Api, oid: str, profile: str | None) -> tuple[zipfile.ZipFile, Any]:
    url = f"/v1/orders/{oid}/package.zip" + (f"?profile={profile}" if profile else "")
    r = await api.client.get(url, headers=api.auth)
    assert r.status_code == 200, r.text
    assert r.headers["heyan-profile"] == (profile or "original")
    zf = zipfile.ZipFile(io.BytesIO(r.content))
    return zf, json.loads(zf.read("manifest.json"))


def _meets(data: bytes, limit: FileLimit) -> Image.Image:
    """Assert one produced file against its limit; returns the opened image."""
    img = Image.open(io.BytesIO(data))
    if limit.format:
        assert img.format == limit.format
    if limit.dpi:
        assert img.info["jfif_unit"] == 1
        assert img.info["jfif_density"] == (limit.dpi, limit.dpi)
    if limit.max_bytes:
        assert len(data) <= limit.max_bytes
    if limit.max_side:
        assert max(img.size) <= limit.max_side
    return img


async def test_every_profile_meets_its_limits(api: Api) -> None:
    order = await completed_order(api)
    oid = order["id"]
    zf0, original = await _package(api, oid, None)
    stored = {f["material_id"]: f for f in original["files"] if "material_id" in f}
    # The default keeps today's behaviour: every material byte for byte as stored.
    assert original["profile"]["name"] == "original"
    for f in original["files"]:
        assert "source" not in f
        if "material_id" in f:
            assert hashlib.sha256(zf0.read(f["name"])).hexdigest() == f["sha256"]
    assert {f["profile_kind"] for f in stored.values()} == {
        "certificate", "site_photo", "sheet"
    }  # fmt: skip

    for name, profile in PROFILES.items():
        zf, manifest = await _package(api, oid, name)
        assert manifest["profile"] == json.loads(json.dumps(profile.as_dict()))
        kinds_seen: set[str] = set()
        for f in manifest["files"]:
            data = zf.read(f["name"])
            assert hashlib.sha256(data).hexdigest() == f["sha256"] and len(data) == f["size"]
            kind = f.get("profile_kind")
            if kind is None:  # the electronic sheet PDF: not an image, never changed
                assert data.startswith(b"%PDF")
                continue
            kinds_seen.add(kind)
            limit = profile.limit(kind)
            if kind == "video" or (
                kind != "composite"
                and limit.passthrough
                and not (kind == "site_photo" and profile.timestamp_site_photo)
            ):
                # Untouched: the stored file itself, and the manifest says nothing was done.
                assert "source" not in f and "output" not in f
                assert f["sha256"] == stored[f["material_id"]]["sha256"]
                continue
            img = _meets(data, limit)
            if kind == "composite":
                out = f["output"]
                assert (out["width"], out["height"]) == img.size
                w, h = profile.composite.card_px
                m = profile.composite.margin_px
                full = (
                    (2 * w + 3 * m, h + 2 * m)
                    if profile.composite.direction == "horizontal"
                    else (w + 2 * m, 2 * h + 3 * m)
                )
                if "downscaled" in out["transforms"]:
                    assert img.width < full[0] and img.height < full[1]
                else:
                    assert img.size == full
                continue
            src = stored[f["material_id"]]
            if "output" not in f:
                # Already within the limit: the stored file itself, nothing said to be done.
                assert "source" not in f and f["sha256"] == src["sha256"]
                continue
            out = f["output"]
            assert (out["width"], out["height"]) == img.size
            # The manifest names the stored original next to what the package holds.
            assert f["source"]["sha256"] == src["sha256"] == zf0_sha(zf0, src["name"])
            assert f["source"]["size"] == src["size"]
            assert f["sha256"] != src["sha256"]
            if kind == "site_photo" and profile.timestamp_site_photo:
                assert "timestamp" in out["transforms"]
                assert out["timestamp"] == capture_time(datetime.fromisoformat(f["captured_at"]))
            else:
                assert out["timestamp"] is None and "timestamp" not in out["transforms"]
        assert "composite" in kinds_seen
        # The same composite from its own endpoint, for this profile.
        r = await api.client.get(
            f"/v1/orders/{oid}/materials/id-composite?profile={name}", headers=api.auth
        )
        assert r.status_code == 200, r.text
        assert r.headers["heyan-profile"] == name
        _meets(r.content, profile.limit("composite"))


def _blocks(a: np.ndarray, n: int = 16) -> np.ndarray:
    h, w = a.shape[0] // n * n, a.shape[1] // n * n
    return np.asarray(a[:h, :w].reshape(h // n, n, w // n, n).mean(axis=(1, 3)))


def zf0_sha(zf: zipfile.ZipFile, name: str) -> str:
    return hashlib.sha256(zf.read(name)).hexdigest()


async def test_miit_profile_shrinks_and_stamps(api: Api) -> None:
    """The older MIIT spec (≤ 100 KB certificates, ≤ 150 KB sheet, timed site photo): the
    noisy photos are re-encoded, the largest also downscaled, and the site photo shows its
    capture time in its bottom-right corner."""
    order = await completed_order(api)
    zf0, original = await _package(api, order["id"], None)
    zf, manifest = await _package(api, order["id"], "miit_legacy")
    doc = next(f for f in manifest["files"] if f.get("step") == "subject_document")
    assert doc["source"]["size"] > 100 * KB  # it had to change
    assert "reencoded" in doc["output"]["transforms"]
    assert doc["size"] <= 100 * KB
    sheet = next(f for f in manifest["files"] if f.get("step") == "verification_sheet")
    assert sheet["size"] <= 150 * KB and sheet["source"]["size"] > 150 * KB
    photo = next(f for f in manifest["files"] if f.get("profile_kind") == "site_photo")
    before = np.asarray(
        Image.open(io.BytesIO(zf0.read(next(
            o["name"] for o in original["files"] if o.get("material_id") == photo["material_id"]
        )))).convert("L"), dtype=float
    )  # fmt: skip
    after = np.asarray(Image.open(io.BytesIO(zf.read(photo["name"]))).convert("L"), dtype=float)
    assert before.shape == after.shape
    h, w = after.shape
    corner = np.s_[int(h * 0.8) :, int(w * 0.5) :]
    # The stamp changed the corner (dark band, white digits), not the rest of the photo
    # (compared on 16-px block means: the re-encoding moves single noisy pixels).
    assert np.abs(after[corner] - before[corner]).mean() > 15
    top = np.s_[: h // 2, : w // 2]
    assert np.abs(_blocks(after[top]) - _blocks(before[top])).max() < 4
    assert after[corner].max() > 200
    comp = next(f for f in manifest["files"] if f.get("profile_kind") == "composite")
    assert comp["size"] <= 100 * KB and comp["output"]["dpi"] == 150
    assert comp["output"]["height"] > comp["output"]["width"]  # 人像面 on top of 国徽面


async def test_unknown_profile_is_a_problem(api: Api) -> None:
    order = await create(api)
    for url in (
        f"/v1/orders/{order['id']}/package.zip?profile=fax",
        f"/v1/orders/{order['id']}/materials/id-composite?profile=fax",
    ):
        r = await api.client.get(url, headers=api.auth)
        assert r.status_code == 422, r.text
        assert r.headers["content-type"].startswith("application/problem+json")
        body = r.json()
        assert body["code"] == "PROFILE_UNKNOWN"
        assert "输出规格" in body["detail"] and body["detail_en"].startswith("Unknown")
        assert body["profiles"] == list(PROFILES)


async def test_provider_default_profile(api: Api, db_settings: dict[str, str]) -> None:
    """OUTPUT_PROFILES gives a provider (or every other one, "*") its default profile; a
    download's ?profile= still overrides it."""
    async with api.app.state.ctx.sessionmaker() as db:
        pid, key = await create_provider(db, "miit-provider")
    settings = make_settings(db_settings, output_profiles=f"*=algorithm_filing, {pid}=miit_legacy")
    app = create_app(settings, pipeline=intake_pipeline(settings))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, client=("203.0.113.8", 50000))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            miit = Api(client, app, key, pid)
            order = await completed_order(miit)
            r = await client.get(f"/v1/orders/{order['id']}/package.zip", headers=miit.auth)
            assert r.status_code == 200 and r.headers["heyan-profile"] == "miit_legacy"
            manifest = json.loads(zipfile.ZipFile(io.BytesIO(r.content)).read("manifest.json"))
            assert manifest["profile"]["name"] == "miit_legacy"
            url = f"/v1/orders/{order['id']}/materials/id-composite"
            r = await client.get(url + "?profile=original", headers=miit.auth)
            assert r.headers["heyan-profile"] == "original"
            _meets(r.content, PROFILES["original"].limit("composite"))
            # Any other provider: the "*" default.
            mine = await create(Api(client, app, api.api_key, api.provider_id))
            r = await client.get(f"/v1/orders/{mine['id']}/package.zip", headers=api.auth)
            assert r.status_code == 200 and r.headers["heyan-profile"] == "algorithm_filing"


def test_provider_default_parsing() -> None:
    assert provider_default("", "p1") == "original"
    assert provider_default("p1=miit_legacy", "p1") == "miit_legacy"
    assert provider_default("p1=miit_legacy", "p2") == "original"
    assert provider_default("*=algorithm_filing,p1=miit_legacy", "p2") == "algorithm_filing"
    with pytest.raises(ProfileMisconfigured):
        provider_default("p1=fax", "p1")


# The fitting itself: changed only as much as needed.


def test_a_file_within_its_limit_is_kept_byte_for_byte() -> None:
    data = synthetic_jpeg(seed=7)
    assert fit(data, FileLimit(format="JPEG", max_bytes=len(data))) is None
    assert fit(data, FileLimit()) is None


def test_dpi_is_written_without_reencoding() -> None:
    data = synthetic_jpeg(seed=8)
    out = fit(data, FileLimit(format="JPEG", dpi=300, max_bytes=len(data) + 64))
    assert out is not None and out.transforms == ["dpi_set"] and out.quality is None
    img = Image.open(io.BytesIO(out.data))
    assert jfif_dpi(img) == 300
    # Same pixels: only the header changed.
    assert np.array_equal(np.asarray(img), np.asarray(Image.open(io.BytesIO(data))))
    # A JPEG without a JFIF header gets one.
    bare = data[:2] + data[2 + 2 + int.from_bytes(data[4:6], "big") :]
    assert bare[2:4] != b"\xff\xe0"
    assert jfif_dpi(Image.open(io.BytesIO(set_jfif_dpi(bare, 150)))) == 150


def test_quality_is_the_highest_that_fits() -> None:
    data = noisy_jpeg(900, 600, seed=9, quality=95)
    limit = FileLimit(format="JPEG", dpi=300, max_bytes=int(len(data) * 0.6))
    out = fit(data, limit)
    assert out is not None and out.quality is not None
    assert out.transforms == ["reencoded"]
    assert Q_MIN <= out.quality < Q_MAX
    assert len(out.data) <= limit.max_bytes  # type: ignore[operator]
    pixels = Image.open(io.BytesIO(data)).convert("RGB")
    # One step higher would not have fitted.
    assert len(_encode(pixels, out.quality + 1, 300)) > limit.max_bytes  # type: ignore[operator]
    _meets(out.data, limit)


def test_downscaled_only_when_the_lowest_quality_is_too_large() -> None:
    data = noisy_jpeg(2000, 1400, seed=10, quality=92)
    limit = FileLimit(format="JPEG", max_bytes=100 * KB)
    pixels = Image.open(io.BytesIO(data)).convert("RGB")
    assert len(_encode(pixels, Q_MIN, None)) > 100 * KB
    out = fit(data, limit)
    assert out is not None and out.transforms == ["reencoded", "downscaled"]
    assert len(out.data) <= 100 * KB and out.width < 2000
    assert abs(out.width / out.height - 2000 / 1400) < 0.01


@pytest.mark.parametrize("max_side", [800, 1200])
def test_png_becomes_jpeg_within_its_side(max_side: int) -> None:
    buf = io.BytesIO()
    Image.fromarray(np.full((1000, 1500, 3), 128, np.uint8)).save(buf, "PNG")
    limit = FileLimit(format="JPEG", dpi=200, max_side=max_side, max_bytes=200 * KB)
    out = fit(buf.getvalue(), limit)
    assert out is not None and out.content_type == "image/jpeg"
    assert out.transforms == ["resized", "reencoded"] and out.quality == Q_MAX
    assert max(_meets(out.data, limit).size) == max_side
