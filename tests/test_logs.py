"""No ID number, name, mobile or token in the logs of a full flow."""

from __future__ import annotations

import logging

import pytest

from app.core.logs import mask
from tests.conftest import ID_A, Api
from tests.flows import face, new_order, open_session, qr, upload


def test_mask_patterns() -> None:
    assert mask(f"id={ID_A}") == f"id={ID_A[:4]}**********{ID_A[-4:]}"
    assert mask("call 13800138000 or +8613900139000") == "call 138****8000 or +86139****9000"
    assert mask("Authorization: Bearer abcdefghijkl") == "Authorization: Bearer [token]"
    assert mask("/m/qr?t=eyJhbGciOi.eyJzdWIiOiJ4.c2lnbmF0dXJl") == "/m/qr?t=[token]"
    assert mask("key hy_" + "a" * 40) == "key hy_[key]"
    assert (
        mask("order 0123456789abcdef0123456789abcdef") == "order 0123456789abcdef0123456789abcdef"
    )


async def test_full_flow_logs_no_pii(api: Api, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    order = await new_order(api)
    token = await qr(api, order["id"])
    s = await open_session(api, token)
    for step in ("subject_document", "subject_principal_id_front", "subject_principal_id_back"):
        await upload(api, s, step)
    await face(api, s)
    r = await api.client.post(
        "/m/v1/sessions", json={"qr_token": token, "platform": "dev", "mobile": "13900000000"}
    )
    assert r.status_code == 409
    # Something that logs the raw values on purpose: the masking must catch it.
    logging.getLogger("heyan.test").warning(
        "debug %s %s %s", ID_A, "13800138000", s["session_token"]
    )
    text = caplog.text
    assert "heyan.test" in text or "debug" in text
    for secret in (ID_A, "13800138000", "13900000000", token, s["session_token"], api.api_key):
        assert secret not in text, secret


def test_uvicorn_access_lines_format_and_are_masked() -> None:
    """uvicorn's AccessFormatter unpacks the record's args: the masking factory keeps them
    as a tuple (a regression printed 'Logging error' for every request) and masks each."""
    import io

    from uvicorn.logging import AccessFormatter

    from app.core.logs import install_masking

    install_masking()
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(AccessFormatter('%(client_addr)s - "%(request_line)s" %(status_code)s'))
    logger = logging.getLogger("uvicorn.access")
    logger.addHandler(handler)
    level, was = logger.level, logger.propagate
    try:
        logger.setLevel(logging.INFO)
        logger.propagate = False
        logger.info(
            '%s - "%s %s HTTP/%s" %d',
            "127.0.0.1:5000", "GET", "/m/qr?t=eyJhbGciOi.eyJzdWIiOiJ4.c2lnbmF0dXJl", "1.1", 200,
        )  # fmt: skip
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
        logger.propagate = was
    line = out.getvalue()
    assert '"GET /m/qr?t=[token] HTTP/1.1" 200' in line, line
