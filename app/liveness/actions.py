"""Challenged actions from per-frame measurements: blink, head shake, and their order.

Pure functions over time series (seconds, eye openness, yaw in degrees): testable without
models.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

BLINK = "blink"
SHAKE = "shake_head"
ACTIONS = (BLINK, SHAKE)


@dataclass(frozen=True)
class Blink:
    t: float  # time of the closed-most frame
    ratio: float  # openness there / open-eye baseline


@dataclass(frozen=True)
class Shake:
    t_start: float  # first time one side (±θ) was reached
    t_end: float  # time the other side was reached afterwards


def open_baseline(openness: np.ndarray, yaw: np.ndarray, max_yaw: float = 20.0) -> float:
    """This person's open-eye openness: the 75th percentile over near-frontal frames."""
    sel = openness[np.abs(yaw) <= max_yaw]
    if sel.size < 3:
        sel = openness
    return float(np.percentile(sel, 75)) if sel.size else 0.0


def find_blinks(
    t: np.ndarray,
    openness: np.ndarray,
    baseline: float,
    *,
    closed_ratio: float,
    reopen_ratio: float,
    max_duration: float,
) -> list[Blink]:
    """Drops to ``closed_ratio``·baseline that were open before and re-open after.

    "Open" means at least ``reopen_ratio``·baseline within ``max_duration`` seconds on both
    sides, so a face that looks down and stays there, or a clip that starts with closed
    eyes, is not a blink.
    """
    if baseline <= 0 or t.size < 3:
        return []
    ratio = openness / baseline
    out: list[Blink] = []
    i, n = 0, len(t)
    while i < n:
        if ratio[i] > closed_ratio:
            i += 1
            continue
        j = i
        while j + 1 < n and ratio[j + 1] <= closed_ratio:
            j += 1
        k = i + int(np.argmin(ratio[i : j + 1]))
        before = [p for p in range(i - 1, -1, -1) if t[i] - t[p] <= max_duration]
        after = [p for p in range(j + 1, n) if t[p] - t[j] <= max_duration]
        opened_before = any(ratio[p] >= reopen_ratio for p in before)
        opened_after = any(ratio[p] >= reopen_ratio for p in after)
        if opened_before and opened_after:
            out.append(Blink(float(t[k]), float(ratio[k])))
        i = j + 1
    return out


def find_shakes(t: np.ndarray, yaw: np.ndarray, theta: float) -> list[Shake]:
    """Each time the yaw goes from one side (≤ -θ or ≥ +θ) to the other."""
    out: list[Shake] = []
    side = 0
    t_side = 0.0
    for ti, y in zip(t, yaw, strict=True):
        s = 1 if y >= theta else -1 if y <= -theta else 0
        if s == 0:
            continue
        if side == 0:
            side, t_side = s, float(ti)
        elif s != side:
            out.append(Shake(t_side, float(ti)))
            side, t_side = s, float(ti)
    return out


def order_ok(actions: list[str], blinks: list[Blink], shakes: list[Shake]) -> bool:
    """True when the challenged actions can be found in the challenged order.

    People blink while turning their heads, so an extra blink is never a mistake; what must
    hold is that each action is completed after the previous one was.
    """
    t_prev = -np.inf
    for action in actions:
        if action == BLINK:
            cands = [b.t for b in blinks if b.t > t_prev]
            if not cands:
                return False
            t_prev = min(cands)
        elif action == SHAKE:
            cands = [s.t_end for s in shakes if s.t_start >= t_prev]
            if not cands:
                return False
            t_prev = min(cands)
        else:
            raise ValueError(f"unknown action {action!r}")
    return True
