"""Pure action logic on time series (no models)."""

import numpy as np
import pytest

from app.liveness.actions import Blink, Shake, find_blinks, find_shakes, open_baseline, order_ok


def test_blink_needs_a_drop_and_a_recovery() -> None:
    t = np.arange(20) / 10
    o = np.full(20, 0.3)
    o[8] = 0.1
    assert [
        b.t for b in find_blinks(t, o, 0.3, closed_ratio=0.6, reopen_ratio=0.85, max_duration=1.0)
    ] == [pytest.approx(0.8)]
    o2 = np.full(20, 0.3)
    o2[12:] = 0.1  # eyes close and stay closed: not a blink
    assert find_blinks(t, o2, 0.3, closed_ratio=0.6, reopen_ratio=0.85, max_duration=1.0) == []


def test_shake_needs_both_sides() -> None:
    t = np.arange(7.0)
    assert find_shakes(t, np.array([0, 10, 20, 0, -5, 0, 0.0]), 15) == []
    assert len(find_shakes(t, np.array([0, 16, 0, -16, 0, 0, 0.0]), 15)) == 1


def test_order() -> None:
    blinks = [Blink(1.0, 0.3)]
    shakes = [Shake(2.0, 3.0)]
    assert order_ok(["blink", "shake_head"], blinks, shakes)
    assert not order_ok(["shake_head", "blink"], blinks, shakes)


def test_baseline_uses_frontal_frames() -> None:
    o = np.array([0.3, 0.3, 0.3, 0.3, 0.9, 0.9])
    y = np.array([0, 0, 0, 0, 40, 40.0])
    assert open_baseline(o, y) == pytest.approx(0.3)
