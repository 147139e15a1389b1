"""Challenge drawing and sequence scoring (pure, no models)."""

from __future__ import annotations

import itertools
import random

import numpy as np
import pytest

from app.liveness import challenge as ch
from app.liveness.actions import Event, find_excursions, match_sequence


def test_default_space_has_over_a_thousand_sequences() -> None:
    assert ch.sequence_count(ch.MOTION_KINDS, 5) == 1280
    assert ch.sequence_count(ch.MOTION_KINDS, 3) == 80
    rng = random.Random(1)
    seen = {tuple(ch.make_challenge(ch.MOTION_KINDS, 5, rng=rng).actions) for _ in range(3000)}
    assert len(seen) > 900  # drawn from the whole space, not a handful of orders


def test_a_challenge_never_repeats_an_action_back_to_back_and_is_timed() -> None:
    rng = random.Random(7)
    for _ in range(200):
        spec = ch.make_challenge(ch.MOTION_KINDS, 5, rng=rng)
        assert len(spec.steps) == 5
        assert all(a != b for a, b in itertools.pairwise(spec.actions))
        starts = [s.start_s for s in spec.steps]
        assert starts == sorted(starts) and starts[0] == ch.LEAD_IN_S
        assert spec.total_s < 15.0  # fits the longest capture accepted
        assert len(spec.nonce) >= 16


def test_digits_are_one_extra_step_and_survive_storage() -> None:
    spec = ch.make_challenge(ch.MOTION_KINDS, 3, digits=5, rng=random.Random(3))
    assert spec.actions.count(ch.READ_DIGITS) == 1 and len(spec.steps) == 4
    assert spec.digits is not None and len(spec.digits) == 5 and spec.digits.isdigit()
    back = ch.ChallengeSpec.from_json(spec.to_json(), spec.actions)
    assert back == spec
    step = next(s for s in spec.steps if s.digits)
    assert " ".join(spec.digits) in step.prompt()[0]


def test_legacy_pool_asks_each_kind_once() -> None:
    spec = ch.make_challenge(["blink", "shake_head"], 5, rng=random.Random(0))
    assert sorted(spec.actions) == ["blink", "shake_head"]
    old = ch.ChallengeSpec.from_json(None, ["shake_head", "blink"])  # a pre-0005 row
    assert old.actions == ["shake_head", "blink"] and old.nonce == ""


def test_unknown_actions_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown"):
        ch.make_challenge(["blink", "smile"], 3)


def test_turn_direction_follows_the_camera() -> None:
    assert ch.turn_sign(ch.TURN_LEFT) == 1  # the person's left: nose to image right
    assert ch.turn_sign(ch.TURN_LEFT, mirrored=True) == -1
    assert ch.turn_sign(ch.TURN_RIGHT) == -1


def test_excursions_with_hysteresis() -> None:
    t = np.arange(12) / 10
    x = np.array([0, 5, 16, 14, 17, 9, 2, 0, 16, 18, 3, 0.0])
    ev = find_excursions("turn_left", t, x, 15, 7.5)
    assert [(e.t_start, e.t_peak) for e in ev] == [(0.2, 0.4), (0.8, 0.9)]  # 14 is not an end


def _ev(kind: str, a: float, b: float) -> Event:
    return Event(kind, a, (a + b) / 2, b, 1.0)


def test_sequence_in_order_passes_and_names_what_is_missing() -> None:
    events = {
        "turn_left": [_ev("turn_left", 1.0, 2.0)],
        "nod": [_ev("nod", 2.1, 3.0)],
        "blink": [_ev("blink", 3.5, 3.5), _ev("blink", 0.5, 0.5)],
    }
    assert match_sequence(["turn_left", "nod", "blink"], events).ok
    r = match_sequence(["nod", "turn_left", "blink"], events)
    assert not r.order_ok and not r.missing  # a recording made for another order
    r = match_sequence(["turn_left", "open_mouth", "blink"], events)
    assert r.missing == ["open_mouth"]
    r = match_sequence(["turn_left", "turn_left"], events)
    assert r.missing == ["turn_left"]


def test_a_recording_of_every_movement_does_not_answer_any_order() -> None:
    # An attacker's clip of the victim doing every movement in turn contains any order as a
    # subsequence; movements that were not asked give it away.
    kinds = ["turn_left", "turn_right", "nod", "open_mouth", "blink"]
    events = {k: [_ev(k, 2.0 * i, 2.0 * i + 1.0)] for i, k in enumerate(kinds)}
    r = match_sequence(["turn_left", "nod", "blink"], events)
    assert r.order_ok and not r.missing and r.unexpected == ["turn_right"]
    assert not r.ok
