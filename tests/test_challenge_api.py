"""The liveness challenge as a mini-program sees it: steps, prompts, digits, flashes."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import Api
from tests.flows import challenge, new_order, open_session, qr


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
