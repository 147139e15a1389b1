"""Schemathesis over every operation of the app's own OpenAPI document, with real credentials.

The app runs in-process (schemathesis' ASGI transport starts its lifespan once) on SQLite with
the intake checks. A provider API key goes with /v1/*, a live mini-program session token with
/m/v1/*, and path and query values are, part of the time, ones that exist (an order, a
material, a webhook delivery, an open step): the fuzzer reaches the handlers, not only the
401/404 walls. Checks on every answer: no 5xx; every error is problem+json with a code, a
title and a Chinese detail; status codes, media types and bodies conform to the document.

Bounded for CI: derandomized Hypothesis (reproducible), no example database, a few dozen
examples per operation, about 30 s in all.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode, checks
from schemathesis.python import asgi

from app.access.providers import create_provider
from app.core.migrate import upgrade
from app.main import create_app
from tests.conftest import _in_thread, intake_pipeline, make_settings, order_body, synthetic_jpeg

MAX_EXAMPLES = 20
PROBLEM = "application/problem+json"
BASE = "http://testserver"
# Identifiers that have broken services before: past BIGINT, negative, full-width digits,
# an RTL override, a path traversal, a NUL, very long. Each must give a 4xx problem.
TRICKY = ["9" * 20, "-1", "１２３", "a\u202eb", "..%2F..%2Fetc", "%00", "x" * 600]


class Fuzz:
    """What the fuzzer needs to reach the handlers: credentials and values that exist."""

    def __init__(
        self, schema: Any, api_key: str, session_token: str, path: dict[str, str],
        query: dict[str, dict[str, str]],
    ) -> None:  # fmt: skip
        self.schema = schema
        self.api_key = api_key
        self.session_token = session_token
        self.path = path  # path parameter name -> a value that exists
        self.query = query  # operation path -> query parameters that exist


async def _provider(url: str) -> str:
    from app.core.db import make_engine, make_sessionmaker

    engine = make_engine(url)
    try:
        async with make_sessionmaker(engine)() as db:
            return (await create_provider(db, "fuzz"))[1]
    finally:
        await engine.dispose()


@pytest.fixture(scope="module")
def fuzz(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fuzz]:
    data_dir: Path = tmp_path_factory.mktemp("fuzz")
    url = f"sqlite+aiosqlite:///{data_dir / 'fuzz.db'}"
    _in_thread(upgrade, url)
    key = _in_thread(asyncio.run, _provider(url))
    s = make_settings(
        {"database_url": url, "database_schema": "", "data_dir": str(data_dir)},
        webhook_dispatcher=False,
        sms_sweeper=False,
        retention_interval_seconds=0,
    )
    app = create_app(s, pipeline=intake_pipeline(s))
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    with asgi.get_client(app) as client:
        h = {"Authorization": f"Bearer {key}"}
        hook = client.put(
            f"{BASE}/v1/webhook",
            json={"url": "https://filing.example.com/heyan", "secret": "s" * 32},
            headers=h,
        )
        assert hook.status_code == 200, hook.text
        order = client.post(f"{BASE}/v1/orders", json=order_body(), headers=h)
        assert order.status_code == 201, order.text
        order_id = order.json()["id"]
        qr = client.post(f"{BASE}/v1/orders/{order_id}/qr", json={"scope": "order"}, headers=h)
        assert qr.status_code == 201, qr.text
        sess = client.post(
            f"{BASE}/m/v1/sessions",
            json={"qr_token": qr.json()["token"], "platform": "dev", "mobile": "13800138000"},
        )
        assert sess.status_code == 201, sess.text
        token = sess.json()["session_token"]
        doc = client.post(
            f"{BASE}/m/v1/captures/subject_document",
            files={"file": ("a.jpg", synthetic_jpeg(), "image/jpeg")},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert doc.status_code == 201, doc.text
        deliveries = client.get(f"{BASE}/v1/webhook/deliveries", headers=h).json()
        assert deliveries["items"], deliveries
    step = doc.json()["next_step"]
    path = {
        "order_id": order_id,
        "material_id": doc.json()["material_id"],
        "delivery_id": deliveries["items"][0]["id"],
        "step": step,
    }
    query = {"/m/v1/precheck": {"step": step}, "/v1/precheck": {"order_id": order_id}}
    yield Fuzz(schema, key, token, path, query)
    asgi.shutdown_lifespans()


def _operations() -> dict[tuple[str, str], bool]:
    """Every operation in the document and whether it needs credentials, read from an app
    that is built but never started."""
    app = create_app(
        make_settings({"database_url": "sqlite+aiosqlite://", "data_dir": "/nonexistent"})
    )
    return {
        (method.upper(), path): bool(op.get("security"))
        for path, ops in app.openapi()["paths"].items()
        for method, op in ops.items()
    }


SECURED = _operations()
OPERATIONS = list(SECURED)
WITH_PATH_PARAMS = [op for op in OPERATIONS if "{" in op[1]]


def _headers(fuzz: Fuzz, path: str) -> dict[str, str]:
    return {
        "Authorization": f"Bearer {fuzz.session_token if path.startswith('/m/') else fuzz.api_key}"
    }


def _verify(case: Any, headers: dict[str, str]) -> int:
    """Send a case and hold the answer to the contract; return its status."""
    response = case.call(headers=headers)
    status = response.status_code
    assert status < 500, (status, response.text[:500])
    if status >= 400:
        ctype = response.headers.get("content-type", "")
        assert PROBLEM in str(ctype), (status, ctype, response.text[:300])
        body = response.json()
        assert body["code"] and body["title"] and body["detail"], body
        assert body["status"] == status, body
    # Business rules (GB 11643 checksums, mobile numbers, scopes, webhook URLs, consent)
    # are not JSON Schema: a schema-valid request may rightly get a 4xx with its own code.
    excluded = [checks.positive_data_acceptance]
    if (case.media_type or "").startswith("multipart/"):
        # On the wire every form field is text: a "boolean" challenge_id arrives as the
        # string "true", which the schema allows, so "negative" form data is not negative.
        excluded.append(checks.negative_data_rejection)
    case.validate_response(response, headers=headers, excluded_checks=excluded)
    return int(status)


def _run(strategies: list[Any], headers: dict[str, str], max_examples: int) -> list[int]:
    seen: list[int] = []

    @settings(
        max_examples=max_examples,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=st.one_of(strategies))
    def run(case: Any) -> None:
        seen.append(_verify(case, headers))

    run()
    return seen


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_openapi_fuzz(fuzz: Fuzz, method: str, path: str) -> None:
    checks.load_all_checks()
    operation = fuzz.schema[path][method]
    headers = _headers(fuzz, path)
    names = {p.name for p in operation.path_parameters}
    known: dict[str, Any] = {}
    if names:
        known["path_parameters"] = {k: v for k, v in fuzz.path.items() if k in names}
    if path in fuzz.query:
        known["query"] = fuzz.query[path]
    strategies = [
        operation.as_strategy(mode, headers=headers, **kw)
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
        for kw in ([{}, known] if known else [{}])
    ]
    seen = _run(strategies, headers, MAX_EXAMPLES)
    if SECURED[method, path]:
        # The credentials work: the fuzzer got past authentication, not only 401s.
        assert any(code != 401 for code in seen), seen


@pytest.mark.parametrize(
    ("method", "path"),
    [pytest.param(m, p, id=f"{m} {p}") for m, p in WITH_PATH_PARAMS],
)
def test_tricky_path_values(fuzz: Fuzz, method: str, path: str) -> None:
    """Each path parameter in turn gets each tricky value, the others values that exist."""
    checks.load_all_checks()
    operation = fuzz.schema[path][method]
    headers = _headers(fuzz, path)
    names = [p.name for p in operation.path_parameters]
    for name in names:
        for value in TRICKY:
            params = {k: v for k, v in fuzz.path.items() if k in names} | {name: value}
            strategy = operation.as_strategy(
                GenerationMode.POSITIVE, headers=headers, path_parameters=params
            )
            seen = _run([strategy], headers, 2)
            assert all(400 <= s < 500 for s in seen), (name, value, seen)


def test_cursor_past_bigint_is_a_client_error(fuzz: Fuzz) -> None:
    """The order-event and order-list cursors are bounded to BIGINT (found by the fuzzer)."""
    checks.load_all_checks()
    for path, param in (("/v1/orders/{order_id}/events", "after"), ("/v1/orders", "changed_since")):
        op = fuzz.schema[path]["GET"]
        case = op.Case(path_parameters={"order_id": fuzz.path["order_id"]} if "{" in path else {},
                       query={param: 2**63})  # fmt: skip
        assert _verify(case, _headers(fuzz, path)) == 422
    op = fuzz.schema["/v1/webhook/deliveries"]["GET"]
    case = op.Case(query={"cursor": str(2**64)})
    assert _verify(case, _headers(fuzz, "/v1/webhook/deliveries")) == 422


def test_every_operation_documents_its_problem_answers() -> None:
    """Providers generating a client see the real error shape on every operation."""
    app = create_app(
        make_settings({"database_url": "sqlite+aiosqlite://", "data_dir": "/nonexistent"})
    )
    doc = app.openapi()
    problem = doc["components"]["schemas"]["Problem"]
    assert {"type", "title", "status", "code", "detail"} <= set(problem["required"])
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            responses = op["responses"]
            assert {"401", "404", "422", "4XX", "5XX"} <= set(responses), (method, path)
            for status, response in responses.items():
                if status[0] in "45" and (method, path, status) != ("get", "/readyz", "503"):
                    assert list(response["content"]) == [PROBLEM], (method, path, status)
                    assert response["content"][PROBLEM]["schema"]["$ref"].endswith("/Problem")
