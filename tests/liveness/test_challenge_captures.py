"""Challenge captures through the real face models.

The captures are LABELLED-SYNTHETIC from real footage (testkit.genuine.challenge_video): the
real carphone man, his own blinks, turns / look-up / open mouth rendered from his own 3-D
mesh, in front of a white wall.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from app.liveness import FaceAnalyzer, decode_video
from testkit import genuine
from testkit.faces import draw_params

PAD = ("ACTION_NOT_DETECTED", "ACTION_ORDER_WRONG", "BLINK_NOT_DETECTED", "SPOOF_SUSPECTED",
       "NO_FACE", "FACE_CHANGED", "EYES_CLOSED")  # fmt: skip


def _frames(analyzer: FaceAnalyzer, actions: tuple[str, ...]) -> list[Any]:
    return decode_video(genuine.challenge_video(analyzer, actions), max_frames=150)


def _checks(verdict: Any) -> dict[str, Any]:
    return {c.code: c for c in verdict.checks}


@pytest.mark.parametrize(
    "actions",
    [("turn_left", "open_mouth", "nod"), ("nod", "turn_right", "blink")],
)
def test_each_action_kind_passes_in_order(analyzer: FaceAnalyzer, actions: tuple[str, ...]) -> None:
    v = analyzer.analyze(_frames(analyzer, actions), list(actions), None)
    checks = _checks(v)
    failed = [c for c in PAD if c in checks and not checks[c].passed]
    assert not failed, (failed, v.stats)
    assert checks["ACTION_NOT_DETECTED"].detail["actions"].keys() == {
        a for a in actions if a != "blink"
    }


def test_a_recording_made_for_another_order_is_refused(analyzer: FaceAnalyzer) -> None:
    frames = _frames(analyzer, ("turn_left", "open_mouth", "nod"))
    v = analyzer.analyze(frames, ["nod", "open_mouth", "turn_left"], None)
    checks = _checks(v)
    assert checks["ACTION_NOT_DETECTED"].passed  # every movement is there ...
    assert not checks["ACTION_ORDER_WRONG"].passed  # ... in the wrong order
    assert checks["ACTION_ORDER_WRONG"].detail["evaluated"] is True


def test_a_missing_action_is_named(analyzer: FaceAnalyzer) -> None:
    frames = _frames(analyzer, ("turn_left", "open_mouth", "nod"))
    v = analyzer.analyze(frames, ["turn_left", "open_mouth", "turn_right"], None)
    c = _checks(v)["ACTION_NOT_DETECTED"]
    assert not c.passed and c.detail["action"] == "turn_right"
    assert "向右转头" in c.message_zh


def test_a_mirrored_preview_flips_the_turns(analyzer: FaceAnalyzer) -> None:
    frames = _frames(analyzer, ("turn_left", "open_mouth", "nod"))
    v = analyzer.analyze(frames, ["turn_left", "open_mouth", "nod"], None, mirrored=True)
    c = _checks(v)["ACTION_NOT_DETECTED"]
    assert not c.passed and c.detail["action"] == "turn_left"


def test_three_20_degree_right_turns_are_each_seen(analyzer: FaceAnalyzer) -> None:
    """Three right turns rendered at 20° (5° over the 15° asked) on the tuning half of the
    clip (bench/face_eval.py's tuning seed 1101, its turns made 20°). Before the tracking crop
    was centred on the inner face (landmarks.tracking_roi), the fit's gain
    (LivenessConfig.yaw_gain) and the rest pose (actions.rest_pose) none was seen: they read
    at most 13.6°, measured from a median the three turns had pulled towards them."""
    actions = ("turn_right", "open_mouth", "turn_right", "turn_left", "turn_right")
    params = dataclasses.replace(draw_params(1101, split="tune"), turn_deg=20.0)
    video = genuine.challenge_video(analyzer, actions, params, genuine.TUNE_FRAMES)
    frames = decode_video(video, max_frames=analyzer.config.decode_max_frames)
    v = analyzer.analyze(frames, list(actions), None)
    c = _checks(v)["ACTION_NOT_DETECTED"]
    assert c.passed, (c.detail, v.stats)
    right = c.detail["actions"]["turn_right"]
    assert right["seen"] == 3
    assert 15.0 <= right["peak"] <= 28.0  # read as degrees of turn, not short nor far over
    assert _checks(v)["ACTION_ORDER_WRONG"].passed
