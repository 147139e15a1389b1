"""Presentation-attack evaluation: labelled captures in, APCER/BPCER tables out (ISO 30107-3).

Pure: the caller builds :class:`Case` objects (frames, the challenge asked, genuine or which
attack class) and an analyser; this module runs them and writes the table. bench/face_eval.py
feeds it labelled-synthetic captures of a held-out test split; ``python -m app eval-faces
DIR`` feeds it an operator's own labelled recordings (:func:`load_folder`), so thresholds can
be set on field data.

A capture counts as accepted when none of the liveness checks (``PAD_CODES``) failed:
quality checks (background, exposure, size) are not presentation-attack detection and are
reported apart. Each row says which codes refused the class and the margin of the closest
case: for an attack class, the case that came nearest to being accepted; for genuine, the
one nearest to being refused.
"""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.inference.checks import Check

PAD_CODES = frozenset(
    {
        "NO_FACE",
        "MULTIPLE_FACES",
        "BLINK_NOT_DETECTED",
        "HEAD_SHAKE_NOT_DETECTED",
        "ACTION_NOT_DETECTED",
        "ACTION_ORDER_WRONG",
        "FACE_CHANGED",
        "SPOOF_SUSPECTED",
        "EYES_CLOSED",
        "REPLAY_DETECTED",
        "CAPTURE_BEFORE_CHALLENGE",
        "AUDIO_MISSING",
        "DIGITS_NOT_READ",
        "DIGITS_WRONG",
        "LIP_SYNC_MISMATCH",
        "FLASH_NOT_SEEN",
        "FLASH_SEQUENCE_WRONG",
    }
)
GENUINE = "genuine"


@dataclass
class Case:
    cls: str  # "genuine" or the attack class
    name: str
    frames: list[Any]  # app.liveness.Frame
    actions: list[str]
    mirrored: bool = False
    expect_code: str | None = None  # the code an attack of this class should be refused with
    # Optional parts of the face step beyond the frames: the capture's sound and the digits a
    # read_digits step asked (app.liveness.audio.AudioTrack), and the replay memory's earlier
    # fingerprint to compare with (app.liveness.fingerprint.Fingerprint: REPLAY_DETECTED).
    audio: Any = None
    digits: str | None = None
    earlier: Any = None


@dataclass
class Outcome:
    cls: str
    name: str
    failed: list[str]
    checks: dict[str, Check] = field(default_factory=dict)
    expect_code: str | None = None

    @property
    def accepted(self) -> bool:
        return not self.failed


def run(
    cases: Iterable[Case],
    analyse: Callable[[Case], list[Check]],
    *,
    progress: Callable[[Outcome], None] | None = None,
) -> list[Outcome]:
    out = []
    for case in cases:
        checks = analyse(case)
        failed = [c.code for c in checks if not c.passed and c.code in PAD_CODES]
        o = Outcome(case.cls, case.name, failed, {c.code: c for c in checks}, case.expect_code)
        if progress is not None:
            progress(o)
        out.append(o)
    return out


def margins(outcomes: list[Outcome]) -> str:
    """Per class and anti-spoof signal: threshold, the score range, how many cases fired.

    Signals come from SPOOF_SUSPECTED's ``detail["signals"]``: ``{name: {"score", "threshold",
    "fires": "above" | "below"}}``. For genuine the score nearest to firing is the margin; for
    an attack class, the one furthest from firing.
    """
    rows: dict[tuple[str, str], list[float]] = defaultdict(list)
    meta: dict[str, tuple[float, str]] = {}
    for o in outcomes:
        sp = o.checks.get("SPOOF_SUSPECTED")
        if sp is None:
            continue
        for name, sig in dict(sp.detail.get("signals", {})).items():
            if sig.get("score") is None:
                continue
            rows[(o.cls, name)].append(float(sig["score"]))
            meta[name] = (float(sig["threshold"]), str(sig["fires"]))
    lines = [
        "| class | signal | fires | threshold | min | max | fired |",
        "|---|---|---|---|---|---|---|",
    ]
    for (cls, name), vals in sorted(rows.items(), key=lambda kv: (kv[0][0] != GENUINE, kv[0])):
        thr, fires = meta[name]
        n_fired = sum((v > thr) if fires == "above" else (v < thr) for v in vals)
        lines.append(
            f"| {cls} | {name} | {fires} | {thr:g} | {min(vals):.3f} | {max(vals):.3f} | "
            f"{n_fired}/{len(vals)} |"
        )
    return "\n".join(lines)


