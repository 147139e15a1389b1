"""Challenge captures through the real face models.

The captures are LABELLED-SYNTHETIC from real footage (testkit.genuine.challenge_video): the
real carphone man, his own blinks, turns / look-up / open mouth rendered from his own 3-D
mesh, in front of a white wall.
"""

from __future__ import annotations

from typing import Any

import pytest

from app.liveness import FaceAnalyzer, decode_video
from testkit import genuine

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
