"""The SMS-check step through the API, and the deadline sweep with an injected clock."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from app.filing.service import sweep_sms_deadlines
from tests.conftest import Api
from tests.filing.helpers import complete, create


async def event_types(api: Api, oid: str) -> list[str]:
    r = await api.client.get(f"/v1/orders/{oid}/events", headers=api.auth)
    return [e["type"] for e in r.json()["items"]]


async def test_submitted_needs_complete_and_is_idempotent(api: Api) -> None:
    order = await create(api)
    oid = order["id"]
    r = await api.client.post(f"/v1/orders/{oid}/submitted", headers=api.auth)
    assert (r.status_code, r.json()["code"]) == (409, "ORDER_NOT_COMPLETE")
    # Before submission the view already says who will have to do it.
    view = (await api.client.get(f"/v1/orders/{oid}/sms", headers=api.auth)).json()
    assert view["state"] == "not_submitted"
    assert len(view["people"]) == 2

    await complete(api, order)
    r = await api.client.post(f"/v1/orders/{oid}/submitted", headers=api.auth)
    assert r.status_code == 201, r.text
    view = r.json()
    assert view["state"] == "pending"
    submitted = datetime.fromisoformat(view["submitted_at"])
    assert datetime.fromisoformat(view["deadline_at"]) - submitted == timedelta(hours=24)
    people = {p["person_id"]: p for p in view["people"]}
    sp = order["subject"]["principal"]["id"]
    wp = order["websites"][0]["principal"]["id"]
    assert people[sp]["roles"] == ["subject_principal"]
    assert people[wp]["roles"] == ["website_principal"]
    assert people[sp]["mobile"] == "138****8000"
    assert people[wp]["mobile"] == "139****9000"
    assert {p["state"] for p in people.values()} == {"pending"}
    assert "13800138000" not in r.text

    again = await api.client.post(f"/v1/orders/{oid}/submitted", headers=api.auth)
    assert again.status_code == 200
    assert again.json()["submitted_at"] == view["submitted_at"]
    assert (await event_types(api, oid)).count("order.submitted") == 1

    _, other_key = await api.new_provider()
    other = {"Authorization": f"Bearer {other_key}"}
    for method, path in [("POST", "submitted"), ("GET", "sms"), ("POST", "sms-done")]:
        r = await api.client.request(
            method,
            f"/v1/orders/{oid}/{path}",
            headers=other,
            json={"person_id": sp} if path == "sms-done" else None,
        )
        assert r.status_code == 404, (path, r.text)


async def test_sms_done_per_person(api: Api) -> None:
    order = await create(api)
    oid = order["id"]
    sp = order["subject"]["principal"]["id"]
    wp = order["websites"][0]["principal"]["id"]
    r = await api.client.post(
        f"/v1/orders/{oid}/sms-done", json={"person_id": sp}, headers=api.auth
    )
    assert (r.status_code, r.json()["code"]) == (409, "ORDER_NOT_SUBMITTED")
    await complete(api, order)
    await api.client.post(f"/v1/orders/{oid}/submitted", headers=api.auth)
    r = await api.client.post(
        f"/v1/orders/{oid}/sms-done", json={"person_id": "nobody"}, headers=api.auth
    )
    assert (r.status_code, r.json()["code"]) == (422, "SMS_PERSON_INVALID")

    r = await api.client.post(
        f"/v1/orders/{oid}/sms-done", json={"person_id": sp}, headers=api.auth
    )
    assert r.status_code == 200, r.text
    states = {p["person_id"]: p["state"] for p in r.json()["people"]}
    assert states == {sp: "done", wp: "pending"}
    assert r.json()["state"] == "pending"
    # Idempotent: a second report changes nothing and records no second event.
    r = await api.client.post(
        f"/v1/orders/{oid}/sms-done", json={"person_id": sp}, headers=api.auth
    )
    assert r.status_code == 200
    r = await api.client.post(
        f"/v1/orders/{oid}/sms-done", json={"person_id": wp}, headers=api.auth
    )
    assert r.json()["state"] == "done"
    types = await event_types(api, oid)
    assert types.count("sms.done") == 2
    assert types.count("sms.completed") == 1
    events = (await api.client.get(f"/v1/orders/{oid}/events", headers=api.auth)).json()["items"]
    done = [e for e in events if e["type"] == "sms.done"]
    assert "张三" not in str(done)
    assert "13800138000" not in str(done)

    # A finished round is never swept.
    async with api.app.state.ctx.sessionmaker() as db:
        emitted = await sweep_sms_deadlines(
            db, datetime.fromisoformat(r.json()["deadline_at"]) + timedelta(hours=1)
        )
    assert [e for e in emitted if e[0] == oid] == []


async def test_cancel_needs_no_sms(api: Api) -> None:
    order = await create(api, business_type="cancel_website")
    await complete(api, order)
    r = await api.client.post(f"/v1/orders/{order['id']}/submitted", headers=api.auth)
    assert r.status_code == 201
    assert r.json()["state"] == "not_required"
    assert r.json()["people"] == []


async def test_same_person_is_asked_once(api: Api) -> None:
    order = await create(api, split=False)
    await complete(api, order)
    r = await api.client.post(f"/v1/orders/{order['id']}/submitted", headers=api.auth)
    people = r.json()["people"]
    assert len(people) == 1
    assert people[0]["roles"] == ["subject_principal", "website_principal"]


async def test_deadline_sweep_emits_each_event_once(api: Api) -> None:
    order = await create(api)
    oid = order["id"]
    sp = order["subject"]["principal"]["id"]
    await complete(api, order)
    r = await api.client.post(f"/v1/orders/{oid}/submitted", headers=api.auth)
    t0 = datetime.fromisoformat(r.json()["submitted_at"])
    maker = api.app.state.ctx.sessionmaker

    async def sweep(at: datetime) -> list[str]:
        async with maker() as db:
            return [t for o, t in await sweep_sms_deadlines(db, at) if o == oid]

    assert await sweep(t0 + timedelta(hours=19, minutes=59)) == []
    assert await sweep(t0 + timedelta(hours=20)) == ["sms.deadline_approaching"]
    assert await sweep(t0 + timedelta(hours=21)) == []
    # One person finishes in time; the other does not.
    r = await api.client.post(
        f"/v1/orders/{oid}/sms-done", json={"person_id": sp}, headers=api.auth
    )
    assert r.status_code == 200

    # Several processes sweeping at once: exactly one of them emits the expiry.
    at = t0 + timedelta(hours=24)
    results = await asyncio.gather(*(sweep(at) for _ in range(4)))
    assert sorted(t for r in results for t in r) == ["sms.expired"]
    assert await sweep(at + timedelta(hours=5)) == []
    types = await event_types(api, oid)
    assert types.count("sms.deadline_approaching") == 1
    assert types.count("sms.expired") == 1

    view = (await api.client.get(f"/v1/orders/{oid}/sms", headers=api.auth)).json()
    assert view["state"] == "expired"
    assert {p["state"] for p in view["people"]} == {"done", "expired"}
    wp = order["websites"][0]["principal"]["id"]
    r = await api.client.post(
        f"/v1/orders/{oid}/sms-done", json={"person_id": wp}, headers=api.auth
    )
    assert (r.status_code, r.json()["code"]) == (409, "SMS_DEADLINE_PASSED")


async def test_late_sweep_emits_both_in_order(api: Api) -> None:
    order = await create(api)
    oid = order["id"]
    await complete(api, order)
    r = await api.client.post(f"/v1/orders/{oid}/submitted", headers=api.auth)
    t0 = datetime.fromisoformat(r.json()["submitted_at"])
    async with api.app.state.ctx.sessionmaker() as db:
        got = [t for o, t in await sweep_sms_deadlines(db, t0 + timedelta(hours=30)) if o == oid]
    assert got == ["sms.deadline_approaching", "sms.expired"]
    events = (await api.client.get(f"/v1/orders/{oid}/events", headers=api.auth)).json()["items"]
    late = next(e for e in events if e["type"] == "sms.deadline_approaching")
    assert late["data"]["late"] is True