def code_margins(outcomes: list[Outcome], codes: Iterable[str]) -> str:
    """Per class and check code (e.g. REPLAY_DETECTED, LIP_SYNC_MISMATCH): the score range
    against the check's threshold and how many cases that check refused."""
    rows: dict[tuple[str, str], list[Outcome]] = defaultdict(list)
    for o in outcomes:
        for code in codes:
            c = o.checks.get(code)
            if c is not None and c.score is not None and c.threshold is not None:
                rows[(o.cls, code)].append(o)
    lines = [
        "| class | check | threshold | min | max | refused by it |",
        "|---|---|---|---|---|---|",
    ]
    for (cls, code), rs in sorted(rows.items(), key=lambda kv: (kv[0][0] != GENUINE, kv[0])):
        vals = [float(o.checks[code].score or 0.0) for o in rs]
        thr = float(rs[0].checks[code].threshold or 0.0)
        n = sum(not o.checks[code].passed for o in rs)
        lines.append(
            f"| {cls} | {code} | {thr:g} | {min(vals):.3f} | {max(vals):.3f} | {n}/{len(rs)} |"
        )
    return "\n".join(lines)


def table(outcomes: list[Outcome], *, title: str = "") -> str:
    """Markdown: per class n, accepted, rate, refused-by codes and signals, margins."""
    by: dict[str, list[Outcome]] = defaultdict(list)
    for o in outcomes:
        by[o.cls].append(o)
    lines = []
    if title:
        lines += [f"### {title}", ""]
    lines += [
        "| class | n | accepted | rate | refused by (cases) | as expected | spoof signals |",
        "|---|---|---|---|---|---|---|",
    ]
    for cls in sorted(by, key=lambda c: (c != GENUINE, c)):
        rows = by[cls]
        acc = sum(o.accepted for o in rows)
        refused = len(rows) - acc
        rate = (refused if cls == GENUINE else acc) / len(rows)
        codes: dict[str, int] = defaultdict(int)
        signals: dict[str, int] = defaultdict(int)
        for o in rows:
            for c in o.failed:
                codes[c] += 1
            sp = o.checks.get("SPOOF_SUSPECTED")
            if sp is not None and not sp.passed:
                signals[str(sp.detail.get("signal", "?"))] += 1
        expect = [o for o in rows if o.expect_code]
        as_expected = (
            f"{sum(o.expect_code in o.failed for o in expect)}/{len(expect)}" if expect else "–"
        )
        label = "BPCER" if cls == GENUINE else "APCER"
        lines.append(
            f"| {cls} | {len(rows)} | {acc} | {label} {100 * rate:.1f}% | "
            + (", ".join(f"{k} {v}" for k, v in sorted(codes.items())) or "–")
            + f" | {as_expected} | "
            + (", ".join(f"{k} {v}" for k, v in sorted(signals.items())) or "–")
            + " |"
        )
    return "\n".join(lines)


def failures(outcomes: list[Outcome]) -> str:
    """The cases that went the wrong way (accepted attacks, refused genuine), one a line."""
    bad = [o for o in outcomes if (o.cls == GENUINE) != o.accepted]
    if not bad:
        return "No case went the wrong way."
    out = []
    for o in bad:
        what = "refused" if o.cls == GENUINE else "ACCEPTED"
        detail = {c: o.checks[c].detail for c in o.failed if c in o.checks}
        out.append(f"- {o.cls} / {o.name}: {what} {', '.join(o.failed) or ''} {detail}")
    return "\n".join(out)


def load_folder(folder: Path) -> list[dict[str, Any]]:
    """An operator's labelled captures: ``labels.csv`` (or ``labels.json``) in ``folder``.

    Columns / keys: ``file`` (a video in the folder), ``label`` (``genuine`` or an attack
    class name of your choosing: print, screen, mask, ...), ``actions`` (the challenge that
    was asked, in order, comma- or space-separated), optional ``mirrored`` (true/false).
    """
    rows: list[dict[str, Any]]
    if (folder / "labels.json").exists():
        rows = list(json.loads((folder / "labels.json").read_text(encoding="utf-8")))
    elif (folder / "labels.csv").exists():
        with (folder / "labels.csv").open(encoding="utf-8", newline="") as f:
            rows = list(csv.DictReader(f))
    else:
        raise FileNotFoundError(f"{folder} has no labels.csv or labels.json")
    out = []
    for n, r in enumerate(rows, 1):
        acts = r.get("actions", "")
        actions = acts.replace(",", " ").split() if isinstance(acts, str) else acts
        if not r.get("file") or not r.get("label") or not actions:
            raise ValueError(f"row {n}: file, label and actions are required")
        mirrored = str(r.get("mirrored", "")).strip().lower() in ("1", "true", "yes")
        out.append(
            {
                "file": folder / str(r["file"]),
                "label": str(r["label"]).strip(),
                "actions": list(actions),
                "mirrored": mirrored,
            }
        )
    return out
