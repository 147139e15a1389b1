"""Liveness challenges: what the person is asked to do, in which order, with timing hints.

Pure: no web, database or settings imports. The server draws a challenge with
:func:`make_challenge` (a CSPRNG, a nonce, a sequence of actions with no action twice in a
row), stores :meth:`ChallengeSpec.to_json` with it, and scores a capture against
:meth:`ChallengeSpec.from_json`. The mini-program or browser page shows one step at a time,
using ``start_s``/``duration_s`` as hints (people are slower or faster: scoring only needs
each action to happen in its own segment, in order, not at the hinted second).

With the five motion kinds and the default length of 5 there are 5 * 4**4 = 1,280
distinct sequences (:func:`sequence_count`), so an attacker cannot hold a recording of the
victim for every challenge; read-aloud digits (off by default until evaluated on real
recordings) multiply that by 10**n.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

BLINK = "blink"
TURN_LEFT = "turn_left"
TURN_RIGHT = "turn_right"
NOD = "nod"  # look up and back
OPEN_MOUTH = "open_mouth"
READ_DIGITS = "read_digits"
SHAKE = "shake_head"  # legacy two-sided turn (LIVENESS_ACTIONS=blink,shake_head)

MOTION_KINDS = (BLINK, TURN_LEFT, TURN_RIGHT, NOD, OPEN_MOUTH)
KINDS = (*MOTION_KINDS, READ_DIGITS, SHAKE)

# What the phone shows for each step, and how long a person typically needs (seconds).
PROMPTS: dict[str, tuple[str, str]] = {
    BLINK: ("请眨眨眼", "Blink"),
    TURN_LEFT: ("请向左转头", "Turn your head to your left"),
    TURN_RIGHT: ("请向右转头", "Turn your head to your right"),
    NOD: ("请抬头", "Look up"),
    OPEN_MOUTH: ("请张嘴", "Open your mouth"),
    READ_DIGITS: ("请读出屏幕上的数字", "Read the digits aloud"),
    SHAKE: ("请左右摇头", "Shake your head left and right"),
}
DURATION_S: dict[str, float] = {
    BLINK: 1.2,
    TURN_LEFT: 1.6,
    TURN_RIGHT: 1.6,
    NOD: 1.6,
    OPEN_MOUTH: 1.4,
    READ_DIGITS: 3.0,
    SHAKE: 2.4,
}
LEAD_IN_S = 0.8  # the first prompt shows after this long: the face settles in the frame


class _Rng(Protocol):
    def choice(self, seq: Sequence[str]) -> str: ...
    def randrange(self, start: int, stop: int) -> int: ...


@dataclass(frozen=True)
class ChallengeStep:
    action: str
    start_s: float  # hint: show this prompt this long after recording starts
    duration_s: float
    digits: str | None = None  # read_digits only

    def prompt(self) -> tuple[str, str]:
        zh, en = PROMPTS[self.action]
        if self.digits:
            return f"{zh}:{' '.join(self.digits)}", f"{en}: {' '.join(self.digits)}"
        return zh, en


@dataclass(frozen=True)
class ChallengeSpec:
    nonce: str
    steps: tuple[ChallengeStep, ...]
    # Colour flashes, when the deployment enables them: stored as given (app.liveness.flash).
    flash: list[dict[str, Any]] = field(default_factory=list)
    mirrored_ok: bool = True  # see :func:`turn_sign`

    @property
    def actions(self) -> list[str]:
        return [s.action for s in self.steps]

    @property
    def digits(self) -> str | None:
        return next((s.digits for s in self.steps if s.digits), None)

    @property
    def total_s(self) -> float:
        last = self.steps[-1] if self.steps else None
        return LEAD_IN_S if last is None else last.start_s + last.duration_s

    def to_json(self) -> dict[str, Any]:
        return {
            "nonce": self.nonce,
            "steps": [
                {"action": s.action, "start_s": s.start_s, "duration_s": s.duration_s}
                | ({"digits": s.digits} if s.digits else {})
                for s in self.steps
            ],
            "flash": self.flash,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any] | None, actions: Sequence[str]) -> ChallengeSpec:
        """The stored spec, or one rebuilt from the action names of an older challenge."""
        if not data:
            return cls(nonce="", steps=_timed([(a, None) for a in actions]))
        steps = tuple(
            ChallengeStep(
                str(s["action"]),
                float(s["start_s"]),
                float(s["duration_s"]),
                str(s["digits"]) if s.get("digits") else None,
            )
            for s in data.get("steps", [])
        )
        return cls(nonce=str(data.get("nonce", "")), steps=steps, flash=list(data.get("flash", [])))


def _timed(items: Sequence[tuple[str, str | None]]) -> tuple[ChallengeStep, ...]:
    out, t = [], LEAD_IN_S
    for action, digits in items:
        d = DURATION_S[action] + (0.35 * (len(digits) - 4) if digits else 0.0)
        out.append(ChallengeStep(action, round(t, 2), round(d, 2), digits))
        t += d
    return tuple(out)


def sequence_count(kinds: Sequence[str], length: int) -> int:
    """Distinct action sequences of ``length`` over ``kinds`` with no kind twice in a row."""
    k = len(set(kinds))
    if length <= 0 or k == 0:
        return 0
    return int(k * (k - 1) ** (length - 1))


def make_challenge(
    kinds: Sequence[str],
    length: int,
    *,
    digits: int = 0,
    rng: _Rng | None = None,
) -> ChallengeSpec:
    """Draw a challenge: ``length`` actions from ``kinds``, never the same twice in a row.

    ``digits`` > 0 adds one read-aloud step of that many random digits at a random place
    (``read_digits`` in ``kinds`` is ignored otherwise: the digits need their own count).
    A legacy pool (``shake_head`` in ``kinds``) keeps the old behaviour: each kind once, in
    a random order.
    """
    r: _Rng = rng or secrets.SystemRandom()
    pool = [k for k in dict.fromkeys(kinds) if k != READ_DIGITS]
    for k in pool:
        if k not in KINDS:
            raise ValueError(f"unknown liveness action {k!r}")
    if not pool:
        raise ValueError("no liveness actions configured")
    seq: list[str] = []
    if SHAKE in pool:
        rest = list(pool)
        while rest:
            seq.append(rest.pop(r.randrange(0, len(rest))))
    else:
        for _ in range(max(1, length)):
            options = [k for k in pool if not seq or k != seq[-1]] or pool
            seq.append(r.choice(options))
    items: list[tuple[str, str | None]] = [(a, None) for a in seq]
    if digits > 0:
        number = "".join(str(r.randrange(0, 10)) for _ in range(digits))
        items.insert(r.randrange(0, len(items) + 1), (READ_DIGITS, number))
    return ChallengeSpec(nonce=secrets.token_urlsafe(12), steps=_timed(items))


def turn_sign(action: str, mirrored: bool = False) -> int:
    """+1 when ``action`` moves the nose to image right, -1 to image left.

    A front camera's recorded file is not mirrored (the preview usually is): a person
    turning to their own left moves the nose to image right. ``mirrored`` flips that for
    clients that send the mirrored preview.
    """
    s = {TURN_LEFT: 1, TURN_RIGHT: -1}[action]
    return -s if mirrored else s
