"""The page behind the QR URL and its vocabulary, without a browser: what /m/qr serves, that it
references only the service's own files, and that its words are the API's own tables."""

from __future__ import annotations

import re

from app.inference.messages import MESSAGES
from app.mini.vocabulary import BLOCKED_EN, STEP_TITLES_EN
from app.orders.state import STATUS_ZH
from app.orders.vocabulary import BLOCKED_ZH, EXTRA_STEP_TITLES, JSON_STEP_TITLES, STEP_TITLES
from tests.conftest import Api

PAGE = ("/m/app/app.js", "/m/app/app.css", "/m/app/heyan-client.js")


async def test_qr_url_serves_the_capture_page(api: Api) -> None:
    r = await api.client.get("/m/qr?t=hq_whatever")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    assert r.headers["cache-control"] == "no-store"
    assert r.headers["referrer-policy"] == "no-referrer"
    csp = r.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "connect-src 'self'" in csp
    assert '<html lang="zh-CN">' in r.text and "viewport" in r.text
    refs = re.findall(r'(?:src|href)="([^"]+)"', r.text)
    assert sorted(refs) == sorted(PAGE)
    for ref in refs:
        asset = await api.client.get(ref)
        assert asset.status_code == 200, ref
        # No CDN, no web font, no outside address anywhere in the page's own files.
        assert "://" not in asset.text and "@import" not in asset.text and "url(" not in asset.text
    assert (await api.client.get("/m/app/../config.py")).status_code == 404
    assert (await api.client.get("/m/app/index.html")).status_code == 404


async def test_vocabulary_is_the_apis_own(api: Api) -> None:
    v = (await api.client.get("/m/v1/vocabulary")).json()
    # The upload steps, the JSON one (the 承诺书, POST /m/v1/pledge) and the extra documents.
    steps = {**STEP_TITLES, **JSON_STEP_TITLES, **EXTRA_STEP_TITLES}
    assert {k: e["zh"] for k, e in v["steps"].items()} == steps
    assert {k: e["zh"] for k, e in v["blocked"].items()} == BLOCKED_ZH
    assert {k: e["zh"] for k, e in v["statuses"].items()} == {
        s.value: z for s, z in STATUS_ZH.items()
    }
    assert {k: (e["zh"], e["en"]) for k, e in v["checks"].items()} == MESSAGES
    assert v["statuses"]["complete"]["zh"] == "核验完成"
    assert v["notices"]["no_proxy"]["title_zh"] == "请勿帮他人核验"
    for code in ("SMS_CODE_INVALID", "SMS_CODE_EXPIRED", "SMS_RATE_LIMITED",
                 "SMS_GATEWAY_UNAVAILABLE", "QR_EXPIRED", "SESSION_INVALID"):  # fmt: skip
        assert v["errors"][code]["zh"], code
    # The English tables name exactly the same keys as the Chinese ones.
    assert set(STEP_TITLES_EN) == set(STEP_TITLES)
    assert set(BLOCKED_EN) == set(BLOCKED_ZH)


async def test_acknowledgement_is_an_event(api: Api) -> None:
    from tests.flows import bearer, new_order, open_session, qr

    order = await new_order(api)
    session = await open_session(api, await qr(api, order["id"]))
    r = await api.client.post(
        "/m/v1/acknowledgements",
        json={"notices": ["shooting", "no_proxy"], "accepted_at": "2026-12-01T12:00:00Z"},
        headers=bearer(session),
    )
    assert (r.status_code, r.json()) == (201, {"recorded": ["no_proxy", "shooting"]})
    events = (await api.client.get(f"/v1/orders/{order['id']}/events", headers=api.auth)).json()[
        "items"
    ]
    (ack,) = [e for e in events if e["type"] == "notice.acknowledged"]
    assert ack["data"]["notices"] == {"no_proxy": "2026-12", "shooting": "2026-12"}
    r = await api.client.post(
        "/m/v1/acknowledgements", json={"notices": [], "accepted_at": "2026-12-01T12:00:00Z"},
        headers=bearer(session),
    )  # fmt: skip
    assert r.status_code == 422
    r = await api.client.post(
        "/m/v1/acknowledgements", json={"notices": ["no_proxy"], "accepted_at": "2026-12-01T12:00:00Z"}
    )  # fmt: skip
    assert r.status_code == 401
