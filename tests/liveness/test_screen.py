"""Screen-replay signals on LABELLED-SYNTHETIC replays and genuine captures.

The inputs (testkit/replay_attacks.py) start from the real carphone man: the project's own
genuine capture replayed on a phone in front of a real room photo, or filling the view;
and genuine captures hand-held, under other walls and white balances. Each test uses a
dozen frames (every 10th of the 4 s clip) at 480×360 or the clip's 352×288, meshed by the
real FaceMesh model: the same kind of input the analyser hands over.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from app.liveness import FaceAnalyzer
from app.liveness.screen import ScreenSignal, screen_signals
from testkit import replay_attacks as ra

EVERY = 10  # every 10th frame of the 30 fps clip: 3 fps, like the analyser's sampling
SIZE = (480, 360)


def _signals(analyzer: FaceAnalyzer, frames: list[np.ndarray]) -> dict[str, ScreenSignal]:
    imgs, meshes = [], []
    for f in frames:
        m = analyzer.face_mesh(f)
        if m is not None:
            imgs.append(f)
            meshes.append(m)
    assert len(imgs) >= 0.8 * len(frames), "the face must be found in the rendered frames"
    times = np.arange(len(imgs)) * EVERY / ra.FPS
    return {s.name: s for s in screen_signals(imgs, meshes, times)}


@pytest.fixture(scope="module")
def recording(analyzer: FaceAnalyzer) -> list[np.ndarray]:
    """The project's genuine capture (what the outside tester replayed), every 10th frame."""
    return ra.recording(analyzer, ("blink", "shake_head"))[::EVERY]


def _style(**kw: object) -> ra.ScreenStyle:
    base: dict[str, object] = {"size": SIZE, "fps": ra.FPS / EVERY, "room": "table"}
    base.update(kw)
    return ra.ScreenStyle(**base)  # type: ignore[arg-type]


def _fired(sig: dict[str, ScreenSignal]) -> list[str]:
    return [k for k, s in sig.items() if s.fired]


def test_bezel_fires_on_a_phone_held_in_front_of_a_room(
    analyzer: FaceAnalyzer, recording: list[np.ndarray]
) -> None:
    frames = ra.bezel_replay(recording, _style(screen_frac=0.7, wobble_deg=3.0), seed=5)
    sig = _signals(analyzer, frames)
    assert sig["bezel"].fired, sig["bezel"]
    assert sig["bezel"].detail["found_in"] >= sig["bezel"].detail["frames"] // 2


def test_coplanar_surround_fires_when_the_phone_moves_against_the_room(
    analyzer: FaceAnalyzer, recording: list[np.ndarray]
) -> None:
    # The filming phone on a table (room still), the replaying phone in a shaking hand.
    frames = ra.bezel_replay(recording, _style(screen_frac=0.6, wobble_deg=3.5), seed=6)
    sig = _signals(analyzer, frames)["coplanar_surround"]
    assert sig.score is not None, sig
    assert sig.fired, sig


def test_flicker_fires_on_refresh_banding(
    analyzer: FaceAnalyzer, recording: list[np.ndarray]
) -> None:
    banded = _signals(
        analyzer,
        ra.fullframe_replay(
            recording, _style(banding=0.035, band_period=40.0, white_kelvin=7000.0), seed=7
        ),
    )
    plain = _signals(
        analyzer, ra.fullframe_replay(recording, _style(banding=0.0, white_kelvin=7000.0), seed=7)
    )
    assert banded["flicker"].fired, banded["flicker"]
    assert not plain["flicker"].fired, plain["flicker"]
    assert abs(banded["flicker"].detail["period_rows"] - 40.0) < 4.0


def test_screen_colour_fires_on_a_full_frame_replay(
    analyzer: FaceAnalyzer, recording: list[np.ndarray]
) -> None:
    frames = ra.fullframe_replay(
        recording, _style(white_kelvin=8500.0, black_lift=26.0, banding=0.0), seed=8
    )
    sig = _signals(analyzer, frames)
    assert sig["screen_colour"].fired, sig["screen_colour"]
    assert not sig["bezel"].fired, sig["bezel"]


GENUINE = {
    "steady white wall": ra.GenuineStyle(),
    "hand-held": ra.GenuineStyle(shake_deg=2.0, shake_shift=0.006),
    "warm wall, warm balance": ra.GenuineStyle(
        wall_bgr=(190.0, 215.0, 235.0), wall_gradient=0.25, wb_shift=-700.0
    ),
    "grey wall, cool balance": ra.GenuineStyle(wall_bgr=(200.0, 200.0, 200.0), wb_shift=500.0),
    "car interior, hand-held": ra.GenuineStyle(background="car", shake_deg=1.5, shake_shift=0.005),
}


@pytest.mark.parametrize("name", list(GENUINE))
def test_genuine_variants_fire_nothing(analyzer: FaceAnalyzer, name: str) -> None:
    style = GENUINE[name]
    style = replace(style, fps=ra.FPS / EVERY)
    frames = ra.genuine_frames(
        analyzer, ("blink", "shake_head"), style=style, seed=9, frames=list(range(0, 120, EVERY))
    )
    sig = _signals(analyzer, frames)
    assert _fired(sig) == [], {k: (s.score, s.detail) for k, s in sig.items()}


def test_signals_are_named_and_inputs_checked() -> None:
    assert screen_signals([], [], np.zeros(0)) == []
    with pytest.raises(ValueError, match="differ"):
        screen_signals([np.zeros((8, 8, 3), np.uint8)], [], np.zeros(1))
