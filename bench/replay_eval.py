# ruff: noqa: T201  (a benchmark prints its tables)
"""Replay fingerprint evaluation: match scores per class, the threshold and the margins.

    python -m bench.replay_eval [--model-dir DATA_DIR/models/face]

Inputs (testkit/replays.py says what each stands for, and the limits of one source clip):
the real carphone clip and the labelled-synthetic genuine capture built from it
(testkit/genuine.py), each re-uploaded as is, re-encoded, cropped, translated, re-timed,
trimmed and sped up or slowed down (replays: must match); and other captures of the same
man in the same place (honest: must not). Each fingerprint is computed as the pipeline does
(decode_video, 150 frames at most, 640 px). ``same-frame still shakes`` is printed apart:
the known limit (two captures pixel-identical but for the head turn).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

from app.liveness import FaceAnalyzer, decode_video, list_models  # noqa: E402
from app.liveness import fingerprint as fp  # noqa: E402
from testkit import genuine  # noqa: E402
from testkit import replays as R  # noqa: E402


def _fp(video: bytes) -> fp.Fingerprint:
    return fp.fingerprint(decode_video(video, max_frames=150, max_side=640))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model-dir", type=Path, default=ROOT / "data" / "models" / "face")
    args = ap.parse_args()
    if len(list_models(args.model_dir)) < 4:
        sys.exit(f"no face models in {args.model_dir}: run `python -m app models prepare`")
    analyzer = FaceAnalyzer(args.model_dir)
    analyzer.load()

    rows: list[tuple[str, str, float]] = []  # (class, case, score)
    carphone = R.encode(R.carphone())
    sources = {
        "carphone": carphone,
        "genuine": genuine.genuine_video(analyzer, ("blink", "shake_head")),
        "still": R.still_shake(analyzer, 10, 30.0, 0.1, 0.8, 1),
    }
    for src, video in sources.items():
        original = _fp(video)
        for name, make in R.REPLAYS.items():
            rows.append(("replay", f"{src}: {name}", fp.match(_fp(make(video)), original)))
        frames = decode_video(video, max_frames=150)[::2]
        as_frames = fp.match(fp.fingerprint(frames), original)
        rows.append(("replay", f"{src}: as frames at 15 fps", as_frames))
    images = R.carphone()
    honest = {
        "carphone: frames 0-59 vs 60-119": (images[:60], images[60:]),
        "carphone: frames 0-49 vs 70-119": (images[:50], images[70:]),
        "carphone: mirrored": (images, R.mirrored(images)),
        "carphone: reversed": (images, R.reversed_clip(images)),
        "carphone: reversed and shifted": (images, R.shifted(R.reversed_clip(images))),
    }
    for name, (a, b) in honest.items():
        rows.append(("honest", name, fp.match(_fp(R.encode(a)), _fp(R.encode(b)))))
    still = _fp(sources["still"])
    retries = ((60, 30.0, 0.15, 0.85), (60, 24.0, 0.25, 0.9), (100, 20.0, 0.3, 0.75))
    for frame, amp, start, end in retries:
        other = _fp(R.still_shake(analyzer, frame, amp, start, end, frame))
        name = f"still shake, frame 10 vs {frame} ({amp:.0f}°)"
        rows.append(("honest", name, fp.match(other, still)))
    for amp, start, end in ((24.0, 0.25, 0.9), (20.0, 0.3, 0.75)):
        other = _fp(R.still_shake(analyzer, 10, amp, start, end, 7))
        rows.append(("limit", f"still shake, same frame ({amp:.0f}°)", fp.match(other, still)))
    rows.append(("limit", "genuine: the other action order (same source frames)", fp.match(
        _fp(genuine.genuine_video(analyzer, ("shake_head", "blink"))), _fp(sources["genuine"])
    )))  # fmt: skip

    print(f"threshold {fp.THRESHOLD:.2f} (score >= threshold: a replay)\n")
    for cls in ("replay", "honest", "limit"):
        print(f"{cls}:")
        for c, name, score in rows:
            if c == cls:
                verdict = "match" if score >= fp.THRESHOLD else "-"
                print(f"  {score:6.3f}  {verdict:5s}  {name}")
    replay = [s for c, _, s in rows if c == "replay"]
    hon = [s for c, _, s in rows if c == "honest"]
    print(
        f"\nreplays: min {min(replay):.3f}, {sum(s >= fp.THRESHOLD for s in replay)}/{len(replay)}"
        f" matched; margin above the threshold {min(replay) - fp.THRESHOLD:+.3f}"
    )
    print(
        f"honest:  max {max(hon):.3f}, {sum(s >= fp.THRESHOLD for s in hon)}/{len(hon)} matched;"
        f" margin below the threshold {fp.THRESHOLD - max(hon):+.3f}"
    )
    long = _fp(R.encode((images + images[::-1] + images + images[::-1])[:420]))
    t0 = time.perf_counter()
    for _ in range(5):
        fp.match(long, long)
    per = (time.perf_counter() - t0) / 5
    print(
        f"\nmatch() of two 14 s captures: {per * 1000:.0f} ms; fingerprint {len(long.to_bytes())} B"
    )


if __name__ == "__main__":
    main()
