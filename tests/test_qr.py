"""QR codes that scan: a standalone SVG (namespace), a quiet zone of 4 modules, version <= 6
at error correction M with a short opaque token, and the earlier JWT tokens still accepted
until they expire.

Decoded with zxing-cpp (an independent QR decoder); the SVG rendered with resvg (resvg-py),
an SVG renderer, and parsed with an XML parser.
"""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET
from datetime import timedelta
from typing import Any

import numpy as np
import pytest
import resvg_py
import zxingcpp
from PIL import Image
from sqlalchemy import update

from app.models.orders import QrToken, utcnow
from app.orders.router import qr_code, qr_url
from app.security.tokens import QrClaims, QrInvalid, TokenCodec
from tests.conftest import Api
from tests.flows import new_order

SCALE, BORDER = 8, 4


def _decode(img: Image.Image) -> list[str]:
    return [r.text for r in zxingcpp.read_barcodes(img)]


def _version(png: bytes) -> int:
    img = Image.open(io.BytesIO(png))
    modules = img.size[0] // SCALE - 2 * BORDER
    assert (modules - 17) % 4 == 0
    return (modules - 17) // 4


async def _issue(api: Api, oid: str) -> dict[str, Any]:
    r = await api.client.post(f"/v1/orders/{oid}/qr", json={"scope": "order"}, headers=api.auth)
    assert r.status_code == 201, r.text
    return dict(r.json())


async def _scan(api: Api, token: str) -> Any:
    return await api.client.post(
        "/m/v1/sessions", json={"qr_token": token, "platform": "dev", "mobile": "13800138000"}
    )


async def test_svg_and_png_scan_with_a_quiet_zone_and_a_small_version(api: Api) -> None:
    order = await new_order(api)
    oid = order["id"]
    issued = await _issue(api, oid)
    assert issued["token"].startswith("hq_") and len(issued["token"]) == 41
    svg = await api.client.get(f"/v1/orders/{oid}/qr.svg", headers=api.auth)
    assert svg.headers["content-type"].startswith("image/svg+xml")
    root = ET.fromstring(svg.content)  # a well-formed XML document
    assert root.tag == "{http://www.w3.org/2000/svg}svg"  # the SVG namespace
    png_of_svg = bytes(resvg_py.svg_to_bytes(svg_string=svg.text, background="#ffffff"))
    assert _decode(Image.open(io.BytesIO(png_of_svg))) == [issued["url"]]

    png = await api.client.get(f"/v1/orders/{oid}/qr.png", headers=api.auth)
    img = Image.open(io.BytesIO(png.content)).convert("L")
    assert _decode(img) == [issued["url"]]
    dark = np.argwhere(np.asarray(img) < 128)
    quiet = BORDER * SCALE
    assert dark.min() == quiet  # the first dark module starts after 4 light ones
    assert img.size[0] - 1 - dark.max() == quiet
    assert _version(png.content) <= 6


def test_a_long_public_base_url_still_fits_version_6_at_m() -> None:
    codec = TokenCodec("k" * 40)
    token = codec.short_qr_token("f" * 32)
    url = qr_url("https://heyan-verify.provider-cloud.example.com.cn", token)
    qr = qr_code(url)
    assert qr.version <= 6
    assert qr.error in ("M", "Q", "H")  # segno may raise the level when it costs nothing


def test_short_token_signature_and_rotation() -> None:
    old = TokenCodec("old-secret-" + "x" * 30)
    token = old.short_qr_token("0123456789abcdef0123456789abcdef")
    rotated = TokenCodec("new-secret-" + "y" * 30, previous=["old-secret-" + "x" * 30])
    assert rotated.read_short_qr(token) == "0123456789abcdef0123456789abcdef"
    for bad in (
        TokenCodec("new-secret-" + "y" * 30).short_qr_token("0123456789abcdef0123456789abcdef"),
        token[:-2] + ("AA" if not token.endswith("AA") else "BB"),
        "hq_short",
        "hq_" + "é" * 38,
    ):
        with pytest.raises(QrInvalid):
            old.read_short_qr(bad)


async def test_short_token_expiry_revocation_and_old_jwt_tokens(api: Api) -> None:
    ctx = api.app.state.ctx
    order = await new_order(api)
    first = (await _issue(api, order["id"]))["token"]
    token = (await _issue(api, order["id"]))["token"]
    r = await _scan(api, first)
    assert (r.status_code, r.json()["code"]) == (410, "QR_REVOKED")

    # A JWT QR token of the format issued before: still accepted while valid.
    async with ctx.sessionmaker() as db:
        row = await db.get(QrToken, ctx.codec.read_short_qr(token))
        assert row is not None
        claims = QrClaims(row.id, row.order_id, row.scope, row.version, row.expires_at)
    legacy = ctx.codec.qr_token(claims)
    assert legacy.count(".") == 2 and len(legacy) > 200
    r = await _scan(api, legacy)
    assert r.status_code == 201, r.text

    # The row's expiry is the short token's expiry.
    async with ctx.sessionmaker() as db:
        await db.execute(
            update(QrToken)
            .where(QrToken.id == row.id)
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
        await db.commit()
    r = await _scan(api, token)
    assert (r.status_code, r.json()["code"]) == (410, "QR_EXPIRED")
    # A token for a row that does not exist is invalid, not expired.
    r = await _scan(api, ctx.codec.short_qr_token("ab" * 16))
    assert (r.status_code, r.json()["code"]) == (401, "QR_INVALID")
