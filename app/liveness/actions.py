"""Challenged actions from per-frame measurements: blink, turns, nod, mouth, and their order.

Pure functions over time series (seconds, eye openness, yaw in degrees): testable without
models.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from app.liveness.challenge import (
    BLINK,
    KINDS,
    NOD,
    OPEN_MOUTH,
    READ_DIGITS,
    SHAKE,
    TURN_LEFT,
    TURN_RIGHT,
)

ACTIONS = KINDS
__all__ = ["ACTIONS", "BLINK", "DELIBERATE", "NOD", "OPEN_MOUTH", "READ_DIGITS", "SHAKE",
           "TURN_LEFT", "TURN_RIGHT", "Blink", "Event", "SequenceResult", "Shake",
           "blink_events", "find_blinks", "find_excursions", "find_shakes", "match_sequence",
           "open_baseline", "order_ok", "shake_events"]  # fmt: skip
# Deliberate movements: one asked must be one done (a recording that does every movement
# in turn would otherwise answer any order). Only turns count: a 15° turn is deliberate (the
# real carphone man's own head stays within ±12° while he talks), while people blink, talk
# and nod anyway (his pitch reads up to 13.6° on the real clip).
DELIBERATE = (TURN_LEFT, TURN_RIGHT)


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


@dataclass(frozen=True)
class Event:
    """One detected action: when it started, peaked and ended (seconds), and how far."""

    kind: str
    t_start: float
    t_peak: float
    t_end: float
    peak: float


def find_excursions(
    kind: str, t: np.ndarray, x: np.ndarray, threshold: float, release: float
) -> list[Event]:
    """Runs where ``x`` reaches ``threshold``; a run ends once ``x`` falls below ``release``.

    The hysteresis keeps one held movement one event even when it wavers at the threshold.
    """
    out: list[Event] = []
    start: int | None = None
    peak_i = 0
    for i, v in enumerate(x):
        if start is None:
            if v >= threshold:
                start, peak_i = i, i
            continue
        if v > x[peak_i]:
            peak_i = i
        if v < release:
            out.append(
                Event(kind, float(t[start]), float(t[peak_i]), float(t[i]), float(x[peak_i]))
            )
            start = None
    if start is not None:
        out.append(Event(kind, float(t[start]), float(t[peak_i]), float(t[-1]), float(x[peak_i])))
    return out


@dataclass(frozen=True)
class SequenceResult:
    missing: list[str]  # actions asked more often than they were seen (first missing first)
    order_ok: bool  # every action found after the previous one (only meaningful if complete)
    unexpected: list[str]  # deliberate movements done but not asked (or done too often)
    matched: list[Event | None]  # the event that answered each asked action

    @property
    def ok(self) -> bool:
        return not self.missing and self.order_ok and not self.unexpected


def match_sequence(
    actions: list[str], events: dict[str, list[Event]], *, overlap_s: float = 0.2
) -> SequenceResult:
    """Score a challenge: each asked action in its own segment, after the previous one.

    Greedy by earliest end: for each asked action, the event of its kind that starts no
    earlier than the previous answer ended (less ``overlap_s``: a person starts the next
    movement while finishing the last) and ends first. That finds an in-order assignment
    whenever one exists. ``read_digits`` is scored by the speech check, not here.
    """
    asked = [a for a in actions if a != READ_DIGITS]
    missing = [a for a in dict.fromkeys(asked) if len(events.get(a, [])) < asked.count(a)]
    shake = SHAKE in asked  # a shake is a turn to each side
    unexpected = [
        k
        for k in DELIBERATE
        if len(events.get(k, [])) > asked.count(k) and not (shake and k in (TURN_LEFT, TURN_RIGHT))
    ]
    matched: list[Event | None] = []
    t_prev = -np.inf
    order_ok = True
    for a in asked:
        cands = [e for e in events.get(a, []) if e.t_start >= t_prev - overlap_s]
        if not cands:
            matched.append(None)
            order_ok = False
            continue
        best = min(cands, key=lambda e: e.t_end)
        matched.append(best)
        t_prev = best.t_end
    return SequenceResult(missing, order_ok, unexpected, matched)


def blink_events(blinks: list[Blink]) -> list[Event]:
    return [Event(BLINK, b.t, b.t, b.t, b.ratio) for b in blinks]


def shake_events(shakes: list[Shake]) -> list[Event]:
    return [Event(SHAKE, s.t_start, s.t_end, s.t_end, 0.0) for s in shakes]
