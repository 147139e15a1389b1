# ruff: noqa: T201  (a benchmark prints its tables)
"""Colour-flash liveness on LABELLED-SYNTHETIC reflections: tune on one split, report another.

    .venv/bin/python -m bench.flash_eval [--per-class 12]

Source: the genuine capture of testkit.genuine (the real carphone man; real blinks, rendered
head shake, white wall), decoded, with face meshes from the real model. Flashes, camera and
attacks are rendered by testkit/flash.py. The two splits differ in every random choice:

- tuning: actions blink -> shake_head, seeds 0.., screen strength 0.08-0.16, step jitter
  0-30 ms, client offset within ±0.4 s, tints alpha 0.04-0.10 / gain 0.06-0.15;
- test:   actions shake_head -> blink, seeds 100000.., strength 0.06-0.16, jitter 10-40 ms,
  offset within ±0.45 s, tints alpha 0.03-0.12 / gain 0.05-0.16.

Each sample is measured once (the measurements do not depend on thresholds); thresholds are
chosen on the tuning split only (a small grid: the most lenient setting that refuses every
tuning attack with a margin, then the most genuine accepted), then applied unchanged to the
test split. Real reflections on real phones need field tuning: these are rendered ones.

Run of 2026-12-01 (--per-class 14), test split with the tuning split's thresholds: genuine
13/14 accepted (the refused one FLASH_NOT_SEEN); no flash 14/14 refused, other sequence
14/14, whole-frame tint (blend) 14/14, whole-frame tint (gain) 14/14, wrong order 14/14.
Most other-sequence and wrong-order captures are refused as FLASH_NOT_SEEN rather than
FLASH_SEQUENCE_WRONG: their changes fall at other times, or the drift-weighted fit sees
little of the asked pattern.
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import pickle
import random
import sys
from collections import Counter
from dataclasses import dataclass
from typing import Any

import numpy as np

from app.liveness import FaceAnalyzer
from app.liveness.flash import (
    FlashConfig,
    FlashResult,
    FlashStep,
    decide,
    flash_checks,
    flash_response,
    make_flash_sequence,
)
from testkit import flash as tf

CLASSES = ("genuine", "no_flash", "other_sequence", "tint_blend", "tint_gain", "wrong_order")

# Measure with nothing refused; decide() applies the real thresholds afterwards.
INTENDED = {
    "no_flash": "FLASH_NOT_SEEN",
    "other_sequence": "FLASH_SEQUENCE_WRONG",
    "tint_blend": "FLASH_NOT_SEEN",
    "tint_gain": "FLASH_NOT_SEEN",
    "wrong_order": "FLASH_SEQUENCE_WRONG",
}

OPEN = FlashConfig(
    min_amplitude=0.0,
    min_snr=0.0,
    min_z=-1e9,
    max_tint_ratio=1e9,
    min_cosine=-2.0,
    min_step_share=-1e9,
    min_explained=-1e9,
    min_alternative_margin=-1e9,
)


@dataclass(frozen=True)
class Split:
    name: str
    actions: tuple[str, ...]
    seed0: int
    strength: tuple[float, float]
    jitter: tuple[float, float]
    offset: float
    alpha: tuple[float, float]
    tint_gain: tuple[float, float]


TUNING = Split("tuning", ("blink", "shake_head"), 0, (0.08, 0.16), (0.0, 0.03), 0.4,
               (0.04, 0.10), (0.06, 0.15))  # fmt: skip
TEST = Split("test", ("shake_head", "blink"), 100_000, (0.06, 0.16), (0.01, 0.04), 0.45,
             (0.03, 0.12), (0.05, 0.16))  # fmt: skip


def sample(
    kind: str,
    split: Split,
    i: int,
    src: tuple[list[np.ndarray], list[np.ndarray], np.ndarray],
) -> tuple[list[FlashStep], list[np.ndarray], float]:
    """The flash sequence asked, the decoded capture, and the rendered screen strength."""
    images, meshes, times = src
    seed = split.seed0 + 1000 * CLASSES.index(kind) + i
    rng = random.Random(seed)
    seq = make_flash_sequence(rng)
    flash = tf.Flash(
        strength=rng.uniform(*split.strength),
        jitter_s=rng.uniform(*split.jitter),
        offset_s=rng.uniform(-split.offset, split.offset),
    )
    cam = tf.Camera(
        awb_share=rng.uniform(0.3, 0.7), noise=rng.uniform(1.0, 2.5), crf=rng.choice([20, 23, 26])
    )
    if kind == "genuine":
        frames = tf.render_flash(images, meshes, times, seq, flash, cam, seed)
    elif kind == "no_flash":
        frames = tf.render_flash(
            images, meshes, times, seq, dataclasses.replace(flash, strength=0.0), cam, seed
        )
    elif kind == "other_sequence":
        other = make_flash_sequence(random.Random(seed + 7_777_777))
        frames = tf.render_flash(images, meshes, times, other, flash, cam, seed)
    elif kind == "wrong_order":
        frames = tf.render_flash(images, meshes, times, tf.wrong_order(seq, rng), flash, cam, seed)
    elif kind == "tint_blend":
        frames = tf.whole_frame_tint(images, times, seq, rng.uniform(*split.alpha), "blend", seed)
    elif kind == "tint_gain":
        frames = tf.whole_frame_tint(
            images, times, seq, rng.uniform(*split.tint_gain), "gain", seed
        )
    else:
        raise ValueError(kind)
    decoded, _ = tf.encode_decode(frames, crf=cam.crf)
    return seq, decoded, flash.strength


def measure(
    split: Split, analyzer: FaceAnalyzer, per_class: int, strengths: list[float]
) -> dict[str, list[FlashResult]]:
    src = tf.source_clip(analyzer, split.actions)
    out: dict[str, list[FlashResult]] = {}
    for kind in CLASSES:
        res = []
        for i in range(per_class):
            seq, decoded, strength = sample(kind, split, i, src)
            if kind == "genuine":
                strengths.append(strength)
            # Meshes of the clean source (a few % of chroma does not move landmarks).
            res.append(flash_response(decoded, src[1], src[2], seq, OPEN))
        out[kind] = res
        print(f"  measured {split.name}/{kind}: {len(res)}", file=sys.stderr, flush=True)
    return out


def outcome(r: FlashResult, cfg: FlashConfig) -> str:
    d = decide(r, cfg)
    if d.passed:
        return "accepted"
    return next(c.code for c in flash_checks(d, cfg) if not c.passed)


GRID: dict[str, list[Any]] = {
    "min_amplitude": [0.025, 0.03, 0.035, 0.04],
    "min_snr": [0.0, 1.5, 2.0],
    "min_z": [2.5, 3.0, 3.5, 4.0],
    "min_explained": [0.4, 0.5, 0.6, 0.7],
    "min_cosine": [0.6, 0.7, 0.8],
    "max_bad_boundaries": [0, 1],
    "max_tint_ratio": [0.3],
    "min_alternative_margin": [-1e9, 0.0, 0.05],
    "min_step_share": [0.0],
}


def tune(measured: dict[str, list[FlashResult]]) -> FlashConfig:
    best: tuple[tuple[float, float, float], FlashConfig] | None = None
    keys = list(GRID)
    for values in itertools.product(*(GRID[k] for k in keys)):
        cfg = dataclasses.replace(OPEN, **dict(zip(keys, values, strict=True)))
        attacks_in = sum(outcome(r, cfg) == "accepted" for k in CLASSES[1:] for r in measured[k])
        genuine = sum(outcome(r, cfg) == "accepted" for r in measured["genuine"])
        own_code = sum(outcome(r, cfg) == INTENDED[k] for k in CLASSES[1:] for r in measured[k])
        # First: no attack accepted; then most genuine; then most attacks refused with the
        # code that describes them; then the strictest setting (margin for the test split).
        strict = sum(values[:5]) - values[5]
        key = (genuine - 1000 * attacks_in, own_code, strict)
        if best is None or key > best[0]:
            best = (key, cfg)
    assert best is not None
    return best[1]


def report(
    split: str, measured: dict[str, list[FlashResult]], cfg: FlashConfig, strengths: list[float]
) -> None:
    print(f"\n== {split} split ==")
    for kind in CLASSES:
        rs = measured[kind]
        outs = Counter(outcome(r, cfg) for r in rs)
        d = [r.detail for r in rs]
        amp = [x.get("amplitude", 0.0) for x in d]
        z = [x.get("z", 0.0) for x in d]
        tint = [x.get("tint_ratio", 0.0) for x in d]
        cos = [min(r.per_step) if r.per_step else 0.0 for r in rs]
        expl = [x.get("explained", 0.0) for x in d]
        refused = len(rs) - outs.get("accepted", 0)
        print(
            f"{kind:15s} n={len(rs):3d} refused={refused:3d} {dict(outs)}"
            f"  amplitude {min(amp):.3f}..{max(amp):.3f} (thr {cfg.min_amplitude})"
            f"  z {min(z):.2f}..{max(z):.2f} (thr {cfg.min_z})"
            f"  explained {min(expl):.2f}..{max(expl):.2f} (thr {cfg.min_explained})"
            f"  min-cos {min(cos):.2f}..{max(cos):.2f} (thr {cfg.min_cosine})"
            f"  tint {min(tint):.2f}..{max(tint):.2f} (thr {cfg.max_tint_ratio})"
        )
    bands = [(0.0, 0.08), (0.08, 0.11), (0.11, 0.14), (0.14, 1.0)]
    parts = []
    for lo, hi in bands:
        got = [
            outcome(r, cfg) == "accepted"
            for r, s in zip(measured["genuine"], strengths, strict=True)
            if lo <= s < hi
        ]
        if got:
            parts.append(f"strength {lo:.2f}-{min(hi, 0.2):.2f}: {sum(got)}/{len(got)}")
    print("genuine accepted by screen strength: " + ", ".join(parts))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--per-class", type=int, default=12)
    ap.add_argument("--dump", help="save the measurements (pickle) for --load")
    ap.add_argument("--load", help="re-decide saved measurements instead of rendering")
    args = ap.parse_args()
    from tests.liveness.conftest import face_model_dir

    analyzer = FaceAnalyzer(face_model_dir())
    if not args.load:
        analyzer.load()
    s_tune: list[float] = []
    s_test: list[float] = []
    if args.load:
        with open(args.load, "rb") as fh:
            tuning, s_tune, test, s_test = pickle.load(fh)  # our own dump
    else:
        tuning = measure(TUNING, analyzer, args.per_class, s_tune)
        test = measure(TEST, analyzer, args.per_class, s_test)
        if args.dump:
            with open(args.dump, "wb") as fh:
                pickle.dump((tuning, s_tune, test, s_test), fh)
    cfg = tune(tuning)  # the test split is measured, but never looked at here
    chosen = {k: getattr(cfg, k) for k in GRID}
    print(f"thresholds chosen on the tuning split: {chosen}")
    report("tuning", tuning, cfg, s_tune)
    report("test", test, cfg, s_test)
    print(
        "\nRendered reflections only (testkit/flash.py). Real screens, skin and cameras that"
        " lock or fight white balance need field tuning of these thresholds."
    )


if __name__ == "__main__":
    main()
