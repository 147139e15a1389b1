"""Hostile uploads: each gets a clear problem+json error and nothing already accepted changes.

All inputs are built here (labelled synthetic): lying types, truncated and corrupt files,
decompression bombs, absurd dimensions, polyglots, zero bytes, unicode tricks in names.
"""

from __future__ import annotations

import io
import struct
import zlib
from typing import Any

import pytest
from PIL import Image

from tests.conftest import Api, order_body, person, synthetic_jpeg, synthetic_mp4
from tests.test_flow import bearer, new_order, open_session, qr, upload


def _png_header_only(w: int, h: int) -> bytes:
    """A PNG that declares w×h pixels with one tiny IDAT: a bomb if anyone allocates it."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + chunk(b"IEND", b"")
    )


def _gif(frames: int = 3) -> bytes:
    imgs = [Image.new("RGB", (640, 480), (i * 60, 100, 200)) for i in range(frames)]
    out = io.BytesIO()
    imgs[0].save(out, "GIF", save_all=True, append_images=imgs[1:])
    return out.getvalue()


JPEG = synthetic_jpeg()
PNG_BUF = io.BytesIO()
Image.new("RGB", (640, 480), (250, 250, 250)).save(PNG_BUF, "PNG")
PNG = PNG_BUF.getvalue()

CASES: list[tuple[str, bytes, str, int, str]] = [
    ("zero bytes", b"", "image/jpeg", 422, "FILE_EMPTY"),
    ("pdf claiming jpeg", b"%PDF-1.7\n" + b"0" * 500, "image/jpeg", 415, "UNSUPPORTED_FORMAT"),
    (
        "html claiming png",
        b"<html><script>alert(1)</script></html>",
        "image/png",
        415,
        "UNSUPPORTED_FORMAT",
    ),
    ("truncated jpeg", JPEG[: len(JPEG) // 3], "image/jpeg", 422, "FILE_UNDECODABLE"),
    ("jpeg header only", JPEG[:20], "image/jpeg", 422, "FILE_UNDECODABLE"),
    ("corrupt png", PNG[:40] + b"\x00" * 200, "image/png", 422, "FILE_UNDECODABLE"),
    ("truncated gif", _gif()[:60], "image/gif", 422, "FILE_UNDECODABLE"),
    (
        "png bomb 60000x60000",
        _png_header_only(60000, 60000),
        "image/png",
        422,
        "IMAGE_TOO_LARGE_PIXELS",
    ),
    (
        "png absurd width",
        _png_header_only(1_000_000, 1),
        "image/png",
        422,
        "IMAGE_TOO_LARGE_PIXELS",
    ),
    ("mp4 as document", synthetic_mp4(), "image/jpeg", 415, "UNSUPPORTED_FORMAT"),
    ("zip polyglot", b"PK\x03\x04" + JPEG, "image/jpeg", 415, "UNSUPPORTED_FORMAT"),
]


@pytest.mark.parametrize(
    ("name", "data", "ctype", "status", "code"), CASES, ids=[c[0] for c in CASES]
)
async def test_hostile_document_uploads(
    api: Api, name: str, data: bytes, ctype: str, status: int, code: str
) -> None:
    order = await new_order(api)
    s = await open_session(api, await qr(api, order["id"]))
    assert (await upload(api, s, "subject_document")).status_code == 201
    before = (await api.client.get(f"/v1/orders/{order['id']}", headers=api.auth)).json()
    r = await api.client.post(
        "/m/v1/captures/subject_principal_id_front",
        files={"file": ("x.jpg", data, ctype)},
        headers=bearer(s),
    )
    assert r.status_code == status, (name, r.text)
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["code"] == code
    assert r.json()["detail"]
    after = (await api.client.get(f"/v1/orders/{order['id']}", headers=api.auth)).json()
    assert after["materials"] == before["materials"]
    assert after["status"] == before["status"]


async def test_gif_first_frame_and_jpeg_with_trailing_garbage_are_accepted(api: Api) -> None:
    order = await new_order(api)
    s = await open_session(api, await qr(api, order["id"]))
    h = bearer(s)
    r = await api.client.post(
        "/m/v1/captures/subject_document", files={"file": ("a.gif", _gif(), "image/gif")}, headers=h
    )
    assert r.status_code == 201, r.text
    # A JPEG with a ZIP appended (a polyglot the other way round) decodes as the JPEG and is
    # stored re-encoded: the trailing payload never reaches storage.
    r = await api.client.post(
        "/m/v1/captures/subject_principal_id_front",
        files={"file": ("a.jpg", JPEG + b"PK\x03\x04" + b"evil" * 100, "image/jpeg")},
        headers=h,
    )
    assert r.status_code == 201, r.text
    mid = r.json()["material_id"]
    dl = await api.client.get(f"/v1/orders/{order['id']}/materials/{mid}", headers=api.auth)
    assert b"evil" not in dl.content


async def test_huge_exif_is_stripped(api: Api) -> None:
    img = Image.new("RGB", (640, 480), (240, 240, 240))
    exif = Image.Exif()
    exif[0x010E] = "x" * 60000  # ImageDescription
    exif[0x0112] = 6  # orientation: rotate 90°
    buf = io.BytesIO()
    img.save(buf, "JPEG", exif=exif.tobytes())
    order = await new_order(api)
    s = await open_session(api, await qr(api, order["id"]))
    r = await api.client.post(
        "/m/v1/captures/subject_document",
        files={"file": ("a.jpg", buf.getvalue(), "image/jpeg")},
        headers=bearer(s),
    )
    assert r.status_code == 201, r.text
    dl = await api.client.get(
        f"/v1/orders/{order['id']}/materials/{r.json()['material_id']}", headers=api.auth
    )
    stored = Image.open(io.BytesIO(dl.content))
    assert stored.size == (480, 640)  # orientation applied
    assert b"xxxxxxxx" not in dl.content
    assert not stored.getexif()


@pytest.mark.parametrize(
    "name",
    ["张\u200b三", "张三\u202e", "Ｚhang", "\u0000张三"],
    ids=["zero-width", "rtl-mark", "full-width", "nul"],
)
async def test_unicode_tricks_in_names_are_normalised_or_refused(api: Api, name: str) -> None:
    body: dict[str, Any] = order_body(principal=person(name=name))
    r = await api.client.post("/v1/orders", json=body, headers=api.auth)
    assert r.status_code in (201, 422), r.text
    if r.status_code == 422:
        assert r.json()["code"] in ("NAME_INVALID", "VALIDATION_ERROR")
    else:
        stored = r.json()["subject"]["principal"]["name"]
        assert "\u200b" not in stored and "\u202e" not in stored and "\x00" not in stored
